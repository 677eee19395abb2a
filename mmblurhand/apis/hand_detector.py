# Copyright (c) OpenMMLab. All rights reserved.
"""An optional hand detector: MediaPipe's hand landmarker, run offline.

mmblurhand never needs it (without boxes the whole image is the hand crop),
and ships neither MediaPipe nor its model. To use it::

    pip install mediapipe
    # get hand_landmarker.task (MediaPipe's hand landmarker model file)
    python demo/image_demo.py CONFIG CKPT IMAGE \
        --det-model hand_landmarker.task

Notes:
    MediaPipe labels handedness as if the image were mirrored (a selfie
    camera); for ordinary images the labels are swapped here
    (``mirrored_input=False``). On strongly blurred hands the label is
    unreliable, so pass ``--hand-type`` when you know it.
"""
import os.path as osp
from typing import List, Tuple

import cv2
import numpy as np


def landmarks_to_bboxes(landmarks: np.ndarray) -> np.ndarray:
    """Tight boxes around 2D hand landmarks.

    Args:
        landmarks (np.ndarray): ``(N, J, 2)`` pixels.

    Returns:
        np.ndarray: ``(N, 4)`` ``x1, y1, x2, y2`` pixels (float32).
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 3 or landmarks.shape[-1] != 2:
        raise ValueError('landmarks must be (N, J, 2), got shape '
                         f'{landmarks.shape}.')
    return np.concatenate([landmarks.min(1), landmarks.max(1)],
                          axis=1).astype(np.float32)


def swap_handedness(labels: List[str]) -> List[str]:
    """Swap ``'left'`` and ``'right'``.

    Args:
        labels (list[str]): ``'left'`` / ``'right'``.

    Returns:
        list[str]: The other hand for each label.
    """
    other = {'left': 'right', 'right': 'left'}
    return [other[label] for label in labels]


class MediaPipeHandDetector:
    """Hand boxes and handedness from MediaPipe's hand landmarker.

    Args:
        model_path (str): ``hand_landmarker.task`` file.
        max_hands (int): Most hands per image. Defaults to 4.
        min_confidence (float): Detection and presence threshold. Defaults
            to 0.3 (blurry hands score low).
        mirrored_input (bool): Whether images come mirrored from a selfie
            camera (MediaPipe's assumption). Defaults to False: labels are
            swapped to describe the hands as they appear.

    Raises:
        FileNotFoundError: ``model_path`` does not exist.
        ImportError: mediapipe is not installed, saying how to install it.
    """

    def __init__(self,
                 model_path: str,
                 max_hands: int = 4,
                 min_confidence: float = 0.3,
                 mirrored_input: bool = False) -> None:
        if not osp.isfile(model_path):
            raise FileNotFoundError(
                f'hand detector model "{model_path}" does not exist; pass '
                'the path of MediaPipe\'s hand_landmarker.task, or give '
                'hand boxes instead (--bbox).')
        try:
            import mediapipe as mp
            from mediapipe.tasks import python as mp_tasks
            from mediapipe.tasks.python import vision
        except ImportError as err:
            raise ImportError(
                'the hand detector needs MediaPipe: `pip install mediapipe` '
                '(optional; without a detector pass --bbox or use the whole '
                'image).') from err
        self._mp = mp
        options = vision.HandLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=model_path),
            num_hands=int(max_hands),
            min_hand_detection_confidence=float(min_confidence),
            min_hand_presence_confidence=float(min_confidence),
            running_mode=vision.RunningMode.IMAGE)
        self._landmarker = vision.HandLandmarker.create_from_options(options)
        self.mirrored_input = mirrored_input

    def __call__(self, image: np.ndarray
                 ) -> Tuple[np.ndarray, List[str], np.ndarray]:
        """Detect hands.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 BGR.

        Returns:
            tuple: ``bboxes`` ``(N, 4)`` tight boxes around the 21 landmarks
            (pixels), ``hand_types`` (``'left'`` / ``'right'`` per hand) and
            ``scores`` ``(N,)`` handedness confidence.
        """
        height, width = image.shape[:2]
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        result = self._landmarker.detect(
            self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb))
        if not result.hand_landmarks:
            return np.zeros((0, 4), np.float32), [], np.zeros(0, np.float32)
        landmarks = np.array([[(p.x * width, p.y * height) for p in hand]
                              for hand in result.hand_landmarks])
        labels = [h[0].category_name.lower() for h in result.handedness]
        scores = np.array([h[0].score for h in result.handedness],
                          dtype=np.float32)
        if not self.mirrored_input:
            labels = swap_handedness(labels)
        return landmarks_to_bboxes(landmarks), labels, scores

    def close(self) -> None:
        """Release MediaPipe's resources."""
        if getattr(self, '_landmarker', None) is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> 'MediaPipeHandDetector':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
