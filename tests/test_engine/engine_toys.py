# Copyright (c) OpenMMLab. All rights reserved.
"""A tiny registered model, dataset, metric and test hooks for the engine
tests: fast enough to train for a few epochs in a subprocess, with the same
sources of randomness as the real models (shuffling, NumPy augmentation in
the data pipeline, dropout).

Imported in-process by the tests and through ``custom_imports`` by the
configs they write for ``tools/train.py`` subprocesses.
"""
import json
import os
import os.path as osp
import signal

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

from mmblurhand.registry import DATASETS, HOOKS, METRICS, MODELS

#: The environment variable that makes `EngineToyKillHook` kill its process.
KILL_ENV = 'MMBLURHAND_TEST_KILL_AT_ITER'


@MODELS.register_module(force=True)
class EngineToyModel(BaseModel):
    """Linear -> ReLU -> dropout -> linear regressor.

    Args:
        in_dim (int): Input features.
        hidden (int): Hidden units (another value makes the checkpoints of
            two configs incompatible).
        dropout (float): Dropout probability (consumes torch's generator).
    """

    def __init__(self, in_dim: int = 3, hidden: int = 8,
                 dropout: float = 0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, 1))

    def forward(self, inputs, labels, index=None, mode='tensor'):
        pred = self.net(torch.stack(inputs)).squeeze(-1)
        labels = torch.stack(labels)
        if mode == 'loss':
            return dict(loss_mse=((pred - labels)**2).mean())
        return [
            dict(pred=p, label=t, index=i)
            for p, t, i in zip(pred, labels, index)
        ]


@DATASETS.register_module(force=True)
class EngineToyDataset(Dataset):
    """``num_samples`` noisy samples of a fixed linear function.

    Args:
        num_samples (int): Dataset length.
        noise (float): Std of the Gaussian noise added to every input on
            every fetch, drawn from NumPy's global generator (like the data
            augmentations of the real pipeline).
        nan_at (int, optional): Index whose input is NaN (a bad sample).
    """

    def __init__(self, num_samples: int = 20, noise: float = 0.1,
                 nan_at=None):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(num_samples, 3, generator=gen)
        self.y = self.x @ torch.tensor([1.5, -2.0, 0.5]) + 0.3
        self.noise = noise
        self.nan_at = nan_at

    @property
    def metainfo(self):
        return dict(name='engine_toy', sigmas=np.array([0.1]))

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        x = self.x[i] + torch.from_numpy(
            np.random.normal(0, self.noise, 3).astype(np.float32))
        if self.nan_at is not None and i == self.nan_at:
            x = torch.full_like(x, float('nan'))
        return dict(inputs=x, labels=self.y[i], index=i)


@METRICS.register_module(force=True)
class EngineToyMetric(BaseMetric):
    """Mean squared error per sample (order independent) and the sorted
    indices of the evaluated samples."""

    def process(self, data_batch, data_samples):
        for s in data_samples:
            self.results.append(
                (int(s['index']), float((s['pred'] - s['label'])**2)))

    def compute_metrics(self, results):
        indices = sorted(i for i, _ in results)
        return dict(
            mse=float(np.mean([e for _, e in results])),
            num_samples=len(results),
            num_unique=len(set(indices)))


@HOOKS.register_module(force=True)
class EngineToyRecorderHook(Hook):
    """Write, per rank, the samples trained on (dataset indices, or image
    paths and hand types), the iterations and the number of checkpoint saves
    to ``work_dir/rank_<r>.json``."""

    def __init__(self):
        self.indices = []
        self.iters = []
        self.saves = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if 'index' in data_batch:  # the toy dataset
            self.indices += [int(i) for i in data_batch['index']]
        else:  # mmblurhand data samples
            self.indices += [
                f'{s.metainfo["img_path"]}:{s.metainfo["hand_type"]}'
                for s in data_batch['data_samples']
            ]
        self.iters.append(runner.iter + 1)

    def before_save_checkpoint(self, runner, checkpoint):
        self.saves += 1

    def after_train(self, runner):
        path = osp.join(runner.work_dir, f'rank_{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(
                dict(indices=self.indices, iters=self.iters,
                     saves=self.saves), f)


@HOOKS.register_module(force=True)
class EngineToyKillHook(Hook):
    """SIGKILL the process at the start of iteration ``$KILL_ENV``, after
    its batch was loaded (mid-epoch, between checkpoints)."""

    priority = 'HIGHEST'

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        kill_at = os.environ.get(KILL_ENV)
        if kill_at is not None and runner.iter + 1 == int(kill_at):
            os.kill(os.getpid(), signal.SIGKILL)


def toy_config_text(runtime_path: str,
                    *,
                    hidden: int = 8,
                    max_epochs: int = 3,
                    num_samples: int = 20,
                    batch_size: int = 4,
                    ckpt_interval: int = 2,
                    extra: str = '') -> str:
    """A config for ``tools/train.py`` that trains the toy model with the
    project's default runtime (``configs/_base_/default_runtime.py``)."""
    return f'''
_base_ = [{runtime_path!r}]
custom_imports = dict(
    imports=['mmblurhand', 'engine_toys'], allow_failed_imports=False)
model = dict(type='EngineToyModel', hidden={hidden})
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='EngineToyDataset', num_samples={num_samples}))
val_dataloader = dict(
    batch_size=3, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='EngineToyDataset', num_samples=11, noise=0.0))
test_dataloader = val_dataloader
val_evaluator = dict(type='EngineToyMetric')
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type='Adam', lr=0.05))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[2], gamma=0.5),
    dict(type='LinearLR', by_epoch=False, start_factor=0.5, begin=0,
         end=4),
]
train_cfg = dict(max_epochs={max_epochs}, val_interval=1)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval={ckpt_interval},
                    max_keep_ckpts=2))
custom_hooks = [
    dict(type='EngineToyRecorderHook'),
    dict(type='EngineToyKillHook'),
]
randomness = dict(seed=1234, deterministic=True)
{extra}
'''


# ----------------------------------------------------------------------------
# helpers for the tests that launch tools/*.py in subprocesses
# ----------------------------------------------------------------------------
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RUNTIME_CFG = osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py')


def tool_env(**extra) -> dict:
    """Environment for a CPU-only tools/ subprocess that can import this
    module."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join(
            [osp.dirname(osp.abspath(__file__)), REPO_ROOT,
             env.get('PYTHONPATH', '')]),
        CUDA_VISIBLE_DEVICES='',
        OMP_NUM_THREADS='1',
        MKL_NUM_THREADS='1')
    env.update({k: str(v) for k, v in extra.items()})
    return env


def free_port() -> int:
    """A TCP port nobody listens on (for torch.distributed rendezvous)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def last_val_metrics(work_dir: str, key: str = 'mse') -> dict:
    """The metrics of the last validation logged under ``work_dir`` (the
    newest run's ``vis_data/scalars.json``), found by one metric ``key``."""
    runs = sorted(
        d for d in os.listdir(work_dir)
        if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    assert runs, f'no scalars.json under {work_dir}'
    last = None
    with open(osp.join(work_dir, runs[-1], 'vis_data',
                       'scalars.json')) as f:
        for line in f:
            record = json.loads(line)
            if key in record:
                last = record
    assert last is not None, f'no validation logged under {work_dir}'
    return last


SYNTHETIC_CFG = osp.join(
    REPO_ROOT, 'configs', 'blurhandnet',
    'blurhandnet_r18_1xb16-10e_blurhand-synthetic-128x128.py')


def tiny_blurhandnet_config_text(data_root: str,
                                 *,
                                 max_epochs: int = 2,
                                 batch_size: int = 2,
                                 ckpt_interval: int = 2,
                                 extra: str = '') -> str:
    """The synthetic BlurHandNet config of the repository, shrunk for CPU
    tests: 64x64 input, ResNet-18 with 16 base channels, 8^3 heatmaps, 32-d
    features, one KTFormer block, no data workers, iteration checkpoints,
    validation every epoch."""
    return f'''
_base_ = [{SYNTHETIC_CFG!r}]
custom_imports = dict(
    imports=['mmblurhand', 'engine_toys'], allow_failed_imports=False)
data_root = {data_root!r}
input_size = (64, 64)
heatmap_size = 8
model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    neck=dict(in_channels=(32, 64, 128), deconv_channels=(32, 16),
              conv_channels=(32, 32), heatmap_depth=heatmap_size),
    head=dict(
        ktformer=dict(in_channels=32, embed_dims=32, num_blocks=1,
                      num_heads=2),
        regressor=dict(in_channels=32, global_channels=128,
                       camera_cfg=dict(input_size=input_size)),
        loss_joint_img=dict(loss_weight=0.25 * heatmap_size),
        loss_joint_proj=dict(loss_weight=0.0625 * heatmap_size)))
target_cfg = dict(
    type='GenerateBlurHandTargets', bbox_3d_size=0.3,
    mano_cfg=dict(model_path=None))
train_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandRandomScaleRotate'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    dict(type='BlurHandColorJitter'),
    target_cfg,
    dict(type='PackBlurHandInputs'),
]
test_pipeline = [
    dict(type='LoadBlurHandImage'),
    dict(type='MirrorLeftHand'),
    dict(type='BlurHandTopdownAffine', input_size=input_size),
    target_cfg,
    dict(type='PackBlurHandInputs'),
]
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(by_epoch=True, max_epochs={max_epochs}, val_interval=1)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(by_epoch=False, interval={ckpt_interval},
                    max_keep_ckpts=2))
custom_hooks = [
    dict(type='EngineToyRecorderHook'),
    dict(type='EngineToyKillHook'),
]
{extra}
'''
