# Copyright (c) OpenMMLab. All rights reserved.
"""Fake, contract-conformant batches for unit tests (no data files needed)."""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import InstanceData


def get_packed_inputs(batch_size: int = 2,
                      num_steps: int = 3,
                      num_joints: int = 21,
                      num_vertices: int = 778,
                      input_size: Tuple[int, int] = (64, 64),
                      img_shape: Tuple[int, int] = (120, 160),
                      left_hands: Optional[Sequence[bool]] = None,
                      with_mesh: bool = True,
                      with_blur_rate: bool = True,
                      invalid_ratio: float = 0.1,
                      seed: int = 0) -> Dict[str, list]:
    """A batch as ``PackBlurHandInputs`` produces it, with random content.

    Every field of ``docs/data_contract.md`` is present with its shape,
    dtype and unit range: ``gt_instance_labels`` (torch, training targets),
    ``gt_instances`` (numpy, evaluation ground truth) and the metainfo.
    Values are random but plausible (normalised 2D joints in [0.1, 0.9],
    root-relative joints within +-0.1 m with the wrist at the origin,
    small MANO parameters); about ``invalid_ratio`` of the joints are
    marked invalid (never the wrist).

    Args:
        batch_size (int): Number of samples ``B``. Defaults to 2.
        num_steps (int): Time steps ``T``. Defaults to 3.
        num_joints (int): Joints ``J``. Defaults to 21.
        num_vertices (int): Mesh vertices ``V``. Defaults to 778.
        input_size (tuple[int, int]): Crop ``(w, h)``. Defaults to
            ``(64, 64)``.
        img_shape (tuple[int, int]): Original image ``(h, w)``. Defaults to
            ``(120, 160)``.
        left_hands (Sequence[bool], optional): Per-sample handedness.
            Defaults to every second sample being a left hand.
        with_mesh (bool): Add ``mesh_cam`` / ``mesh_valid`` ground truth.
            Defaults to True.
        with_blur_rate (bool): Add blur rates (NaN otherwise). Defaults to
            True.
        invalid_ratio (float): Fraction of invalid joints. Defaults to 0.1.
        seed (int): Random seed. Defaults to 0.

    Returns:
        dict: ``inputs`` (list of ``(3, h, w)`` uint8 tensors, BGR) and
        ``data_samples`` (list of ``PoseDataSample``).
    """
    from mmpose.structures import PoseDataSample

    rng = np.random.default_rng(seed)
    if left_hands is None:
        left_hands = [i % 2 == 1 for i in range(batch_size)]
    if len(left_hands) != batch_size:
        raise ValueError(f'get_packed_inputs: {len(left_hands)} entries in '
                         f'`left_hands` for batch_size={batch_size}.')
    w, h = input_size
    img_h, img_w = img_shape
    steps, joints = num_steps, num_joints
    inputs, data_samples = [], []
    for index in range(batch_size):
        image = rng.integers(0, 256, size=(3, h, w), dtype=np.uint8)
        inputs.append(torch.from_numpy(image))

        def validity(*shape: int) -> np.ndarray:
            valid = (rng.random(shape) >= invalid_ratio).astype(np.float32)
            valid[..., 0] = 1.
            return valid

        joints_cam = rng.uniform(-0.1, 0.1, (1, steps, joints, 3))
        joints_cam[..., 0, :] = 0.
        joints_2d = rng.uniform(0.1, 0.9, (1, steps, joints, 3))
        labels = InstanceData(
            joints_2d=joints_2d,
            joints_2d_valid=validity(1, steps, joints),
            joints_cam=joints_cam,
            joints_cam_valid=validity(1, steps, joints),
            mano_joints_cam=joints_cam + rng.normal(
                0, 0.003, joints_cam.shape),
            mano_joints_valid=validity(1, steps, joints),
            mano_pose=rng.normal(0, 0.2, (1, steps, 48)),
            mano_shape=rng.normal(0, 0.5, (1, steps, 10)),
            mano_valid=np.ones((1, steps), dtype=np.float32))
        labels = InstanceData(
            **{k: v.astype(np.float32)
               for k, v in labels.items()}).to_tensor()

        is_left = bool(left_hands[index])
        center = np.array([img_w / 2 + rng.uniform(-10, 10), img_h / 2],
                          dtype=np.float32)
        scale = np.array([60., 60. * h / w], dtype=np.float32)
        gt_joints = joints_cam.copy()
        if is_left:
            gt_joints[..., 0] *= -1
        gt = InstanceData(
            joints_cam=gt_joints.astype(np.float32),
            joints_cam_valid=validity(1, steps, joints),
            bboxes=np.concatenate([center - scale / 2,
                                   center + scale / 2])[None],
            blur_rate=np.array(
                [rng.uniform(0, 1) if with_blur_rate else np.nan],
                dtype=np.float32),
            is_left=np.array([is_left]))
        if with_mesh:
            gt.mesh_cam = rng.uniform(-0.1, 0.1, (1, steps, num_vertices,
                                                  3)).astype(np.float32)
            gt.mesh_valid = np.ones((1, steps), dtype=np.float32)

        sample = PoseDataSample()
        sample.gt_instance_labels = labels
        sample.gt_instances = gt
        sample.set_metainfo(
            dict(
                id=index,
                img_id=index,
                img_path=f'fake/image_{index:04d}.png',
                ori_shape=(img_h, img_w),
                img_shape=(img_h, img_w),
                input_size=(w, h),
                input_center=center,
                input_scale=scale,
                flip=is_left,
                flip_indices=list(range(joints)),
                rotation=0.,
                hand_type='left' if is_left else 'right',
                blur_rate=float(gt.blur_rate[0]),
                focal=np.array([1500., 1500.], dtype=np.float32),
                princpt=np.array([img_w / 2, img_h / 2], dtype=np.float32)))
        data_samples.append(sample)
    return dict(inputs=inputs, data_samples=data_samples)
