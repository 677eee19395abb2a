# Copyright (c) OpenMMLab. All rights reserved.
"""Per-frame observations of a synthetic blurry clip: from an mmblurhand
model (with augmented-view confidence) or simulated from the ground truth
(noisy GT, for development and tests), plus the clip's ground truth at the
same times.

Arrays of one clip (``F`` frames, ``T`` steps per frame, ``J`` joints):

- ``keypoints`` ``(F, T, J, 2)`` pixels; ``joints_cam`` ``(F, T, J, 3)``
  root-relative m; ``mano_pose`` ``(F, T, 48)`` (global orient 3 + hand pose,
  camera frame); ``mano_shape`` ``(F, T, 10)``; ``alpha`` ``(F, T, J)``;
  ``box_size`` ``(F,)`` pixels; models only: ``view_keypoints``
  ``(F, T, N + 1, J, 2)`` every view's keypoints (original first), so the
  confidence can be recomputed with another ``gamma``;
- ``gt_joints_cam`` ``(F, T, J, 3)`` absolute camera-frame joints at the
  frames' steps; ``gt_key_joints`` ``(Kt, J, 3)`` at every key frame;
  ``key_times`` ``(Kt,)``, ``frame_times`` ``(F,)`` s; ``exposure`` () s;
  ``focal``, ``princpt`` ``(2,)``; ``gt_order`` ``(F,)`` bool: whether the
  predicted steps are in the true order (for reporting only; for a model,
  the order closer to the GT as in the official evaluation).
"""
from typing import Dict, Optional

import numpy as np
import torch


def step_keyframes(num_keyframes: int, num_steps: int) -> np.ndarray:
    """Key frame (within an exposure) of each of ``T`` predicted steps:
    first, ..., last evenly (BlurHand: 1st, 3rd, 5th of 5)."""
    return np.round(np.linspace(0, num_keyframes - 1, num_steps)).astype(
        np.int64)


def clip_ground_truth(clip: Dict[str, np.ndarray],
                      num_steps: int) -> Dict[str, np.ndarray]:
    """GT of a clip at every frame's ``T`` steps and at every key frame."""
    frame_keys = clip['frame_keyframes']  # (F, K)
    steps = step_keyframes(frame_keys.shape[1], num_steps)
    key_sub = clip['keyframe_subframes']
    sub = key_sub[frame_keys[:, steps]]  # (F, T)
    times = clip['subframe_times']
    exposure = float(times[key_sub[frame_keys[0, -1]]] -
                     times[key_sub[frame_keys[0, 0]]])
    return dict(
        gt_joints_cam=clip['joints_cam'][sub].astype(np.float32),
        gt_global_orient=clip['global_orient'][sub].astype(np.float32),
        gt_hand_pose=clip['hand_pose'][sub].astype(np.float32),
        gt_key_joints=clip['joints_cam'][key_sub].astype(np.float32),
        key_times=times[key_sub],
        frame_times=clip['frame_times'],
        exposure=np.array(exposure),
        focal=np.asarray(clip['focal'], dtype=np.float64),
        princpt=np.asarray(clip['princpt'], dtype=np.float64),
        box_size=np.maximum(clip['bboxes'][:, 2] - clip['bboxes'][:, 0],
                            clip['bboxes'][:, 3] - clip['bboxes'][:, 1]))


def simulate_predictions(clip: Dict[str, np.ndarray],
                         num_steps: int,
                         hand_model,
                         rng: np.random.Generator,
                         orient_noise: float = 0.1,
                         pose_noise: float = 0.15,
                         shape_noise: float = 0.5,
                         keypoint_noise: float = 0.03,
                         flip_prob: float = 0.5) -> Dict[str, np.ndarray]:
    """Noisy-GT "per-frame predictions" of a clip (development / tests).

    Every frame's ``T`` steps get independent Gaussian noise on the global
    orientation and hand pose (rad per axis-angle component) and shape; the
    steps of a frame are reversed with ``flip_prob`` (as a model that cannot
    tell the blur's direction); 2D keypoints are the noisy joints projected
    at the true root plus pixel noise (``keypoint_noise`` x box size).

    Returns:
        dict: The observation arrays of the module docstring and the GT.
    """
    out = clip_ground_truth(clip, num_steps)
    num_frames = out['gt_joints_cam'].shape[0]
    orient = out['gt_global_orient'] + rng.normal(
        0, orient_noise, out['gt_global_orient'].shape)
    pose = out['gt_hand_pose'] + rng.normal(0, pose_noise,
                                            out['gt_hand_pose'].shape)
    betas = np.asarray(clip['betas'])[None, None] + rng.normal(
        0, shape_noise, (num_frames, num_steps, len(clip['betas'])))
    with torch.no_grad():
        joints = hand_model(
            torch.as_tensor(orient, dtype=torch.float32),
            torch.as_tensor(pose, dtype=torch.float32),
            torch.as_tensor(betas, dtype=torch.float32)).joints.numpy()
    joints = joints - joints[..., :1, :]
    cam = joints + out['gt_joints_cam'][..., :1, :]
    kp = cam[..., :2] / cam[..., 2:] * out['focal'] + out['princpt']
    kp = kp + rng.normal(0, 1, kp.shape) * keypoint_noise * \
        out['box_size'][:, None, None, None]
    flip = rng.uniform(size=num_frames) < flip_prob

    def order(x):
        return np.where(flip.reshape((-1, ) + (1, ) * (x.ndim - 1)),
                        np.flip(x, 1), x)

    out.update(
        keypoints=order(kp).astype(np.float32),
        joints_cam=order(joints).astype(np.float32),
        mano_pose=order(np.concatenate([orient, pose], -1)).astype(
            np.float32),
        mano_shape=order(betas).astype(np.float32),
        alpha=np.ones(kp.shape[:-1], dtype=np.float32),
        gt_order=~flip)
    return out


def predict_clip(clip: Dict[str, np.ndarray],
                 model,
                 confidence=None,
                 rng: Optional[np.random.Generator] = None,
                 progress: bool = False) -> Dict[str, np.ndarray]:
    """mmblurhand's per-frame predictions of a clip (chosen hypothesis).

    Args:
        clip (dict): From :func:`mmblurhand.datasets.synthesis.video.
            load_video_clip`.
        model: From :func:`mmblurhand.apis.init_model`.
        confidence (AugmentedViewConfidence, optional): Gives ``alpha``;
            ``None`` = all ones and one forward pass per frame.
        rng (np.random.Generator, optional): Augmented-view draws.
        progress (bool): Progress bar over frames.

    Returns:
        dict: The observation arrays of the module docstring and the GT.
    """
    import cv2

    from mmblurhand.apis import inference_blurhand
    hand_type = 'left' if bool(clip['is_left']) else 'right'
    fields = dict(keypoints=[], joints_cam=[], mano_pose=[], mano_shape=[],
                  alpha=[], view_keypoints=[])
    frames = range(len(clip['image_paths']))
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, desc='frames', leave=False)
    for f in frames:
        image = cv2.imread(str(clip['image_paths'][f]), cv2.IMREAD_COLOR)
        if image is None:
            raise IOError(f'cannot read frame "{clip["image_paths"][f]}".')
        box = clip['bboxes'][f].astype(np.float64)
        if confidence is not None:
            res = confidence(model, image, box, hand_type, rng=rng)
            pred, alpha = res['pred'], res['alpha']
            # (N + 1, T, J, 2) -> (T, N + 1, J, 2)
            views = res['view_keypoints'].transpose(1, 0, 2, 3)
        else:
            pred = inference_blurhand(
                model, image, box, hand_types=hand_type,
                bbox_padding=1.0)[0].pred_instances
            alpha = np.ones(np.asarray(pred.keypoints).shape[1:3])
            views = np.asarray(pred.keypoints[0])[:, None]
        fields['keypoints'].append(np.asarray(pred.keypoints[0]))
        fields['joints_cam'].append(np.asarray(pred.joints_cam[0]))
        fields['mano_pose'].append(np.asarray(pred.mano_pose[0]))
        fields['mano_shape'].append(np.asarray(pred.mano_shape[0]))
        fields['alpha'].append(alpha)
        fields['view_keypoints'].append(views)
    out = {k: np.stack(v).astype(np.float32) for k, v in fields.items()}
    num_steps = out['joints_cam'].shape[1]
    out.update(clip_ground_truth(clip, num_steps))
    # whether the model's step order matches the truth (for reporting only)
    from mmblurhand.evaluation.functional import (choose_temporal_order,
                                                  root_relative)
    out['gt_order'] = choose_temporal_order(
        root_relative(out['joints_cam']), root_relative(out['gt_joints_cam']),
        np.ones(out['joints_cam'].shape[:-1]))
    return out
