# BlurHandNet (Oh et al., CVPR 2023) on BlurHand, the paper setting:
# ResNet-50 (ImageNet init), 256x256 input, 3 time steps, 3D heatmaps 32^3,
# 512-d joint features, KTFormer 4 blocks x 4 heads, Adam 1e-4 for 13 epochs
# (x0.1 at the start of epochs 11 and 13), batch 2 GPUs x 24.
# 158,509,183 parameters, as the official model.
# Official conventions (so that converted official weights give the official
# outputs, docs/official_checkpoints.md): soft-argmax / feature sampling at
# cell indices with align_corners=True, pose heads fed absolute heatmap-unit
# coordinates and predicting the 6D vector itself, N(0, 1) KTFormer
# embeddings. The other settings (cell centres, wrist-relative coordinates,
# identity offset, std 0.02) are the components' defaults.
# Official training and evaluation (docs/architecture.md, "Official
# conventions"): every loss term is a mean over all its elements, masked ones
# included (normalize='all', the official `.mean()`); the MANO-fit joint loss
# is masked only by the fit's existence, not by truncation
# (mano_joints_mask='fit'); the MPVPE ground truth is the mesh of the betas
# the shape target uses, zeroed where any |beta| > 3 (mesh_betas='target').
# Schedule: the official code's and the paper's (13 epochs, x0.1 twice).
#
# Real BlurHand needs the real MANO hand model (MANO_RIGHT / MANO_LEFT, see
# docs/hand_model.md): run with MANO_MODEL_PATH=<folder> in the environment.
# Without it the procedural MANO-format hand is used (not MANO; the config
# still builds and runs, but BlurHand's MANO fits do not match it).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/datasets/blurhand-256x256.py'
]

# 'procedural' (the default) selects the built-in MANO-format hand
mano_model_path = '{{$MANO_MODEL_PATH:procedural}}'
mano_model_path = None if mano_model_path == 'procedural' else mano_model_path
input_size = (256, 256)
num_steps = 3
num_joints = 21
heatmap_size = 32  # H = W = D of the 3D heatmaps (input / 8)
feat_channels = 512

test_target_cfg = dict(
    type='GenerateBlurHandTargets',
    bbox_3d_size=0.3,
    mesh_betas='target',
    mano_cfg=dict(model_path=mano_model_path))
test_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    test_target_cfg,
    dict(type='PackBlurHandInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# runtime
train_cfg = dict(by_epoch=True, max_epochs=13, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-4))
# official: epochs 1-10 at 1e-4, 11-12 at 1e-5, 13 at 1e-6 (0-based 10, 12)
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=13,
        by_epoch=True,
        milestones=[10, 12],
        gamma=0.1)
]
auto_scale_lr = dict(base_batch_size=48)
randomness = dict(seed=4543)
default_hooks = dict(
    checkpoint=dict(save_best='MPJPE_middle', rule='less', max_keep_ckpts=3))

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
        depth=50,
        out_indices=(1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(
        type='Unfolder',
        in_channels=(512, 1024, 2048),
        deconv_channels=(512, 256),
        conv_channels=(1024, feat_channels),
        num_steps=num_steps,
        num_joints=num_joints,
        heatmap_dims=3,
        heatmap_depth=heatmap_size,
        coord_convention='official'),
    head=dict(
        type='BlurHandHead',
        ktformer=dict(
            type='KTFormer',
            in_channels=feat_channels,
            embed_dims=512,
            num_blocks=4,
            num_heads=4,
            mlp_ratio=4.,
            num_steps=num_steps,
            num_joints=num_joints,
            embed_init='official'),
        regressor=dict(
            type='ManoRegressor',
            in_channels=512,
            coord_dims=3,
            coord_mode='absolute',
            coord_scale=heatmap_size,
            pose_identity_offset=False,
            global_channels=2048,
            num_steps=num_steps,
            num_joints=num_joints,
            mano_cfg=dict(type='ManoLayer', model_path=mano_model_path),
            camera_cfg=dict(
                input_size=input_size,
                focal=(5000., 5000.),
                camera_3d_size=0.4)),
        # official weights; 2D terms in normalised units (x32 heatmap size);
        # each term averaged over all elements of a frame as the official
        # `.mean()` (masked ones count)
        loss_joint_img=dict(
            type='TemporalOrderInvariantLoss',
            loss_weight=0.25 * heatmap_size,
            normalize='all'),
        loss_joint_proj=dict(
            type='MaskedL1Loss',
            loss_weight=0.0625 * heatmap_size,
            normalize='all'),
        loss_joint_cam=dict(
            type='MaskedL1Loss', loss_weight=10., normalize='all'),
        loss_mano_joint_cam=dict(
            type='MaskedL1Loss', loss_weight=10., normalize='all'),
        loss_mano_pose=dict(
            type='MaskedL1Loss', loss_weight=1., normalize='all'),
        loss_mano_shape=dict(
            type='MaskedL1Loss', loss_weight=1., normalize='all'),
        # official: all joints of a frame with a MANO fit, truncated or not
        mano_joints_mask='fit'))

val_evaluator = dict(type='BlurHandMetric', mode='per_joint')
test_evaluator = val_evaluator
