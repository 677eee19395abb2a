# Evaluation-only view of the K = 16 embedding generator
# (configs/studies/mh-gen_r18s_k16_study-synthetic-64x64.py) with the
# MHEntropy project's outputs and metric: the same network and checkpoint
# (MHEntropyNet adds no parameters to MHBlurHandNet), predictions with the
# hypotheses' 2D joints, the joint-visibility test pipeline and
# MHEntropyMetric (PJD on visible / occluded joints, RD). Used by
# projects/mhentropy/tools/sweep_k.py as the baseline at equal K.
_base_ = ['../../../configs/studies/mh-gen_r18s_k16_study-synthetic-64x64.py']

custom_imports = dict(
    imports=['mmblurhand', 'projects.mhentropy.mhentropy'],
    allow_failed_imports=False)

input_size = (64, 64)
model = dict(type='MHEntropyNet')

test_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    dict(
        type='GenerateBlurHandTargets',
        bbox_3d_size=0.3,
        mano_cfg=dict(model_path=None)),
    dict(
        type='ComputeJointVisibility',
        tolerance=0.02,
        mano_cfg=dict(model_path=None)),
    dict(type='PackBlurHandInputsWithVisibility'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MHEntropyMetric', max_top_n=4, hit_top_n=4)
test_evaluator = val_evaluator
