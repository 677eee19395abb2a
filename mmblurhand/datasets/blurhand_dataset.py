# Copyright (c) OpenMMLab. All rights reserved.
"""BlurHand: blurry hand images with 3D joints and MANO fits at 3 times."""
import json
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from mmblurhand.registry import DATASETS
from .transforms.hand_geometry import project_points, tight_hand_bbox

#: Annotation kinds of one split, in the order they are loaded.
ANNOTATION_KINDS = ('data', 'camera', 'joint_3d', 'MANO_NeuralAnnot')
#: Hands of an annotation's ``hand_type``.
HAND_TYPE_TO_HANDS = {
    'right': ('right', ),
    'left': ('left', ),
    'interacting': ('right', 'left'),
}
#: MANO NeuralAnnot entry lengths.
MANO_PARAM_SIZES = {'pose': 48, 'shape': 10, 'trans': 3}


def _metainfo_file() -> str:
    """Path of ``configs/_base_/datasets/blurhand.py``.

    Looks next to the package (source checkout) and in the package's
    ``.mim`` folder (non-editable install).
    """
    package_dir = osp.dirname(osp.dirname(osp.abspath(__file__)))
    candidates = [
        osp.join(
            osp.dirname(package_dir), 'configs', '_base_', 'datasets',
            'blurhand.py'),
        osp.join(package_dir, '.mim', 'configs', '_base_', 'datasets',
                 'blurhand.py'),
    ]
    for candidate in candidates:
        if osp.isfile(candidate):
            return candidate
    return candidates[0]


class BlurHandAnnotationError(KeyError):
    """A BlurHand annotation file lacks a key or holds a malformed value.

    Subclasses :class:`KeyError` for ``except KeyError`` callers, but prints
    its message without ``KeyError``'s quoting.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ''


@DATASETS.register_module()
class BlurHandDataset(BaseDataset):
    """The BlurHand dataset (Oh et al., CVPR 2023) and data in its layout.

    Reads the official release layout (and the synthetic data written by
    ``tools/dataset_converters/synthesize_blurhand.py``)::

        data_root/blur_images/{split}/Capture*/<seq>/cam*/image*.png
        data_root/annotations/{split}/BlurHand_{split}_data.json
                                      BlurHand_{split}_camera.json
                                      BlurHand_{split}_joint_3d.json
                                      BlurHand_{split}_MANO_NeuralAnnot.json

    One sample per hand of every ``is_middle`` annotation (``interacting``
    images give a right and a left sample). Its time steps are the sharp
    frames ``aid_list[p]`` for ``p`` in ``frame_positions`` (default: the
    1st, 3rd and 5th of 5, i.e. past, middle, future), all projected with the
    middle frame's camera. Joint validity is the annotation's
    ``joint_valid`` times that hand's wrist validity, per frame. The crop box
    comes from the middle frame's valid 2D joints (x1.2, clipped, made
    square, x1.25).

    Each data info (before the pipeline) holds, with ``T`` time steps and
    ``J`` joints in **MANO-21 order**:

    - ``id`` (int): unique sample id ``2 * ann_id + (hand == 'left')``;
      ``img_id``, ``ann_id`` (middle annotation), ``frame_ann_ids`` (T,)
    - ``img_path`` (str), ``hand_type`` (``'right'``/``'left'``),
      ``orig_hand_type`` (adds ``'interacting'``), ``blur_rate`` (float, NaN
      when the annotation has none)
    - ``bbox`` (1, 4) x1, y1, x2, y2 pixels; ``bbox_center`` (1, 2);
      ``bbox_scale`` (1, 2); ``bbox_score`` (1,)
    - ``focal`` (2,), ``princpt`` (2,) pixels; ``cam_rot`` (3, 3) and
      ``cam_trans`` (3,) metres: world-to-camera ``X_c = R X_w + t``
    - ``ann_joints_cam`` (T, J, 3): annotated joints, camera frame, metres,
      absolute; ``ann_joints_img`` (T, J, 2): their projection, pixels;
      ``ann_joints_valid`` (T, J)
    - ``ann_mano_pose`` (T, 48) axis-angle, world frame, relative to the MANO
      mean pose; ``ann_mano_shape`` (T, 10); ``ann_mano_trans`` (T, 3)
      metres, world frame; ``ann_mano_valid`` (T,): 0 where no fit exists
      (parameters then zero)

    Args:
        data_root (str): Dataset root holding ``blur_images/`` and
            ``annotations/``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        pipeline (Sequence[dict | Callable]): Transforms. Defaults to ``()``.
        skip_missing (bool): Skip samples whose image file is missing (the
            official release had missing files) and report how many at
            start-up, instead of raising. Defaults to ``False``.
        frame_positions (Sequence[int]): Positions in ``aid_list`` of the
            time steps. Defaults to ``(0, 2, 4)``.
        img_dir (str): Image folder under ``data_root``. Defaults to
            ``'blur_images'``.
        ann_dir (str): Annotation folder under ``data_root``. Defaults to
            ``'annotations'``.
        bbox_expand (float): Scale of the tight joint box. Defaults to 1.2.
        bbox_padding (float): Scale of the square box. Defaults to 1.25.
        metainfo (dict, optional): Overrides the metainfo read from
            ``configs/_base_/datasets/blurhand.py``.
        test_mode (bool): Passed to :class:`BaseDataset`. Defaults to
            ``False``.
        lazy_init (bool): Defer loading annotations. Defaults to ``False``.
        serialize_data (bool): Serialise the data list. Defaults to ``True``.
        indices (int | Sequence[int], optional): Keep a subset.
        max_refetch (int): Passed to :class:`BaseDataset`.

    Raises:
        FileNotFoundError: An annotation file or (unless ``skip_missing``) an
            image is missing.
        ValueError: An annotation file is not valid JSON, or ``split`` or
            ``frame_positions`` is invalid.
        BlurHandAnnotationError: An annotation lacks a key or holds a value
            of the wrong size (message names the file and the key).
    """

    METAINFO: dict = dict(from_file=_metainfo_file())
    SPLITS = ('train', 'test')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 skip_missing: bool = False,
                 frame_positions: Sequence[int] = (0, 2, 4),
                 img_dir: str = 'blur_images',
                 ann_dir: str = 'annotations',
                 bbox_expand: float = 1.2,
                 bbox_padding: float = 1.25,
                 metainfo: Optional[dict] = None,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 serialize_data: bool = True,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 max_refetch: int = 1000):
        if split not in self.SPLITS:
            raise ValueError(f'BlurHandDataset split must be one of '
                             f'{self.SPLITS}, got {split!r}.')
        if len(frame_positions) == 0:
            raise ValueError('frame_positions must name at least one frame.')
        self.split = split
        self.skip_missing = skip_missing
        self.frame_positions = tuple(int(p) for p in frame_positions)
        self.img_dir = img_dir
        self.ann_dir = ann_dir
        self.bbox_expand = bbox_expand
        self.bbox_padding = bbox_padding
        self.load_stats: Dict[str, int] = {}
        super().__init__(
            ann_file='',
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=dict(img_path=''),
            pipeline=list(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            serialize_data=serialize_data,
            indices=indices,
            max_refetch=max_refetch)

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        """Parse MMPose-style metainfo (joint names, skeleton, colours)."""
        from mmpose.datasets.datasets.utils import parse_pose_metainfo
        if metainfo is None:
            metainfo = dict(cls.METAINFO)
        if not isinstance(metainfo, dict):
            raise TypeError(
                f'metainfo should be a dict, but got {type(metainfo)}')
        return parse_pose_metainfo(metainfo) if metainfo else metainfo

    # ------------------------------------------------------------------
    # paths and files
    # ------------------------------------------------------------------
    def annotation_path(self, kind: str) -> str:
        """Path of one annotation file of this split.

        Args:
            kind (str): One of :data:`ANNOTATION_KINDS`.

        Returns:
            str: ``data_root/ann_dir/split/BlurHand_{split}_{kind}.json``.
        """
        return osp.join(self.data_root, self.ann_dir, self.split,
                        f'BlurHand_{self.split}_{kind}.json')

    def image_path(self, file_name: str) -> str:
        """Path of an image given its ``file_name`` in ``*_data.json``."""
        return osp.join(self.data_root, self.img_dir, self.split, file_name)

    def _load_json(self, kind: str) -> Any:
        path = self.annotation_path(kind)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'BlurHand annotation file "{path}" does not exist. Download '
                'the BlurHand annotations and unpack them under '
                f'"{osp.join(self.data_root, self.ann_dir)}" (see '
                'docs/datasets.md), or generate a synthetic dataset with '
                '`python tools/dataset_converters/synthesize_blurhand.py '
                f'--out {self.data_root}`.')
        try:
            with open(path, 'r') as f:
                return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(
                f'BlurHand annotation file "{path}" is not valid JSON '
                f'({err.msg} at line {err.lineno}, column {err.colno}). The '
                'file is corrupt or truncated: download or generate it '
                'again.') from err

    @staticmethod
    def _get(mapping: Any, key: Any, path: str, where: str) -> Any:
        """``mapping[key]`` with an error that names the file and the key."""
        if isinstance(mapping, dict) and key in mapping:
            return mapping[key]
        if isinstance(mapping, dict):
            present = list(mapping)[:8]
            raise BlurHandAnnotationError(
                f'"{path}": {where} has no key {key!r} (keys there include '
                f'{present}). The file does not match the BlurHand format '
                'or belongs to another split; download or generate it '
                'again.')
        raise BlurHandAnnotationError(
            f'"{path}": {where} should be a JSON object holding {key!r}, '
            f'got {type(mapping).__name__}. The file does not match the '
            'BlurHand format; download or generate it again.')

    @staticmethod
    def _array(value: Any, shape: tuple, path: str, where: str) -> np.ndarray:
        """``value`` as a finite float64 array of ``shape`` or a clear
        error naming ``path`` and ``where`` (e.g. the annotation id)."""
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise BlurHandAnnotationError(
                f'"{path}": {where} is not numeric ({err}).') from err
        if arr.shape != shape:
            raise BlurHandAnnotationError(
                f'"{path}": {where} should have shape {shape}, got '
                f'{arr.shape}. The file does not match the BlurHand format.')
        bad = ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise BlurHandAnnotationError(
                f'"{path}": {where} holds {int(bad.sum())} non-finite '
                f'value(s) (NaN or inf, first at index {first}): the '
                'annotation data is bad. Repair or regenerate the file, or '
                'remove that annotation.')
        return arr

    # ------------------------------------------------------------------
    # loading
    # ------------------------------------------------------------------
    def load_data_list(self) -> List[dict]:
        """Build one data info per hand of every ``is_middle`` annotation.

        Returns:
            list[dict]: The data infos (see the class docstring).
        """
        data = self._load_json('data')
        cameras = self._load_json('camera')
        joints_3d = self._load_json('joint_3d')
        mano = self._load_json('MANO_NeuralAnnot')
        data_path = self.annotation_path('data')
        images = self._get(data, 'images', data_path, 'the top level')
        annotations = self._get(data, 'annotations', data_path,
                                'the top level')
        images_by_id = {
            self._get(img, 'id', data_path, 'an entry of "images"'): img
            for img in images
        }
        anns_by_id = {
            self._get(ann, 'id', data_path, 'an entry of "annotations"'): ann
            for ann in annotations
        }

        stats = dict(
            middle_annotations=0,
            missing_images=0,
            no_valid_joints=0,
            bad_bbox=0)
        image_exists: Dict[str, bool] = {}
        missing_examples: List[str] = []
        data_list = []
        for ann in annotations:
            if not ann.get('is_middle', False):
                continue
            stats['middle_annotations'] += 1
            ann_id = ann['id']
            where = f'annotation {ann_id}'
            image = self._get(images_by_id,
                              self._get(ann, 'image_id', data_path, where),
                              data_path, '"images" (by id)')
            img_path = self.image_path(
                self._get(image, 'file_name', data_path, f'image {ann_id}'))
            if img_path not in image_exists:
                image_exists[img_path] = osp.isfile(img_path)
            if not image_exists[img_path]:
                stats['missing_images'] += 1
                if len(missing_examples) < 3:
                    missing_examples.append(img_path)
                continue
            hand_type = self._get(ann, 'hand_type', data_path, where)
            if hand_type not in HAND_TYPE_TO_HANDS:
                raise BlurHandAnnotationError(
                    f'"{data_path}": {where} has hand_type {hand_type!r}; '
                    f'expected one of {sorted(HAND_TYPE_TO_HANDS)}.')
            frames = self._frame_annotations(ann, anns_by_id, images_by_id,
                                             data_path)
            camera = self._camera(image, cameras)
            for hand in HAND_TYPE_TO_HANDS[hand_type]:
                info = self._hand_sample(ann, image, img_path, hand,
                                         hand_type, frames, camera,
                                         joints_3d, mano, stats)
                if info is not None:
                    data_list.append(info)

        if stats['middle_annotations'] == 0:
            raise BlurHandAnnotationError(
                f'"{data_path}" has no annotation with "is_middle": true, '
                'so it holds no blurry sample. Is it a BlurHand '
                '*_data.json (not InterHand2.6M)?')
        if stats['missing_images'] and not self.skip_missing:
            raise FileNotFoundError(
                f'{stats["missing_images"]} of {stats["middle_annotations"]}'
                f' BlurHand {self.split} images are missing, e.g. '
                f'"{missing_examples[0]}". Download the images again (the '
                'official release had missing files) or pass '
                '`skip_missing=True` to the dataset to skip them.')
        self.load_stats = dict(stats, samples=len(data_list))
        num_left = sum(info['hand_type'] == 'left' for info in data_list)
        msg = (f'BlurHand {self.split}: {len(data_list)} samples '
               f'({len(data_list) - num_left} right, {num_left} left) from '
               f'{stats["middle_annotations"]} middle annotations in '
               f'"{self.data_root}"')
        skipped = [
            f'{stats["missing_images"]} missing images',
            f'{stats["no_valid_joints"]} hands without valid middle-frame '
            'joints', f'{stats["bad_bbox"]} degenerate boxes'
        ]
        if any(stats[k] for k in ('missing_images', 'no_valid_joints',
                                  'bad_bbox')):
            msg += '; skipped ' + ', '.join(skipped)
        print_log(msg, logger='current')
        return data_list

    def _frame_annotations(self, ann: dict, anns_by_id: dict,
                           images_by_id: dict, data_path: str) -> List[tuple]:
        """(annotation, image) of every time step of a middle annotation."""
        where = f'annotation {ann["id"]}'
        aid_list = self._get(ann, 'aid_list', data_path, where)
        if not isinstance(aid_list, list) or not aid_list:
            raise BlurHandAnnotationError(
                f'"{data_path}": {where} has an empty or non-list aid_list.')
        frames = []
        for pos in self.frame_positions:
            if not -len(aid_list) <= pos < len(aid_list):
                raise ValueError(
                    f'frame_positions {self.frame_positions} does not fit '
                    f'{where} of "{data_path}", whose aid_list has '
                    f'{len(aid_list)} entries.')
            frame_ann = self._get(anns_by_id, aid_list[pos], data_path,
                                  f'"annotations" (aid_list of {where})')
            frame_img = self._get(
                images_by_id,
                self._get(frame_ann, 'image_id', data_path,
                          f'annotation {aid_list[pos]}'), data_path,
                '"images" (by id)')
            frames.append((frame_ann, frame_img))
        return frames

    def _camera(self, image: dict, cameras: dict) -> dict:
        """Intrinsics and world-to-camera extrinsics of the middle frame."""
        path = self.annotation_path('camera')
        data_path = self.annotation_path('data')
        capture = str(
            self._get(image, 'capture', data_path, f'image {image["id"]}'))
        cam = str(self._get(image, 'camera', data_path,
                            f'image {image["id"]}'))
        capture_cams = self._get(cameras, capture, path, 'the top level')
        where = f'capture {capture}'

        def lookup(field):
            table = self._get(capture_cams, field, path, where)
            return self._get(table, cam, path, f'{where} "{field}"')

        rot = self._array(
            lookup('camrot'), (3, 3), path, f'{where} camrot {cam}')
        campos = self._array(
            lookup('campos'), (3, ), path, f'{where} campos {cam}') / 1000.0
        return dict(
            rot=rot,
            trans=-rot @ campos,
            focal=self._array(
                lookup('focal'), (2, ), path, f'{where} focal {cam}'),
            princpt=self._array(
                lookup('princpt'), (2, ), path, f'{where} princpt {cam}'))

    def _hand_sample(self, ann: dict, image: dict, img_path: str, hand: str,
                     hand_type: str, frames: List[tuple], camera: dict,
                     joints_3d: dict, mano: dict,
                     stats: dict) -> Optional[dict]:
        """Data info of one hand, or ``None`` when it must be skipped."""
        from mmblurhand.models.mano.joint_orders import (
            INTERHAND21_JOINT_NAMES, convert_joint_order)
        num_joints = len(INTERHAND21_JOINT_NAMES)
        root = INTERHAND21_JOINT_NAMES.index('Wrist')
        hand_slice = slice(0, num_joints) if hand == 'right' else slice(
            num_joints, 2 * num_joints)
        data_path = self.annotation_path('data')
        joint_path = self.annotation_path('joint_3d')
        mano_path = self.annotation_path('MANO_NeuralAnnot')

        world, valid, mano_params, mano_valid = [], [], [], []
        for frame_ann, frame_img in frames:
            capture = str(frame_img['capture'])
            frame_idx = str(
                self._get(frame_img, 'frame_idx', data_path,
                          f'image {frame_img["id"]}'))
            where = (f'annotation {frame_ann["id"]} (capture {capture} '
                     f'frame {frame_idx})')
            frame_joints = self._get(
                self._get(joints_3d, capture, joint_path, 'the top level'),
                frame_idx, joint_path, f'capture {capture}')
            coords = self._array(
                self._get(frame_joints, 'world_coord', joint_path, where),
                (2 * num_joints, 3), joint_path, f'{where} world_coord')
            joint_valid = self._get(frame_ann, 'joint_valid', data_path,
                                    f'annotation {frame_ann["id"]}')
            # InterHand-style files store it as (42,) or (42, 1).
            joint_valid = self._array(
                np.asarray(joint_valid).reshape(-1) if np.size(joint_valid)
                == 2 * num_joints else joint_valid, (2 * num_joints, ),
                data_path, f'annotation {frame_ann["id"]} joint_valid')
            hand_valid = joint_valid[hand_slice]
            hand_valid = hand_valid * hand_valid[root]
            world.append(coords[hand_slice] / 1000.0)
            valid.append(hand_valid)
            params = mano.get(capture, {}).get(frame_idx, {})
            params = params.get(hand) if isinstance(params, dict) else None
            if params is None:
                mano_params.append(np.zeros(sum(MANO_PARAM_SIZES.values())))
                mano_valid.append(0.0)
            else:
                mano_params.append(
                    np.concatenate([
                        self._array(
                            self._get(params, key, mano_path,
                                      f'{where} {hand}'), (size, ), mano_path,
                            f'{where} {hand} {key}')
                        for key, size in MANO_PARAM_SIZES.items()
                    ]))
                mano_valid.append(1.0)

        world = np.stack(world)  # (T, J, 3) m, InterHand order
        valid = np.stack(valid)
        joints_cam = world @ camera['rot'].T + camera['trans']
        joints_img = project_points(joints_cam, camera['focal'],
                                    camera['princpt'])
        joints_cam = convert_joint_order(joints_cam, 'interhand21', 'mano21')
        joints_img = convert_joint_order(joints_img, 'interhand21', 'mano21')
        valid = convert_joint_order(valid, 'interhand21', 'mano21', axis=-1)

        middle = self._middle_index(frames, ann)
        if not (valid[middle] > 0).any():
            stats['no_valid_joints'] += 1
            return None
        width = int(self._get(image, 'width', data_path, f'image {ann["id"]}'))
        height = int(
            self._get(image, 'height', data_path, f'image {ann["id"]}'))
        bbox = tight_hand_bbox(joints_img[middle], valid[middle],
                               (width, height), self.bbox_expand,
                               self.bbox_padding)
        if bbox is None:
            stats['bad_bbox'] += 1
            return None
        mano_params = np.stack(mano_params)
        sizes = np.cumsum(list(MANO_PARAM_SIZES.values()))[:-1]
        pose, shape, trans = np.split(mano_params, sizes, axis=-1)
        blur_rate = ann.get('blur_rate')
        f32 = np.float32
        return dict(
            id=int(ann['id']) * 2 + int(hand == 'left'),
            img_id=int(ann['image_id']),
            ann_id=int(ann['id']),
            frame_ann_ids=[int(frame_ann['id']) for frame_ann, _ in frames],
            img_path=img_path,
            hand_type=hand,
            orig_hand_type=hand_type,
            blur_rate=float('nan') if blur_rate is None else float(blur_rate),
            bbox=bbox[None].astype(f32),
            bbox_center=((bbox[:2] + bbox[2:]) / 2)[None].astype(f32),
            bbox_scale=(bbox[2:] - bbox[:2])[None].astype(f32),
            bbox_score=np.ones(1, dtype=f32),
            focal=camera['focal'].astype(f32),
            princpt=camera['princpt'].astype(f32),
            cam_rot=camera['rot'].astype(f32),
            cam_trans=camera['trans'].astype(f32),
            ann_joints_cam=joints_cam.astype(f32),
            ann_joints_img=joints_img.astype(f32),
            ann_joints_valid=valid.astype(f32),
            ann_mano_pose=pose.astype(f32),
            ann_mano_shape=shape.astype(f32),
            ann_mano_trans=trans.astype(f32),
            ann_mano_valid=np.asarray(mano_valid, dtype=f32))

    @staticmethod
    def _middle_index(frames: List[tuple], ann: dict) -> int:
        """Time step of the middle annotation (the centre one if absent)."""
        for t, (frame_ann, _) in enumerate(frames):
            if frame_ann['id'] == ann['id']:
                return t
        return len(frames) // 2

    def get_data_info(self, idx: int) -> dict:
        """Data info with the metainfo the pipeline needs (flip indices).

        Args:
            idx (int): Sample index.

        Returns:
            dict: The data info plus ``dataset_name``, ``flip_indices``,
            ``flip_pairs`` and ``skeleton_links``.
        """
        data_info = super().get_data_info(idx)
        for key in ('dataset_name', 'flip_indices', 'flip_pairs',
                    'skeleton_links'):
            if key in self._metainfo:
                data_info[key] = list(self._metainfo[key]) if isinstance(
                    self._metainfo[key], (list, tuple)) else \
                    self._metainfo[key]
        return data_info
