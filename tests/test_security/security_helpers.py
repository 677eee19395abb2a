# Copyright (c) OpenMMLab. All rights reserved.
"""Helpers of the safe-loading tests: malicious checkpoints whose pickle
payload creates a marker, tiny configs of the three model kinds, and the
tools as importable modules."""
import importlib.util
import os
import os.path as osp
import pathlib

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = dict(
    blurhandnet='configs/blurhandnet/'
    'blurhandnet_r18_1xb16-10e_blurhand-synthetic-128x128.py',
    generator='configs/mh_blurhandnet/'
    'mh-gen_r18_1xb16-10e_blurhand-synthetic-128x128.py',
    selector='configs/mh_blurhandnet/'
    'mh-sel_r18_1xb16-10e_blurhand-synthetic-128x128.py')


class MkdirPayload:
    """Unpickling it calls ``os.mkdir(marker)`` (pickled as
    ``posix.mkdir``): the code a malicious checkpoint would run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker, ))


class TouchPayload:
    """Unpickling it calls ``pathlib.Path(marker).touch()``; pickle
    protocol 2 writes the method as ``getattr(pathlib.Path, 'touch')``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker), ))


def load_tool(relative_path):
    """A tool script of the repository as a module (its ``main`` runs in
    this process)."""
    path = osp.join(REPO, relative_path)
    name = '_tool_' + relative_path.replace('/', '_').replace('.', '_')
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_malicious(source, path, marker, payload=MkdirPayload):
    """``source`` (a checkpoint file or dict) with a payload in ``meta``:
    everything else is a valid checkpoint, so if the payload ran the load
    would look successful."""
    from mmblurhand.utils.checkpoint import load_checkpoint_file
    ckpt = load_checkpoint_file(source) if isinstance(source, str) else \
        dict(source)
    ckpt['meta'] = dict(ckpt.get('meta') or {}, note=payload(marker))
    torch.save(ckpt, str(path))
    return str(path)


def tiny_config(kind, data_root, work_dir, path=None, **overrides):
    """The shipped config of ``kind`` shrunk for a CPU test (ResNet-18 with
    16 base channels, 64 px crops, batch 2, one epoch, no validation, a
    checkpoint every epoch); written to ``path`` when given."""
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(REPO, CONFIGS[kind]), format_python_code=False)
    parts = [cfg.model] + ([cfg.model.generator]
                           if kind == 'selector' else [])
    for part in parts:
        part.backbone.update(stem_channels=16, base_channels=16)
        part.neck.in_channels = (32, 64, 128)
        if part.type != 'MHSelector':
            part.head.regressor.global_channels = 128
            part.head.regressor.camera_cfg.input_size = (64, 64)
    if kind == 'selector':
        cfg.model.head.context_in_channels = 128
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'security_{kind}_{osp.basename(str(work_dir))}'
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(
        type='AtomicCheckpointHook', interval=1, save_best=None)
    cfg.visualizer.vis_backends = []
    for key in ('train_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.dataset.data_root = data_root
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
        for transform in loader.dataset.pipeline:
            if transform.type == 'BlurHandTopdownAffine':
                transform.input_size = (64, 64)
    cfg.train_dataloader.drop_last = False
    cfg.merge_from_dict(overrides)
    if path is not None:
        cfg.dump(str(path))
    return cfg
