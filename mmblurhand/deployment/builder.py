# Copyright (c) OpenMMLab. All rights reserved.
"""Build an inference model from a config (and checkpoint) without a Runner.

Shared by the benchmark, hypothesis-scaling and ONNX export tools.
"""
import copy
import os.path as osp
from collections import OrderedDict
from typing import Callable, Dict, Optional, Tuple, Union

import torch
from mmengine.config import Config
from torch import Tensor, nn

from .wrapper import model_kind


def strip_pretrained(cfg: Union[dict, list]) -> Union[dict, list]:
    """Remove ``Pretrained`` init configs and generator checkpoints.

    Random weights are enough to time a model, and downloading ImageNet
    weights or reading a generator checkpoint that does not exist yet
    would fail offline. Works in place on nested dicts and lists.

    Args:
        cfg (dict | list): A model config.

    Returns:
        dict | list: ``cfg``.
    """
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        elif isinstance(init, (list, tuple)):
            kept = [
                c for c in init
                if not (isinstance(c, dict) and c.get('type') == 'Pretrained')
            ]
            cfg['init_cfg'] = kept or None
        if 'generator_checkpoint' in cfg:
            cfg['generator_checkpoint'] = None
        for value in cfg.values():
            strip_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            strip_pretrained(value)
    return cfg


def config_input_size(cfg: Config) -> Tuple[int, int]:
    """The network input ``(w, h)`` of a config.

    Read from the top-level ``input_size`` variable of the mmblurhand
    configs, else from the regressor's ``camera_cfg.input_size``.

    Args:
        cfg (Config): The config.

    Returns:
        tuple[int, int]: ``(w, h)`` pixels.
    """
    size = cfg.get('input_size')
    if size is None:
        model = cfg.model.get('generator', cfg.model)
        try:
            size = model.head.regressor.camera_cfg.input_size
        except AttributeError:
            size = None
    if size is None:
        raise KeyError(
            f'{getattr(cfg, "filename", "config")}: no `input_size` '
            'variable and no `model.head.regressor.camera_cfg.input_size`; '
            'pass the input size explicitly (e.g. --input-size 256 256).')
    if isinstance(size, int):
        size = (size, size)
    return int(size[0]), int(size[1])


def init_weights_quietly(module: nn.Module) -> nn.Module:
    """``module.init_weights()`` without MMEngine's per-parameter INFO log.

    Args:
        module (nn.Module): A module with ``init_weights``.

    Returns:
        nn.Module: ``module``.
    """
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')
    try:
        module.init_weights()
    finally:
        logger.setLevel(level)
    return module


def build_inference_model(cfg: Union[str, Config],
                          checkpoint: Optional[str] = None,
                          device: Union[str, torch.device] = 'cpu',
                          init_weights: bool = True) -> nn.Module:
    """Build a model from a config, load a checkpoint, move it to a device.

    ``Pretrained`` initialisations and generator checkpoints are removed
    (:func:`strip_pretrained`): without a checkpoint the config's own
    initialisation runs (``init_weights``), with one the checkpoint gives
    every weight.

    Args:
        cfg (str | Config): Config file or object.
        checkpoint (str, optional): A Runner checkpoint (``state_dict``
            inside) or a bare state dict.
        device (str | torch.device): Target device. Defaults to ``'cpu'``.
        init_weights (bool): Run ``init_weights`` when there is no
            checkpoint. Defaults to True.

    Returns:
        nn.Module: The model, in eval mode.
    """
    from mmblurhand.registry import MODELS
    from mmblurhand.utils import register_all_modules

    register_all_modules()
    if isinstance(cfg, str):
        if not osp.isfile(cfg):
            raise FileNotFoundError(f'Config "{cfg}" does not exist.')
        cfg = Config.fromfile(cfg)
    # Without a checkpoint random weights do; with one, the checkpoint
    # holds every weight (the generator's included).
    model_cfg = strip_pretrained(copy.deepcopy(cfg.model))
    model = MODELS.build(model_cfg)
    if checkpoint is None:
        if init_weights:
            init_weights_quietly(model)
    else:
        from mmengine.runner.checkpoint import load_checkpoint
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval()


def stage_functions(model: nn.Module,
                    inputs: Tensor) -> Dict[str, Callable[[], object]]:
    """One closure per inference stage, each fed the previous stage's output.

    Stages (each run on ``inputs`` once here to get its successors' inputs,
    under ``torch.inference_mode``): ``backbone``, ``unfolder``,
    ``transformer`` (KTFormer or hypothesis transformer), ``regressor``
    (pose heads + shape/camera), ``mano`` (MANO layer and projection of all
    ``K x B x T`` meshes) and, for multi-hypothesis models, ``selector``
    (the parameter-free selector, or the learned selector's backbone,
    Unfolder and score decoder).

    Args:
        model (nn.Module): A built estimator in eval mode.
        inputs (Tensor): ``(B, 3, H, W)`` preprocessed images.

    Returns:
        OrderedDict[str, Callable]: Stage name -> closure (call it under
        ``torch.inference_mode``).
    """
    kind = model_kind(model)
    gen = model.generator if kind == 'selector' else model
    head = gen.head
    refiner = head.ktformer if kind == 'single' else head.transformer
    regressor = head.regressor
    with torch.inference_mode():
        feats = gen.backbone(inputs)
        unfolded = gen.neck(feats)
        coords = (
            unfolded.joints if kind == 'single' else unfolded.joints[:, None])
        refined = refiner(unfolded.joint_feats)
        pose = regressor.regress_pose(refined, coords)
        shape, cam = regressor.regress_shape_camera(unfolded.global_feat)
        extra = (1, ) * (pose.dim() - 3)
        shape = shape.view(shape.shape[0], *extra, *shape.shape[1:])
        cam = cam.view(cam.shape[0], *extra, *cam.shape[1:])
        hyps = regressor.mano_forward(pose, shape, cam).to_dict()
        hyps['unfolder_joints'] = unfolded.joints

    def regress():
        regressor.regress_pose(refined, coords)
        return regressor.regress_shape_camera(unfolded.global_feat)

    stages: Dict[str, Callable[[], object]] = OrderedDict(
        backbone=lambda: gen.backbone(inputs),
        unfolder=lambda: gen.neck(feats),
        transformer=lambda: refiner(unfolded.joint_feats),
        regressor=regress,
        mano=lambda: regressor.mano_forward(pose, shape, cam))
    if kind == 'generator':
        stages['selector'] = lambda: model.selector(hyps['joints_2d'], hyps[
            'unfolder_joints'])
    elif kind == 'selector':
        stages['selector'] = lambda: model.score(inputs, hyps)
    return stages
