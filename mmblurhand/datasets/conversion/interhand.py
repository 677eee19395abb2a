# Copyright (c) OpenMMLab. All rights reserved.
"""Build the BlurHand dataset from InterHand2.6M (30 fps) sharp videos.

The BlurHand recipe (BlurHandNet paper, Sec. 3), on the InterHand2.6M
30 fps layout::

    interhand_root/images/{split}/Capture*/<seq>/cam*/image*.jpg
    interhand_root/annotations/{split}/InterHand2.6M_{split}_data.json
                                       InterHand2.6M_{split}_camera.json
                                       InterHand2.6M_{split}_joint_3d.json
                                       ..._MANO_NeuralAnnot.json

1. **Windows**: every image (capture, sequence, camera, frame ``f``) is a
   candidate middle frame; its 5 frames are ``f + k * step``,
   ``k = -2..2``, with ``step`` the sequence's frame-index spacing
   (inferred: the most common gap between its frames; 3 in the 30 fps
   train split, 1 in test). A candidate is **skipped** when its window
   runs past the start or end of the camera's video, when a neighbouring
   frame inside the video is missing (no image entry for that camera),
   when a frame lacks its ``joint_3d`` entry, when the camera is unknown,
   when the middle frame has no valid joint, and (while blurring) when an
   image file is missing or unreadable; each reason is counted in the
   summary.
2. **Camera view sampling**: InterHand2.6M films every instant from up to
   ~140 cameras, so the complete windows of one instant (capture,
   sequence, frame) are nearly redundant; ``views_per_frame`` of them are
   kept, drawn with a generator seeded by the conversion seed and the
   instant only (deterministic, independent of workers and order).
3. **Blur**: the 5 sharp frames are interpolated to 33 (240 fps) with
   optical flow (:mod:`.flow_interpolation`) and averaged.
4. **Annotations**: the BlurHand files keep the InterHand2.6M ids and
   entries of every frame used; each annotation gets ``aid_list`` (the 5
   annotation ids of its window) and ``is_middle``; image file names end
   in ``.png`` (BlurHand images are PNG); GT exists for all 5 frames (the
   loader uses the 1st, 3rd and 5th).

Resumable: a blurry image already on disk is kept (images are written
atomically), and the annotation files are written at the end from the
complete list, so an interrupted run is finished by running the same
command again. ``conversion_meta.json`` stores the options per split.
"""
import json
import multiprocessing as mp
import os
import os.path as osp
import shutil
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .flow_interpolation import FLOW_METHODS

#: Bumped whenever the output for given options changes.
CONVERSION_VERSION = 'interhand-to-blurhand-v1'
META_FILE = 'conversion_meta.json'
ANNOTATION_KINDS = ('data', 'camera', 'joint_3d', 'MANO_NeuralAnnot')
SPLITS = ('train', 'test')
#: Blur-rate bins of :func:`compare_with_reference`.
BLUR_RATE_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, float('inf'))
#: Reasons a candidate window is skipped, in the order they are checked.
SKIP_REASONS = ('sequence_end', 'missing_neighbour_frame',
                'missing_joint_3d', 'missing_camera', 'no_valid_joints',
                'missing_image', 'unreadable_image')


@dataclass(frozen=True)
class ConversionConfig:
    """Options of the InterHand2.6M -> BlurHand conversion.

    Attributes:
        num_frames (int): Sharp frames per blurry image (odd). Defaults to
            5.
        num_subframes (int): Frames averaged after interpolation; ``-1``
            must be a multiple of ``num_frames - 1``. Defaults to 33
            (240 fps from 30 fps).
        flow_method (str): ``'dis'`` or ``'farneback'``. Defaults to
            ``'dis'``.
        frame_step (int, optional): Frame-index spacing of consecutive
            frames; ``None`` infers it per sequence. Defaults to ``None``.
        frame_stride (int): Use every ``frame_stride``-th frame of a
            sequence as a middle frame. Defaults to 1.
        views_per_frame (int): Camera views kept per instant; 0 keeps
            all. Defaults to 1.
        seed (int): Seed of the view sampling. Defaults to 0.
    """
    num_frames: int = 5
    num_subframes: int = 33
    flow_method: str = 'dis'
    frame_step: Optional[int] = None
    frame_stride: int = 1
    views_per_frame: int = 1
    seed: int = 0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid option."""
        if self.num_frames < 3 or self.num_frames % 2 == 0:
            raise ValueError('num_frames must be odd and >= 3 (the middle '
                             f'frame is the GT frame), got {self.num_frames}.')
        if self.num_subframes < self.num_frames or (
                self.num_subframes - 1) % (self.num_frames - 1):
            raise ValueError(
                f'num_subframes - 1 ({self.num_subframes - 1}) must be a '
                f'positive multiple of num_frames - 1 ({self.num_frames - 1})'
                '; e.g. 33 for 5 frames.')
        if self.flow_method not in FLOW_METHODS:
            raise ValueError(f'flow_method must be one of {FLOW_METHODS}, '
                             f'got {self.flow_method!r}.')
        if self.frame_step is not None and self.frame_step < 1:
            raise ValueError(f'frame_step must be >= 1, got '
                             f'{self.frame_step}.')
        if self.frame_stride < 1:
            raise ValueError(f'frame_stride must be >= 1, got '
                             f'{self.frame_stride}.')
        if self.views_per_frame < 0:
            raise ValueError('views_per_frame must be >= 0 (0 = all), got '
                             f'{self.views_per_frame}.')


# ----------------------------------------------------------------------
# reading InterHand2.6M
# ----------------------------------------------------------------------
def interhand_annotation_path(root: str, split: str, kind: str) -> str:
    """Path of ``InterHand2.6M_{split}_{kind}.json`` under ``root``.

    Looks in ``annotations/{split}/`` (the release layout), then in
    ``annotations/``.
    """
    name = f'InterHand2.6M_{split}_{kind}.json'
    candidates = [
        osp.join(root, 'annotations', split, name),
        osp.join(root, 'annotations', name)
    ]
    for path in candidates:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'InterHand2.6M annotation file "{candidates[0]}" not found (nor '
        f'"{candidates[1]}"). --interhand-root must hold the 30 fps '
        'release: images/{split}/... and annotations/{split}/'
        'InterHand2.6M_{split}_{data,camera,joint_3d,MANO_NeuralAnnot}.json.')


def load_interhand_annotations(root: str, split: str) -> Dict[str, object]:
    """The four InterHand2.6M annotation objects of a split.

    Returns:
        dict: ``data``, ``camera``, ``joint_3d``, ``MANO_NeuralAnnot``.
    """
    out = {}
    for kind in ANNOTATION_KINDS:
        path = interhand_annotation_path(root, split, kind)
        try:
            with open(path) as f:
                out[kind] = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(
                f'"{path}" is not valid JSON (line {err.lineno}, column '
                f'{err.colno}): {err.msg}. Download or unpack it again.'
            ) from err
    for key in ('images', 'annotations'):
        if key not in out['data']:
            raise KeyError(
                f'"{interhand_annotation_path(root, split, "data")}" has no '
                f'"{key}" list; is it an InterHand2.6M *_data.json?')
    return out


def _frame_step(frames: Sequence[int]) -> Optional[int]:
    """Most common positive gap between sorted frame indices (smallest on
    ties); ``None`` for fewer than two frames."""
    frames = sorted(set(frames))
    gaps = np.diff(frames)
    if gaps.size == 0:
        return None
    values, counts = np.unique(gaps, return_counts=True)
    return int(values[np.argmax(counts)])


def _joint_valid_any(ann: dict) -> bool:
    valid = ann.get('joint_valid')
    return valid is None or bool(np.any(np.asarray(valid, dtype=float) > 0))


def find_windows(
        annotations: Dict[str, object], cfg: ConversionConfig
) -> Tuple[List[dict], Dict[str, int], Dict[str, str]]:
    """Complete windows of ``num_frames`` consecutive frames, after view
    sampling.

    Args:
        annotations (dict): Output of :func:`load_interhand_annotations`.
        cfg (ConversionConfig): Options.

    Returns:
        tuple: ``windows`` (list of dict, sorted by capture, sequence,
        frame, camera) each with ``capture``, ``seq_name``, ``camera``,
        ``frame_idx`` (middle), ``image_ids`` and ``ann_ids`` (the frames in
        time order), ``hand_type``; ``stats`` (counts: ``candidates``,
        ``complete``, ``sampled_out``, ``off_grid`` and the per-reason
        skips of :data:`SKIP_REASONS` found here); ``examples`` (one
        description per skip reason found).
    """
    cfg.validate()
    data = annotations['data']
    joints_3d = annotations['joint_3d']
    cameras = annotations['camera']
    anns_by_image: Dict[object, dict] = {}
    for ann in data['annotations']:
        anns_by_image.setdefault(ann['image_id'], ann)
    groups: Dict[tuple, Dict[int, tuple]] = defaultdict(dict)
    seq_frames: Dict[tuple, set] = defaultdict(set)
    for img in data['images']:
        ann = anns_by_image.get(img['id'])
        if ann is None:
            continue
        capture, seq = str(img['capture']), str(img['seq_name'])
        frame = int(img['frame_idx'])
        groups[(capture, seq, str(img['camera']))][frame] = (img, ann)
        seq_frames[(capture, seq)].add(frame)

    stats = Counter({k: 0 for k in ('candidates', 'complete', 'sampled_out',
                                    'off_grid') + SKIP_REASONS})
    examples: Dict[str, str] = {}
    half = cfg.num_frames // 2
    complete: Dict[tuple, List[dict]] = defaultdict(list)
    steps = {
        key: cfg.frame_step or _frame_step(frames)
        for key, frames in seq_frames.items()
    }
    first = {key: min(frames) for key, frames in seq_frames.items()}
    for (capture, seq, cam), frames in groups.items():
        step = steps[(capture, seq)]
        lo, hi = min(frames), max(frames)
        for frame, (img, ann) in frames.items():
            offset = frame - first[(capture, seq)]
            if step is None or offset % step:
                stats['off_grid'] += 1
                continue
            if (offset // step) % cfg.frame_stride:
                continue
            stats['candidates'] += 1
            needed = [frame + k * step for k in range(-half, half + 1)]
            where = (f'Capture{capture}/{seq}/cam{cam} middle frame {frame}')
            missing = [f for f in needed if f not in frames]
            capture_joints = joints_3d.get(capture, {})
            capture_cams = cameras.get(capture, {})
            reason = None
            if any(f < lo or f > hi for f in needed):
                # too close to the start or end of its camera's video
                reason = 'sequence_end'
                detail = f'{where}: the video spans frames {lo}-{hi}'
            elif missing:
                reason = 'missing_neighbour_frame'
                detail = f'{where}: no frame {missing[0]}'
            elif any(str(f) not in capture_joints for f in needed):
                reason = 'missing_joint_3d'
                detail = f'{where}: a frame has no joint_3d entry'
            elif not capture_cams or any(
                    cam not in capture_cams.get(field, {})
                    for field in ('campos', 'camrot', 'focal', 'princpt')):
                reason = 'missing_camera'
                detail = f'{where}: camera {cam} not in the camera file'
            elif not _joint_valid_any(ann):
                reason = 'no_valid_joints'
                detail = f'{where}: no valid joint'
            if reason is not None:
                stats[reason] += 1
                examples.setdefault(reason, detail)
                continue
            stats['complete'] += 1
            complete[(capture, seq, frame)].append(
                dict(
                    capture=capture,
                    seq_name=seq,
                    camera=cam,
                    frame_idx=frame,
                    image_ids=[frames[f][0]['id'] for f in needed],
                    ann_ids=[frames[f][1]['id'] for f in needed],
                    hand_type=ann.get('hand_type')))

    windows = []
    for key in sorted(complete):
        views = sorted(complete[key], key=lambda w: w['camera'])
        if 0 < cfg.views_per_frame < len(views):
            capture, seq, frame = key
            rng = np.random.default_rng(
                np.random.SeedSequence([
                    int(cfg.seed),
                    zlib.crc32(f'{capture}/{seq}'.encode()),
                    int(frame) % (2**32)
                ]))
            keep = np.sort(
                rng.choice(len(views), cfg.views_per_frame, replace=False))
            stats['sampled_out'] += len(views) - len(keep)
            views = [views[i] for i in keep]
        windows.extend(views)
    return windows, dict(stats), examples


# ----------------------------------------------------------------------
# blurring (workers)
# ----------------------------------------------------------------------
def blurhand_file_name(file_name: str) -> str:
    """BlurHand (PNG) file name of an InterHand2.6M image file name."""
    return osp.splitext(file_name)[0] + '.png'


def _write_image_atomic(path: str, image: np.ndarray) -> None:
    import cv2
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = path[:-len('.png')] + f'.tmp{os.getpid()}.png'
    if not cv2.imwrite(tmp, image):
        raise IOError(f'Could not write "{tmp}"; check that the output '
                      'folder is writable and the disk not full.')
    os.replace(tmp, path)


def blur_window(task: tuple) -> dict:
    """Read a window's sharp frames, blur them, write the PNG.

    Args:
        task (tuple): ``(index, input_paths, output_path, num_subframes,
            flow_method)``.

    Returns:
        dict: ``index``, ``status`` (``'written'``, ``'missing_image'`` or
        ``'unreadable_image'``), ``detail`` (a path), ``cpu_seconds``.
    """
    import cv2

    from .flow_interpolation import blur_from_frames
    index, inputs, output, num_subframes, method = task
    start = time.process_time()
    frames = []
    for path in inputs:
        if not osp.isfile(path):
            return dict(index=index, status='missing_image', detail=path)
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None or (frames and image.shape != frames[0].shape):
            return dict(index=index, status='unreadable_image', detail=path)
        frames.append(image)
    _write_image_atomic(output,
                        blur_from_frames(frames, num_subframes, method))
    return dict(
        index=index,
        status='written',
        detail=output,
        cpu_seconds=time.process_time() - start)


def _worker_init() -> None:
    import cv2
    cv2.setNumThreads(1)


def _worker_context():
    if 'forkserver' in mp.get_all_start_methods():
        context = mp.get_context('forkserver')
        context.set_forkserver_preload([__name__])
        return context
    return mp.get_context('spawn')


# ----------------------------------------------------------------------
# annotations
# ----------------------------------------------------------------------
def build_blurhand_annotations(annotations: Dict[str, object],
                               windows: Sequence[dict]) -> Dict[str, object]:
    """BlurHand annotation objects for the given (converted) windows.

    Every frame used by a window keeps its InterHand2.6M image and
    annotation entry (same ids, ``.png`` file name) and gets ``aid_list``
    (its window's annotation ids; a frame that is not a middle frame takes
    the first window it belongs to) and ``is_middle``. Cameras, joints and
    MANO fits are restricted to what the frames use.

    Args:
        annotations (dict): InterHand2.6M annotation objects.
        windows (Sequence[dict]): Windows from :func:`find_windows`.

    Returns:
        dict: ``data``, ``camera``, ``joint_3d``, ``MANO_NeuralAnnot``.
    """
    data = annotations['data']
    aid_of_image: Dict[object, list] = {}
    middle_images = set()
    for win in windows:
        half = len(win['image_ids']) // 2
        middle = win['image_ids'][half]
        middle_images.add(middle)
        aid_of_image[middle] = list(win['ann_ids'])
    for win in windows:
        for image_id in win['image_ids']:
            aid_of_image.setdefault(image_id, list(win['ann_ids']))

    images, anns = [], []
    used_frames: Dict[str, set] = defaultdict(set)
    used_cams: Dict[str, set] = defaultdict(set)
    for img in data['images']:
        if img['id'] not in aid_of_image:
            continue
        img = dict(img, file_name=blurhand_file_name(img['file_name']))
        images.append(img)
        used_frames[str(img['capture'])].add(str(img['frame_idx']))
        used_cams[str(img['capture'])].add(str(img['camera']))
    seen = set()
    for ann in data['annotations']:
        image_id = ann['image_id']
        if image_id not in aid_of_image or image_id in seen:
            continue
        seen.add(image_id)
        anns.append(
            dict(
                ann,
                aid_list=aid_of_image[image_id],
                is_middle=image_id in middle_images))

    cameras = {}
    for capture, cams in used_cams.items():
        table = annotations['camera'][capture]
        cameras[capture] = {
            field: {cam: values[cam]
                    for cam in values if cam in cams}
            for field, values in table.items()
        }
    joints, mano = {}, {}
    for capture, frames in used_frames.items():
        src = annotations['joint_3d'][capture]
        joints[capture] = {f: src[f] for f in src if f in frames}
        src_mano = annotations['MANO_NeuralAnnot'].get(capture, {})
        mano[capture] = {f: src_mano[f] for f in src_mano if f in frames}
    info = dict(
        description='BlurHand-format blurry images synthesised by '
        'mmblurhand from InterHand2.6M-layout sharp frames (optical-flow '
        'interpolation and averaging)')
    return dict(
        data=dict(info=info, images=images, annotations=anns),
        camera=cameras,
        joint_3d=joints,
        MANO_NeuralAnnot=mano)


def write_blurhand_annotations(out_dir: str, split: str,
                               content: Dict[str, object]) -> List[str]:
    """Write ``annotations/{split}/BlurHand_{split}_*.json`` atomically."""
    ann_dir = osp.join(out_dir, 'annotations', split)
    os.makedirs(ann_dir, exist_ok=True)
    paths = []
    for kind in ANNOTATION_KINDS:
        path = osp.join(ann_dir, f'BlurHand_{split}_{kind}.json')
        with open(path + '.tmp', 'w') as f:
            json.dump(content[kind], f, separators=(',', ':'))
        os.replace(path + '.tmp', path)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------
def _read_meta(out_dir: str) -> dict:
    path = osp.join(out_dir, META_FILE)
    if not osp.isfile(path):
        return {}
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return {}


def _write_meta(out_dir: str, meta: dict) -> None:
    path = osp.join(out_dir, META_FILE)
    with open(path + '.tmp', 'w') as f:
        json.dump(meta, f, indent=1)
    os.replace(path + '.tmp', path)


def convert_interhand_to_blurhand(interhand_root: str,
                                  out_dir: str,
                                  split: str = 'train',
                                  cfg: ConversionConfig = ConversionConfig(),
                                  workers: int = 1,
                                  overwrite: bool = False,
                                  progress: bool = True) -> dict:
    """Convert one split of InterHand2.6M (30 fps) into BlurHand.

    Args:
        interhand_root (str): InterHand2.6M root (``images/``,
            ``annotations/``).
        out_dir (str): BlurHand root to write (``blur_images/``,
            ``annotations/``).
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        cfg (ConversionConfig): Options.
        workers (int): Worker processes (1 = this process). The output
            does not depend on it. Defaults to 1.
        overwrite (bool): Replace a split converted with other options
            instead of raising. Defaults to ``False``.
        progress (bool): Show a progress bar. Defaults to ``True``.

    Returns:
        dict: Summary: ``samples`` (in the annotation files), ``written``,
        ``kept`` (already on disk), ``candidates``, ``complete``,
        ``sampled_out``, ``skipped`` (per reason), ``hand_types``,
        ``examples`` (a path per skip reason found while blurring),
        ``seconds``.

    Raises:
        FileExistsError: The split was converted with other options and
            ``overwrite`` is ``False``.
    """
    if split not in SPLITS:
        raise ValueError(f'split must be one of {SPLITS}, got {split!r}.')
    cfg.validate()
    if osp.abspath(out_dir) == osp.abspath(interhand_root):
        raise ValueError('--out must differ from --interhand-root.')
    start = time.time()
    annotations = load_interhand_annotations(interhand_root, split)
    options = dict(version=CONVERSION_VERSION, **asdict(cfg))
    meta = _read_meta(out_dir)
    previous = meta.get(split, {}).get('options')
    if previous is not None and previous != options:
        changed = sorted(k for k in set(options) | set(previous)
                         if options.get(k) != previous.get(k))
        if not overwrite:
            raise FileExistsError(
                f'"{out_dir}" holds a BlurHand {split} split converted with '
                f'other options ({", ".join(changed)} differ). Pass '
                '--overwrite to replace it, or choose another --out.')
    target = osp.join(out_dir, 'blur_images', split)
    if previous is None and osp.isdir(target) and os.listdir(target) and (
            not overwrite):
        raise FileExistsError(
            f'"{target}" holds images that this converter did not make (no '
            f'{split} entry in {META_FILE}); choose another --out or pass '
            '--overwrite to replace them.')
    if previous != options and (previous is not None or overwrite):
        for path in (osp.join(out_dir, 'blur_images', split),
                     osp.join(out_dir, 'annotations', split)):
            if osp.isdir(path):
                shutil.rmtree(path)
    os.makedirs(out_dir, exist_ok=True)
    # Record the options before writing images: a later run with other
    # options must not mix its images with these.
    meta[split] = dict(options=options, complete=False)
    _write_meta(out_dir, meta)

    windows, stats, examples = find_windows(annotations, cfg)
    images = {img['id']: img for img in annotations['data']['images']}
    tasks, kept = [], []
    for index, win in enumerate(windows):
        half = len(win['image_ids']) // 2
        output = osp.join(
            out_dir, 'blur_images', split,
            blurhand_file_name(images[win['image_ids'][half]]['file_name']))
        if osp.isfile(output):
            kept.append(index)
            continue
        inputs = [
            osp.join(interhand_root, 'images', split,
                     images[i]['file_name']) for i in win['image_ids']
        ]
        tasks.append(
            (index, inputs, output, cfg.num_subframes, cfg.flow_method))

    results = []
    bar = None
    if progress and tasks:
        from tqdm import tqdm
        bar = tqdm(total=len(tasks), desc=f'BlurHand {split}', unit='img')
    if workers <= 1 or len(tasks) <= 1:
        _worker_init()
        for task in tasks:
            results.append(blur_window(task))
            if bar is not None:
                bar.update(1)
    else:
        with _worker_context().Pool(
                workers, initializer=_worker_init) as pool:
            for result in pool.imap_unordered(
                    blur_window, tasks, chunksize=4):
                results.append(result)
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()

    done = set(kept)
    for result in results:
        if result['status'] == 'written':
            done.add(result['index'])
        else:
            stats[result['status']] += 1
            examples.setdefault(result['status'], result['detail'])
    converted = [win for i, win in enumerate(windows) if i in done]
    write_blurhand_annotations(
        out_dir, split, build_blurhand_annotations(annotations, converted))
    hand_types = Counter(str(w['hand_type']) for w in converted)
    cpu = [r['cpu_seconds'] for r in results if 'cpu_seconds' in r]
    summary = dict(
        split=split,
        out_dir=out_dir,
        samples=len(converted),
        written=sum(r['status'] == 'written' for r in results),
        kept=len(kept),
        candidates=stats['candidates'],
        complete=stats['complete'],
        sampled_out=stats['sampled_out'],
        off_grid=stats['off_grid'],
        skipped={k: stats[k]
                 for k in SKIP_REASONS},
        hand_types=dict(sorted(hand_types.items())),
        examples=examples,
        cpu_seconds_per_image=float(np.mean(cpu)) if cpu else 0.0,
        seconds=time.time() - start)
    meta = _read_meta(out_dir)
    meta[split] = dict(
        options=options,
        complete=True,
        summary={k: v
                 for k, v in summary.items()
                 if k not in ('out_dir', 'seconds')})
    _write_meta(out_dir, meta)
    return summary


def format_conversion_summary(summary: dict) -> str:
    """Human-readable summary of :func:`convert_interhand_to_blurhand`."""
    skipped = summary['skipped']
    lines = [
        f'BlurHand {summary["split"]} in "{summary["out_dir"]}": '
        f'{summary["samples"]} blurry images ({summary["written"]} written '
        f'now, {summary["kept"]} kept from an earlier run); hand types: ' +
        ', '.join(f'{v} {k}' for k, v in summary['hand_types'].items()),
        f'  {summary["candidates"]} candidate middle frames: '
        f'{summary["complete"]} complete windows, {summary["sampled_out"]} '
        'left out by camera view sampling',
        '  skipped: ' + ', '.join(f'{v} {k.replace("_", " ")}'
                                  for k, v in skipped.items()),
    ]
    if summary.get('off_grid'):
        lines.append(f'  {summary["off_grid"]} frames off their sequence\'s '
                     'frame grid (ignored)')
    for reason, path in summary.get('examples', {}).items():
        lines.append(f'  e.g. {reason.replace("_", " ")}: {path}')
    if summary.get('written'):
        lines.append(f'  {summary["cpu_seconds_per_image"]:.2f} CPU s per '
                     f'image, {summary["seconds"]:.1f} s in all')
    return '\n'.join(lines)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64))**2)
    return float('inf') if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def compare_with_reference(out_dir: str, reference_root: str,
                           split: str) -> dict:
    """PSNR of converted blurry images against reference blurry images.

    For synthetic data (``synthesize_blurhand.py --format interhand``) the
    reference is the generator's own blur of the same 33 rendered
    sub-frames, at the same relative path under
    ``reference_root/blur_images/{split}/``.

    Args:
        out_dir (str): Converted BlurHand root.
        reference_root (str): Reference BlurHand root.
        split (str): Split.

    Returns:
        dict: ``num_images``; ``psnr`` (whole image) and ``psnr_hand``
        (inside the union of the window's annotated hand boxes, where the
        motion is), each with ``mean``, ``median``, ``p5`` (5th
        percentile) and ``min`` in dB; ``psnr_hand_by_blur_rate`` (mean
        per :data:`BLUR_RATE_BINS` bin of the reference's ``blur_rate``,
        when it has one).
    """
    import cv2
    path = osp.join(out_dir, 'annotations', split,
                    f'BlurHand_{split}_data.json')
    with open(path) as f:
        data = json.load(f)
    images = {img['id']: img for img in data['images']}
    anns = {ann['id']: ann for ann in data['annotations']}
    rates = _reference_blur_rates(reference_root, split)
    whole, hand, hand_rates = [], [], []
    for ann in data['annotations']:
        if not ann.get('is_middle'):
            continue
        name = images[ann['image_id']]['file_name']
        ref_path = osp.join(reference_root, 'blur_images', split, name)
        ours = cv2.imread(osp.join(out_dir, 'blur_images', split, name))
        ref = cv2.imread(ref_path)
        if ours is None or ref is None:
            raise FileNotFoundError(
                f'Cannot compare "{name}": missing in "{out_dir}" or in '
                f'"{ref_path}".')
        whole.append(_psnr(ours, ref))
        boxes = np.array([
            anns[a]['bbox'] for a in ann['aid_list']
            if len(anns.get(a, {}).get('bbox') or []) == 4
        ], dtype=np.float64)
        if len(boxes) and (boxes[:, 2:] > 0).any():
            x1, y1 = np.floor(boxes[:, :2].min(axis=0)).astype(int)
            x2, y2 = np.ceil((boxes[:, :2] + boxes[:, 2:]).max(
                axis=0)).astype(int)
            x1, y1 = max(x1, 0), max(y1, 0)
            if x2 > x1 and y2 > y1:
                hand.append(_psnr(ours[y1:y2, x1:x2], ref[y1:y2, x1:x2]))
                hand_rates.append(rates.get(name, np.nan))

    def stats(values):
        values = np.asarray(values, dtype=np.float64)
        if values.size == 0:
            return None
        return dict(
            mean=float(values.mean()),
            median=float(np.median(values)),
            p5=float(np.percentile(values, 5)),
            min=float(values.min()))

    by_rate = {}
    hand, hand_rates = np.asarray(hand), np.asarray(hand_rates)
    for lo, hi in zip(BLUR_RATE_BINS[:-1], BLUR_RATE_BINS[1:]):
        sel = (hand_rates >= lo) & (hand_rates < hi)
        if sel.any():
            by_rate[f'{lo:g}-{hi:g}'] = dict(
                num_images=int(sel.sum()), mean=float(hand[sel].mean()))
    return dict(
        num_images=len(whole),
        psnr=stats(whole),
        psnr_hand=stats(hand),
        psnr_hand_by_blur_rate=by_rate)


def _reference_blur_rates(reference_root: str, split: str) -> dict:
    """``file_name -> blur_rate`` of the reference's middle annotations
    (empty when it has no BlurHand annotations or no blur rates)."""
    path = osp.join(reference_root, 'annotations', split,
                    f'BlurHand_{split}_data.json')
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    names = {img['id']: img['file_name'] for img in data['images']}
    return {
        names[ann['image_id']]: float(ann['blur_rate'])
        for ann in data['annotations']
        if ann.get('is_middle') and ann.get('blur_rate') is not None
    }
