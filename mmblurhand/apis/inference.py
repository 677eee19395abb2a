# Copyright (c) OpenMMLab. All rights reserved.
"""Build a model from a config and checkpoint, and run it on images.

Example:
    >>> from mmblurhand.apis import init_model, inference_blurhand
    >>> model = init_model('configs/mh_blurhandnet/<config>.py',
    ...                    'work_dirs/<run>/epoch_N.pth')  # doctest: +SKIP
    >>> hands = inference_blurhand(model, 'blurry.png')  # doctest: +SKIP
    >>> hands[0].pred_instances.hyp_vertices.shape  # doctest: +SKIP
    (1, K, T, 778, 3)
"""
import copy
import os.path as osp
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from torch import nn

ImageType = Union[str, Path, np.ndarray]
BoxesType = Union[np.ndarray, Sequence[Sequence[float]], Sequence[float]]

#: Test-pipeline steps that need annotations; dropped for inference.
ANNOTATION_TRANSFORMS = ('GenerateBlurHandTargets', )
#: The crop step every BlurHand test pipeline has.
CROP_TRANSFORM = 'BlurHandTopdownAffine'
HAND_TYPES = ('right', 'left')
#: Scale of a given hand box about its centre, giving BlurHand's crop
#: (the dataset pads the tight joint box by 1.2 and then 1.25).
DEFAULT_BBOX_PADDING = 1.5


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model built from a config."""


def _load_config(config: Union[str, Path, Config],
                 cfg_options: Optional[dict]) -> Config:
    if isinstance(config, (str, Path)):
        if not osp.isfile(config):
            raise FileNotFoundError(
                f'Config "{config}" does not exist; pass a config file from '
                'configs/ (the one the checkpoint was trained with).')
        config = Config.fromfile(str(config))
    elif not isinstance(config, Config):
        raise TypeError('config must be a file path or a Config, got '
                        f'{type(config).__name__}.')
    else:
        config = copy.deepcopy(config)
    if cfg_options is not None:
        config.merge_from_dict(cfg_options)
    if 'model' not in config:
        raise KeyError(f'Config {config.filename or "(in memory)"} has no '
                       '`model` section.')
    return config


def check_state_dict(model: nn.Module, state_dict: dict,
                     checkpoint: str = 'the checkpoint',
                     config: str = 'the config',
                     max_examples: int = 3) -> None:
    """Raise one clear error when ``state_dict`` does not fit ``model``.

    Args:
        model (nn.Module): The model built from the config.
        state_dict (dict): The checkpoint's weights.
        checkpoint (str): Checkpoint name for the message.
        config (str): Config name for the message.
        max_examples (int): Keys quoted per kind of mismatch. Defaults to 3.

    Raises:
        CheckpointMismatchError: One line: how many keys are missing,
            unexpected and of another shape, the first of each, and what to
            do.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        f'{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}'
        for k, v in expected.items() if k in state_dict
        and hasattr(state_dict[k], 'shape')
        and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or shapes):
        return

    def part(items, what):
        if not items:
            return None
        shown = ', '.join(items[:max_examples])
        more = ', ...' if len(items) > max_examples else ''
        return f'{len(items)} {what} (e.g. {shown}{more})'

    parts = [
        p for p in (part(missing, 'missing keys'),
                    part(unexpected, 'unexpected keys'),
                    part(shapes, 'shape mismatches (checkpoint vs model)'))
        if p
    ]
    raise CheckpointMismatchError(
        f'checkpoint "{checkpoint}" does not match config "{config}": '
        + '; '.join(parts) + '; pass the config the checkpoint was trained '
        'with.')


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               trust_checkpoint: bool = False,
               backend: str = 'pytorch',
               precision: str = 'fp32',
               cache_dir: Optional[str] = None,
               fold_bn: Optional[bool] = None) -> nn.Module:
    """Build a model from a config and load a checkpoint into it.

    The weights must match the model exactly (every key and shape); a
    mismatch raises :class:`CheckpointMismatchError` naming the first
    differing keys instead of loading part of the model. When they match
    but the checkpoint's stored config has other ``model`` settings (e.g.
    ``neck.logit_scale``), a ``UserWarning`` lists them. No pretrained
    backbone is downloaded: ``init_weights`` is not run.

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): A ``.pth`` written by ``tools/train.py``
            (or a bare state dict). ``None`` leaves the random
            initialisation (tests only).
        device (str): e.g. ``'cpu'`` or ``'cuda:0'``. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config.
        trust_checkpoint (bool): Load ``checkpoint`` with
            ``torch.load(weights_only=False)``, which runs any code the file
            holds. Only for a file you trust that the safe loader refuses
            (e.g. its ``meta`` holds custom classes). Defaults to False:
            the checkpoint is loaded with ``weights_only=True`` and the
            allow-list of :mod:`mmblurhand.utils.checkpoint`.
        backend (str): ``'pytorch'`` (default): the estimator itself;
            ``'onnxruntime'``: an
            :class:`~mmblurhand.deployment.OnnxRuntimeEstimator` whose
            network runs in ONNX Runtime, exported on first use into the
            ONNX cache (keyed by config, checkpoint content and precision;
            ``docs/benchmarks.md``, :mod:`mmblurhand.deployment.onnx_cache`).
            Both give the same ``pred_instances`` through
            :func:`inference_blurhand`.
        precision (str): ``'fp32'`` (default); ``'bf16'`` (PyTorch only:
            bf16 weights of the convolution, linear and attention layers
            run under autocast, the MANO regressor and MANO in float32;
            :mod:`mmblurhand.deployment.precision`); ``'int8'`` (dynamic
            int8 linear layers / matrix products; CPU). The accuracy cost
            of each is measured in ``docs/benchmarks.md``.
        cache_dir (str, optional): ONNX cache folder (``backend=
            'onnxruntime'``). Defaults to ``$MMBLURHAND_CACHE_DIR`` or
            ``~/.cache/mmblurhand/onnx``.
        fold_bn (bool, optional): ``backend='pytorch'``: fold the
            BatchNorm layers into the convolutions before them (same
            outputs up to fp32 rounding, 3 % faster at batch 8; the model
            is then for inference only and its state dict lacks the
            BatchNorm keys). ``None`` (default): only for ``'bf16'`` and
            ``'int8'``. ONNX Runtime folds them itself.

    Returns:
        nn.Module: The model in eval mode on ``device``, with ``cfg`` (the
        config) and ``dataset_meta`` (from the checkpoint, if any) set, and
        ``inference_backend`` / ``inference_precision``.

    Raises:
        FileNotFoundError: The config or the checkpoint does not exist.
        CheckpointMismatchError: The checkpoint was trained with another
            config.
        UntrustedCheckpointError: The checkpoint holds a type outside the
            allow-list (named in the message) and ``trust_checkpoint`` is
            False; nothing of it ran.
        RuntimeError: ``device`` is a CUDA device but CUDA is unavailable.
        ValueError: Unknown ``backend`` / ``precision``, or a pair that
            does not exist (``onnxruntime`` + ``bf16``; ``pytorch`` +
            ``int8`` off the CPU).
    """
    from mmblurhand.deployment.precision import check_backend_precision
    from mmblurhand.registry import MODELS
    from mmblurhand.utils import register_all_modules
    from mmblurhand.visualization.mesh_visualizer import find_mesh_faces

    check_backend_precision(backend, precision, device)
    config = _load_config(config, cfg_options)
    if str(device).startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError(f'device "{device}" was requested but CUDA is not '
                           'available here; use device="cpu".')
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'checkpoint "{checkpoint}" does not exist; pass a .pth written '
            'by tools/train.py (e.g. work_dirs/<config>/epoch_N.pth), or run '
            '`make demo` to train the small synthetic model.')
    register_all_modules(init_default_scope=False)
    init_default_scope(config.get('default_scope', 'mmblurhand'))

    model = MODELS.build(config.model)
    dataset_meta = None
    if checkpoint is not None:
        from mmblurhand.utils.checkpoint import load_checkpoint_file
        ckpt = load_checkpoint_file(
            checkpoint, map_location='cpu', trust=trust_checkpoint)
        state_dict = ckpt.get('state_dict', ckpt) if isinstance(
            ckpt, dict) else None
        if not isinstance(state_dict, dict):
            raise CheckpointMismatchError(
                f'checkpoint "{checkpoint}" holds no state dict; pass a .pth '
                'written by tools/train.py.')
        state_dict = {
            (k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state_dict.items()
        }
        check_state_dict(model, state_dict, checkpoint,
                         config.filename or '(in memory)')
        model.load_state_dict(state_dict, strict=True)
        from mmblurhand.engine.checkpoint_check import settings_report
        settings = settings_report(ckpt, config, source=checkpoint)
        if settings:  # weights fit, settings without weights differ
            warnings.warn(settings, stacklevel=2)
        dataset_meta = ckpt.get('meta', {}).get('dataset_meta') \
            if isinstance(ckpt.get('meta'), dict) else None
    model.cfg = config
    model.dataset_meta = dataset_meta
    model.mesh_faces = find_mesh_faces(model)
    model.eval()
    if backend == 'onnxruntime':
        from mmblurhand.deployment.onnxruntime_model import \
            build_onnxruntime_model
        return build_onnxruntime_model(
            model, config, checkpoint, precision, device, cache_dir=cache_dir)
    model.to(device)
    from mmblurhand.deployment.precision import apply_precision
    model.inference_backend = 'pytorch'
    return apply_precision(model, precision, device, fold_bn=fold_bn)


def build_inference_pipeline(config: Config) -> Compose:
    """The config's test pipeline without its annotation-dependent steps.

    ``test_dataloader.dataset.pipeline`` is taken as is, except that the
    steps in :data:`ANNOTATION_TRANSFORMS` (targets from annotations) are
    dropped and a ``MirrorLeftHand`` step is added before the crop when the
    config has none, so left hands are mirrored in as in training.

    Args:
        config (Config): A model config with ``test_dataloader``.

    Returns:
        Compose: Transforms taking ``img`` (BGR), ``bbox_center``,
        ``bbox_scale``, ``bbox`` and ``hand_type``.

    Raises:
        KeyError: The config has no test pipeline or no crop step, naming
            what to add.
    """
    try:
        steps = copy.deepcopy(config.test_dataloader.dataset.pipeline)
    except AttributeError as err:
        raise KeyError(
            f'Config {config.filename or "(in memory)"} has no '
            '`test_dataloader.dataset.pipeline`; the inference pipeline is '
            'built from it.') from err
    types = [step.get('type') for step in steps]
    if CROP_TRANSFORM not in types:
        raise KeyError(
            f'The test pipeline of {config.filename or "(in memory)"} has no '
            f'{CROP_TRANSFORM} step; add '
            f"dict(type='{CROP_TRANSFORM}', input_size=...) to it.")
    steps = [s for s in steps if s.get('type') not in ANNOTATION_TRANSFORMS]
    if 'MirrorLeftHand' not in types:
        crop = [s.get('type') for s in steps].index(CROP_TRANSFORM)
        steps.insert(crop, dict(type='MirrorLeftHand'))
    return Compose(steps)


def load_image(img: ImageType) -> Tuple[np.ndarray, Optional[str]]:
    """Read an image file or check an array.

    Args:
        img (str | Path | np.ndarray): A path, or an ``(H, W, 3)`` uint8
            BGR array (``(H, W)`` grey and ``(H, W, 4)`` BGRA are
            converted).

    Returns:
        tuple: ``(H, W, 3)`` uint8 BGR image and its path (``None`` for an
        array).

    Raises:
        FileNotFoundError: The path does not exist.
        IOError: OpenCV cannot decode the file, or it is a truncated JPEG.
        ValueError: The array has another shape or dtype.
    """
    if isinstance(img, (str, Path)):
        path = str(img)
        if not osp.isfile(path):
            raise FileNotFoundError(f'image "{path}" does not exist; check '
                                    'the path.')
        # the dataset's decoder: also refuses a JPEG cut short (OpenCV
        # would fill its missing rows with grey and only warn on stderr)
        from mmblurhand.datasets.transforms.loading import \
            _decode_complete_image
        image = _decode_complete_image(path)
        if image is None:
            raise IOError(f'cannot read image "{path}": it is corrupt or '
                          'truncated, or not an image OpenCV can decode (use '
                          'PNG, JPEG, BMP, TIFF or WebP).')
        return image, path
    if not isinstance(img, np.ndarray):
        raise TypeError('img must be an image path or a numpy array, got '
                        f'{type(img).__name__}.')
    if img.dtype != np.uint8:
        raise ValueError(f'image arrays must be uint8 BGR, got dtype '
                         f'{img.dtype}; convert with img.astype(np.uint8).')
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), None
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR), None
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError('image arrays must be (H, W, 3) BGR, got shape '
                         f'{img.shape}.')
    return np.ascontiguousarray(img), None


def _check_boxes(bboxes, image_shape: Tuple[int, int],
                 padding: float) -> np.ndarray:
    """(N, 4) crop boxes: the given hand boxes scaled by ``padding``, or
    the whole image."""
    height, width = image_shape
    if bboxes is None:
        return np.array([[0.0, 0.0, width, height]], dtype=np.float64)
    boxes = np.asarray(bboxes, dtype=np.float64)
    if boxes.ndim == 1:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise ValueError('bboxes must be (N, 4) x1, y1, x2, y2 pixels with '
                         f'N >= 1, got shape {np.shape(bboxes)}.')
    bad = ~np.isfinite(boxes).all(1) | (boxes[:, 2] <= boxes[:, 0]) | (
        boxes[:, 3] <= boxes[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f'bbox {i} = {boxes[i].tolist()} is not a box '
                         'x1, y1, x2, y2 with x2 > x1 and y2 > y1.')
    outside = (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0) | (
        boxes[:, 0] >= width) | (boxes[:, 1] >= height)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(f'bbox {i} = {boxes[i].tolist()} lies outside the '
                         f'{width}x{height} image.')
    if padding <= 0:
        raise ValueError(f'bbox_padding must be > 0, got {padding}.')
    center = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * padding / 2
    return np.concatenate([center - half, center + half], axis=1)


def _check_hand_types(hand_types, num: int) -> List[str]:
    if hand_types is None:
        return ['right'] * num
    if isinstance(hand_types, str):
        hand_types = [hand_types] * num
    hand_types = list(hand_types)
    if len(hand_types) != num:
        raise ValueError(f'{len(hand_types)} hand_types for {num} boxes; '
                         'give one per box (or one for all).')
    for value in hand_types:
        if value not in HAND_TYPES:
            raise ValueError(f'hand type {value!r} is not "right" or '
                             '"left".')
    return hand_types


def _add_single_hypothesis(pred) -> None:
    """Give a single-hypothesis prediction the K = 1 hypothesis fields."""
    if 'hyp_vertices' in pred:
        return
    pred.hyp_joints_cam = pred.joints_cam[:, None]
    pred.hyp_vertices = pred.vertices[:, None]
    pred.hyp_mano_pose = pred.mano_pose[:, None]
    # the only hypothesis is the chosen sequence: reuse its projection
    pred.hyp_keypoints = np.asarray(pred.keypoints)[:, None]
    pred.hyp_scores = np.ones((1, 1), dtype=np.float32)
    pred.topn_indices = np.zeros((1, 1), dtype=np.int64)


def _add_hypothesis_keypoints(pred) -> None:
    """Image-space joints of every hypothesis (``hyp_keypoints``).

    The models of this package give ``hyp_keypoints`` themselves (each
    hypothesis projected with its own camera); this fallback is for models
    that project only the chosen sequence (``keypoints``). Each hypothesis
    is root-relative, so it is projected
    with the chosen sequence's camera, fitted per time step as a
    weak-perspective camera to ``keypoints`` and ``joints_cam``; for the
    chosen hypothesis this reproduces ``keypoints`` up to the virtual
    camera's (sub-pixel) perspective effect.
    """
    if 'hyp_keypoints' in pred:
        return
    from mmblurhand.visualization.mesh_visualizer import fit_weak_perspective
    keypoints = np.asarray(pred.keypoints, dtype=np.float64)
    scale, center, ok = fit_weak_perspective(pred.joints_cam, keypoints)
    # A degenerate fit (joints without spread) puts every joint at the
    # middle of the chosen keypoints.
    scale = np.where(ok, scale, 0.0)
    center = np.where(ok[..., None], center, keypoints.mean(-2))
    hyp = np.asarray(pred.hyp_joints_cam, dtype=np.float64)[..., :2]
    # (1, K, T, J, 2) = (1, 1, T, 1, 1) * (1, K, T, J, 2) + (1, 1, T, 1, 2)
    pred.hyp_keypoints = (scale[:, None, :, None, None] * hyp +
                          center[:, None, :, None, :]).astype(np.float32)


@torch.no_grad()
def inference_blurhand(model: nn.Module,
                       img: ImageType,
                       bboxes: Optional[BoxesType] = None,
                       hand_types: Optional[Union[str, Sequence[str]]] = None,
                       bbox_padding: float = DEFAULT_BBOX_PADDING) -> list:
    """Recover the hand-mesh sequence(s) of one blurry image.

    Args:
        model (nn.Module): From :func:`init_model`.
        img (str | Path | np.ndarray): Image path, or an ``(H, W, 3)`` uint8
            BGR array.
        bboxes (array-like, optional): ``(N, 4)`` (or ``(4,)``) tight hand
            boxes ``x1, y1, x2, y2`` in pixels, one per hand. Each is scaled
            by ``bbox_padding`` about its centre and made square by the
            crop. ``None``: the whole image is the hand crop (no padding).
            :class:`~mmblurhand.apis.MediaPipeHandDetector` can supply boxes.
        hand_types (str | Sequence[str], optional): ``'right'`` or
            ``'left'`` per box (or one for all). Left hands are mirrored into
            right hands for the network and mirrored back in the output.
            Defaults to ``'right'``.
        bbox_padding (float): See ``bboxes``. Defaults to 1.5 (BlurHand's
            crop around the joints).

    Returns:
        list[PoseDataSample]: One per hand, in box order. Its metainfo holds
        the crop (``input_center``, ``input_scale``, ``input_size``,
        ``flip``, ``hand_type``, ``img_path``, ``ori_shape``) and its
        ``pred_instances`` (numpy, original hand frame, see
        ``docs/data_contract.md``) hold, with a leading instance dimension
        of 1:

        - every hypothesis: ``hyp_vertices`` ``(1, K, T, V, 3)`` and
          ``hyp_joints_cam`` ``(1, K, T, J, 3)`` (root-relative, m),
          ``hyp_keypoints`` ``(1, K, T, J, 2)`` (image pixels),
          ``hyp_mano_pose`` ``(1, K, T, 48)``, ``hyp_scores`` ``(1, K)``
          (selector score, higher is better) and ``topn_indices``
          ``(1, n)`` (best first);
        - the chosen sequence: ``vertices`` ``(1, T, V, 3)``,
          ``joints_cam`` ``(1, T, J, 3)``, ``keypoints`` ``(1, T, J, 2)``,
          ``mano_pose`` ``(1, T, 48)``, ``mano_shape`` ``(1, T, 10)``,
          ``cam_t`` ``(1, T, 3)``;
        - ``bboxes`` ``(1, 4)``: the crop box.

        Single-hypothesis models (BlurHandNet) give K = 1 with score 1.

    Raises:
        FileNotFoundError / IOError: The image cannot be read.
        ValueError: Bad ``bboxes`` or ``hand_types``.
    """
    image, img_path = load_image(img)
    height, width = image.shape[:2]
    crop_boxes = _check_boxes(bboxes, (height, width),
                              1.0 if bboxes is None else bbox_padding)
    types = _check_hand_types(hand_types, len(crop_boxes))
    cfg = model.cfg
    init_default_scope(cfg.get('default_scope', 'mmblurhand'))
    pipeline = build_inference_pipeline(cfg)

    samples = []
    for index, (box, hand_type) in enumerate(zip(crop_boxes, types)):
        samples.append(
            pipeline(
                dict(
                    img=image,
                    img_path=img_path,
                    id=index,
                    img_id=0,
                    bbox=box[None].astype(np.float32),
                    bbox_center=((box[:2] + box[2:]) / 2)[None].astype(
                        np.float32),
                    bbox_scale=(box[2:] - box[:2])[None].astype(np.float32),
                    bbox_score=np.ones(1, dtype=np.float32),
                    hand_type=hand_type,
                    is_left=np.array([hand_type == 'left']))))
    results = model.test_step(pseudo_collate(samples))
    for sample in results:
        pred = sample.pred_instances
        _add_single_hypothesis(pred)
        _add_hypothesis_keypoints(pred)
    return results
