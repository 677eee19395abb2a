# A small BlurHandNet that trains on CPU in minutes on synthetic BlurHand
# data (tools/dataset_converters/synthesize_blurhand.py; see README.md):
# ResNet-18 at half width (32 base channels) from scratch, 128x128 input,
# 3D heatmaps 16^3, 64-d joint features, KTFormer 2 blocks x 4 heads of 128
# dims, Adam 3e-4, batch 16. Two settings differ from the paper for these
# short runs from scratch: heatmap logits x30 (neck.logit_scale) and a
# camera-depth loss (head.loss_camera_depth); README.md has their ablation.
# Everything else (losses, weights, ordering, camera) is the paper setting.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/blurhand-synthetic-128x128.py'
]

input_size = (128, 128)
num_steps = 3
num_joints = 21
heatmap_size = 16  # H = W = D of the 3D heatmaps (input / 8)
feat_channels = 64
max_epochs = 10

# runtime
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=3e-4), clip_grad=dict(max_norm=5.))
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[8],
        gamma=0.1)
]
auto_scale_lr = dict(base_batch_size=16)
randomness = dict(seed=0)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        interval=5, save_best='MPJPE_middle', rule='less', max_keep_ckpts=1))

# model
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
        stem_channels=32,
        base_channels=32,
        out_indices=(1, 2, 3)),
    neck=dict(
        type='Unfolder',
        in_channels=(64, 128, 256),
        deconv_channels=(64, 32),
        conv_channels=(64, feat_channels),
        num_steps=num_steps,
        num_joints=num_joints,
        heatmap_dims=3,
        heatmap_depth=heatmap_size,
        # not in the paper (1 there): sharper, faster-learning heatmaps for
        # short runs from a random init (README.md)
        logit_scale=30.),
    head=dict(
        type='BlurHandHead',
        ktformer=dict(
            type='KTFormer',
            in_channels=feat_channels,
            embed_dims=128,
            num_blocks=2,
            num_heads=4,
            num_steps=num_steps,
            num_joints=num_joints),
        regressor=dict(
            type='ManoRegressor',
            in_channels=128,
            coord_dims=3,
            coord_mode='root_relative',
            coord_scale=heatmap_size,
            global_channels=256,
            num_steps=num_steps,
            num_joints=num_joints,
            mano_cfg=dict(type='ManoLayer', model_path=None),
            camera_cfg=dict(
                input_size=input_size,
                focal=(5000., 5000.),
                camera_3d_size=0.4)),
        # the paper's weights in normalised units (heatmap-unit weights x 32)
        loss_joint_img=dict(
            type='TemporalOrderInvariantLoss', loss_weight=8.),
        loss_joint_proj=dict(type='MaskedL1Loss', loss_weight=2.),
        loss_joint_cam=dict(type='MaskedL1Loss', loss_weight=10.),
        loss_mano_joint_cam=dict(type='MaskedL1Loss', loss_weight=10.),
        loss_mano_pose=dict(type='MaskedL1Loss', loss_weight=1.),
        loss_mano_shape=dict(type='MaskedL1Loss', loss_weight=1.),
        # not in the paper: supervises the camera depth with the depth the
        # targets imply; without it these short CPU runs push t_z to its
        # bound and draw hands ~2.8x too small (README.md)
        loss_camera_depth=dict(type='MaskedL1Loss', loss_weight=1.)))

val_evaluator = dict(type='BlurHandMetric', mode='per_joint')
test_evaluator = val_evaluator
