# Accuracy studies on synthetic BlurHand (docs/benchmarks.md): the
# single-frame baseline, i.e. the study BlurHandNet without temporal
# unfolding: one decoder (T = 1) trained and evaluated on the middle frame
# only (the dataset yields the 3rd of the 5 sharp frames), the KTFormer
# over that frame's 21 joints (BlurHandNet paper, Table 3, second row).
_base_ = ['./blurhandnet_r18s_study-synthetic-64x64.py']

num_steps = 1
model = dict(
    neck=dict(num_steps=num_steps),
    head=dict(
        ktformer=dict(num_steps=num_steps),
        regressor=dict(num_steps=num_steps)))
train_dataloader = dict(dataset=dict(frame_positions=(2, )))
val_dataloader = dict(dataset=dict(frame_positions=(2, )))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='BlurHandMetric', mode='pooled', step_names=('middle', ))
test_evaluator = val_evaluator
