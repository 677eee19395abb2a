# Synthetic BlurHand (tools/dataset_converters/synthesize_blurhand.py writes
# data/blurhand_synthetic/ in the official layout; the hands are the built-in
# synthetic MANO-format hand, not MANO): 128x128 crops for CPU-sized models.
# The synthetic hands already take every orientation, so the training
# augmentation scales and colours but does not rotate.
dataset_type = 'BlurHandDataset'
data_root = 'data/blurhand_synthetic/'
input_size = (128, 128)

target_cfg = dict(
    type='GenerateBlurHandTargets',
    bbox_3d_size=0.3,
    mano_cfg=dict(model_path=None))
train_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandRandomScaleRotate', rotate_prob=0.),
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
    batch_size=16,
    num_workers=1,
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
    num_workers=1,
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
