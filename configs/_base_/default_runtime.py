# Runtime settings shared by every mmblurhand config.
default_scope = 'mmblurhand'
custom_imports = dict(imports=['mmblurhand'], allow_failed_imports=False)

# hooks
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # CheckpointHook that writes atomically and deletes old files only
    # after the new one is complete. For mid-epoch fault tolerance save
    # every N iterations instead: `by_epoch=False, interval=N`.
    checkpoint=dict(
        type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # stop at the first NaN/inf loss, before that iteration is saved
    nan_guard=dict(type='NaNGuardHook'),
    # clear report when a checkpoint was trained with another config
    checkpoint_check=dict(type='CheckpointCompatibilityHook'),
    # pictures of predictions vs GT; `--show-dir` turns it on
    visualization=dict(type='MeshVisualizationHook', enable=False),
)
custom_hooks = [dict(type='SyncBuffersHook')]

# multi-processing and distributed settings. tools/train.py and
# tools/test.py switch `nccl` to `gloo` when no GPU is visible.
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# visualisation and logging
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='MeshVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(
    type='LogProcessor', window_size=50, by_epoch=True, num_digits=6)
log_level = 'INFO'

load_from = None
resume = False
backend_args = dict(backend='local')

# tools/train.py trains epoch-based configs with ResumableEpochBasedTrainLoop,
# which resumes exactly (same batches and random draws as an uninterrupted
# run), even from a mid-epoch `iter_N.pth` (see docs/train_test.md).
train_cfg = dict(by_epoch=True)
val_cfg = dict()
test_cfg = dict()

# Linear learning-rate scaling (`tools/train.py --auto-scale-lr`): the lr of
# a config is meant for `base_batch_size` images per step (all GPUs).
# The papers train with 2 GPUs x 24 images.
auto_scale_lr = dict(enable=False, base_batch_size=48)
# Distributed training converts BatchNorm to SyncBatchNorm when
# `sync_bn = 'torch'` (set it in a config or `--cfg-options sync_bn=torch`).
sync_bn = None
