# A small selection model that trains on CPU in minutes on synthetic
# BlurHand data, on top of the small generator
# (mh-gen_r18_1xb16-10e_blurhand-synthetic-128x128.py, trained first): own
# ResNet-18 and 2D Unfolder initialised from the generator, a 2-block / 4-head
# 64-d score decoder, CCR loss (alpha 0.75, top-4 of 8 positive), AdamW
# 5e-4 with cosine decay, batch 16. The generator is frozen and in eval mode.
#
# The generator checkpoint is read from its work dir; override with
# --cfg-options model.generator_checkpoint=PATH.
_base_ = ['./mh-gen_r18_1xb16-10e_blurhand-synthetic-128x128.py']

num_hypotheses = 8
num_select = 4
max_epochs = 10
generator_checkpoint = ('work_dirs/mh-gen_r18_1xb16-10e_blurhand-synthetic-'
                        '128x128/epoch_10.pth')

# runtime
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=1e-4),
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
randomness = dict(seed=0)
default_hooks = dict(
    checkpoint=dict(save_best='MPJPE_top1_middle', rule='less'))

# model
model = dict(
    _delete_=True,
    type='MHSelector',
    data_preprocessor={{_base_.model.data_preprocessor}},
    generator={{_base_.model}},
    generator_checkpoint=generator_checkpoint,
    init_from_generator=True,
    backbone={{_base_.model.backbone}},
    neck={{_base_.model.neck}},
    head=dict(
        type='HypothesisScoreDecoder',
        embed_dims=64,
        num_heads=4,
        num_layers=2,
        mlp_ratio=4.,
        dropout=0.,
        pose_dims=48,
        joint_in_channels={{_base_.feat_channels}},
        context_in_channels=512,
        num_hypotheses=num_hypotheses,
        num_time_steps=3,
        num_joints=21,
        num_groups=8,
        head_hidden_dims=128),
    loss_rank=dict(type='CCRLoss', alpha=0.75, num_positive=num_select),
    loss_joint_img=dict(type='MaskedL1Loss', loss_weight=8., step_dim=None),
    test_cfg=dict(num_select=num_select, aggregate=False))
