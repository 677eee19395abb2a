# A tiny, randomly initialised multi-hypothesis generator (K = 4) for API /
# demo tests (64x64 input). Not for training.
_base_ = ['./tiny_blurhandnet.py']
model = dict(
    _delete_=True,
    type='MHBlurHandNet',
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
        heatmap_dims=2),
    head=dict(
        type='MultiHypothesisHead',
        transformer=dict(
            type='MultiHypothesisTransformer',
            embed_dims=16,
            num_heads=2,
            num_layers=1,
            mlp_ratio=2.,
            num_hypotheses=4),
        regressor=dict(
            type='ManoRegressor',
            in_channels=16,
            coord_dims=2,
            global_channels=128,
            camera_cfg=dict(input_size={{_base_.input_size}}))),
    selector=dict(type='ProjectiveSelector'),
    test_cfg=dict(num_select=2, aggregate=False))
