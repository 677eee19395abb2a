# Copyright (c) OpenMMLab. All rights reserved.
"""Synthetic BlurHand: render moving MANO-format hands and average them.

Per sample (:func:`synthesize_sample`):

1. draw a hand type (right, left or, rarely, interacting), shape (betas),
   skin tone, light and motion speeds from a generator seeded by
   ``(seed, split, index)`` only, so results do not depend on the number of
   workers;
2. sample 5 key frames at 30 fps and spline them to 33 sub-frames
   (:mod:`.motion`), pose the hand model, place a random camera;
3. render every sub-frame, composite it over a procedural background and
   average (:mod:`.blur`): the blurry image; the middle sub-frame is the
   sharp image;
4. store the GT of every key frame (joints from the same hand model, in
   InterHand order and mm; MANO parameters; camera) and the blur rate.

:func:`synthesize_blurhand` runs it for both splits (optionally in worker
processes) and writes the official BlurHand layout (:mod:`.layout`).
"""
import json
import multiprocessing as mp
import os
import os.path as osp
import shutil
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .backgrounds import random_background
from .blur import (average_blur, blur_rate, composite_frame, quantise,
                   silhouette_bbox)
from .layout import build_annotations, sample_names, write_annotations
from .motion import (HandArticulation, random_rotation, sample_hand_motion,
                     sample_speeds)
from .save_extras import EXTRA_DIRS, drop_default_extras, save_extras
from .scene import (sample_camera, sample_lighting, sample_skin_colour,
                    vertex_colour_variation)

#: Bumped whenever the output for a given seed changes.
SYNTHESIS_VERSION = 'blurhand-synthetic-v2'
SPLITS = ('train', 'test')
META_FILE = 'synthesis_meta.json'
#: Meta keys whose change regenerates a dataset without ``overwrite``.
_REGENERATE_KEYS = ('version', 'hand_model')
#: Blur-rate histogram bins of the summary (Human from Blur, Table 1).
BLUR_RATE_BINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9,
                  1.1, float('inf'))


@dataclass(frozen=True)
class SynthesisConfig:
    """Options of the synthetic BlurHand generator.

    Attributes:
        image_size (int): Square image side, pixels. Defaults to 256.
        save_sharp (bool): Also write the sharp middle frame under
            ``sharp_images/`` and its hand coverage (0-255) under
            ``sharp_masks/``, at the blurry image's relative path. Defaults
            to ``False``.
        mano_path (str, optional): MANO model folder/file; ``None`` uses the
            procedural hand.
        save_background (bool): Also write the clean background under
            ``backgrounds/`` (see :mod:`.save_extras`). Defaults to
            ``False``.
        save_alpha (bool): Also write the blurred alpha (mean sub-frame
            coverage, 16-bit) under ``blur_alphas/``. Defaults to ``False``.
        output_format (str): ``'blurhand'``, or ``'interhand'`` to also
            write each sample's 5 sharp key frames as an InterHand2.6M
            30 fps sequence (:mod:`.interhand_format`). Defaults to
            ``'blurhand'``.
        backend (str): Render backend (see
            :func:`mmblurhand.visualization.renderers.get_render_backend`).
            Defaults to ``'auto'``.
        interacting_prob (float): Probability of a two-hand
            (``interacting``) image. Defaults to 0.1.
        left_prob (float): Probability that a single hand is a left hand.
            Defaults to 0.5.
        num_keyframes (int): Key frames per blur (GT kept for all). Defaults
            to 5.
        subframes_per_interval (int): Sub-frames between key frames.
            Defaults to 8 (33 sub-frames for 5 key frames).
        fps (float): Key-frame rate. Defaults to 30.
        samples_per_capture (int): Samples per ``Capture*`` folder. Defaults
            to 100.
        max_tries (int): Re-draws of motion and camera until the hand is in
            view. Defaults to 20.
    """
    image_size: int = 256
    save_sharp: bool = False
    mano_path: Optional[str] = None
    backend: str = 'auto'
    interacting_prob: float = 0.1
    left_prob: float = 0.5
    num_keyframes: int = 5
    subframes_per_interval: int = 8
    fps: float = 30.0
    samples_per_capture: int = 100
    max_tries: int = 20
    save_background: bool = False
    save_alpha: bool = False
    output_format: str = 'blurhand'

    def output_options(self) -> dict:
        """The options that change the written files (not ``backend``)."""
        options = asdict(self)
        options.pop('backend')
        if options.get('output_format') == 'blurhand':
            # the default: same meta as before the option existed
            options.pop('output_format')
        return drop_default_extras(options)


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random generator of one sample, from ``(seed, split, index)``."""
    return np.random.default_rng(
        np.random.SeedSequence([int(seed), SPLITS.index(split),
                                int(index)]))


_HAND_MODELS: Dict[Tuple[int, Optional[str], str], tuple] = {}


def hand_model(mano_path: Optional[str], side: str) -> tuple:
    """The hand layer, articulation and rest vertices, cached per process.

    Args:
        mano_path (str, optional): ``ManoLayer`` model path.
        side (str): ``'right'`` or ``'left'``.

    Returns:
        tuple: ``(layer, articulation, rest_vertices (V, 3))``.
    """
    key = (os.getpid(), mano_path, side)
    if key not in _HAND_MODELS:
        import torch

        from mmblurhand.models.mano import ManoLayer
        layer = ManoLayer(model_path=mano_path, side=side).eval()
        with torch.no_grad():
            rest = layer(
                torch.zeros(1, 3), torch.zeros(1, layer.num_pose),
                torch.zeros(1, layer.num_betas)).vertices[0].double().numpy()
        _HAND_MODELS[key] = (layer, HandArticulation.from_layer(layer), rest)
    return _HAND_MODELS[key]


def hand_model_digest(mano_path: Optional[str]) -> str:
    """A short hash of the hand model's arrays (both sides).

    Stored with a generated dataset so that a changed hand model (e.g. a new
    procedural hand, or another MANO file) triggers regeneration: the
    annotations are only consistent with the model that rendered them.
    """
    import hashlib
    digest = hashlib.sha1()
    for side in ('right', 'left'):
        layer = hand_model(mano_path, side)[0]
        for name, buf in sorted(layer.named_buffers()):
            digest.update(name.encode())
            digest.update(buf.detach().cpu().numpy().tobytes())
        digest.update(np.asarray(layer.faces).tobytes())
    return digest.hexdigest()[:16]


def _pose_hand(layer, motion: dict, betas: np.ndarray):
    """Run the hand model on every sub-frame: vertices, joints (world)."""
    import torch
    with torch.no_grad():
        out = layer(
            torch.as_tensor(motion['global_orient'], dtype=torch.float32),
            torch.as_tensor(motion['hand_pose'], dtype=torch.float32),
            torch.as_tensor(betas, dtype=torch.float32)[None],
            torch.as_tensor(motion['transl'], dtype=torch.float32))
    return out.vertices.double().numpy(), out.joints.double().numpy()


def _hand_types(rng: np.random.Generator,
                cfg: SynthesisConfig) -> Tuple[str, Tuple[str, ...]]:
    if rng.uniform() < cfg.interacting_prob:
        return 'interacting', ('right', 'left')
    side = 'left' if rng.uniform() < cfg.left_prob else 'right'
    return side, (side, )


def _in_view(joints_cam: np.ndarray, camera: dict,
             image_size: Tuple[int, int]) -> np.ndarray:
    """(..., J) joints in front of the camera and inside the image."""
    z = joints_cam[..., 2]
    safe = np.where(z > 1e-6, z, 1.0)
    uv = joints_cam[..., :2] / safe[..., None] * camera['focal'] + \
        camera['princpt']
    w, h = image_size
    return (z > 1e-6) & (uv[..., 0] >= 0) & (uv[..., 0] <= w - 1) & (
        uv[..., 1] >= 0) & (uv[..., 1] <= h - 1)



def render_sub_frames(vertices: np.ndarray, faces: np.ndarray,
                      colours: np.ndarray, camera: dict, lighting: dict,
                      size: int, backend: str) -> tuple:
    """Render the sub-frames of one sample with its camera and lighting.

    Args:
        vertices (np.ndarray): ``(N, V, 3)`` camera-frame vertices (m), one
            mesh per sub-frame.
        faces (np.ndarray): ``(F, 3)`` triangles.
        colours (np.ndarray): Per-vertex RGB colours.
        camera (dict): ``focal`` and ``princpt`` (pixels).
        lighting (dict): ``light_dir``, ``ambient``, ``diffuse``,
            ``specular``.
        size (int | tuple): Image size in pixels (as the renderer takes
            it).
        backend (str): Renderer (``'auto'``, ``'moderngl'``,
            ``'pyrender'`` or ``'opencv'``).

    Returns:
        tuple: ``premultiplied`` ``(N, H, W, 3)`` colours and ``alpha``
        ``(N, H, W)`` coverage.
    """
    # imported here: the renderers pull in GL only when rendering
    from mmblurhand.visualization.renderers import render_mesh_sequence
    premultiplied, alpha, _ = render_mesh_sequence(
        vertices,
        faces,
        camera['focal'],
        camera['princpt'],
        size,
        color=colours,
        light_dir=lighting['light_dir'],
        ambient=lighting['ambient'],
        diffuse=lighting['diffuse'],
        specular=lighting['specular'],
        backend=backend,
        return_depth=False,
        premultiplied=True)
    return premultiplied, alpha

def synthesize_sample(split: str, index: int, seed: int,
                      cfg: SynthesisConfig, out_dir: str) -> dict:
    """Make one blurry sample, write its image(s), return its annotations.

    Args:
        split (str): ``'train'`` or ``'test'``.
        index (int): Sample index within the split.
        seed (int): Dataset seed.
        cfg (SynthesisConfig): Generator options.
        out_dir (str): Dataset root.

    Returns:
        dict: JSON-ready record consumed by
        :func:`~mmblurhand.datasets.synthesis.layout.build_annotations`.
    """
    from mmblurhand.models.mano import INTERHAND21_JOINT_NAMES
    from mmblurhand.models.mano import convert_joint_order
    from mmblurhand.visualization.renderers import concatenate_meshes
    rng = sample_rng(seed, split, index)
    size = (cfg.image_size, cfg.image_size)
    hand_type, sides = _hand_types(rng, cfg)
    num_betas = hand_model(cfg.mano_path, sides[0])[0].num_betas
    betas = np.clip(rng.normal(0.0, 0.8, size=num_betas), -2.5, 2.5)
    skin = sample_skin_colour(rng)
    lighting = sample_lighting(rng)
    middle_sub = (cfg.num_keyframes - 1) * cfg.subframes_per_interval // 2

    for _ in range(cfg.max_tries):
        speeds = sample_speeds(rng)
        hands = []
        for i, side in enumerate(sides):
            layer, art, _ = hand_model(cfg.mano_path, side)
            offset = np.zeros(3)
            if i > 0:
                offset = rng.normal(size=3)
                offset *= rng.uniform(0.06, 0.12) / np.linalg.norm(offset)
            motion = sample_hand_motion(
                rng,
                art,
                speeds,
                random_rotation(rng),
                offset,
                num_keyframes=cfg.num_keyframes,
                fps=cfg.fps,
                subframes_per_interval=cfg.subframes_per_interval)
            vertices, joints = _pose_hand(layer, motion, betas)
            hands.append(dict(side=side, motion=motion, vertices=vertices,
                              joints=joints))
        middle_verts = np.concatenate(
            [h['vertices'][middle_sub] for h in hands])
        target = middle_verts.mean(axis=0)
        extent = float(np.ptp(middle_verts, axis=0).max())
        camera = sample_camera(rng, size, target, extent)
        all_verts = np.concatenate([h['vertices'] for h in hands], axis=1)
        verts_cam = all_verts @ camera['rot'].T + camera['trans']
        # Accept when the whole motion is in front of the camera, the
        # middle frame in view and the first one mostly in view (the blur
        # rate is relative to the first sub-frame's silhouette).
        joints_cam = np.stack([h['joints'] for h in hands
                               ]) @ camera['rot'].T + camera['trans']
        in_view = _in_view(joints_cam, camera, size)
        if ((verts_cam[..., 2] > 0.05).all()
                and in_view[:, middle_sub].mean() >= 0.8
                and in_view[:, 0].mean() >= 0.5):
            break

    faces = [hand_model(cfg.mano_path, h['side'])[0].faces for h in hands]
    colours = [
        vertex_colour_variation(rng,
                                hand_model(cfg.mano_path, h['side'])[2], skin)
        for h in hands
    ]
    merged_verts, merged_faces, merged_colours = concatenate_meshes(
        [h['vertices'] @ camera['rot'].T + camera['trans'] for h in hands],
        faces, colours)
    premultiplied, alpha = render_sub_frames(merged_verts, merged_faces,
                                             merged_colours, camera,
                                             lighting, size, cfg.backend)
    background = random_background(rng, size)
    noise_std = rng.uniform(0.002, 0.01)
    blurry = quantise(
        average_blur(premultiplied, alpha, background), rng, noise_std)
    sharp = quantise(
        composite_frame(premultiplied[middle_sub], alpha[middle_sub],
                        background), rng, noise_std)
    rate = blur_rate(alpha)

    names = sample_names(index, hand_type, cfg.num_keyframes,
                         cfg.samples_per_capture)
    middle = cfg.num_keyframes // 2
    _write_png(
        osp.join(out_dir, 'blur_images', split, names['file_names'][middle]),
        blurry)
    save_extras(cfg, out_dir, split, names['file_names'][middle], background,
                alpha)
    if cfg.save_sharp:
        _write_png(
            osp.join(out_dir, 'sharp_images', split,
                     names['file_names'][middle]), sharp)
        mask = (alpha[middle_sub] * 255.0 + 0.5).astype(np.uint8)
        _write_png(
            osp.join(out_dir, 'sharp_masks', split,
                     names['file_names'][middle]), mask)

    if cfg.output_format == 'interhand':
        from .interhand_format import write_interhand_frames
        write_interhand_frames(out_dir, split, seed, SPLITS.index(split),
                               index, names, premultiplied, alpha,
                               background, noise_std,
                               hands[0]['motion']['keyframe_index'])

    # Ground truth of every key frame, InterHand order (right hand first).
    num_joints = len(INTERHAND21_JOINT_NAMES)
    key_idx = hands[0]['motion']['keyframe_index']
    world = np.zeros((cfg.num_keyframes, 2 * num_joints, 3))
    valid_2d = np.zeros((cfg.num_keyframes, 2 * num_joints))
    valid_3d = np.zeros((cfg.num_keyframes, 2 * num_joints))
    mano: List[dict] = [dict(right=None, left=None) for _ in key_idx]
    for h in hands:
        cols = slice(0, num_joints) if h['side'] == 'right' else slice(
            num_joints, 2 * num_joints)
        joints = convert_joint_order(h['joints'][key_idx], 'mano21',
                                     'interhand21')
        world[:, cols] = joints * 1000.0
        valid_3d[:, cols] = 1.0
        valid_2d[:, cols] = _in_view(joints @ camera['rot'].T +
                                     camera['trans'], camera, size)
        for k, sub in enumerate(key_idx):
            motion = h['motion']
            mano[k][h['side']] = dict(
                pose=_round(
                    np.concatenate([
                        motion['global_orient'][sub], motion['hand_pose'][sub]
                    ]), 6),
                shape=_round(betas, 6),
                trans=_round(motion['transl'][sub], 6))
    return dict(
        split=split,
        index=index,
        names=names,
        hand_type=hand_type,
        image_size=list(size),
        camera=dict(
            campos=_round(camera['campos'] * 1000.0, 4),
            camrot=_round(camera['rot'], 9),
            focal=_round(camera['focal'], 4),
            princpt=_round(camera['princpt'], 4)),
        world_coord=_round(world, 4),
        joint_valid=valid_2d.astype(int).tolist(),
        hand_valid=valid_3d.astype(int).tolist(),
        bbox=[
            list(silhouette_bbox(alpha[sub]))
            for sub in key_idx
        ],
        mano=mano,
        blur_rate=round(rate, 6) if np.isfinite(rate) else None)


def _round(array: np.ndarray, decimals: int) -> list:
    return np.round(np.asarray(array, dtype=np.float64), decimals).tolist()


def _write_png(path: str, image: np.ndarray) -> None:
    """Write an RGB (H, W, 3) or grey (H, W) uint8 image as PNG."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, image[..., ::-1] if image.ndim == 3 else image):
        raise IOError(f'Could not write image "{path}"; check that the '
                      'output folder is writable and the disk not full.')


def _worker_init() -> None:
    # One thread per worker process: workers already fill the cores, and
    # llvmpipe / torch / OpenCV threads would only contend with each other.
    os.environ.setdefault('LP_NUM_THREADS', '0')
    import torch
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def _worker_context():
    """Multiprocessing context for the workers.

    Plain ``fork`` is unsafe here: the parent may hold an EGL context or
    torch thread pools, and forked children then deadlock. ``forkserver``
    forks workers from a clean server process that imported the generator
    once (fast start); ``spawn`` is the fallback where it is missing.
    """
    if 'forkserver' in mp.get_all_start_methods():
        context = mp.get_context('forkserver')
        context.set_forkserver_preload([
            __name__, 'mmblurhand.models.mano',
            'mmblurhand.visualization.renderers'
        ])
        return context
    return mp.get_context('spawn')


def _worker(task: tuple) -> dict:
    start = time.process_time()
    record = synthesize_sample(*task)
    record['cpu_seconds'] = time.process_time() - start
    from mmblurhand.visualization.renderers import get_render_backend
    record['renderer'] = get_render_backend(task[3].backend).name
    return record


def read_meta(out_dir: str) -> Optional[dict]:
    """The generation options stored in ``out_dir`` (``None`` if absent)."""
    path = osp.join(out_dir, META_FILE)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def expected_meta(num_train: int, num_test: int, seed: int,
                  cfg: SynthesisConfig) -> dict:
    """The options that identify a generated dataset."""
    return dict(
        version=SYNTHESIS_VERSION,
        hand_model=hand_model_digest(cfg.mano_path),
        num_train=int(num_train),
        num_test=int(num_test),
        seed=int(seed),
        **cfg.output_options())


def blur_rate_histogram(rates: Sequence[Optional[float]]) -> List[tuple]:
    """Counts of blur rates per :data:`BLUR_RATE_BINS` interval.

    Returns:
        list[tuple]: ``(low, high, count)``; unknown rates are left out.
    """
    values = np.array([r for r in rates if r is not None], dtype=np.float64)
    counts, _ = np.histogram(values, bins=np.array(BLUR_RATE_BINS))
    return [(BLUR_RATE_BINS[i], BLUR_RATE_BINS[i + 1], int(c))
            for i, c in enumerate(counts)]


def format_summary(summary: dict) -> str:
    """Human-readable summary of a generation run."""
    lines = [f'Synthetic BlurHand in "{summary["out_dir"]}":']
    for split in SPLITS:
        info = summary['splits'].get(split)
        if not info:
            continue
        types = ', '.join(
            f'{v} {k}' for k, v in sorted(info['hand_types'].items()))
        lines.append(f'  {split}: {info["samples"]} images ({types}); '
                     f'blur rate mean {info["blur_rate_mean"]:.3f}, median '
                     f'{info["blur_rate_median"]:.3f}')
    lines.append('  blur-rate histogram (all splits):')
    total = max(sum(c for _, _, c in summary['histogram']), 1)
    for low, high, count in summary['histogram']:
        bar = '#' * int(round(40 * count / total))
        lines.append(f'    [{low:4.2f}, {high:4.2f}) {count:6d} {bar}')
    if 'seconds' in summary:
        lines.append(f'  {summary["num_samples"]} samples in '
                     f'{summary["seconds"]:.1f} s '
                     f'({summary["samples_per_second"]:.2f} samples/s, '
                     f'{summary["workers"]} workers, '
                     f'{summary["cpu_seconds_per_sample"]:.3f} CPU s per '
                     f'sample, renderer {summary["renderer"]})')
    return '\n'.join(lines)


def synthesize_blurhand(out_dir: str,
                        num_train: int,
                        num_test: int,
                        seed: int = 0,
                        workers: int = 1,
                        cfg: SynthesisConfig = SynthesisConfig(),
                        overwrite: bool = False,
                        progress: bool = True) -> dict:
    """Generate a synthetic BlurHand dataset in the official layout.

    Idempotent: when ``out_dir`` already holds a complete dataset made with
    the same options (``synthesis_meta.json``), nothing is done. A dataset
    made by another generator version or hand model is regenerated; one made
    with other user options needs ``overwrite``.

    Args:
        out_dir (str): Dataset root to write.
        num_train (int): Training samples.
        num_test (int): Test samples.
        seed (int): Seed; the output depends only on it and the options, not
            on ``workers``. Defaults to 0.
        workers (int): Worker processes (1 = in this process). Defaults to 1.
        cfg (SynthesisConfig): Generator options.
        overwrite (bool): Replace a dataset made with other options instead
            of raising. Defaults to ``False``.
        progress (bool): Show a progress bar. Defaults to ``True``.

    Returns:
        dict: Summary (``skipped`` is ``True`` when nothing was done).

    Raises:
        FileExistsError: ``out_dir`` holds a dataset made with other user
            options and ``overwrite`` is ``False``.
    """
    if num_train < 0 or num_test < 0:
        raise ValueError('num_train and num_test must be >= 0, got '
                         f'{num_train} and {num_test}.')
    meta = expected_meta(num_train, num_test, seed, cfg)
    existing = read_meta(out_dir)
    if existing is not None:
        stored = {k: v for k, v in existing.items() if k != 'summary'}
        if stored == meta:
            summary = dict(existing.get('summary', {}), skipped=True)
            summary['out_dir'] = out_dir
            return summary
        changed = sorted(k for k in set(meta) | set(stored)
                         if meta.get(k) != stored.get(k))
        # A new generator or hand model makes the old data stale: those are
        # not user choices, so regenerate without asking.
        if not overwrite and set(changed) - set(_REGENERATE_KEYS):
            raise FileExistsError(
                f'"{out_dir}" holds a synthetic BlurHand dataset made with '
                f'other options ({", ".join(changed)} differ). Pass '
                '--overwrite to replace it, or choose another --out.')
    # Start clean: remove what an earlier (other or interrupted) run wrote.
    for sub in ('blur_images', 'sharp_images', 'sharp_masks', 'annotations',
                META_FILE) + EXTRA_DIRS:
        path = osp.join(out_dir, sub)
        if osp.isdir(path):
            shutil.rmtree(path)
        elif osp.isfile(path):
            os.remove(path)
    from .interhand_format import remove_interhand_frames
    remove_interhand_frames(out_dir)  # only frames the generator wrote
    os.makedirs(out_dir, exist_ok=True)

    tasks = [(split, i, seed, cfg, out_dir)
             for split, num in zip(SPLITS, (num_train, num_test))
             for i in range(num)]
    start = time.time()
    records: List[dict] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), desc='synthesize BlurHand', unit='img')
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            records.append(_worker(task))
            if bar is not None:
                bar.update(1)
    else:
        with _worker_context().Pool(
                workers, initializer=_worker_init) as pool:
            for record in pool.imap(_worker, tasks, chunksize=2):
                records.append(record)
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    seconds = time.time() - start

    splits = {}
    for split in SPLITS:
        split_records = [r for r in records if r['split'] == split]
        if not split_records and (num_train if split == 'train' else
                                  num_test) == 0:
            continue
        write_annotations(out_dir, split, build_annotations(split_records))
        if cfg.output_format == 'interhand':
            from .interhand_format import write_interhand_annotations
            write_interhand_annotations(out_dir, split,
                                        build_annotations(split_records))
        rates = np.array([
            r['blur_rate'] for r in split_records
            if r['blur_rate'] is not None
        ])
        types: Dict[str, int] = {}
        for r in split_records:
            types[r['hand_type']] = types.get(r['hand_type'], 0) + 1
        splits[split] = dict(
            samples=len(split_records),
            hand_types=types,
            blur_rate_mean=float(rates.mean()) if rates.size else float('nan'),
            blur_rate_median=float(np.median(rates))
            if rates.size else float('nan'))
    summary = dict(
        splits=splits,
        histogram=blur_rate_histogram([r['blur_rate'] for r in records]),
        num_samples=len(records))
    # Written last: its presence marks a complete dataset.
    with open(osp.join(out_dir, META_FILE + '.tmp'), 'w') as f:
        json.dump(dict(meta, summary=summary), f, indent=1)
    os.replace(
        osp.join(out_dir, META_FILE + '.tmp'), osp.join(out_dir, META_FILE))
    summary.update(
        out_dir=out_dir,
        skipped=False,
        seconds=seconds,
        cpu_seconds_per_sample=float(
            np.mean([r['cpu_seconds'] for r in records])) if records else 0.0,
        samples_per_second=len(records) / max(seconds, 1e-9),
        workers=workers,
        renderer=', '.join(sorted({r['renderer'] for r in records})))
    return summary
