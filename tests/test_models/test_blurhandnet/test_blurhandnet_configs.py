# Copyright (c) OpenMMLab. All rights reserved.
"""The BlurHandNet configs: paper size, and training on synthetic data."""
import copy
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from mmblurhand.registry import DATASETS, MODELS
from mmblurhand.utils import register_all_modules

register_all_modules()

CONFIG_DIR = osp.join(
    osp.dirname(__file__), '..', '..', '..', 'configs', 'blurhandnet')
PAPER = 'blurhandnet_r50_2xb24-13e_blurhand-256x256.py'
SMALL = 'blurhandnet_r18_1xb16-10e_blurhand-synthetic-128x128.py'


def test_paper_config_builds_at_the_official_size():
    cfg = Config.fromfile(osp.join(CONFIG_DIR, PAPER))
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='torchvision://resnet50')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert count == 158_509_183  # the official BlurHandNet, exactly
    # the official conventions (docs/official_checkpoints.md)
    assert cfg.model.neck.coord_convention == 'official'
    assert cfg.model.head.regressor.coord_mode == 'absolute'
    assert cfg.model.head.regressor.pose_identity_offset is False
    assert cfg.train_dataloader.batch_size == 24
    assert cfg.train_cfg.max_epochs == 13
    assert cfg.param_scheduler[0].milestones == [10, 12]
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4)
    head = cfg.model.head
    assert head.loss_joint_img.loss_weight == 8.
    assert head.loss_joint_proj.loss_weight == 2.
    assert head.loss_joint_cam.loss_weight == 10.


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    from mmblurhand.datasets.synthesis import (SynthesisConfig,
                                               synthesize_blurhand)
    root = str(tmp_path_factory.mktemp('bhn_synthetic'))
    synthesize_blurhand(
        root,
        num_train=4,
        num_test=2,
        seed=3,
        workers=1,
        cfg=SynthesisConfig(image_size=128, interacting_prob=0.),
        progress=False)
    return root


def small_cfg(data_root, work_dir):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, SMALL))
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.dataset.data_root = data_root
        loader.batch_size = 4
        loader.num_workers = 0
        loader.persistent_workers = False
    return cfg


def test_a_few_iterations_on_synthetic_data_lower_the_loss(
        synthetic_root, tmp_path):
    cfg = small_cfg(synthetic_root, str(tmp_path))
    torch.manual_seed(0)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = [model.train_step(batch, optim)['loss'].item()
              for _ in range(5)]
    assert all(math.isfinite(v) for v in losses), losses
    assert losses[-1] < 0.8 * losses[0], losses


def test_runner_trains_validates_and_tests(synthetic_root, tmp_path):
    runner = Runner.from_cfg(small_cfg(synthetic_root, str(tmp_path)))
    runner.train()
    metrics = runner.test()
    for key in ('MPJPE_past', 'MPJPE_middle', 'MPJPE_future', 'MPJPE_mean',
                'PA-MPJPE_middle', 'MPVPE_middle', 'order_kept'):
        assert math.isfinite(metrics[key]), key
    assert osp.isfile(osp.join(str(tmp_path), 'epoch_1.pth'))
