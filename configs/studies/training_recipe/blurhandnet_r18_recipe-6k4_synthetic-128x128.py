# Training-recipe study (docs/training_recipe.md): the synthetic 128 px
# BlurHandNet (configs/blurhandnet/blurhandnet_r18_1xb16-10e_blurhand-
# synthetic-128x128.py) on 6,400 generated training images, with an
# iteration-based schedule (every size gets the same iterations), validation
# on a separately generated 1,000-image test set every `val_interval`
# iterations and the LearningCurveHook (train-subset metrics and the
# Unfolder's 2D error). Data: tools/analysis_tools/training_recipe_data.sh:
#   data/recipe/train_a  6,400 training images (seed 100)
#   data/recipe/train_b 19,200 training images (seed 102)
#   data/recipe/test     1,000 test images (seed 101)
# The 1.6k / 25.6k configs change only the training set.
_base_ = ['../../blurhandnet/'
          'blurhandnet_r18_1xb16-10e_blurhand-synthetic-128x128.py']

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
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=max_iters,
        milestones=[int(0.8 * max_iters)],
        gamma=0.1)
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
