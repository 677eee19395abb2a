# Copyright (c) OpenMMLab. All rights reserved.
"""Runner checkpoints save, resume and load for testing on torch >= 2.6.

Runner checkpoints hold numpy arrays (``dataset_meta``) and ``HistoryBuffer``
objects (``message_hub``), which torch >= 2.6's ``weights_only`` loader
refuses on its own; mmblurhand's loader admits exactly those types
(tests/test_security has the refusals).
"""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from mmblurhand.registry import DATASETS, METRICS, MODELS
from mmblurhand.utils import load_from_local, register_all_modules

register_all_modules()


@MODELS.register_module(force=True)
class _CkptToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels, mode='tensor'):
        inputs = torch.stack(inputs)
        labels = torch.stack(labels)
        pred = self.linear(inputs).squeeze(-1)
        if mode == 'loss':
            return dict(loss=((pred - labels)**2).mean())
        return [dict(pred=p, label=t) for p, t in zip(pred, labels)]


@DATASETS.register_module(force=True)
class _CkptToyDataset(Dataset):
    # numpy arrays in metainfo end up in checkpoint['meta']['dataset_meta']
    METAINFO = dict(sigmas=np.array([0.1, 0.2]), name='toy')

    def __init__(self):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(16, 2, generator=gen)
        self.y = self.x @ torch.tensor([1.5, -2.0]) + 0.3

    @property
    def metainfo(self):
        return self.METAINFO

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], labels=self.y[i])


@METRICS.register_module(force=True)
class _CkptToyMetric(BaseMetric):

    def process(self, data_batch, data_samples):
        for s in data_samples:
            self.results.append(float((s['pred'] - s['label'])**2))

    def compute_metrics(self, results):
        return dict(mse=float(np.mean(results)))


def _runner(work_dir, max_epochs, **kwargs):
    loader = dict(
        dataset=dict(type='_CkptToyDataset'),
        sampler=dict(type='DefaultSampler', shuffle=True),
        batch_size=8,
        num_workers=0)
    return Runner(
        model=dict(type='_CkptToyModel'),
        work_dir=str(work_dir),
        train_dataloader=loader,
        val_dataloader=loader,
        test_dataloader=loader,
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        val_cfg=dict(),
        test_cfg=dict(),
        val_evaluator=dict(type='_CkptToyMetric'),
        test_evaluator=dict(type='_CkptToyMetric'),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        default_scope='mmblurhand',
        randomness=dict(seed=0),
        experiment_name=f'exp{max_epochs}_{kwargs.get("resume", False)}',
        **kwargs)


def test_save_resume_and_test_with_runner_checkpoints(tmp_path):
    # Train one epoch (2 iterations) and save.
    runner = _runner(tmp_path, max_epochs=1)
    runner.train()
    ckpt = osp.join(tmp_path, 'epoch_1.pth')
    assert osp.isfile(ckpt)

    # The checkpoint really holds what torch's weights_only loader refuses.
    with pytest.raises(Exception):
        torch.load(ckpt, weights_only=True)
    loaded = load_from_local(ckpt)
    assert isinstance(loaded['meta']['dataset_meta']['sigmas'], np.ndarray)

    # Resume to epoch 2: iteration count continues from 2.
    resumed = _runner(tmp_path, max_epochs=2, resume=True, load_from=ckpt)
    resumed.train()
    assert resumed.iter == 4 and resumed.epoch == 2

    # Load the last checkpoint for testing.
    tester = _runner(
        tmp_path, max_epochs=2, load_from=osp.join(tmp_path, 'epoch_2.pth'))
    metrics = tester.test()
    assert np.isfinite(metrics['mse'])
    state = load_from_local(osp.join(tmp_path, 'epoch_2.pth'))['state_dict']
    assert torch.equal(tester.model.linear.weight, state['linear.weight'])


def test_missing_and_corrupt_checkpoints_have_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_from_local(str(tmp_path / 'nope.pth'))
    good = tmp_path / 'good.pth'
    torch.save({'w': torch.ones(1000)}, good)
    bad = tmp_path / 'truncated.pth'
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(RuntimeError, match='truncated.pth.*corrupt'):
        load_from_local(str(bad))
    assert not glob.glob(str(tmp_path / '*.tmp'))
