# A tiny, randomly initialised BlurHandNet for API / demo tests (64x64 input,
# ResNet-18 with 16 base channels). Not for training.
default_scope = 'mmblurhand'
input_size = (64, 64)
model = dict(
    type='BlurHandNet',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        out_indices=(1, 2, 3)),
    neck=dict(
        type='Unfolder',
        in_channels=(32, 64, 128),
        deconv_channels=(32, 16),
        conv_channels=(32, 16),
        heatmap_depth=8),
    head=dict(
        type='BlurHandHead',
        ktformer=dict(
            type='KTFormer',
            in_channels=16,
            embed_dims=32,
            num_blocks=1,
            num_heads=2),
        regressor=dict(
            type='ManoRegressor',
            in_channels=32,
            global_channels=128,
            camera_cfg=dict(input_size=input_size))))
test_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    dict(type='GenerateBlurHandTargets', bbox_3d_size=0.3),
    dict(type='PackBlurHandInputs'),
]
test_dataloader = dict(
    batch_size=2,
    dataset=dict(
        type='BlurHandDataset',
        data_root='data/blurhand/',
        split='test',
        test_mode=True,
        pipeline=test_pipeline))
