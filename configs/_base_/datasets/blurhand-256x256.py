# BlurHand (Oh et al., CVPR 2023) in the official layout under data/blurhand/
# (docs/datasets.md): 256x256 crops, scale/rotation/colour augmentation,
# targets from the MANO fits. The paper configs inherit this file.
#
# Real BlurHand needs the real MANO hand model (docs/hand_model.md): run with
# MANO_MODEL_PATH=<folder>. 'procedural' (the default) selects the built-in
# synthetic MANO-format hand, which does not match BlurHand's MANO fits.
mano_model_path = '{{$MANO_MODEL_PATH:procedural}}'
mano_model_path = None if mano_model_path == 'procedural' else mano_model_path
dataset_type = 'BlurHandDataset'
data_root = 'data/blurhand/'
input_size = (256, 256)

target_cfg = dict(
    type='GenerateBlurHandTargets',
    bbox_3d_size=0.3,
    mano_cfg=dict(model_path=mano_model_path))
train_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandRandomScaleRotate'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    dict(type='BlurHandColorJitter'),
    target_cfg,
    dict(type='PackBlurHandInputs'),
]
test_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    target_cfg,
    dict(type='PackBlurHandInputs'),
]
train_dataloader = dict(
    batch_size=24,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
