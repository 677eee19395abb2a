# A small multi-hypothesis generator that trains on CPU in minutes on
# synthetic BlurHand data (tools/dataset_converters/synthesize_blurhand.py;
# see README.md): ResNet-18 from scratch, 128x128 input, 2D Unfolder (16x16
# heatmaps, 64-d joint features), K = 8 hypotheses, transformer 2 blocks x 4
# heads of 64 dims, AdamW 1e-3 with cosine decay, batch 16. Two settings
# differ from the paper for these short runs from scratch: heatmap logits
# x30 (neck.logit_scale) and a camera-depth loss (head.loss_camera_depth);
# README.md has their ablation. Everything else (losses, weights, best-of-K
# per sequence, shared shape/camera, projective test-time ranking) is the
# paper setting.
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/blurhand-synthetic-128x128.py'
]

input_size = (128, 128)
num_steps = 3
num_joints = 21
num_hypotheses = 8
feat_channels = 64
max_epochs = 10

# runtime
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.),
    clip_grad=dict(max_norm=1.0))
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
auto_scale_lr = dict(base_batch_size=16)
randomness = dict(seed=0)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        interval=5,
        save_best='MPJPE_oracle-seq_middle',
        rule='less',
        max_keep_ckpts=1))

# model
model = dict(
    type='MHBlurHandNet',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(1, 2, 3)),
    neck=dict(
        type='Unfolder',
        in_channels=(128, 256, 512),
        deconv_channels=(64, 32),
        conv_channels=(64, feat_channels),
        num_steps=num_steps,
        num_joints=num_joints,
        heatmap_dims=2,
        # not in the paper (1 there): sharper, faster-learning heatmaps for
        # short runs from a random init (README.md)
        logit_scale=30.),
    head=dict(
        type='MultiHypothesisHead',
        transformer=dict(
            type='MultiHypothesisTransformer',
            embed_dims=feat_channels,
            num_heads=4,
            num_layers=2,
            mlp_ratio=4.,
            num_hypotheses=num_hypotheses,
            num_time_steps=num_steps,
            num_joints=num_joints,
            layout='independent',
            hypothesis_source='embedding'),
        regressor=dict(
            type='ManoRegressor',
            in_channels=feat_channels,
            coord_dims=2,
            global_channels=512,
            num_steps=num_steps,
            num_joints=num_joints,
            mano_cfg=dict(type='ManoLayer', model_path=None),
            camera_cfg=dict(
                input_size=input_size,
                focal=(5000., 5000.),
                camera_3d_size=0.4)),
        assigner=dict(type='BestOfKAssigner', mode='sequence'),
        loss_joint_img=dict(
            type='MaskedL1Loss', loss_weight=8., step_dim=None),
        loss_joint_proj=dict(
            type='MaskedL1Loss', loss_weight=2., step_dim=None),
        loss_joint_cam=dict(
            type='MaskedL1Loss', loss_weight=10., step_dim=None),
        loss_mano_joint_cam=dict(
            type='MaskedL1Loss', loss_weight=10., step_dim=None),
        loss_mano_pose=dict(
            type='MaskedL1Loss', loss_weight=1., step_dim=None),
        loss_mano_shape=dict(
            type='MaskedL1Loss', loss_weight=1., step_dim=None),
        loss_diversity=dict(
            type='DiversityLoss',
            alpha=float(num_joints * feat_channels),
            p=1,
            loss_weight=1.),
        # not in the paper: supervises the camera depth with the depth the
        # targets imply; without it these short CPU runs push t_z to its
        # bound and draw hands ~2.8x too small (README.md)
        loss_camera_depth=dict(
            type='MaskedL1Loss', loss_weight=1., step_dim=None)),
    selector=dict(type='ProjectiveSelector'),
    test_cfg=dict(num_select=4, aggregate=False))

val_evaluator = dict(type='MultiHypothesisMetric', max_top_n=4, hit_top_n=4)
test_evaluator = val_evaluator
