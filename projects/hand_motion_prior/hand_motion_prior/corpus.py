# Copyright (c) OpenMMLab. All rights reserved.
"""A dataset of hand-pose windows for training :class:`HandMotionVAE`."""
import os.path as osp

import numpy as np
import torch
from torch.utils.data import Dataset

from mmblurhand.registry import DATASETS


@DATASETS.register_module()
class HandMotionCorpus(Dataset):
    """Windows of MANO hand poses from a motion corpus ``.npz``.

    The file (written by ``projects/hand_motion_prior/tools/make_corpus.py``)
    holds ``hand_pose`` ``(N, Lc, 3P)`` sequences at ``fps`` key frames per
    second. Item ``i`` is a window of ``window`` key frames of sequence
    ``i``: at a random start in training (``random_crop``), else at the
    start.

    A real prior would read hand mocap instead (MANO hand poses of GRAB,
    TCDHands or SAMP from AMASS, resampled to ``fps``) in the same layout.

    Args:
        ann_file (str): The corpus ``.npz``.
        window (int): Key frames per item ``L``.
        random_crop (bool): Random window start. Defaults to ``True``.
        fps (float, optional): Expected key-frame rate; checked against the
            file's ``fps`` when given.

    Returns (per item):
        dict: ``inputs`` ``(L, 3P)`` float32 tensor.
    """

    def __init__(self, ann_file: str, window: int, random_crop: bool = True,
                 fps: float = None):
        if not osp.isfile(ann_file):
            raise FileNotFoundError(
                f'motion corpus "{ann_file}" does not exist; make it with '
                '`python projects/hand_motion_prior/tools/make_corpus.py '
                f'--out {ann_file}`.')
        with np.load(ann_file) as data:
            if 'hand_pose' not in data.files:
                raise KeyError(f'"{ann_file}" has no `hand_pose` array '
                               '(N, L, 3P); it is not a motion corpus.')
            self.hand_pose = data['hand_pose'].astype(np.float32)
            self.file_fps = float(data['fps']) if 'fps' in data.files \
                else None
        if self.hand_pose.ndim != 3:
            raise ValueError(f'"{ann_file}": hand_pose must be (N, L, 3P), '
                             f'got {self.hand_pose.shape}.')
        if self.hand_pose.shape[1] < window:
            raise ValueError(
                f'"{ann_file}": sequences of {self.hand_pose.shape[1]} key '
                f'frames are shorter than the window {window}; make a corpus'
                ' with --length >= window.')
        if fps is not None and self.file_fps is not None and \
                abs(fps - self.file_fps) > 1e-6:
            raise ValueError(f'"{ann_file}" is at {self.file_fps} fps, the '
                             f'config expects {fps}.')
        self.window = int(window)
        self.random_crop = random_crop
        # MMEngine's runner reads this
        self.metainfo = dict(dataset_name='hand_motion_corpus')

    def __len__(self) -> int:
        return len(self.hand_pose)

    def __getitem__(self, idx: int) -> dict:
        seq = self.hand_pose[idx]
        start = 0
        if self.random_crop:
            start = np.random.randint(0, len(seq) - self.window + 1)
        return dict(
            inputs=torch.from_numpy(seq[start:start + self.window].copy()))
