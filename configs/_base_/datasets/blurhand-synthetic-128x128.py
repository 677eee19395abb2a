# Synthetic BlurHand (tools/dataset_converters/synthesize_blurhand.py writes
# data/blurhand_synthetic/ in the official layout; the hands are the built-in
# synthetic MANO-format hand, not MANO): 128x128 crops for CPU-sized models.
# Only what differs from the real-data base is set here: the data root, the
# crop size, the procedural hand, no rotation augmentation (the synthetic
# hands already take every orientation) and CPU-sized loaders.
_base_ = ['./blurhand-256x256.py']

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
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=1, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
