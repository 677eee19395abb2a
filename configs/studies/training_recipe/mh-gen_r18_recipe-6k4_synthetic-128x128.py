# Training-recipe study (docs/training_recipe.md): the synthetic 128 px
# multi-hypothesis generator (configs/mh_blurhandnet/mh-gen_r18_1xb16-10e_
# blurhand-synthetic-128x128.py, K = 8) on 6,400 generated training images,
# iteration-based (every size gets the same iterations), validated on the
# separately generated 1,000-image test set every `val_interval`
# iterations, with the LearningCurveHook. Data as in
# blurhandnet_r18_recipe-6k4_synthetic-128x128.py.
_base_ = ['../../mh_blurhandnet/'
          'mh-gen_r18_1xb16-10e_blurhand-synthetic-128x128.py']

train_a = 'data/recipe/train_a/'
train_b = 'data/recipe/train_b/'
test_root = 'data/recipe/test/'
max_iters = 3200
val_interval = 400

train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=val_interval)
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        T_max=max_iters,
        eta_min=1e-5,
        begin=0,
        end=max_iters)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        by_epoch=False,
        interval=val_interval,
        save_best=None,
        max_keep_ckpts=1))
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='LearningCurveHook', num_train_samples=256)
]
log_processor = dict(by_epoch=False)
train_dataloader = dict(dataset=dict(data_root=train_a))
val_dataloader = dict(
    batch_size=32, num_workers=1, dataset=dict(data_root=test_root))
test_dataloader = val_dataloader
