# Copyright (c) OpenMMLab. All rights reserved.
"""Synthetic blurry **videos**: consecutive blurry frames of one motion.

The image generator (:mod:`.generator`) makes one blur per sample from a
short, independent motion. The video mode samples one long, continuous hand
motion per clip, renders it with one static camera and light over one
background, and cuts it into ``F`` consecutive exposures:

- key frames at ``fps`` (30), ``subframes_per_interval`` (8) sub-frames per
  key-frame interval, as in the image generator;
- frame ``f`` averages the sub-frames of key frames
  ``[f * s, f * s + E]`` with ``E = num_keyframes - 1`` (the exposure, 4 key
  intervals = 33 sub-frames by default, the same blur as the image
  generator) and ``s = frame_stride`` (default ``E``: back-to-back
  exposures, a 360-degree shutter; the video then runs at ``fps / s`` =
  7.5 frames per second);
- the ground truth of every sub-frame is kept, so each frame's GT at its
  ``num_keyframes`` key frames (past ... future) and the sub-frames it
  averages are both available.

Motion (:func:`sample_video_motion`): control points every
``control_interval`` key frames, joined by cubic splines (rotations by
:class:`scipy.spatial.transform.RotationSpline`):

- fingers move towards a new random target articulation
  (:func:`~.motion.sample_articulation`) at each control point, at most at
  the clip's articulation speed, inside the joint limits;
- the wrist turns with a smoothly changing angular velocity;
- the hand translates with a smoothly changing velocity, kept within
  ``max_offset`` metres of its start so it stays in view.

Speeds are drawn per clip with :func:`~.motion.sample_speeds` (the image
generator's distribution), so blur ranges from slight to severe.

Layout written by :func:`synthesize_blurhand_videos`::

    <out_dir>/video_meta.json                 options, version, summary
    <out_dir>/<split>/clips.json              one entry per clip
    <out_dir>/<split>/clip_00000/frame_0000.png ...   blurry frames
    <out_dir>/<split>/clip_00000/sharp_0000.png ...   (save_sharp) middle
    <out_dir>/<split>/clip_00000/annotation.npz       ground truth

``annotation.npz`` (camera frame, metres; read with :func:`load_video_clip`):

================== ============ ==============================================
key                shape        meaning
================== ============ ==============================================
subframe_times     (S,)         seconds from the first sub-frame
keyframe_subframes (Kt,)        sub-frame index of every key frame
frame_keyframes    (F, K)       key-frame indices of each frame (past..future)
frame_subframes    (F, 2)       [start, stop) sub-frames averaged by a frame
frame_times        (F,)         time of each frame's middle key frame, s
global_orient      (S, 3)       MANO global orient, camera frame (camera
                                rotation merged in), axis-angle
global_orient_world (S, 3)      MANO global orient, world frame
hand_pose          (S, 3P)      MANO hand pose (relative to the mean pose)
transl_world       (S, 3)       MANO ``transl``, world frame, m
betas              (B,)         MANO shape
joints_cam         (S, J, 3)    joints, camera frame, absolute, m, MANO-21
joints_img         (S, J, 2)    their projection, pixels
cam_rot, cam_trans (3, 3), (3,) ``X_cam = cam_rot @ X_world + cam_trans``
focal, princpt     (2,), (2,)   intrinsics, pixels
bboxes             (F, 4)       crop box x1, y1, x2, y2 (BlurHand's rule on
                                the middle key frame's joints), pixels
blur_rate          (F,)         blur rate of each frame (NaN if unknown)
is_left            ()           bool: a left hand (GT in the left model)
================== ============ ==============================================

``S = (F - 1) * s * n + E * n + 1`` sub-frames with ``n =
subframes_per_interval``; ``Kt = (F - 1) * s + E + 1`` key frames.
"""
import json
import os
import os.path as osp
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation, RotationSpline

from .backgrounds import random_background
from .blur import average_blur, blur_rate, composite_frame, quantise
from .generator import (SynthesisConfig, _in_view, _pose_hand, _worker_context,
                        _worker_init, _write_png, hand_model,
                        hand_model_digest, render_sub_frames)
from .motion import (HandArticulation, random_rotation, sample_articulation,
                     sample_speeds)
from .scene import (sample_camera, sample_lighting, sample_skin_colour,
                    vertex_colour_variation)

#: Bumped whenever the video output for a given seed changes.
VIDEO_SYNTHESIS_VERSION = 'blurhand-synthetic-video-v1'
VIDEO_META_FILE = 'video_meta.json'
VIDEO_SPLITS = ('train', 'test')
_REGENERATE_KEYS = ('version', 'hand_model')


@dataclass(frozen=True)
class VideoSynthesisConfig:
    """Options of the blurry-video generator.

    Attributes:
        image (SynthesisConfig): Per-frame options shared with the image
            generator (image size, hand model, renderer, key frames per
            exposure, sub-frames, fps, ``save_sharp``, ``max_tries``).
            ``interacting_prob`` and ``samples_per_capture`` are not used.
        num_frames (int): Blurry frames per clip ``F``. Defaults to 12.
        frame_stride (int, optional): Key-frame intervals between the starts
            of consecutive exposures; at least the exposure
            ``num_keyframes - 1`` (no overlap). ``None`` = the exposure
            (back-to-back). Defaults to ``None``.
        control_interval (int): Key frames between motion control points.
            Defaults to 4.
        max_offset (float): Largest wrist distance from its start, m.
            Defaults to 0.08.
        left_prob (float): Probability of a left-hand clip. Defaults to 0
            (right hands).
        max_speeds (tuple): Top articulation (curl/s), rotation (rad/s) and
            translation (m/s) speeds (see
            :func:`~.motion.sample_speeds`). Defaults to ``(5, 6, 0.8)``.
    """
    image: SynthesisConfig = field(default_factory=SynthesisConfig)
    num_frames: int = 12
    frame_stride: Optional[int] = None
    control_interval: int = 4
    max_offset: float = 0.08
    left_prob: float = 0.0
    max_speeds: tuple = (5.0, 6.0, 0.8)

    def __post_init__(self):
        exposure = self.image.num_keyframes - 1
        if self.num_frames < 1:
            raise ValueError(
                f'num_frames must be >= 1, got {self.num_frames}.')
        if exposure < 1:
            raise ValueError('num_keyframes must be >= 2 for a blur, got '
                             f'{self.image.num_keyframes}.')
        if self.frame_stride is not None and self.frame_stride < exposure:
            raise ValueError(
                f'frame_stride {self.frame_stride} is shorter than the '
                f'exposure ({exposure} key intervals): exposures of one '
                'camera cannot overlap; use frame_stride >= '
                f'{exposure} or None.')
        if self.control_interval < 1:
            raise ValueError('control_interval must be >= 1, got '
                             f'{self.control_interval}.')
        if not 0 <= self.left_prob <= 1:
            raise ValueError(
                f'left_prob must be in [0, 1], got {self.left_prob}.')

    @property
    def stride(self) -> int:
        """Key-frame intervals between consecutive frames."""
        return self.frame_stride or (self.image.num_keyframes - 1)

    @property
    def num_keyframes_total(self) -> int:
        """Key frames of a whole clip ``Kt``."""
        return (self.num_frames - 1) * self.stride + \
            self.image.num_keyframes

    @property
    def video_fps(self) -> float:
        """Frames per second of the blurry video."""
        return self.image.fps / self.stride

    def output_options(self) -> dict:
        """The options that change the written files."""
        options = asdict(self)
        options['image'] = self.image.output_options()
        options['max_speeds'] = list(self.max_speeds)
        return options


def video_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random generator of one clip (a stream apart from the images')."""
    return np.random.default_rng(
        np.random.SeedSequence(
            [int(seed), 1000 + VIDEO_SPLITS.index(split),
             int(index)]))


def frame_tables(cfg: VideoSynthesisConfig) -> Dict[str, np.ndarray]:
    """Key-frame and sub-frame indices of every frame of a clip.

    Returns:
        dict: ``frame_keyframes`` (F, K), ``frame_subframes`` (F, 2)
        ``[start, stop)``, ``keyframe_subframes`` (Kt,), ``subframe_times``
        (S,) seconds, ``frame_times`` (F,) seconds (middle key frame).
    """
    n = cfg.image.subframes_per_interval
    num_key = cfg.image.num_keyframes
    starts = np.arange(cfg.num_frames) * cfg.stride
    frame_keyframes = starts[:, None] + np.arange(num_key)
    keyframe_subframes = np.arange(cfg.num_keyframes_total) * n
    frame_subframes = np.stack(
        [starts * n, (starts + num_key - 1) * n + 1], axis=1)
    num_sub = (cfg.num_keyframes_total - 1) * n + 1
    subframe_times = np.arange(num_sub) / (cfg.image.fps * n)
    frame_times = subframe_times[keyframe_subframes[
        frame_keyframes[:, num_key // 2]]]
    return dict(
        frame_keyframes=frame_keyframes,
        frame_subframes=frame_subframes,
        keyframe_subframes=keyframe_subframes,
        subframe_times=subframe_times,
        frame_times=frame_times)


def _limited_step(step: np.ndarray, scale: np.ndarray,
                  max_step: float) -> np.ndarray:
    """``step`` shrunk so that ``max(|step| / scale) <= max_step``."""
    size = np.abs(step / np.maximum(scale, 1e-9)).max()
    return step * min(1.0, max_step / max(size, 1e-12))


def sample_video_motion(rng: np.random.Generator,
                        art: HandArticulation,
                        speeds: Dict[str, float],
                        orientation: Rotation,
                        translation: np.ndarray,
                        times: np.ndarray,
                        control_dt: float,
                        max_offset: float = 0.08) -> Dict[str, np.ndarray]:
    """One continuous random hand motion, sampled at ``times``.

    Args:
        rng (np.random.Generator): Random generator.
        art (HandArticulation): Axes and limits of the hand model.
        speeds (dict): ``articulation`` (curl/s), ``rotation`` (rad/s),
            ``translation`` (m/s) speed scales.
        orientation (Rotation): Wrist orientation at ``times[0]`` (world).
        translation (np.ndarray): (3,) MANO ``transl`` at ``times[0]``, m.
        times (np.ndarray): (S,) increasing sample times, s.
        control_dt (float): Seconds between control points.
        max_offset (float): Largest distance of the wrist from
            ``translation``, m. Defaults to 0.08.

    Returns:
        dict: ``global_orient`` (S, 3), ``hand_pose`` (S, 3P), ``transl``
        (S, 3), world frame, MANO convention (pose relative to the mean).
    """
    t0, t1 = float(times[0]), float(times[-1])
    num_ctrl = int(np.ceil((t1 - t0) / control_dt)) + 3
    ctrl_t = t0 + (np.arange(num_ctrl) - 1) * control_dt
    span = art.flex_limits[:, 1] - art.flex_limits[:, 0]
    spread_span = np.maximum(art.spread_limits[:, 1] - art.spread_limits[:, 0],
                             1e-3)

    flex, spread = sample_articulation(rng, art)
    rot = orientation
    omega = np.zeros(3)
    pos = np.asarray(translation, dtype=np.float64).copy()
    vel = np.zeros(3)
    flex_c, spread_c, rot_c, pos_c = [], [], [], []
    for _ in range(num_ctrl):
        flex_c.append(flex)
        spread_c.append(spread)
        rot_c.append(rot)
        pos_c.append(pos)
        # fingers: head for a new random pose, at most at the clip's speed
        target_flex, target_spread = sample_articulation(rng, art)
        max_step = speeds['articulation'] * control_dt * rng.uniform(0.3, 1)
        flex = flex + _limited_step(target_flex - flex, span, max_step)
        spread = spread + _limited_step(target_spread - spread, spread_span,
                                        max_step)
        flex, spread = art.clip(flex, spread)
        # wrist: smoothly changing angular and linear velocities
        omega = 0.5 * omega + 0.87 * speeds['rotation'] * rng.normal(
            size=3) / np.sqrt(3)
        rot = Rotation.from_rotvec(omega * control_dt) * rot
        vel = 0.5 * vel + 0.87 * speeds['translation'] * rng.normal(
            size=3) / np.sqrt(3)
        pos = pos + vel * control_dt
        offset = pos - translation
        dist = np.linalg.norm(offset)
        if dist > max_offset:
            pos = translation + offset * max_offset / dist
            vel = -0.5 * vel
    flex_s = CubicSpline(ctrl_t, np.stack(flex_c), axis=0)(times)
    spread_s = CubicSpline(ctrl_t, np.stack(spread_c), axis=0)(times)
    flex_s, spread_s = art.clip(flex_s, spread_s)
    rots = RotationSpline(ctrl_t, Rotation.concatenate(rot_c))(times)
    return dict(
        global_orient=rots.as_rotvec(),
        hand_pose=art.hand_pose(flex_s, spread_s),
        transl=CubicSpline(ctrl_t, np.stack(pos_c), axis=0)(times))


def sample_clip_motion(rng: np.random.Generator, art: HandArticulation,
                       cfg: VideoSynthesisConfig) -> Dict[str, np.ndarray]:
    """Speeds, start pose and the motion of one clip at its sub-frames."""
    tables = frame_tables(cfg)
    speeds = sample_speeds(rng, cfg.max_speeds)
    motion = sample_video_motion(
        rng,
        art,
        speeds,
        random_rotation(rng),
        np.zeros(3),
        tables['subframe_times'],
        control_dt=cfg.control_interval / cfg.image.fps,
        max_offset=cfg.max_offset)
    motion['speeds'] = speeds
    return motion


def synthesize_clip(split: str, index: int, seed: int,
                    cfg: VideoSynthesisConfig, out_dir: str) -> dict:
    """Render one clip, write its frames and ``annotation.npz``.

    Args:
        split (str): ``'train'`` or ``'test'``.
        index (int): Clip index within the split.
        seed (int): Dataset seed.
        cfg (VideoSynthesisConfig): Options.
        out_dir (str): Dataset root.

    Returns:
        dict: The clip's ``clips.json`` entry.
    """
    from mmblurhand.datasets.transforms.hand_geometry import tight_hand_bbox
    icfg = cfg.image
    rng = video_rng(seed, split, index)
    size = (icfg.image_size, icfg.image_size)
    side = 'left' if rng.uniform() < cfg.left_prob else 'right'
    layer, art, rest = hand_model(icfg.mano_path, side)
    betas = np.clip(rng.normal(0.0, 0.8, size=layer.num_betas), -2.5, 2.5)
    skin = sample_skin_colour(rng)
    lighting = sample_lighting(rng)
    tables = frame_tables(cfg)
    key_sub = tables['keyframe_subframes']
    middle_sub = key_sub[tables['frame_keyframes'][:, icfg.num_keyframes //
                                                    2]]

    for _ in range(icfg.max_tries):
        motion = sample_clip_motion(rng, art, cfg)
        vertices, joints = _pose_hand(layer, motion, betas)
        mid = vertices[len(vertices) // 2]
        extent = float(np.ptp(mid, axis=0).max())
        camera = sample_camera(rng, size, vertices.reshape(-1, 3).mean(0),
                               extent)
        verts_cam = vertices @ camera['rot'].T + camera['trans']
        joints_cam = joints @ camera['rot'].T + camera['trans']
        in_view = _in_view(joints_cam, camera, size)
        # the whole clip in front of the camera, every frame's middle
        # mostly in view
        if ((verts_cam[..., 2] > 0.05).all()
                and (in_view[middle_sub].mean(-1) >= 0.8).all()):
            break

    colours = vertex_colour_variation(rng, rest, skin)
    premultiplied, alpha = render_sub_frames(verts_cam, layer.faces,
                                             colours, camera, lighting, size,
                                             icfg.backend)
    background = random_background(rng, size)
    noise_std = rng.uniform(0.002, 0.01)
    clip_name = f'clip_{index:05d}'
    clip_dir = osp.join(out_dir, split, clip_name)
    files, rates, bboxes = [], [], []
    joints_img = joints_cam[..., :2] / joints_cam[..., 2:] * \
        camera['focal'] + camera['princpt']
    for f, (start, stop) in enumerate(tables['frame_subframes']):
        blurry = quantise(
            average_blur(premultiplied[start:stop], alpha[start:stop],
                         background), rng, noise_std)
        name = f'frame_{f:04d}.png'
        _write_png(osp.join(clip_dir, name), blurry)
        files.append(f'{split}/{clip_name}/{name}')
        if icfg.save_sharp:
            sharp = quantise(
                composite_frame(premultiplied[middle_sub[f]],
                                alpha[middle_sub[f]], background), rng,
                noise_std)
            _write_png(osp.join(clip_dir, f'sharp_{f:04d}.png'), sharp)
        rates.append(blur_rate(alpha[start:stop]))
        box = tight_hand_bbox(joints_img[middle_sub[f]],
                              np.ones(joints_img.shape[1]), size)
        bboxes.append(box if box is not None else np.array(
            [0.0, 0.0, size[0], size[1]]))
    cam_rot = Rotation.from_matrix(camera['rot'])
    global_cam = (cam_rot * Rotation.from_rotvec(
        motion['global_orient'])).as_rotvec()
    f32 = np.float32
    np.savez_compressed(
        osp.join(clip_dir, 'annotation.npz'),
        **{k: v
           for k, v in tables.items()},
        global_orient=global_cam.astype(f32),
        global_orient_world=motion['global_orient'].astype(f32),
        hand_pose=motion['hand_pose'].astype(f32),
        transl_world=motion['transl'].astype(f32),
        betas=betas.astype(f32),
        joints_cam=joints_cam.astype(f32),
        joints_img=joints_img.astype(f32),
        cam_rot=camera['rot'],
        cam_trans=camera['trans'],
        focal=camera['focal'],
        princpt=camera['princpt'],
        bboxes=np.stack(bboxes).astype(f32),
        blur_rate=np.array(rates, dtype=f32),
        is_left=np.array(side == 'left'),
        image_files=np.array(files))
    return dict(
        name=clip_name,
        split=split,
        index=index,
        hand_type=side,
        num_frames=cfg.num_frames,
        files=files,
        annotation=f'{split}/{clip_name}/annotation.npz',
        blur_rate=[None if not np.isfinite(r) else round(float(r), 6)
                   for r in rates],
        speeds={k: round(v, 6)
                for k, v in motion['speeds'].items()})


def load_video_clip(path: str) -> Dict[str, np.ndarray]:
    """Read a clip's ``annotation.npz`` (see the module docstring).

    Args:
        path (str): The ``annotation.npz`` or its clip folder.

    Returns:
        dict: Arrays by key; ``image_paths`` (F,) absolute frame paths.
    """
    if osp.isdir(path):
        path = osp.join(path, 'annotation.npz')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'"{path}" does not exist: make synthetic videos with '
            '`python tools/dataset_converters/synthesize_blurhand.py --video '
            '--out <dir>` and pass <dir>/<split>/clip_XXXXX.')
    with np.load(path, allow_pickle=False) as data:
        clip = {k: data[k] for k in data.files}
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(path))))
    clip['image_paths'] = np.array(
        [osp.join(root, str(f)) for f in clip['image_files']])
    return clip


def _video_worker(task: tuple) -> dict:
    start = time.process_time()
    record = synthesize_clip(*task)
    record['cpu_seconds'] = time.process_time() - start
    return record


def synthesize_blurhand_videos(out_dir: str,
                               num_train: int,
                               num_test: int,
                               seed: int = 0,
                               workers: int = 1,
                               cfg: VideoSynthesisConfig = None,
                               overwrite: bool = False,
                               progress: bool = True) -> dict:
    """Generate synthetic blurry videos (idempotent, like the images).

    Args:
        out_dir (str): Root to write.
        num_train (int): Training clips.
        num_test (int): Test clips.
        seed (int): Seed; the output depends only on it and the options.
            Defaults to 0.
        workers (int): Worker processes. Defaults to 1.
        cfg (VideoSynthesisConfig, optional): Options (defaults if None).
        overwrite (bool): Replace videos made with other options.
        progress (bool): Show a progress bar. Defaults to ``True``.

    Returns:
        dict: Summary (``skipped`` is ``True`` when nothing was done).
    """
    cfg = cfg or VideoSynthesisConfig()
    if num_train < 0 or num_test < 0:
        raise ValueError('num_train and num_test must be >= 0, got '
                         f'{num_train} and {num_test}.')
    meta = dict(
        version=VIDEO_SYNTHESIS_VERSION,
        hand_model=hand_model_digest(cfg.image.mano_path),
        num_train=int(num_train),
        num_test=int(num_test),
        seed=int(seed),
        **cfg.output_options())
    meta_path = osp.join(out_dir, VIDEO_META_FILE)
    if osp.isfile(meta_path):
        try:
            with open(meta_path) as f:
                existing = json.load(f)
        except (OSError, json.JSONDecodeError):
            existing = {}
        stored = {k: v for k, v in existing.items() if k != 'summary'}
        if stored == json.loads(json.dumps(meta)):
            return dict(existing.get('summary', {}), skipped=True,
                        out_dir=out_dir)
        changed = sorted(k for k in set(meta) | set(stored)
                         if json.loads(json.dumps(meta.get(k))) !=
                         stored.get(k))
        if not overwrite and set(changed) - set(_REGENERATE_KEYS):
            raise FileExistsError(
                f'"{out_dir}" holds synthetic videos made with other options '
                f'({", ".join(changed)} differ). Pass --overwrite to replace '
                'them, or choose another --out.')
    for sub in VIDEO_SPLITS + (VIDEO_META_FILE, ):
        path = osp.join(out_dir, sub)
        if osp.isdir(path):
            shutil.rmtree(path)
        elif osp.isfile(path):
            os.remove(path)
    os.makedirs(out_dir, exist_ok=True)
    tasks = [(split, i, seed, cfg, out_dir)
             for split, num in zip(VIDEO_SPLITS, (num_train, num_test))
             for i in range(num)]
    start = time.time()
    records: List[dict] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), desc='synthesize blurry videos',
                   unit='clip')
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            records.append(_video_worker(task))
            if bar is not None:
                bar.update(1)
    else:
        with _worker_context().Pool(
                workers, initializer=_worker_init) as pool:
            for record in pool.imap(_video_worker, tasks):
                records.append(record)
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    splits = {}
    for split in VIDEO_SPLITS:
        split_records = [r for r in records if r['split'] == split]
        if not split_records:
            continue
        with open(osp.join(out_dir, split, 'clips.json'), 'w') as f:
            json.dump(split_records, f, indent=1)
        rates = np.array([
            r for rec in split_records for r in rec['blur_rate']
            if r is not None
        ])
        splits[split] = dict(
            clips=len(split_records),
            frames=int(sum(r['num_frames'] for r in split_records)),
            blur_rate_mean=float(rates.mean()) if rates.size else None,
            blur_rate_median=float(np.median(rates)) if rates.size else None)
    summary = dict(
        splits=splits,
        num_clips=len(records),
        video_fps=cfg.video_fps,
        seconds=time.time() - start)
    with open(meta_path + '.tmp', 'w') as f:
        json.dump(dict(meta, summary=summary), f, indent=1)
    os.replace(meta_path + '.tmp', meta_path)
    return dict(summary, out_dir=out_dir, skipped=False)


def format_video_summary(summary: dict) -> str:
    """Human-readable summary of :func:`synthesize_blurhand_videos`."""
    lines = [f'Synthetic blurry videos in "{summary["out_dir"]}" '
             f'({summary["video_fps"]:g} fps):']
    for split, info in summary['splits'].items():
        lines.append(
            f'  {split}: {info["clips"]} clips, {info["frames"]} frames; '
            f'blur rate mean {info["blur_rate_mean"]:.3f}, median '
            f'{info["blur_rate_median"]:.3f}')
    if 'seconds' in summary:
        lines.append(f'  {summary["num_clips"]} clips in '
                     f'{summary["seconds"]:.1f} s')
    return '\n'.join(lines)


def sample_motion_corpus(num_sequences: int,
                         length: int,
                         seed: int = 0,
                         cfg: VideoSynthesisConfig = None,
                         progress: bool = False) -> Dict[str, np.ndarray]:
    """Hand motions without rendering: a training corpus for motion priors.

    Sequences come from the same sampler as the videos
    (:func:`sample_video_motion`), at the key-frame rate ``cfg.image.fps``.

    Args:
        num_sequences (int): Sequences ``N``.
        length (int): Key frames per sequence ``L``.
        seed (int): Seed (a stream apart from the videos'). Defaults to 0.
        cfg (VideoSynthesisConfig, optional): Motion options.
        progress (bool): Show a progress bar. Defaults to ``False``.

    Returns:
        dict: ``hand_pose`` (N, L, 3P), ``global_orient`` (N, L, 3),
        ``transl`` (N, L, 3) (world frame), ``fps`` ().
    """
    cfg = cfg or VideoSynthesisConfig()
    _, art, _ = hand_model(cfg.image.mano_path, 'right')
    times = np.arange(length) / cfg.image.fps
    out: Dict[str, list] = dict(hand_pose=[], global_orient=[], transl=[])
    indices: Sequence[int] = range(num_sequences)
    if progress:
        from tqdm import tqdm
        indices = tqdm(indices, desc='motion corpus', unit='seq')
    for i in indices:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 2000,
                                                            int(i)]))
        speeds = sample_speeds(rng, cfg.max_speeds)
        motion = sample_video_motion(
            rng, art, speeds, random_rotation(rng), np.zeros(3), times,
            cfg.control_interval / cfg.image.fps, cfg.max_offset)
        for k in out:
            out[k].append(motion[k])
    result = {k: np.stack(v).astype(np.float32) for k, v in out.items()}
    result['fps'] = np.array(cfg.image.fps)
    return result
