# Copyright (c) OpenMMLab. All rights reserved.
"""The generator's ``--format interhand`` output: sharp 30 fps sequences.

With ``SynthesisConfig(output_format='interhand')`` every synthetic sample
is also written as a short **sharp video in the InterHand2.6M layout**,
so that ``tools/dataset_converters/interhand_to_blurhand.py`` can be run
end to end without the real data::

    out/images/{split}/Capture*/<seq>/cam*/image*.jpg    (5 key frames)
    out/annotations/{split}/InterHand2.6M_{split}_data.json
                            InterHand2.6M_{split}_camera.json
                            InterHand2.6M_{split}_joint_3d.json
                            InterHand2.6M_{split}_MANO_NeuralAnnot.json

Each sample is one sequence (its own ``seq_name`` and camera) of the 5 key
frames (30 fps), each the rendered key sub-frame composited over the
sample's background with sensor noise, saved as JPEG (quality 95) like
InterHand2.6M. The annotations are the generator's BlurHand annotations
without the BlurHand-only keys (``aid_list``, ``is_middle``,
``blur_rate``) and with ``.jpg`` file names. The usual BlurHand output
(``blur_images/``: the generator's own blur of the same 33 sub-frames) is
written beside it as the reference the converter is compared with.
"""
import os
import os.path as osp
import shutil
from typing import Dict, Sequence

import cv2
import numpy as np

from .blur import composite_frame, quantise

#: Output formats of the generator.
OUTPUT_FORMATS = ('blurhand', 'interhand')
#: InterHand2.6M images are JPEG.
INTERHAND_EXT = '.jpg'
JPEG_QUALITY = 95
#: Written into ``images/`` so that only generator-made frames are removed
#: when a dataset is regenerated.
MARKER_FILE = '.mmblurhand_synthetic'
#: Keys that BlurHand adds to InterHand2.6M annotations.
BLURHAND_ONLY_KEYS = ('aid_list', 'is_middle', 'blur_rate')
#: Stream id of the sharp frames' noise (independent of the blur's).
_NOISE_STREAM = 0x1A7E


def interhand_file_name(file_name: str) -> str:
    """InterHand2.6M (``.jpg``) name of a BlurHand image file name."""
    return osp.splitext(file_name)[0] + INTERHAND_EXT


def write_interhand_frames(out_dir: str, split: str, seed: int,
                           split_index: int, index: int, names: dict,
                           premultiplied: np.ndarray, alpha: np.ndarray,
                           background: np.ndarray, noise_std: float,
                           keyframe_index: Sequence[int]) -> None:
    """Write a sample's sharp key frames as InterHand2.6M images.

    Args:
        out_dir (str): Dataset root.
        split (str): ``'train'`` or ``'test'``.
        seed (int): Dataset seed.
        split_index (int): Index of ``split`` (seeds the noise).
        index (int): Sample index in the split.
        names (dict): :func:`~.layout.sample_names` of the sample.
        premultiplied (np.ndarray): (S, H, W, 3) sub-frame renders
            (colour x coverage, [0, 1]).
        alpha (np.ndarray): (S, H, W) coverage.
        background (np.ndarray): (H, W, 3) background, [0, 1].
        noise_std (float): Sensor noise, [0, 1] units (the blur's).
        keyframe_index (Sequence[int]): Sub-frame of each key frame.
    """
    # Own stream, so the blurry image and the rest of the sample do not
    # change with the format.
    rng = np.random.default_rng(
        np.random.SeedSequence(
            [int(seed), int(split_index),
             int(index), _NOISE_STREAM]))
    image_dir = osp.join(out_dir, 'images', split)
    os.makedirs(image_dir, exist_ok=True)
    marker = osp.join(out_dir, 'images', MARKER_FILE)
    if not osp.isfile(marker):
        with open(marker, 'w') as f:
            f.write('sharp frames written by the mmblurhand synthetic '
                    'generator (--format interhand)\n')
    for file_name, sub in zip(names['file_names'], keyframe_index):
        frame = quantise(
            composite_frame(premultiplied[sub], alpha[sub], background), rng,
            noise_std)
        path = osp.join(image_dir, interhand_file_name(file_name))
        os.makedirs(osp.dirname(path), exist_ok=True)
        if not cv2.imwrite(path, frame[..., ::-1],
                           [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise IOError(f'Could not write image "{path}"; check that the '
                          'output folder is writable and the disk not full.')


def interhand_annotations(blurhand: Dict[str, object]) -> Dict[str, object]:
    """InterHand2.6M annotation objects from the generator's BlurHand ones.

    Args:
        blurhand (dict): Output of
            :func:`~mmblurhand.datasets.synthesis.layout.build_annotations`.

    Returns:
        dict: ``data``, ``camera``, ``joint_3d``, ``MANO_NeuralAnnot``.
    """
    data = blurhand['data']
    images = [
        dict(img, file_name=interhand_file_name(img['file_name']))
        for img in data['images']
    ]
    anns = [{k: v
             for k, v in ann.items() if k not in BLURHAND_ONLY_KEYS}
            for ann in data['annotations']]
    info = dict(
        description='Synthetic InterHand2.6M-format sharp 30 fps sequences '
        'made by mmblurhand (procedural backgrounds, rendered hands)')
    return dict(
        data=dict(info=info, images=images, annotations=anns),
        camera=blurhand['camera'],
        joint_3d=blurhand['joint_3d'],
        MANO_NeuralAnnot=blurhand['MANO_NeuralAnnot'])


def write_interhand_annotations(out_dir: str, split: str,
                                blurhand: Dict[str, object]) -> list:
    """Write ``annotations/{split}/InterHand2.6M_{split}_*.json``.

    Args:
        out_dir (str): Dataset root.
        split (str): Split.
        blurhand (dict): The split's BlurHand annotation objects.

    Returns:
        list[str]: Paths written.
    """
    import json
    ann_dir = osp.join(out_dir, 'annotations', split)
    os.makedirs(ann_dir, exist_ok=True)
    paths = []
    for kind, content in interhand_annotations(blurhand).items():
        path = osp.join(ann_dir, f'InterHand2.6M_{split}_{kind}.json')
        with open(path + '.tmp', 'w') as f:
            json.dump(content, f, separators=(',', ':'))
        os.replace(path + '.tmp', path)
        paths.append(path)
    return paths


def remove_interhand_frames(out_dir: str) -> None:
    """Remove ``images/`` if (and only if) the generator made it."""
    image_dir = osp.join(out_dir, 'images')
    if osp.isfile(osp.join(image_dir, MARKER_FILE)):
        shutil.rmtree(image_dir)
