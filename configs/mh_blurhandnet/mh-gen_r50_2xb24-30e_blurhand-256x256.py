# Multi-hypothesis generation model (MHBlurHandNet) on BlurHand, the paper
# setting of the official code: ResNet-50 (ImageNet init), 256x256 input,
# 3 time steps, 2D Unfolder (32x32 heatmaps, 512-d joint features), K = 16
# learned hypothesis embeddings, 4-block / 4-head pre-LN transformer over
# all K x 63 tokens of an image ('joint' layout, the official code), MANO
# regressor shared over hypotheses and time, shape and camera shared over
# hypotheses. AdamW 1e-4 (no weight decay), cosine per iteration to 1e-6 over
# 30 epochs, gradient clipping 1.0, batch 2 GPUs x 24 (the official run used
# bf16 autocast: add --amp on GPUs). 157.25 M parameters, like the official
# generator (157,250,814).
# Official conventions (so that converted official weights give the official
# outputs, docs/official_checkpoints.md): soft-argmax / feature sampling at
# cell indices with align_corners=True, pose heads fed the absolute
# normalised coordinates and predicting the 6D vector itself, 'joint'
# attention layout. The components' defaults are the other settings.
#
# Real BlurHand needs the real MANO hand model (MANO_RIGHT / MANO_LEFT, see
# docs/hand_model.md): run with MANO_MODEL_PATH=<folder> in the environment.
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
num_hypotheses = 16
feat_channels = 512
max_epochs = 30

# runtime
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=1e-6,
        begin=0,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True)
]
auto_scale_lr = dict(base_batch_size=48)
randomness = dict(seed=114514)
default_hooks = dict(
    checkpoint=dict(
        save_best='MPJPE_oracle-seq_middle', rule='less', max_keep_ckpts=3))

# model
model = dict(
    type='MHBlurHandNet',
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
        heatmap_dims=2,
        coord_convention='official'),
    head=dict(
        type='MultiHypothesisHead',
        transformer=dict(
            type='MultiHypothesisTransformer',
            embed_dims=feat_channels,
            num_heads=4,
            num_layers=4,
            mlp_ratio=4.,
            num_hypotheses=num_hypotheses,
            num_time_steps=num_steps,
            num_joints=num_joints,
            # 'joint': all K x T x J tokens attend to each other (official
            # code); 'independent' (each hypothesis alone, 1/16 of the
            # attention cost) is the paper's description
            layout='joint',
            # 'noise': N(0, 1/E) codes instead (the paper's ablation)
            hypothesis_source='embedding'),
        regressor=dict(
            type='ManoRegressor',
            in_channels=feat_channels,
            coord_dims=2,
            coord_mode='absolute',
            coord_scale=1.,
            pose_identity_offset=False,
            global_channels=2048,
            num_steps=num_steps,
            num_joints=num_joints,
            mano_cfg=dict(type='ManoLayer', model_path=mano_model_path),
            camera_cfg=dict(
                input_size=input_size,
                focal=(5000., 5000.),
                camera_3d_size=0.4)),
        # 'sequence': one best hypothesis per image (paper eqs. 2-4);
        # 'time_step': one per image and time step (official code)
        assigner=dict(type='BestOfKAssigner', mode='sequence'),
        # official weights, normalised 2D units, mean over all time steps
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
        # eq. 6 with the L1 distance normalised by alpha = J x E (the mean
        # absolute feature difference); the official code used p=2, alpha=1
        loss_diversity=dict(
            type='DiversityLoss',
            alpha=float(num_joints * feat_channels),
            p=1,
            loss_weight=1.)),
    # test-time ranking without the selection model ('RandomSelector' is the
    # other baseline); the learned selector is mh-sel_*.py
    selector=dict(type='ProjectiveSelector'),
    test_cfg=dict(num_select=4, aggregate=False))

train_dataloader = dict(drop_last=False)
val_evaluator = dict(type='MultiHypothesisMetric', max_top_n=4, hit_top_n=4)
test_evaluator = val_evaluator
