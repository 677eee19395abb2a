# Accuracy studies on synthetic BlurHand (docs/benchmarks.md): the small
# multi-hypothesis generator (mh-gen_r18_1xb16-10e_blurhand-synthetic-
# 128x128.py) shrunk further so that all study trainings fit in ~40 CPU
# minutes on 2 cores: 64x64 input, ResNet-18 at half width (32 base
# channels), 2D Unfolder with 64-d joint features (8x8 heatmaps), a
# 1-block / 2-head 64-d hypothesis transformer, K = 16, 3 epochs of the
# 1600 training images. Losses, best-of-K per sequence, shared
# shape/camera and the projective test-time ranking are the paper
# setting. The K, embedding and selector studies inherit from this file.
_base_ = [
    '../mh_blurhandnet/'
    'mh-gen_r18_1xb16-10e_blurhand-synthetic-128x128.py'
]

input_size = (64, 64)
num_hypotheses = 16
feat_channels = 64
max_epochs = 3

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=1e-5,
        begin=0,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        interval=max_epochs, save_best=None, max_keep_ckpts=1))

model = dict(
    backbone=dict(
        type='ResNet',
        depth=18,
        stem_channels=32,
        base_channels=32,
        out_indices=(1, 2, 3)),
    # the studies were measured before the synthetic configs gained the
    # heatmap logit scale and the camera-depth loss: paper settings here
    neck=dict(
        in_channels=(64, 128, 256),
        deconv_channels=(64, 32),
        conv_channels=(64, feat_channels),
        logit_scale=1.),
    head=dict(
        transformer=dict(
            embed_dims=feat_channels,
            num_heads=2,
            num_layers=1,
            num_hypotheses=num_hypotheses),
        regressor=dict(
            in_channels=feat_channels,
            global_channels=256,
            camera_cfg=dict(input_size=input_size)),
        loss_diversity=dict(alpha=float(21 * feat_channels)),
        loss_camera_depth=None))

train_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandRandomScaleRotate', rotate_prob=0.),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    dict(type='BlurHandColorJitter'),
    dict(
        type='GenerateBlurHandTargets',
        bbox_3d_size=0.3,
        mano_cfg=dict(model_path=None)),
    dict(type='PackBlurHandInputs'),
]
test_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    dict(
        type='GenerateBlurHandTargets',
        bbox_3d_size=0.3,
        mano_cfg=dict(model_path=None)),
    dict(type='PackBlurHandInputs'),
]
train_dataloader = dict(
    num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
