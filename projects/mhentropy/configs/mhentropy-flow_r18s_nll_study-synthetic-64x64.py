# MHEntropy project (projects/mhentropy/README.md): a conditional normalising
# flow over the T-step MANO pose on top of the K = 16 study generator
# (configs/studies/mh-gen_r18s_k16_study-synthetic-64x64.py). The backbone,
# the 2D Unfolder and the regressor's shape/camera heads are initialised
# from the generator checkpoint (init_cfg Pretrained with a prefix) and
# frozen; only the flow head (context MLP + zuko NSF) trains.
#
# This file: the supervised likelihood (ProHMR-style): -log p(theta_gt | I)
# plus L1 joint losses on the mode (z = 0). The *_ent-* configs switch to
# MHEntropy's distributional objective.
_base_ = ['../../../configs/studies/mh-gen_r18s_k16_study-synthetic-64x64.py']

custom_imports = dict(
    imports=['mmblurhand', 'projects.mhentropy.mhentropy'],
    allow_failed_imports=False)

generator_checkpoint = ('work_dirs/studies/'
                        'mh-gen_r18s_k16_study-synthetic-64x64/epoch_3.pth')
input_size = (64, 64)
num_hypotheses = 16
max_epochs = 4

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
    clip_grad=dict(max_norm=5.0))
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
    checkpoint=dict(interval=max_epochs, save_best=None, max_keep_ckpts=1))

model = dict(
    type='MHEntropyNet',
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint=generator_checkpoint,
            prefix='backbone.')),
    neck=dict(
        # a list: the Unfolder takes a list of init configs
        init_cfg=[
            dict(
                type='Pretrained',
                checkpoint=generator_checkpoint,
                prefix='neck.')
        ]),
    head=dict(
        _delete_=True,
        type='FlowHypothesisHead',
        regressor=dict(
            type='ManoRegressor',
            in_channels=64,
            coord_dims=2,
            global_channels=256,
            num_steps=3,
            num_joints=21,
            mano_cfg=dict(type='ManoLayer', model_path=None),
            camera_cfg=dict(
                input_size=input_size,
                focal=(5000., 5000.),
                camera_3d_size=0.4),
            init_cfg=dict(
                type='Pretrained',
                checkpoint=generator_checkpoint,
                prefix='head.regressor.')),
        num_hypotheses=num_hypotheses,
        num_train_samples=8,
        pose_repr='axis_angle',
        token_dims=16,
        context_dims=128,
        context_hidden=256,
        flow_cfg=dict(transforms=4, bins=8, hidden_features=(256, 256)),
        include_mode=True,
        loss_weights=dict(nll=1.0, mode_joint_cam=10.0, mode_joint_proj=2.0),
        use_visibility=False),
    frozen_modules=('backbone', 'neck', 'head.regressor'),
    selector=dict(type='ProjectiveSelector'),
    test_cfg=dict(num_hypotheses=num_hypotheses, ranking='likelihood'))

# Data: the study pipelines plus the joint visibility (self-occlusion by the
# GT mesh x truncation) used by the visibility weighting and the metric.
target_cfg = dict(
    type='GenerateBlurHandTargets',
    bbox_3d_size=0.3,
    mano_cfg=dict(model_path=None))
visibility_cfg = dict(
    type='ComputeJointVisibility',
    tolerance=0.02,
    mano_cfg=dict(model_path=None))
train_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandRandomScaleRotate'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    dict(type='BlurHandColorJitter'),
    target_cfg,
    visibility_cfg,
    dict(type='PackBlurHandInputsWithVisibility'),
]
test_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    target_cfg,
    visibility_cfg,
    dict(type='PackBlurHandInputsWithVisibility'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MHEntropyMetric', max_top_n=4, hit_top_n=4)
test_evaluator = val_evaluator
