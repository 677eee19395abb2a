# Accuracy studies on synthetic BlurHand (docs/benchmarks.md): BlurHandNet
# at the size of the multi-hypothesis study generator
# (mh-gen_r18s_k16_study-synthetic-64x64.py) for the "multi-hypothesis vs
# BlurHandNet vs single-frame" comparison: 64x64 input, ResNet-18 at half
# width, Unfolder with 3D heatmaps 8^3 and 64-d joint features, a 1-block /
# 2-head 64-d KTFormer, 3 epochs, batch 16. Errors are pooled over
# (sample, joint) like the multi-hypothesis metric.
_base_ = [
    '../blurhandnet/blurhandnet_r18_1xb16-10e_blurhand-synthetic-128x128.py'
]

input_size = (64, 64)
heatmap_size = 8  # input / 8
feat_channels = 64
max_epochs = 3

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[2],
        gamma=0.1)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        interval=max_epochs, save_best=None, max_keep_ckpts=1))

model = dict(
    # the studies were measured before the synthetic configs gained the
    # heatmap logit scale and the camera-depth loss: paper settings here
    neck=dict(heatmap_depth=heatmap_size, logit_scale=1.),
    head=dict(
        ktformer=dict(embed_dims=feat_channels, num_blocks=1, num_heads=2),
        # coord_scale stays the 128x128 base's 16 (not this heatmap's 8):
        # it only scales the pose heads' coordinate inputs, and the studies
        # were measured with it
        regressor=dict(
            in_channels=feat_channels,
            camera_cfg=dict(input_size=input_size)),
        loss_joint_img=dict(loss_weight=0.25 * heatmap_size),
        loss_joint_proj=dict(loss_weight=0.0625 * heatmap_size),
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
val_evaluator = dict(type='BlurHandMetric', mode='pooled')
test_evaluator = val_evaluator
