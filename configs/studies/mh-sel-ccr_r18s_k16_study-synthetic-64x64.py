# Study of the selection strategies (the paper's Table III, "Selection Model
# w/ CCR loss"): a selection model on top of the trained K = 16 study
# generator (frozen, eval mode), with its own half-width ResNet-18 and 2D
# Unfolder initialised from the generator, a 1-block / 2-head 64-d score
# decoder, CCR loss (alpha 0.75, top-4 of 16 positive), AdamW 5e-4 with
# cosine decay, 2 epochs, batch 16.
#
# Needs the generator checkpoint of the K = 16 study run (override with
# --cfg-options model.generator_checkpoint=PATH).
_base_ = ['./mh-gen_r18s_k16_study-synthetic-64x64.py']

num_select = 4
max_epochs = 2
generator_checkpoint = ('work_dirs/studies/'
                        'mh-gen_r18s_k16_study-synthetic-64x64/epoch_3.pth')

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
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
default_hooks = dict(checkpoint=dict(interval=max_epochs))

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
        num_heads=2,
        num_layers=1,
        mlp_ratio=4.,
        dropout=0.,
        pose_dims=48,
        joint_in_channels=64,
        context_in_channels=256,
        num_hypotheses=16,
        num_time_steps=3,
        num_joints=21,
        num_groups=8,
        head_hidden_dims=128),
    loss_rank=dict(type='CCRLoss', alpha=0.75, num_positive=num_select),
    loss_joint_img=dict(type='MaskedL1Loss', loss_weight=8., step_dim=None),
    test_cfg=dict(num_select=num_select, aggregate=False))
