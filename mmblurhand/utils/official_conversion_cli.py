# Copyright (c) OpenMMLab. All rights reserved.
"""The shared body of ``tools/model_converters/*official2mmblurhand.py``."""
import argparse
import os
import os.path as osp
import pickle
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .official_weights import (PAPER_CONFIGS, OfficialConversionError,
                               check_against, convert_state_dict,
                               make_checkpoint, official_network,
                               split_training_model)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--trust-source`` and ``--no-check``."""
    parser.add_argument(
        '--trust-source',
        action='store_true',
        help='load the source file(s) with weights_only=False (runs code '
        'from them); only for files you trust, when the safe load refuses')
    parser.add_argument(
        '--no-check',
        action='store_true',
        help='skip building the paper-config model to check every key and '
        'shape (strict load) before writing')


class UntrustedSourceError(RuntimeError):
    """An official file that ``torch.load(weights_only=True)`` refuses."""


def load_official(path: str, trust_source: bool = False) -> Dict[str, Tensor]:
    """Load an official checkpoint's network state dict safely.

    The file is read with ``torch.load(weights_only=True)`` (tensors, plain
    containers and numbers only; the official training states are that);
    a file that needs more is refused, naming it, unless ``trust_source``.

    Args:
        path (str): Official checkpoint.
        trust_source (bool): Allow full unpickling of this file (it may run
            code).

    Returns:
        dict[str, Tensor]: State dict without ``module.``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Official checkpoint {path} does not exist.')
    try:
        ckpt = torch.load(path, map_location='cpu',
                          weights_only=not trust_source)
    except pickle.UnpicklingError as err:
        raise UntrustedSourceError(
            f'{path}: torch.load(weights_only=True) refused it ({err}). An '
            "official checkpoint holds only tensors ('network') and plain "
            'training state; if you trust this file, rerun with '
            '--trust-source (it is then unpickled in full, which can run '
            'code).') from None
    return official_network(ckpt, path)


def model_shapes(model: str,
                 config: Optional[str] = None) -> Dict[str, Tuple[int, ...]]:
    """Key -> shape of the state dict of the config's model (built on CPU,
    without loading any weights)."""
    from mmengine.config import Config

    from mmblurhand.registry import MODELS
    from mmblurhand.utils import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(config or osp.join(ROOT, PAPER_CONFIGS[model]))
    net = MODELS.build(cfg.model)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def convert_parts(model: str, parts: Sequence[Tuple[str, str]],
                  trust_source: bool = False) -> Dict[str, Tensor]:
    """Convert the official files of one model.

    Args:
        model (str): ``'blurhandnet'``, ``'mh_generator'`` or
            ``'mh_selector'``.
        parts (Sequence[tuple[str, str]]): ``(role, path)``: role ``''``
            (BlurHandNet), ``'generator'`` or ``'selector'``.
        trust_source (bool): See :func:`load_official`.

    Returns:
        dict[str, Tensor]: The mmblurhand state dict.
    """
    out: Dict[str, Tensor] = {}
    for role, path in parts:
        state = load_official(path, trust_source)
        if model == 'blurhandnet':
            out.update(convert_state_dict(state, 'blurhandnet', path))
        elif role == 'generator':
            gen = convert_state_dict(
                split_training_model(state, 'generator'), 'mh_generator',
                path)
            if model == 'mh_selector':
                gen = {'generator.' + k: v for k, v in gen.items()}
            out.update(gen)
        elif role == 'selector':
            out.update(
                convert_state_dict(
                    split_training_model(state, 'selector'), 'mh_selector',
                    path))
        else:
            raise ValueError(f'Unknown role {role!r} for {path}.')
    return out


def convert_files(model: str,
                  parts: Sequence[Tuple[str, str]],
                  dst: str,
                  trust_source: bool = False,
                  check_model: bool = True,
                  config: Optional[str] = None) -> dict:
    """Convert, check against the paper-config model, and save atomically.

    Returns:
        dict: The written checkpoint.
    """
    state = convert_parts(model, parts, trust_source)
    if check_model:
        check_against(state, model_shapes(model, config),
                      config or PAPER_CONFIGS[model])
    sources: List[str] = []
    for _, path in parts:
        if path not in sources:
            sources.append(path)
    ckpt = make_checkpoint(state, sources, model, config)
    out_dir = osp.dirname(osp.abspath(dst))
    os.makedirs(out_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix='.tmp')
    os.close(fd)
    try:
        torch.save(ckpt, tmp)
        os.replace(tmp, dst)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    print(f'{dst}: {ckpt["meta"]["num_tensors"]} tensors, '
          f'{ckpt["meta"]["num_parameters"]:,} parameters, for '
          f'{ckpt["meta"]["config"]}')
    return ckpt


__all__ = [
    'add_common_args', 'load_official', 'model_shapes', 'convert_parts',
    'convert_files', 'OfficialConversionError', 'UntrustedSourceError'
]
