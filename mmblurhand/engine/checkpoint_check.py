# Copyright (c) OpenMMLab. All rights reserved.
"""Tell a user clearly when a checkpoint does not belong to their config.

MMEngine loads checkpoints with ``strict=False``: a checkpoint trained with
another config (another number of hypotheses, joints, another backbone...)
loads with a long warning and the run goes on with partly random weights, or
fails later in the optimiser with ``loaded state dict contains a parameter
group that doesn't match``. :func:`check_checkpoint_matches` compares the
checkpoint's weights with the model's and, when they differ, raises
:class:`CheckpointMismatchError` with a short report: which parameters are
missing, unexpected or of another shape, and which ``model`` settings differ
between the config stored in the checkpoint and the current one.
:func:`settings_report` covers the quieter case: the weights fit, but the
``model`` settings that shape the computation without owning weights (a
heatmap logit scale, a number of selected hypotheses, a dropout) differ.
"""
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import torch
from mmengine.config import Config

#: The key prefixes MMEngine strips before loading (``revise_keys``).
DEFAULT_REVISE_KEYS = ((r'^module\.', ''), )


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model built from the config."""


@dataclass
class StateDictDiff:
    """Differences between a checkpoint's and a model's ``state_dict``.

    Attributes:
        missing (list[str]): Model keys absent from the checkpoint.
        unexpected (list[str]): Checkpoint keys the model does not have.
        shape_mismatch (list[tuple]): ``(key, checkpoint shape, model
            shape)`` for keys in both with different shapes.
    """
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    shape_mismatch: List[tuple] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shape_mismatch)


def checkpoint_state_dict(
        checkpoint: Mapping,
        revise_keys: Sequence = DEFAULT_REVISE_KEYS) -> Dict[str, Any]:
    """The weights of a checkpoint, keys revised as MMEngine loads them.

    Args:
        checkpoint (Mapping): A runner checkpoint (with ``state_dict``) or a
            bare state dict.
        revise_keys (Sequence[tuple[str, str]]): ``(pattern, replacement)``
            regular expressions applied to every key. Defaults to stripping
            ``module.`` (DDP).
    """
    state = checkpoint.get('state_dict', checkpoint)
    revised = {}
    for key, value in state.items():
        for pattern, replacement in revise_keys:
            key = re.sub(pattern, replacement, key)
        revised[key] = value
    return revised


def compare_state_dicts(model_state: Mapping[str, Any],
                        ckpt_state: Mapping[str, Any]) -> StateDictDiff:
    """Compare keys and tensor shapes of two state dicts.

    Args:
        model_state (Mapping[str, Tensor]): ``model.state_dict()``.
        ckpt_state (Mapping[str, Tensor]): The checkpoint's weights.

    Returns:
        StateDictDiff: Falsy when every key matches with the same shape.
    """
    diff = StateDictDiff()
    for key, value in model_state.items():
        if key not in ckpt_state:
            diff.missing.append(key)
            continue
        ckpt_shape = _shape(ckpt_state[key])
        model_shape = _shape(value)
        if ckpt_shape is not None and model_shape is not None \
                and ckpt_shape != model_shape:
            diff.shape_mismatch.append((key, ckpt_shape, model_shape))
    diff.unexpected = [k for k in ckpt_state if k not in model_state]
    return diff


def config_differences(ckpt_cfg_text: Optional[str],
                       cfg: Optional[Mapping],
                       section: str = 'model') -> List[str]:
    """``section`` settings that differ between a checkpoint and a config.

    Args:
        ckpt_cfg_text (str, optional): ``checkpoint['meta']['cfg']``, the
            ``pretty_text`` of the config the checkpoint was trained with.
        cfg (Mapping, optional): The current config.
        section (str): The top-level key to compare. Defaults to
            ``'model'``.

    Returns:
        list[str]: Lines ``'model.a.b: <checkpoint> -> <current>'``; empty
        when either config is unavailable or cannot be parsed.
    """
    if not ckpt_cfg_text or cfg is None or section not in cfg:
        return []
    try:
        old = Config.fromstring(ckpt_cfg_text, file_format='.py')
    except Exception:  # noqa: B902 a config of another code base
        return []
    if section not in old:
        return []
    old_flat = _flatten(_to_builtin(old[section]), section)
    new_flat = _flatten(_to_builtin(cfg[section]), section)
    lines = []
    for key in sorted(set(old_flat) | set(new_flat)):
        before = old_flat.get(key, '<not set>')
        after = new_flat.get(key, '<not set>')
        if before != after:
            lines.append(f'{key}: {before!r} -> {after!r}')
    return lines


#: ``model`` settings that only say where initial weights come from; a
#: loaded checkpoint replaces them, so their differences are not reported.
INIT_ONLY_SETTINGS = re.compile(
    r'(^|\.)(init_cfg|pretrained|[a-z_]*checkpoint)(\.|\[|$)')


def settings_report(checkpoint: Mapping,
                    cfg: Optional[Mapping],
                    source: str = 'checkpoint',
                    max_items: int = 16) -> str:
    """The ``model`` settings a fitting checkpoint was trained with that
    differ from ``cfg``, or ``''`` (also without a stored config).

    Settings that only choose initial weights (:data:`INIT_ONLY_SETTINGS`)
    are left out.

    Args:
        checkpoint (Mapping): The loaded checkpoint.
        cfg (Mapping, optional): The current config.
        source (str): The checkpoint's path, for the message.
        max_items (int): How many differences to list.

    Returns:
        str: The report.
    """
    meta = checkpoint.get('meta') or {}
    lines = [
        line for line in config_differences(
            meta.get('cfg', meta.get('config')), cfg)
        if not INIT_ONLY_SETTINGS.search(line.split(':', 1)[0])
    ]
    if not lines:
        return ''
    report = [
        f'Checkpoint "{source}" fits the model, but was trained with other '
        'model settings (checkpoint -> this config):'
    ]
    report += [f'  {line}' for line in lines[:max_items]]
    report += _more(lines, max_items)
    report.append('Results may differ from the training run\'s; use the '
                  'config it was trained with (stored in the checkpoint, '
                  '`mmblurhand.utils.load_checkpoint_file(path)'
                  "['meta']['cfg']`) unless the change is meant.")
    return '\n'.join(report)


def format_mismatch_report(diff: StateDictDiff,
                           source: str,
                           config_lines: Iterable[str] = (),
                           max_items: int = 8) -> str:
    """A readable report of a checkpoint/config mismatch.

    Args:
        diff (StateDictDiff): The weight differences.
        source (str): The checkpoint's path (or a description).
        config_lines (Iterable[str]): Lines of :func:`config_differences`.
        max_items (int): How many keys of each kind to list.
    """
    lines = [
        f'Checkpoint "{source}" does not match the model built from this '
        'config:'
    ]
    if diff.shape_mismatch:
        lines.append(f'  {len(diff.shape_mismatch)} parameter(s) have '
                     'another shape (checkpoint vs model):')
        lines += [
            f'    {key}: {tuple(old)} vs {tuple(new)}'
            for key, old, new in diff.shape_mismatch[:max_items]
        ]
        lines += _more(diff.shape_mismatch, max_items)
    for keys, what in ((diff.missing, 'model key(s) missing from the '
                        'checkpoint'),
                       (diff.unexpected, 'checkpoint key(s) the model does '
                        'not have')):
        if keys:
            lines.append(f'  {len(keys)} {what}: '
                         f'{", ".join(keys[:max_items])}')
            lines += _more(keys, max_items)
    config_lines = list(config_lines)
    if config_lines:
        lines.append('  The config stored in the checkpoint differs in '
                     '(checkpoint -> this config):')
        lines += [f'    {line}' for line in config_lines[:max_items * 2]]
        lines += _more(config_lines, max_items * 2)
    return '\n'.join(lines)


def check_checkpoint_matches(model: torch.nn.Module,
                             checkpoint: Mapping,
                             source: str = 'checkpoint',
                             cfg: Optional[Mapping] = None,
                             advice: str = '',
                             revise_keys: Sequence = DEFAULT_REVISE_KEYS,
                             ignore_keys: Sequence[str] = ()) -> None:
    """Raise :class:`CheckpointMismatchError` if ``checkpoint`` does not fit
    ``model``.

    Args:
        model (nn.Module): The model (unwrapped from DDP).
        checkpoint (Mapping): The loaded checkpoint.
        source (str): Its path, for the message.
        cfg (Mapping, optional): The current config, to report the
            ``model`` settings that differ from the checkpoint's config.
        advice (str): What the user should do, appended to the report.
        revise_keys (Sequence): Key rewrites, as MMEngine's
            ``load_checkpoint``.
        ignore_keys (Sequence[str]): Regular expressions of keys left out of
            the comparison.

    Raises:
        CheckpointMismatchError: With the report of
            :func:`format_mismatch_report`.
    """
    report = mismatch_report(model, checkpoint, source, cfg, revise_keys,
                             ignore_keys)
    if report:
        raise CheckpointMismatchError(f'{report}\n{advice}'.rstrip())


def mismatch_report(model: torch.nn.Module,
                    checkpoint: Mapping,
                    source: str = 'checkpoint',
                    cfg: Optional[Mapping] = None,
                    revise_keys: Sequence = DEFAULT_REVISE_KEYS,
                    ignore_keys: Sequence[str] = ()) -> str:
    """The mismatch report, or ``''`` when the checkpoint fits the model.

    Arguments as :func:`check_checkpoint_matches`.
    """
    ckpt_state = checkpoint_state_dict(checkpoint, revise_keys)
    model_state = model.state_dict()
    if ignore_keys:
        ignored = re.compile('|'.join(f'(?:{p})' for p in ignore_keys))
        ckpt_state = {
            k: v
            for k, v in ckpt_state.items() if not ignored.search(k)
        }
        model_state = {
            k: v
            for k, v in model_state.items() if not ignored.search(k)
        }
    diff = compare_state_dicts(model_state, ckpt_state)
    if not diff:
        return ''
    meta = checkpoint.get('meta') or {}
    config_lines = config_differences(
        meta.get('cfg', meta.get('config')), cfg)
    return format_mismatch_report(diff, source, config_lines)


def _shape(value) -> Optional[tuple]:
    shape = getattr(value, 'shape', None)
    return None if shape is None else tuple(shape)


def _more(items: Sequence, shown: int) -> List[str]:
    return [f'    ... and {len(items) - shown} more'
            ] if len(items) > shown else []


def _to_builtin(value):
    """ConfigDict/tuple trees to plain dicts and lists."""
    if isinstance(value, Mapping):
        return {k: _to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_builtin(v) for v in value]
    return value


def _flatten(value, prefix: str) -> Dict[str, Any]:
    """Dotted keys of a nested dict (lists stay leaves unless they hold
    dicts, which get ``[i]`` keys)."""
    if isinstance(value, dict):
        flat = {}
        for key, child in value.items():
            flat.update(_flatten(child, f'{prefix}.{key}'))
        return flat
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        flat = {}
        for i, child in enumerate(value):
            flat.update(_flatten(child, f'{prefix}[{i}]'))
        return flat
    return {prefix: value}
