# Copyright (c) OpenMMLab. All rights reserved.
"""Convert official BlurHandNet / multi-hypothesis checkpoints.

The official code saves ``{'network': state_dict, ...}`` (BlurHand_RELEASE
``src/train.py``; Multi_Hypothesis_BlurHandNet ``src/training/runner_*``),
with the ``module.`` prefix of ``DataParallel`` / DDP, and for the
multi-hypothesis training model ``generator.`` / ``selector.`` below it.
:func:`convert_state_dict` maps such a state dict onto an mmblurhand model
with the tables of :mod:`.official_key_maps`; :func:`make_checkpoint`
wraps the result as an MMEngine checkpoint whose ``meta`` holds only plain
Python types (it loads with ``torch.load(weights_only=True)``).

The converted weights reproduce the official outputs only with the
official conventions set in the model config (the ``*_r50_*`` paper configs
set them; see ``docs/official_checkpoints.md``).
"""
import hashlib
import os
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .official_key_maps import (BLURHANDNET_KEY_MAP, MH_GENERATOR_KEY_MAP,
                                MH_SELECTOR_KEY_MAP, OFFICIAL_STEP_NAMES)

#: The key-map table of each model name.
KEY_MAPS = {
    'blurhandnet': BLURHANDNET_KEY_MAP,
    'mh_generator': MH_GENERATOR_KEY_MAP,
    'mh_selector': MH_SELECTOR_KEY_MAP,
}

#: Paper configs that official weights fit (relative to the repository).
PAPER_CONFIGS = {
    'blurhandnet':
    'configs/blurhandnet/blurhandnet_r50_2xb24-13e_blurhand-256x256.py',
    'mh_generator':
    'configs/mh_blurhandnet/mh-gen_r50_2xb24-30e_blurhand-256x256.py',
    'mh_selector':
    'configs/mh_blurhandnet/mh-sel_r50_2xb24-30e_blurhand-256x256.py',
}


class OfficialConversionError(ValueError):
    """A state dict that the official key maps cannot convert."""


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def official_network(checkpoint, source: str) -> Dict[str, Tensor]:
    """The official state dict of a loaded official checkpoint.

    Args:
        checkpoint: What ``torch.load`` returned: ``{'network': sd, ...}``
            (official) or a bare state dict.
        source (str): File name for error messages.

    Returns:
        dict[str, Tensor]: The state dict with the ``module.`` prefix
        removed.
    """
    if isinstance(checkpoint, Mapping) and 'network' in checkpoint:
        state = checkpoint['network']
    elif isinstance(checkpoint, Mapping) and checkpoint and all(
            torch.is_tensor(v) for v in checkpoint.values()):
        state = checkpoint
    else:
        keys = list(checkpoint)[:8] if isinstance(checkpoint,
                                                  Mapping) else None
        raise OfficialConversionError(
            f'{source}: not an official checkpoint: expected a dict with a '
            f"'network' state dict (official training states), got "
            f'{type(checkpoint).__name__} with keys {keys}.')
    out = {}
    for key, value in state.items():
        if not torch.is_tensor(value):
            raise OfficialConversionError(
                f'{source}: network entry {key!r} is a '
                f'{type(value).__name__}, not a tensor.')
        out[key[len('module.'):] if key.startswith('module.') else key] = \
            value
    return out


def split_training_model(state: Dict[str, Tensor],
                         part: str) -> Dict[str, Tensor]:
    """The ``generator.`` or ``selector.`` part of an MH training model.

    A generation-stage or selection-stage checkpoint of the official
    multi-hypothesis code holds ``generator.*`` (and ``selector.*``); a
    bare model's state dict has neither and is returned whole.

    Args:
        state (dict[str, Tensor]): State dict without ``module.``.
        part (str): ``'generator'`` or ``'selector'``.

    Returns:
        dict[str, Tensor]: The part, prefix removed.
    """
    prefixes = ('generator.', 'selector.')
    if not any(k.startswith(prefixes) for k in state):
        return dict(state)
    prefix = part + '.'
    picked = {k[len(prefix):]: v for k, v in state.items()
              if k.startswith(prefix)}
    if not picked:
        raise OfficialConversionError(
            f'The checkpoint has no {prefix!r} keys (it holds '
            f'{sorted({k.split(".")[0] for k in state})}).')
    return picked


def _template_regex(template: str) -> 're.Pattern':
    pattern = re.escape(template).replace(r'\{i\}', r'(?P<i>\d+)')
    pattern = pattern.replace(r'\{step\}', r'(?P<step>[a-z0-9]+)')
    return re.compile(pattern)


def _fill(template: str, match: 're.Match') -> str:
    out = template
    if '{i}' in out:
        out = out.replace('{i}', match.group('i'))
    return out


def _fixed_value(formula: str, like: Tensor) -> Tensor:
    from mmblurhand.models.selectors.score_decoder import (
        official_sinusoidal_embedding_1d, official_sinusoidal_embedding_2d)
    dims = like.shape[-1]
    if formula == 'official_time_code':
        return official_sinusoidal_embedding_1d(like.numel() // dims, dims)
    if formula == 'official_context_code':
        side = int(round((like.numel() // dims)**0.5))
        return official_sinusoidal_embedding_2d(side, side, dims, 'cpu')
    raise KeyError(f'Unknown fixed-buffer formula {formula!r}.')


def _pose_heads(weights: Dict[int, Tensor], biases: Dict[int, Tensor],
                parents: Sequence[int], src: str,
                dst: str) -> Dict[str, Tensor]:
    """Official per-joint heads -> stacked feature heads + ancestor weights.

    Joint ``p`` at tree depth ``d`` has an official weight ``(6, F + 6 d)``
    over ``[feature; 6D of its ancestors, root first]``.
    """
    num = len(parents)
    if sorted(weights) != list(range(num)) or sorted(biases) != list(
            range(num)):
        raise OfficialConversionError(
            f'{src}: expected heads 0..{num - 1} (weight and bias each), got '
            f'weights {sorted(weights)} and biases {sorted(biases)}.')
    depths = [0] * num
    for joint, parent in enumerate(parents):
        depths[joint] = 0 if parent < 0 else depths[parent] + 1
    features = weights[0].shape[1]
    rot = weights[0].shape[0]
    feat_w, feat_b = [], []
    ancestors: Dict[int, List[Tensor]] = {}
    for joint in range(num):
        weight = weights[joint]
        expected = (rot, features + rot * depths[joint])
        if tuple(weight.shape) != expected:
            raise OfficialConversionError(
                f'{src}{joint}.weight: shape {tuple(weight.shape)}, expected '
                f'{expected} (joint at tree depth {depths[joint]}).')
        feat_w.append(weight[:, :features])
        feat_b.append(biases[joint])
        if depths[joint]:
            ancestors.setdefault(depths[joint], []).append(
                weight[:, features:].t())
    out = {
        dst + 'feature_heads.weight': torch.cat(feat_w, 0),
        dst + 'feature_heads.bias': torch.cat(feat_b, 0),
    }
    for depth in sorted(ancestors):
        out[dst + f'ancestor_weights.{depth - 1}'] = torch.stack(
            ancestors[depth], 0)
    return out


def convert_state_dict(state: Dict[str, Tensor],
                       model: str,
                       source: str = '<state dict>') -> Dict[str, Tensor]:
    """Map an official state dict onto mmblurhand names and layouts.

    Args:
        state (dict[str, Tensor]): Official state dict (no ``module.``; for
            the MH models, one part of :func:`split_training_model`).
        model (str): ``'blurhandnet'``, ``'mh_generator'`` or
            ``'mh_selector'``.
        source (str): Name for error messages.

    Returns:
        dict[str, Tensor]: mmblurhand state dict (contiguous tensors).

    Raises:
        OfficialConversionError: A key that the table does not know
            (named), an incomplete group, or a fixed buffer whose values
            differ from the formula.
    """
    if model not in KEY_MAPS:
        raise KeyError(f'Unknown model {model!r}; one of {sorted(KEY_MAPS)}.')
    table = KEY_MAPS[model]
    compiled = [(row, _template_regex(row[1])) for row in table]
    out: Dict[str, Tensor] = {}
    steps: Dict[Tuple[int, str], Dict[str, Tensor]] = {}
    heads: Dict[int, Tuple[Dict[int, Tensor], Dict[int, Tensor]]] = {}
    unknown = []
    for key, value in state.items():
        for index, (row, regex) in enumerate(compiled):
            rule, src, dst, opts = row
            exact = rule in ('rename', 'flatten_tj_e', 'fixed')
            match = regex.fullmatch(key) if exact else regex.match(key)
            if match is None:
                continue
            if rule == 'drop':
                break
            if rule == 'fixed':
                expected = _fixed_value(opts['formula'], value)
                # (meta tensors, e.g. a shape-only check, have no values)
                if expected.numel() != value.numel() or (
                        not value.is_meta and not torch.allclose(
                            expected.reshape(value.shape).to(value.dtype),
                            value,
                            atol=1e-5)):
                    raise OfficialConversionError(
                        f'{source}: {key!r} differs from the official '
                        f"formula {opts['formula']!r} that mmblurhand "
                        'computes; this checkpoint is not from the official '
                        'code this converter knows.')
                break
            suffix = key[match.end():]
            if rule == 'prefix':
                out[_fill(dst, match) + suffix] = value
            elif rule == 'rename':
                if opts.get('reshape') == 'rows':
                    value = value.reshape(-1, value.shape[-1])
                out[dst] = value
            elif rule == 'flatten_tj_e':
                dims = state[opts['embed_key']].shape[0]
                out_f, in_f = value.shape
                joints = in_f // dims
                # official column j * E + e -> mmblurhand column e * J + j
                out[dst] = value.reshape(out_f, joints, dims).transpose(
                    1, 2).reshape(out_f, in_f)
            elif rule == 'steps':
                step = match.group('step')
                if step not in OFFICIAL_STEP_NAMES:
                    continue
                steps.setdefault((index, suffix), {})[step] = value
            elif rule == 'pose_heads':
                joint, _, kind = suffix.partition('.')
                if not joint.isdigit() or kind not in ('weight', 'bias'):
                    continue
                weights, biases = heads.setdefault(index, ({}, {}))
                (weights if kind == 'weight' else biases)[int(joint)] = value
            break
        else:
            unknown.append(key)
    if unknown:
        raise OfficialConversionError(
            f'{source}: {len(unknown)} key(s) that the {model} key map does '
            f'not know, e.g. {unknown[:5]}. Is this a checkpoint of the '
            f'official {model} (see docs/official_checkpoints.md)?')
    for (index, suffix), parts in steps.items():
        rule, src, dst, opts = table[index]
        missing = [s for s in OFFICIAL_STEP_NAMES if s not in parts]
        if missing:
            raise OfficialConversionError(
                f'{source}: {src}{suffix} lacks decoder(s) {missing}.')
        tensors = [parts[s] for s in OFFICIAL_STEP_NAMES]
        if suffix.endswith('num_batches_tracked'):
            out[dst + suffix] = tensors[0]
        else:
            out[dst + suffix] = torch.cat(tensors, dim=opts.get('dim', 0))
    for index, (weights, biases) in heads.items():
        rule, src, dst, opts = table[index]
        out.update(_pose_heads(weights, biases, opts['parents'], src, dst))
    return {k: v.contiguous() for k, v in out.items()}


def check_against(converted: Mapping[str, Tensor],
                  expected_shapes: Mapping[str, Sequence[int]],
                  what: str) -> None:
    """Require exactly the expected keys and shapes (strict loading).

    Args:
        converted (Mapping[str, Tensor]): Converted state dict.
        expected_shapes (Mapping[str, Sequence[int]]): Target key -> shape
            (e.g. from ``model.state_dict()``).
        what (str): Name of the target for messages.
    """
    missing = sorted(set(expected_shapes) - set(converted))
    unexpected = sorted(set(converted) - set(expected_shapes))
    wrong = [(k, tuple(converted[k].shape), tuple(expected_shapes[k]))
             for k in converted
             if k in expected_shapes and tuple(converted[k].shape) != tuple(
                 expected_shapes[k])]
    if missing or unexpected or wrong:
        raise OfficialConversionError(
            f'The converted weights do not fit {what}: missing '
            f'{missing[:5]} ({len(missing)}), unexpected {unexpected[:5]} '
            f'({len(unexpected)}), shape mismatches (key, converted, '
            f'expected) {wrong[:5]} ({len(wrong)}).')


def make_checkpoint(state_dict: Mapping[str, Tensor], sources: Iterable[str],
                    model: str, config: Optional[str] = None) -> dict:
    """An MMEngine checkpoint with plain-typed ``meta``.

    Args:
        state_dict (Mapping[str, Tensor]): mmblurhand weights.
        sources (Iterable[str]): The official files it came from.
        model (str): A key of :data:`KEY_MAPS`.
        config (str, optional): The config it fits. Defaults to the paper
            config of ``model``.

    Returns:
        dict: ``{'state_dict': ..., 'meta': {...}}``; ``meta`` holds only
        str / int / list / dict values.
    """
    sources = [str(s) for s in sources]
    meta = {
        'converted_from': 'official',
        'official_model': model,
        'source_files': [os.path.basename(s) for s in sources],
        'source_sha256': [file_sha256(s) for s in sources],
        'config': config or PAPER_CONFIGS[model],
        'converter': 'mmblurhand.utils.official_weights',
        'torch_version': str(torch.__version__),
        'num_tensors': int(len(state_dict)),
        'num_parameters': int(
            sum(int(np.prod(v.shape)) for k, v in state_dict.items()
                if not k.endswith(('running_mean', 'running_var',
                                   'num_batches_tracked')))),
    }
    return {
        'state_dict': {k: v.detach().cpu().contiguous()
                       for k, v in state_dict.items()},
        'meta': meta,
    }
