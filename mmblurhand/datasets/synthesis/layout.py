# Copyright (c) OpenMMLab. All rights reserved.
"""Write synthetic samples in the official BlurHand file layout.

The four annotation files use the BlurHand keys (see
``BlurHandDataset``), so the synthetic data needs no special case:

- ``BlurHand_{split}_data.json``: COCO-style ``images`` (every key frame,
  only the middle one has an image file) and ``annotations`` (one per key
  frame, with ``joint_valid`` (42), ``hand_type``, ``aid_list``,
  ``is_middle``, ``bbox`` and the extra key ``blur_rate``);
- ``BlurHand_{split}_camera.json``: ``campos`` (mm), ``camrot``, ``focal``,
  ``princpt`` per capture and camera;
- ``BlurHand_{split}_joint_3d.json``: ``world_coord`` (42 x 3, mm, InterHand
  order, right hand first) per capture and frame;
- ``BlurHand_{split}_MANO_NeuralAnnot.json``: ``pose`` (48), ``shape`` (10),
  ``trans`` (3, metres) per capture, frame and hand (``null`` if absent).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Sequence


def sample_names(index: int, hand_type: str, num_keyframes: int,
                 samples_per_capture: int) -> Dict[str, object]:
    """Capture, camera, sequence, frame ids and file names of a sample.

    Every sample gets its own camera and frames inside its capture, so
    joints and MANO fits (stored per capture and frame) never collide.

    Args:
        index (int): Sample index within its split.
        hand_type (str): ``'right'``, ``'left'`` or ``'interacting'``.
        num_keyframes (int): Key frames per sample.
        samples_per_capture (int): Samples grouped into one capture.

    Returns:
        dict: ``capture`` (str), ``camera`` (str), ``seq_name`` (str),
        ``frame_idx`` (list[int]), ``file_names`` (list[str]),
        ``ids`` (list[int]: image and annotation ids).
    """
    capture = str(index // samples_per_capture)
    local = index % samples_per_capture
    camera = str(400000 + local)
    seq_name = f'{local:04d}_synthetic_{hand_type}'
    frames = [local * num_keyframes + k for k in range(num_keyframes)]
    return dict(
        capture=capture,
        camera=camera,
        seq_name=seq_name,
        frame_idx=frames,
        file_names=[
            f'Capture{capture}/{seq_name}/cam{camera}/image{f:05d}.png'
            for f in frames
        ],
        ids=[index * num_keyframes + k for k in range(num_keyframes)])


def build_annotations(records: Sequence[dict]) -> Dict[str, object]:
    """Assemble the four annotation objects from per-sample records.

    Args:
        records (Sequence[dict]): Records from
            :func:`~mmblurhand.datasets.synthesis.generator.synthesize_sample`,
            in index order.

    Returns:
        dict: ``data``, ``camera``, ``joint_3d``, ``MANO_NeuralAnnot``.
    """
    images: List[dict] = []
    annotations: List[dict] = []
    cameras: Dict[str, dict] = {}
    joints: Dict[str, dict] = {}
    mano: Dict[str, dict] = {}
    for rec in records:
        names = rec['names']
        capture, cam = names['capture'], names['camera']
        num_keyframes = len(names['ids'])
        middle = num_keyframes // 2
        cam_table = cameras.setdefault(
            capture, dict(campos={}, camrot={}, focal={}, princpt={}))
        for key in ('campos', 'camrot', 'focal', 'princpt'):
            cam_table[key][cam] = rec['camera'][key]
        width, height = rec['image_size']
        for k in range(num_keyframes):
            image_id = names['ids'][k]
            frame = str(names['frame_idx'][k])
            images.append(
                dict(
                    id=image_id,
                    file_name=names['file_names'][k],
                    width=width,
                    height=height,
                    capture=int(capture),
                    subject=int(capture),
                    seq_name=names['seq_name'],
                    camera=cam,
                    frame_idx=names['frame_idx'][k]))
            annotations.append(
                dict(
                    id=image_id,
                    image_id=image_id,
                    bbox=rec['bbox'][k],
                    joint_valid=rec['joint_valid'][k],
                    hand_type=rec['hand_type'],
                    hand_type_valid=1,
                    aid_list=list(names['ids']),
                    is_middle=k == middle,
                    blur_rate=rec['blur_rate']))
            joints.setdefault(capture, {})[frame] = dict(
                world_coord=rec['world_coord'][k],
                joint_valid=rec['hand_valid'][k],
                hand_type=rec['hand_type'],
                seq=names['seq_name'])
            mano.setdefault(capture, {})[frame] = rec['mano'][k]
    return dict(
        data=dict(
            info=dict(
                description='Synthetic BlurHand-format data made by '
                'mmblurhand (procedural backgrounds, rendered hands)'),
            images=images,
            annotations=annotations),
        camera=cameras,
        joint_3d=joints,
        MANO_NeuralAnnot=mano)


def write_annotations(out_dir: str, split: str,
                      annotations: Dict[str, object]) -> List[str]:
    """Write the four JSON files of a split (atomically, one by one).

    Args:
        out_dir (str): Dataset root.
        split (str): ``'train'`` or ``'test'``.
        annotations (dict): Output of :func:`build_annotations`.

    Returns:
        list[str]: Paths written.
    """
    ann_dir = osp.join(out_dir, 'annotations', split)
    os.makedirs(ann_dir, exist_ok=True)
    paths = []
    for kind, content in annotations.items():
        path = osp.join(ann_dir, f'BlurHand_{split}_{kind}.json')
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(content, f, separators=(',', ':'))
        os.replace(tmp, path)
        paths.append(path)
    return paths
