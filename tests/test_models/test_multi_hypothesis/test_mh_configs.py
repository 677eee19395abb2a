# Copyright (c) OpenMMLab. All rights reserved.
"""The configs: paper sizes, and two-stage training on synthetic data."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmblurhand.registry import MODELS
from mmblurhand.utils import load_checkpoint_file, register_all_modules

register_all_modules()

CONFIG_DIR = osp.join(
    osp.dirname(__file__), '..', '..', '..', 'configs', 'mh_blurhandnet')
PAPER_SEL = 'mh-sel_r50_2xb24-30e_blurhand-256x256.py'
SMALL_GEN = 'mh-gen_r18_1xb16-10e_blurhand-synthetic-128x128.py'
SMALL_SEL = 'mh-sel_r18_1xb16-10e_blurhand-synthetic-128x128.py'


def count(module, trainable_only=True):
    return sum(p.numel() for p in module.parameters()
               if p.requires_grad or not trainable_only)


def test_paper_configs_build_at_the_official_sizes():
    # Building the selector builds the generator config too (its `generator`
    # is the generator config's model), so one build checks both.
    cfg = Config.fromfile(osp.join(CONFIG_DIR, PAPER_SEL))
    cfg.model.backbone.init_cfg = None
    cfg.model.generator.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    assert model.generator.head.num_hypotheses == 16
    assert model.generator.head.transformer.layout == 'joint'  # official
    generator = count(
        model.generator, trainable_only=False) - count(
            model.generator.head.regressor.mano, trainable_only=False)
    assert generator == 157_250_814  # the official generator, exactly
    # Trainable = the selector's own modules; the generator is frozen.
    selector = count(model)
    assert selector == 173_595_777  # the official selection model
    assert count(model.head) == 30_092_290
    assert cfg.model.generator_checkpoint.startswith(
        'work_dirs/mh-gen_r50_2xb24-30e_blurhand-256x256/')


@pytest.fixture(scope='module')
def synthetic_root(tmp_path_factory):
    from mmblurhand.datasets.synthesis import (SynthesisConfig,
                                               synthesize_blurhand)
    root = str(tmp_path_factory.mktemp('mh_synthetic'))
    synthesize_blurhand(
        root,
        num_train=3,
        num_test=2,
        seed=1,
        workers=1,
        cfg=SynthesisConfig(image_size=128, interacting_prob=0.),
        progress=False)
    return root


def shrink_model(model):
    """A thin ResNet-18 (16 base channels) at 64x64 keeps the test fast."""
    parts = [model] + ([model.generator] if 'generator' in model else [])
    for part in parts:
        part.backbone.update(stem_channels=16, base_channels=16)
        part.neck.in_channels = (32, 64, 128)
        if part.type == 'MHBlurHandNet':
            part.head.regressor.global_channels = 128
            part.head.regressor.camera_cfg.input_size = (64, 64)
    if model.type == 'MHSelector':
        model.head.context_in_channels = 128


def small_cfg(name, data_root, work_dir, val_interval=1):
    # No yapf formatting of the config text: the Runner pretty-prints it at
    # start-up and into every checkpoint, which dominates a test this short.
    cfg = Config.fromfile(
        osp.join(CONFIG_DIR, name), format_python_code=False)
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(
        by_epoch=True, max_epochs=1, val_interval=val_interval)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    shrink_model(cfg.model)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.dataset.data_root = data_root
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
        for transform in loader.dataset.pipeline:
            if transform.type == 'BlurHandTopdownAffine':
                transform.input_size = (64, 64)
    cfg.train_dataloader.drop_last = False
    return cfg


def test_two_stage_training_on_synthetic_data(synthetic_root, tmp_path):
    gen_cfg = small_cfg(SMALL_GEN, synthetic_root, str(tmp_path / 'gen'))
    runner = Runner.from_cfg(gen_cfg)
    runner.train()
    gen_metrics = {
        key[len('val/'):]: buffer.current()
        for key, buffer in runner.message_hub.log_scalars.items()
        if key.startswith('val/')
    }
    for key in ('MPJPE_oracle-step_middle', 'MPJPE_oracle-seq_past',
                'MPJPE_top1_future', 'MPJPE_top4_middle', 'PJD_middle',
                'MPVPE_top1_middle', 'hit_rate'):
        assert math.isfinite(gen_metrics[key]), key
    assert gen_metrics['MPJPE_oracle-step_middle'] <= \
        gen_metrics['MPJPE_top1_middle']
    checkpoint = str(tmp_path / 'gen' / 'epoch_1.pth')
    assert osp.isfile(checkpoint)

    # No validation while training the selector, one test at the end.
    sel_cfg = small_cfg(
        SMALL_SEL, synthetic_root, str(tmp_path / 'sel'), val_interval=2)
    sel_cfg.model.generator_checkpoint = checkpoint
    runner = Runner.from_cfg(sel_cfg)
    runner.train()
    model = runner.model
    # The generator stayed frozen and its BatchNorm statistics unchanged.
    trained = load_checkpoint_file(checkpoint, map_location='cpu')['state_dict']
    state = model.generator.state_dict()
    assert set(state) == set(trained)
    for key, value in state.items():
        assert torch.equal(value.cpu(), trained[key]), key
    sel_metrics = runner.test()
    assert 0.0 <= sel_metrics['hit_rate'] <= 1.0
    for key in ('MPJPE_top1_middle', 'MPJPE_agg_middle', 'MPVPE_agg_middle'):
        assert math.isfinite(sel_metrics[key]), key
    # Same generator and data: the oracle does not depend on the selector.
    assert sel_metrics['MPJPE_oracle-seq_middle'] == pytest.approx(
        gen_metrics['MPJPE_oracle-seq_middle'], rel=1e-4)
