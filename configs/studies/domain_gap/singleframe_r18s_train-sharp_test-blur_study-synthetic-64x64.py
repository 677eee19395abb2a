# Domain-gap study: the single-frame baseline (no Unfolder, T = 1, middle
# frame only; ../singleframe_r18s_study-synthetic-64x64.py) trained on the
# SHARP middle frames, tested on the BLURRY test images.
_base_ = ['../singleframe_r18s_study-synthetic-64x64.py']

data_root = 'data/domain_gap_synthetic/'
train_dataloader = dict(
    dataset=dict(data_root=data_root, img_dir='sharp_images'))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
