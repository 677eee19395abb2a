# Copyright (c) OpenMMLab. All rights reserved.
"""Draw predicted (and ground-truth) hand-mesh sequences over images.

Cameras: every panel is rendered with a camera fitted to the sample's own
2D joints. Per time step ``t`` a weak-perspective camera
``u = s_t * X + c_t`` is fitted by least squares between the root-relative
3D joints ``X`` (m) and their image positions ``u`` (pixels), and rendered
as a pinhole camera with focal ``s_t * depth`` and principal point ``c_t``
looking at the mesh from ``depth`` metres. This needs only fields of the
data contract (``joints_cam`` with ``keypoints`` for predictions, the
ground-truth ``joints_2d`` crop coordinates for the ground truth), works the
same for left (mirrored back) and right hands, and matches the network's
near-orthographic virtual camera (5000 px focal on a 256 px crop) to well
under a pixel.
"""
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmengine.structures import InstanceData
from mmengine.visualization import Visualizer

from mmblurhand.registry import MODELS, VISUALIZERS

ArrayLike = Union[np.ndarray, Sequence[float]]
Color = Tuple[float, float, float]

#: RGB albedo in [0, 1] of the first, middle and last time step of a
#: predicted sequence (blue past, gold middle, red future); other steps are
#: interpolated.
PAST_COLOR = (0.30, 0.55, 0.95)
MIDDLE_COLOR = (0.95, 0.80, 0.35)
FUTURE_COLOR = (0.95, 0.40, 0.30)
#: RGB albedo of ground-truth meshes.
GT_COLOR = (0.45, 0.85, 0.45)


def time_step_names(num_steps: int) -> List[str]:
    """Human-readable names of the ``T`` time steps of a sequence.

    Args:
        num_steps (int): ``T``.

    Returns:
        list[str]: ``['past', 'middle', 'future']`` for ``T == 3``, else
        ``'t-k'`` / ``'middle'`` / ``'t+k'`` around the middle index
        ``T // 2``.
    """
    if num_steps == 3:
        return ['past', 'middle', 'future']
    middle = num_steps // 2
    return [
        'middle' if t == middle else f't{t - middle:+d}'
        for t in range(num_steps)
    ]


def time_step_colors(num_steps: int,
                     colors: Sequence[Color] = (PAST_COLOR, MIDDLE_COLOR,
                                                FUTURE_COLOR)) -> np.ndarray:
    """Per-step mesh colours, piecewise-linear through ``colors``.

    Args:
        num_steps (int): ``T``.
        colors (Sequence[Color]): Key colours (RGB in [0, 1]) spread evenly
            from step 0 to step ``T - 1``. Defaults to past, middle and
            future colours.

    Returns:
        np.ndarray: ``(T, 3)`` RGB in [0, 1].
    """
    keys = np.asarray(colors, dtype=np.float64).reshape(-1, 3)
    if num_steps == 1:
        return keys[len(keys) // 2][None]
    where = np.linspace(0.0, len(keys) - 1.0, num_steps)
    return np.stack([
        np.interp(where, np.arange(len(keys)), keys[:, c]) for c in range(3)
    ], axis=-1)


def fit_weak_perspective(points_3d: np.ndarray,
                         points_2d: np.ndarray,
                         valid: Optional[np.ndarray] = None,
                         min_spread: float = 1e-4
                         ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares ``u = s * X[..., :2] + c`` per leading index.

    Args:
        points_3d (np.ndarray): ``(..., J, 3)`` root-relative joints, metres.
        points_2d (np.ndarray): ``(..., J, 2)`` their image positions,
            pixels.
        valid (np.ndarray, optional): ``(..., J)`` weights (0 drops a joint).
            Defaults to all ones.
        min_spread (float): Smallest mean squared joint spread (m^2) for a
            usable fit. Defaults to 1e-4 (1 cm RMS).

    Returns:
        tuple: ``scale`` ``(...)`` pixels per metre, ``center`` ``(..., 2)``
        pixels (the image position of the 3D origin), and ``ok`` ``(...)``
        bool, False where the fit is degenerate (fewer than 2 valid
        joints, joints without spread, a non-positive scale or non-finite
        input).
    """
    xy = np.asarray(points_3d, dtype=np.float64)[..., :2]
    uv = np.asarray(points_2d, dtype=np.float64)
    if valid is None:
        weight = np.ones(xy.shape[:-1])
    else:
        weight = np.asarray(valid, dtype=np.float64)
    finite = np.isfinite(xy).all(-1) & np.isfinite(uv).all(-1)
    weight = np.where(finite, weight, 0.0)
    xy = np.where(finite[..., None], xy, 0.0)
    uv = np.where(finite[..., None], uv, 0.0)
    total = weight.sum(-1)
    safe_total = np.maximum(total, 1e-12)[..., None]
    mean_xy = (weight[..., None] * xy).sum(-2) / safe_total
    mean_uv = (weight[..., None] * uv).sum(-2) / safe_total
    dxy = xy - mean_xy[..., None, :]
    duv = uv - mean_uv[..., None, :]
    spread = (weight * (dxy**2).sum(-1)).sum(-1)
    cross = (weight * (dxy * duv).sum(-1)).sum(-1)
    scale = cross / np.maximum(spread, 1e-12)
    center = mean_uv - scale[..., None] * mean_xy
    ok = (total >= 2) & (spread / np.maximum(total, 1e-12) > min_spread) & (
        scale > 0) & np.isfinite(scale)
    return scale, center, ok


def box_camera(vertices: np.ndarray, box: ArrayLike,
               fill: float = 0.8) -> Tuple[np.ndarray, np.ndarray]:
    """Weak-perspective cameras that fit meshes into a box.

    Used when no 2D joints give a camera (e.g. an untrained model whose
    joints collapse to a point).

    Args:
        vertices (np.ndarray): ``(..., V, 3)`` root-relative vertices, m.
        box (ArrayLike): ``(4,)`` ``x1, y1, x2, y2`` pixels.
        fill (float): Fraction of the box the mesh spans. Defaults to 0.8.

    Returns:
        tuple: ``scale`` ``(...)`` pixels per metre and ``center``
        ``(..., 2)`` pixels.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    box = np.asarray(box, dtype=np.float64).reshape(4)
    lo = vertices[..., :2].min(-2)
    hi = vertices[..., :2].max(-2)
    extent = np.maximum((hi - lo).max(-1), 1e-3)
    scale = fill * min(box[2] - box[0], box[3] - box[1]) / extent
    box_center = (box[:2] + box[2:]) / 2
    center = box_center - scale[..., None] * (lo + hi) / 2
    return scale, center


def _square_region(box: ArrayLike, padding: float = 1.0) -> np.ndarray:
    """The square ``x1, y1, x2, y2`` around a box, scaled by padding."""
    box = np.asarray(box, dtype=np.float64).reshape(4)
    center = (box[:2] + box[2:]) / 2
    half = max(box[2] - box[0], box[3] - box[1], 1.0) * padding / 2
    return np.concatenate([center - half, center + half])


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def find_mesh_faces(model) -> Optional[np.ndarray]:
    """The triangle list of the first hand model inside ``model``.

    Args:
        model (torch.nn.Module): e.g. a ``BlurHandNet`` whose head holds a
            ``ManoLayer``.

    Returns:
        np.ndarray | None: ``(F, 3)`` int64 faces, or ``None`` when no
        sub-module has a ``faces`` array.
    """
    model = getattr(model, 'module', model)  # unwrap DDP
    for module in model.modules():
        faces = getattr(module, 'faces', None)
        if isinstance(faces, np.ndarray) and faces.ndim == 2 \
                and faces.shape[1] == 3:
            return faces.astype(np.int64)
    return None


@VISUALIZERS.register_module()
class MeshVisualizer(Visualizer):
    """Visualise hand-mesh sequences, hypotheses and ground truth.

    :meth:`add_datasample` composes, for one ``PoseDataSample`` (one hand,
    see ``docs/data_contract.md``), a picture with

    - a row of the predicted sequence: the image crop around the hand with
      the mesh of each time step (past / middle / future) rendered over it,
      and a side view of the middle mesh;
    - the same row for the ground truth (``gt_instances.mesh_cam``) when
      ``draw_gt`` is set and a mesh exists;
    - for multi-hypothesis models, a gallery of the top-n hypotheses
      (``topn_indices`` order), one row each, labelled with the selector
      score.

    Meshes are rendered with :func:`~.renderers.render_mesh_sequence`:
    OpenGL through EGL (set up inside the renderer, no display needed), or,
    when no GL context can be created, an OpenCV painter's algorithm after
    one warning. Images are RGB, as in every MMEngine visualiser.

    Args:
        name (str): Instance name. Defaults to ``'visualizer'``.
        image (np.ndarray, optional): Initial RGB image.
        vis_backends (list[dict], optional): MMEngine visualisation backends.
        save_dir (str, optional): Where the backends save.
        faces (np.ndarray, optional): ``(F, 3)`` mesh triangles. When
            ``None`` they are taken from ``hand_model`` the first time a
            mesh is drawn, unless :meth:`set_faces` was called (the hook and
            :func:`mmblurhand.apis.init_model` pass the model's own).
        hand_model (dict): Config of the hand model whose ``faces`` are used
            when none were given. Defaults to the procedural ``ManoLayer``.
        render_backend (str): ``'auto'`` (GL, else OpenCV with a warning),
            ``'pyrender'``, ``'moderngl'`` or ``'opencv'``. Defaults to
            ``'auto'``.
        panel_size (int): Side of each square panel, pixels. Defaults to 256.
        region_padding (float): Size of the panel's image region relative to
            the network's input crop (or the hand box). Defaults to 1.1.
        mesh_alpha (float): Opacity of meshes over the image, so the blur
            stays visible. Defaults to 0.85.
        side_view_angle (float): Rotation (degrees) of the side view about
            the image's vertical axis. Defaults to 90.
        pred_colors (Sequence[Color]): Key RGB colours in [0, 1] of a
            predicted sequence, spread from the first to the last step.
            Defaults to (:data:`PAST_COLOR`, :data:`MIDDLE_COLOR`,
            :data:`FUTURE_COLOR`).
        gt_color (Color): RGB in [0, 1] of ground-truth meshes. Defaults to
            :data:`GT_COLOR`.
        top_n (int): Hypotheses shown in the gallery (at most the model's
            ``topn_indices``, else the best-scored). Defaults to 3.
        camera_depth (float): Distance (m) of the rendering camera; the
            fitted weak-perspective scale sets its focal length. Defaults to
            10.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[dict]] = None,
                 save_dir: Optional[str] = None,
                 faces: Optional[np.ndarray] = None,
                 hand_model: dict = dict(type='ManoLayer', model_path=None),
                 render_backend: str = 'auto',
                 panel_size: int = 256,
                 region_padding: float = 1.1,
                 mesh_alpha: float = 0.85,
                 side_view_angle: float = 90.0,
                 pred_colors: Sequence[Color] = (PAST_COLOR, MIDDLE_COLOR,
                                                 FUTURE_COLOR),
                 gt_color: Color = GT_COLOR,
                 top_n: int = 3,
                 camera_depth: float = 10.0) -> None:
        super().__init__(
            name=name,
            image=image,
            vis_backends=vis_backends,
            save_dir=save_dir)
        from .renderers import BACKENDS
        if render_backend not in BACKENDS:
            raise ValueError(f'render_backend must be one of {BACKENDS}, '
                             f'got {render_backend!r}.')
        if panel_size < 32:
            raise ValueError(f'panel_size must be >= 32, got {panel_size}.')
        if not 0.0 < mesh_alpha <= 1.0:
            raise ValueError(f'mesh_alpha must be in (0, 1], got '
                             f'{mesh_alpha}.')
        self._faces = None
        if faces is not None:
            self.set_faces(faces)
        self.hand_model = hand_model
        self.render_backend = render_backend
        self.panel_size = int(panel_size)
        self.region_padding = float(region_padding)
        self.mesh_alpha = float(mesh_alpha)
        self.side_view_angle = float(side_view_angle)
        self.pred_colors = tuple(tuple(c) for c in pred_colors)
        self.gt_color = tuple(gt_color)
        self.top_n = int(top_n)
        self.camera_depth = float(camera_depth)

    # ------------------------------------------------------------ faces --
    def set_faces(self, faces: np.ndarray) -> None:
        """Set the mesh triangles.

        Args:
            faces (np.ndarray): ``(F, 3)`` vertex indices.
        """
        faces = _to_numpy(faces).astype(np.int64)
        if faces.ndim != 2 or faces.shape[1] != 3:
            raise ValueError(f'faces must have shape (F, 3), got '
                             f'{faces.shape}.')
        self._faces = faces

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) int64: the mesh triangles (built from ``hand_model`` on
        first use when none were set)."""
        if self._faces is None:
            hand = MODELS.build(self.hand_model)
            self.set_faces(hand.faces)
        return self._faces

    # -------------------------------------------------------- rendering --
    def _render(self, vertices: np.ndarray, scale: np.ndarray,
                center: np.ndarray, colors: np.ndarray,
                size: Tuple[int, int]
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Render N meshes, each with its own camera and colour, in one
        renderer call.

        The renderer takes one camera for all N poses, so each pose is moved
        into a shared camera exactly: with the per-pose camera
        ``u = f_i x / (z + D) + c_i`` and the shared ``(F, C)``, the vertex
        ``x' = (f_i x + (c_i - C)(z + D)) / F`` projects to the same pixel.
        Meshes are rendered white and tinted per pose (exact for the
        ambient and Lambert terms).

        Args:
            vertices (np.ndarray): ``(N, V, 3)`` root-relative vertices, m.
            scale (np.ndarray): ``(N,)`` pixels per metre.
            center (np.ndarray): ``(N, 2)`` pixel of the 3D origin.
            colors (np.ndarray): ``(N, 3)`` RGB in [0, 1].
            size (tuple[int, int]): Output ``(w, h)``.

        Returns:
            tuple: ``rgb`` ``(N, H, W, 3)`` float32 in [0, 1], ``alpha``
            ``(N, H, W)`` and ``depth`` ``(N, H, W)`` (0 where empty).
        """
        from .renderers import render_mesh_sequence
        faces = self.faces
        if vertices.shape[-2] <= faces.max():
            raise ValueError(
                f'The mesh has {vertices.shape[-2]} vertices but the faces '
                f'index up to {faces.max()}; give the visualiser the faces '
                'of the hand model that made the prediction (set_faces).')
        depth = self.camera_depth
        vertices = np.asarray(vertices, dtype=np.float64)
        focal = np.asarray(scale, dtype=np.float64) * depth  # (N,)
        shared_focal = float(np.median(focal))
        shared_center = np.asarray(size, dtype=np.float64) / 2
        z = vertices[..., 2:3] + depth  # (N, V, 1)
        xy = (focal[:, None, None] * vertices[..., :2] +
              (np.asarray(center)[:, None, :] - shared_center) * z) / \
            shared_focal
        cam_vertices = np.concatenate([xy, z], axis=-1)
        rgb, alpha, zbuf = render_mesh_sequence(
            cam_vertices,
            faces,
            focal=(shared_focal, shared_focal),
            princpt=shared_center,
            image_size=size,
            color=(1.0, 1.0, 1.0),
            backend=self.render_backend)
        rgb = rgb * np.asarray(colors, np.float32)[:, None, None, :]
        return rgb, alpha, zbuf

    def _render_over(self, backgrounds: np.ndarray, vertices: np.ndarray,
                     scale: np.ndarray, center: np.ndarray,
                     colors: np.ndarray) -> np.ndarray:
        """Render N meshes over N backgrounds.

        Args:
            backgrounds (np.ndarray): ``(N, H, W, 3)`` or ``(H, W, 3)`` uint8
                RGB.
            vertices (np.ndarray): ``(N, V, 3)`` root-relative vertices, m.
            scale (np.ndarray): ``(N,)`` pixels per metre.
            center (np.ndarray): ``(N, 2)`` pixel of the 3D origin.
            colors (np.ndarray): ``(N, 3)`` RGB in [0, 1].

        Returns:
            np.ndarray: ``(N, H, W, 3)`` uint8 RGB.
        """
        height, width = backgrounds.shape[-3:-1]
        rgb, alpha, _ = self._render(vertices, scale, center, colors,
                                     (width, height))
        bg = backgrounds.astype(np.float32) / 255.0
        a = self.mesh_alpha * alpha[..., None]
        return np.clip((a * rgb + (1 - a) * bg) * 255.0 + 0.5, 0,
                       255).astype(np.uint8)

    def _crop(self, image: np.ndarray, region: np.ndarray) -> np.ndarray:
        """Resample the square image ``region`` to a panel (grey outside
        the image)."""
        size = self.panel_size
        k = size / (region[2] - region[0])
        matrix = np.array([[k, 0.0, -k * region[0]], [0.0, k, -k * region[1]]])
        return cv2.warpAffine(
            image,
            matrix, (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(96, 96, 96))

    def draw_sequence(self,
                      image: np.ndarray,
                      vertices: np.ndarray,
                      scale: np.ndarray,
                      center: np.ndarray,
                      region: np.ndarray,
                      colors: np.ndarray,
                      labels: Optional[Sequence[str]] = None) -> np.ndarray:
        """A grid of panels of an image region with one mesh over each.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB image.
            vertices (np.ndarray): ``(R, T, V, 3)`` or ``(T, V, 3)``
                root-relative vertices, m: R rows (e.g. hypotheses) of T
                panels (time steps).
            scale (np.ndarray): ``(R, T)`` / ``(T,)`` weak-perspective scale,
                image pixels per metre.
            center (np.ndarray): ``(R, T, 2)`` / ``(T, 2)`` image pixel of
                the 3D origin.
            region (np.ndarray): ``(4,)`` square ``x1, y1, x2, y2`` image
                region shown in every panel.
            colors (np.ndarray): ``(T, 3)`` mesh RGB in [0, 1] (or
                broadcastable to ``(R, T, 3)``).
            labels (Sequence[str], optional): One caption per panel, row
                major.

        Returns:
            np.ndarray: ``(R * panel, T * panel, 3)`` uint8 RGB grid.
        """
        vertices = np.asarray(vertices, dtype=np.float64)
        if vertices.ndim == 3:
            vertices = vertices[None]
        rows, steps = vertices.shape[:2]
        num = rows * steps
        k = self.panel_size / (region[2] - region[0])
        panel = self._crop(image, region)
        panels = self._render_over(
            panel, vertices.reshape((num, ) + vertices.shape[2:]),
            np.broadcast_to(np.asarray(scale) * k, (rows, steps)).reshape(-1),
            np.broadcast_to((np.asarray(center) - region[:2]) * k,
                            (rows, steps, 2)).reshape(-1, 2),
            np.broadcast_to(colors, (rows, steps, 3)).reshape(-1, 3))
        if labels is not None:
            for p, text in zip(panels, labels):
                self._caption(p, text)
        size = self.panel_size
        return panels.reshape(rows, steps, size, size, 3).transpose(
            0, 2, 1, 3, 4).reshape(rows * size, steps * size, 3)

    def draw_side_view(self,
                       vertices: np.ndarray,
                       colors: np.ndarray,
                       label: Optional[str] = None) -> np.ndarray:
        """One panel showing meshes turned about the vertical axis.

        The meshes (e.g. the T steps of a sequence) are rotated by
        ``side_view_angle`` about the image's vertical axis through their
        common centre and rendered together (nearest surface wins) on a
        plain background, framed to fill the panel.

        Args:
            vertices (np.ndarray): ``(N, V, 3)`` root-relative vertices, m.
            colors (np.ndarray): ``(N, 3)`` RGB in [0, 1].
            label (str, optional): Caption.

        Returns:
            np.ndarray: ``(panel, panel, 3)`` uint8 RGB.
        """
        vertices = np.asarray(vertices, dtype=np.float64)
        num = vertices.shape[0]
        angle = np.deg2rad(self.side_view_angle)
        c, s = np.cos(angle), np.sin(angle)
        # Rotation about the camera's y axis (vertical in the image).
        rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        pivot = vertices.reshape(-1, 3).mean(0)
        turned = (vertices - pivot) @ rot.T
        size = self.panel_size
        lo = turned[..., :2].reshape(-1, 2).min(0)
        hi = turned[..., :2].reshape(-1, 2).max(0)
        extent = max((hi - lo).max(), 1e-3)
        scale = np.full(num, 0.85 * size / extent)
        center = np.broadcast_to(size / 2 - scale[0] * (lo + hi) / 2,
                                 (num, 2))
        rgb, alpha, zbuf = self._render(turned, scale, center,
                                        np.broadcast_to(colors, (num, 3)),
                                        (size, size))
        # Nearest covered surface per pixel (depth is the camera z).
        zbuf = np.where(alpha > 1e-3, zbuf, np.inf)
        nearest = zbuf.argmin(0)  # (H, W)
        rgb = np.take_along_axis(rgb, nearest[None, ..., None], 0)[0]
        cover = np.take_along_axis(alpha, nearest[None], 0)[0][..., None]
        background = np.full((size, size, 3), 235 / 255.0, np.float32)
        out = np.clip((cover * rgb + (1 - cover) * background) * 255 + 0.5,
                      0, 255).astype(np.uint8)
        if label is not None:
            self._caption(out, label)
        return out

    @staticmethod
    def _caption(panel: np.ndarray, text: str) -> None:
        """Write ``text`` in the top-left corner of ``panel`` (in place)."""
        scale = max(panel.shape[0] / 512.0, 0.35)
        thick = max(int(round(scale * 2)), 1)
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale,
                                       thick)
        cv2.rectangle(panel, (0, 0), (w + 6, h + base + 6), (0, 0, 0), -1)
        cv2.putText(panel, text, (3, h + 3), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thick, cv2.LINE_AA)

    # -------------------------------------------------- sample geometry --
    def _region(self, data_sample, image_shape: Tuple[int, int],
                fallback_points: Optional[np.ndarray]) -> np.ndarray:
        """The square image region of a sample's panels.

        The network's input crop (``input_center`` / ``input_scale``) when
        packed, else the instance box, else the projected joints, else the
        whole image.
        """
        meta = data_sample.metainfo
        pad = self.region_padding
        if 'input_center' in meta and 'input_scale' in meta:
            center = np.asarray(meta['input_center'], np.float64).reshape(-1)
            size = np.asarray(meta['input_scale'], np.float64).reshape(-1)
            return _square_region(
                np.concatenate([center[:2] - size[:2] / 2,
                                center[:2] + size[:2] / 2]), pad)
        for field in ('pred_instances', 'gt_instances'):
            inst = data_sample.get(field)
            if inst is not None and 'bboxes' in inst:
                return _square_region(_to_numpy(inst.bboxes).reshape(-1)[:4],
                                      pad)
        if fallback_points is not None:
            pts = fallback_points.reshape(-1, 2)
            pts = pts[np.isfinite(pts).all(-1)]
            if len(pts):
                return _square_region(
                    np.concatenate([pts.min(0), pts.max(0)]), pad * 1.3)
        h, w = image_shape
        return _square_region([0, 0, w, h])

    def _camera(self, joints_cam: np.ndarray, points_2d: Optional[np.ndarray],
                valid: Optional[np.ndarray], vertices: np.ndarray,
                region: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Per-step weak-perspective cameras, box-fitted where the joint fit
        fails."""
        box_scale, box_center = box_camera(
            vertices, _square_region(region, 1 / self.region_padding))
        if points_2d is None:
            return box_scale, box_center
        scale, center, ok = fit_weak_perspective(joints_cam, points_2d, valid)
        scale = np.where(ok, scale, box_scale)
        center = np.where(ok[..., None], center, box_center)
        return scale, center

    @staticmethod
    def _gt_points_2d(data_sample) -> Tuple[Optional[np.ndarray],
                                            Optional[np.ndarray]]:
        """Ground-truth joints in image pixels, from the crop-normalised
        ``gt_instance_labels.joints_2d`` and the crop metainfo."""
        from mmblurhand.datasets.transforms.hand_geometry import \
            crop_to_image_points
        labels = data_sample.get('gt_instance_labels')
        meta = data_sample.metainfo
        if labels is None or 'joints_2d' not in labels or not all(
                k in meta for k in ('input_center', 'input_scale',
                                    'input_size')):
            return None, None
        joints_2d = _to_numpy(labels.joints_2d)[0, ..., :2]
        points = crop_to_image_points(
            joints_2d,
            meta['input_center'],
            meta['input_scale'],
            meta['input_size'],
            rotation=float(np.asarray(meta.get('rotation', 0.0)).reshape(-1)
                           [0]),
            flip=bool(meta.get('flip', False)))
        valid = None
        if 'joints_2d_valid' in labels:
            valid = _to_numpy(labels.joints_2d_valid)[0]
        return points, valid

    # ------------------------------------------------------ data sample --
    def draw_prediction(self, image: np.ndarray,
                        pred_instances: InstanceData,
                        data_sample=None) -> np.ndarray:
        """The predicted sequence over the image, plus a side view.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
            pred_instances (InstanceData): ``vertices`` ``(1, T, V, 3)``,
                ``joints_cam`` ``(1, T, J, 3)``, ``keypoints``
                ``(1, T, J, 2)`` image pixels.
            data_sample (PoseDataSample, optional): For the crop region
                (metainfo ``input_center`` / ``input_scale``).

        Returns:
            np.ndarray: ``(panel, (T + 1) * panel, 3)`` uint8 RGB.
        """
        vertices = _to_numpy(pred_instances.vertices)[0]
        joints = _to_numpy(pred_instances.joints_cam)[0]
        keypoints = _to_numpy(pred_instances.keypoints)[0]
        region = self._sample_region(data_sample, image, keypoints)
        num_steps = vertices.shape[0]
        scale, center = self._camera(joints, keypoints, None, vertices,
                                     region)
        colors = time_step_colors(num_steps, self.pred_colors)
        names = time_step_names(num_steps)
        strip = self.draw_sequence(image, vertices, scale, center, region,
                                   colors, [f'pred {n}' for n in names])
        mid = num_steps // 2
        side = self.draw_side_view(vertices[mid:mid + 1],
                                   colors[mid:mid + 1],
                                   f'pred side ({names[mid]})')
        return np.concatenate([strip, side], axis=1)

    def draw_ground_truth(self, image: np.ndarray,
                          data_sample) -> Optional[np.ndarray]:
        """The ground-truth sequence over the image, plus a side view.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
            data_sample (PoseDataSample): With ``gt_instances.mesh_cam``,
                ``joints_cam``, ``mesh_valid`` and, for the camera,
                ``gt_instance_labels.joints_2d``; without the latter the
                predicted camera is used (and said in the caption).

        Returns:
            np.ndarray | None: ``(panel, (T + 1) * panel, 3)`` uint8 RGB, or
            ``None`` when the sample has no ground-truth mesh.
        """
        gt = data_sample.get('gt_instances')
        if gt is None or 'mesh_cam' not in gt:
            return None
        mesh = _to_numpy(gt.mesh_cam)[0]
        if 'mesh_valid' in gt and not _to_numpy(gt.mesh_valid).any():
            return None
        num_steps = mesh.shape[0]
        points, valid = self._gt_points_2d(data_sample)
        caption = 'GT'
        if 'joints_cam' in gt:
            joints = _to_numpy(gt.joints_cam)[0]
            if valid is not None and 'joints_cam_valid' in gt:
                valid = valid * _to_numpy(gt.joints_cam_valid)[0]
        else:
            joints, points = None, None
        if points is None and 'pred_instances' in data_sample:
            pred = data_sample.pred_instances
            joints = _to_numpy(pred.joints_cam)[0]
            points = _to_numpy(pred.keypoints)[0]
            valid = None
            caption = 'GT (pred cam)'
        region = self._sample_region(data_sample, image, points)
        if joints is None:
            scale, center = box_camera(mesh, region)
        else:
            scale, center = self._camera(joints, points, valid, mesh, region)
        colors = np.broadcast_to(np.asarray(self.gt_color), (num_steps, 3))
        names = time_step_names(num_steps)
        strip = self.draw_sequence(image, mesh, scale, center, region,
                                   colors, [f'{caption} {n}' for n in names])
        mid = num_steps // 2
        side = self.draw_side_view(mesh[mid:mid + 1], colors[mid:mid + 1],
                                   f'GT side ({names[mid]})')
        return np.concatenate([strip, side], axis=1)

    def draw_hypotheses(self,
                        image: np.ndarray,
                        pred_instances: InstanceData,
                        data_sample=None,
                        top_n: Optional[int] = None) -> Optional[np.ndarray]:
        """A gallery of the top-n hypotheses with their selector scores.

        Row ``r`` shows the hypothesis ranked ``r`` (``topn_indices``, or
        the scores in descending order beyond them) as a sequence over the
        image, with its index and score in the captions. The camera of each
        hypothesis is fitted to its own image-space joints
        (``hyp_keypoints``) when the model gives them, else the chosen
        sequence's camera is used (hypotheses are root-relative, so they
        share its root).

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
            pred_instances (InstanceData): With ``hyp_vertices``
                ``(1, K, T, V, 3)``, ``hyp_scores`` ``(1, K)`` and optionally
                ``topn_indices`` ``(1, n)``, ``hyp_joints_cam`` and
                ``hyp_keypoints`` ``(1, K, T, J, 2)``.
            data_sample (PoseDataSample, optional): For the crop region.
            top_n (int, optional): Rows. Defaults to ``self.top_n``.

        Returns:
            np.ndarray | None: ``(rows * panel, T * panel, 3)`` uint8 RGB, or
            ``None`` when the prediction has no hypotheses.
        """
        if 'hyp_vertices' not in pred_instances:
            return None
        top_n = self.top_n if top_n is None else int(top_n)
        hyp_vertices = _to_numpy(pred_instances.hyp_vertices)[0]
        num_hyps, num_steps = hyp_vertices.shape[:2]
        scores = _to_numpy(pred_instances.hyp_scores)[0] if \
            'hyp_scores' in pred_instances else np.ones(num_hyps)
        order = select_top_hypotheses(
            scores, top_n,
            _to_numpy(pred_instances.topn_indices)[0]
            if 'topn_indices' in pred_instances else None)
        order = np.asarray(order, dtype=np.int64)
        keypoints = _to_numpy(pred_instances.keypoints)[0]
        region = self._sample_region(data_sample, image, keypoints)
        shown = hyp_vertices[order]  # (n, T, V, 3)
        if 'hyp_keypoints' in pred_instances and \
                'hyp_joints_cam' in pred_instances:
            scale, center = self._camera(
                _to_numpy(pred_instances.hyp_joints_cam)[0][order],
                _to_numpy(pred_instances.hyp_keypoints)[0][order], None,
                shown, region)
        else:
            scale, center = self._camera(
                _to_numpy(pred_instances.joints_cam)[0], keypoints, None,
                _to_numpy(pred_instances.vertices)[0], region)
        colors = time_step_colors(num_steps, self.pred_colors)
        names = time_step_names(num_steps)
        labels = []
        for rank, k in enumerate(order):
            row = [f'#{rank + 1} hyp {k} {n}' for n in names]
            row[0] = f'#{rank + 1} hyp {k} score {scores[k]:.3f}'
            labels += row
        return self.draw_sequence(image, shown, scale, center, region,
                                  colors, labels)

    def draw_image_overlay(self,
                           image: np.ndarray,
                           data_samples: Sequence,
                           time_index: Optional[int] = None) -> np.ndarray:
        """Every hand's mesh of one time step over the whole image.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB.
            data_samples (Sequence[PoseDataSample]): One per hand, with
                ``pred_instances``.
            time_index (int, optional): The step to draw. Defaults to the
                middle one, ``T // 2``.

        Returns:
            np.ndarray: ``(H, W, 3)`` uint8 RGB.
        """
        out = np.ascontiguousarray(image).copy()
        for sample in data_samples:
            pred = sample.pred_instances
            vertices = _to_numpy(pred.vertices)[0]
            joints = _to_numpy(pred.joints_cam)[0]
            keypoints = _to_numpy(pred.keypoints)[0]
            num_steps = vertices.shape[0]
            t = num_steps // 2 if time_index is None else int(time_index)
            region = self._sample_region(sample, image, keypoints)
            scale, center = self._camera(joints, keypoints, None, vertices,
                                         region)
            color = time_step_colors(num_steps, self.pred_colors)[t]
            # Render over the mesh's own pixels only: a full-size render of
            # a large photo costs ~40 float copies of it (GBs at 6000 px).
            x0, y0, x1, y1 = self._mesh_window(vertices[t], scale[t],
                                               center[t], out.shape[:2])
            if x1 <= x0 or y1 <= y0:
                continue  # the mesh is outside the image
            out[y0:y1, x0:x1] = self._render_over(
                out[y0:y1, x0:x1], vertices[t:t + 1], scale[t:t + 1],
                center[t:t + 1] - np.array([x0, y0]), color[None])[0]
        return out

    def _mesh_window(self, vertices: np.ndarray, scale: float,
                     center: np.ndarray, shape: Tuple[int, int],
                     margin: int = 2) -> Tuple[int, int, int, int]:
        """Pixel box ``x0, y0, x1, y1`` (clipped to ``shape`` = ``(H, W)``)
        around the projection of ``vertices`` ``(V, 3)`` (m) with the camera
        of :meth:`_render`, widened by ``margin`` pixels."""
        depth = self.camera_depth
        vertices = np.asarray(vertices, dtype=np.float64)
        uv = scale * depth * vertices[:, :2] / (vertices[:, 2:3] + depth) + \
            np.asarray(center, dtype=np.float64)
        low = np.floor(uv.min(0)).astype(int) - margin
        high = np.ceil(uv.max(0)).astype(int) + margin + 1
        height, width = shape
        return (max(low[0], 0), max(low[1], 0), min(high[0], width),
                min(high[1], height))

    def _sample_region(self, data_sample, image: np.ndarray,
                       points: Optional[np.ndarray]) -> np.ndarray:
        if data_sample is None:
            from mmpose.structures import PoseDataSample
            data_sample = PoseDataSample()
        return self._region(data_sample, image.shape[:2], points)

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       draw_hypotheses: bool = True,
                       top_n: Optional[int] = None,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0) -> np.ndarray:
        """Draw one hand's prediction (and ground truth) and save or show it.

        Rows, top to bottom: the predicted sequence with a side view, the
        ground-truth sequence with a side view (``draw_gt`` and a mesh in
        ``gt_instances``), the hypotheses gallery (``draw_hypotheses`` and a
        multi-hypothesis prediction). Rows narrower than the widest are
        padded on the right.

        Args:
            name (str): Image identifier for the backends / window.
            image (np.ndarray): ``(H, W, 3)`` uint8 RGB image the sample was
                cropped from.
            data_sample (PoseDataSample): One hand (``docs/data_contract.md``).
            draw_gt (bool): Draw the ground truth. Defaults to True.
            draw_pred (bool): Draw the prediction. Defaults to True.
            draw_hypotheses (bool): Draw the hypotheses gallery. Defaults to
                True.
            top_n (int, optional): Gallery rows. Defaults to ``self.top_n``.
            show (bool): Display the picture. Defaults to False.
            wait_time (float): Display time, seconds. Defaults to 0.
            out_file (str, optional): Write the picture here (PNG/JPEG)
                instead of to the visualisation backends.
            step (int): Global step for the backends. Defaults to 0.

        Returns:
            np.ndarray: The drawn ``(H', W', 3)`` uint8 RGB picture.

        Raises:
            ValueError: Nothing to draw (no prediction and no ground-truth
                mesh), naming the sample.
        """
        image = np.ascontiguousarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'MeshVisualizer: image must be (H, W, 3) RGB, '
                             f'got shape {image.shape}.')
        image = image.astype(np.uint8)
        rows = []
        pred = data_sample.get('pred_instances') if data_sample else None
        if draw_pred and pred is not None and 'vertices' in pred:
            rows.append(self.draw_prediction(image, pred, data_sample))
        if draw_gt and data_sample is not None:
            gt_row = self.draw_ground_truth(image, data_sample)
            if gt_row is not None:
                rows.append(gt_row)
        if draw_hypotheses and pred is not None:
            gallery = self.draw_hypotheses(image, pred, data_sample, top_n)
            if gallery is not None:
                rows.append(gallery)
        if not rows:
            raise ValueError(
                f'MeshVisualizer: nothing to draw for "{name}": the sample '
                'has neither pred_instances.vertices nor '
                'gt_instances.mesh_cam.')
        drawn = stack_rows(rows)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            write_rgb(out_file, drawn)
        else:
            self.add_image(name, drawn, step)
        return drawn


def select_top_hypotheses(scores: np.ndarray, top_n: int,
                          topn_indices: Optional[np.ndarray] = None
                          ) -> List[int]:
    """Indices of the ``top_n`` hypotheses to show, best first.

    Args:
        scores (np.ndarray): ``(K,)`` selector scores (higher is better).
        top_n (int): How many to return (clipped to ``K``).
        topn_indices (np.ndarray, optional): ``(n,)`` the model's own top-n,
            kept first and in order; the rest follow by descending score.

    Returns:
        list[int]: ``min(top_n, K)`` distinct indices.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    ranked = list(np.argsort(-scores, kind='stable'))
    first = [] if topn_indices is None else [
        int(i) for i in np.asarray(topn_indices).reshape(-1)
    ]
    order = first + [int(i) for i in ranked if int(i) not in first]
    return order[:max(min(int(top_n), scores.size), 0)]


def stack_rows(rows: Sequence[np.ndarray],
               fill: int = 255) -> np.ndarray:
    """Stack RGB rows vertically, padding narrower ones on the right.

    Args:
        rows (Sequence[np.ndarray]): ``(h_i, w_i, 3)`` uint8 images.
        fill (int): Padding grey level. Defaults to 255.

    Returns:
        np.ndarray: ``(sum h_i, max w_i, 3)`` uint8.
    """
    width = max(r.shape[1] for r in rows)
    padded = [
        np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)),
               constant_values=fill) for r in rows
    ]
    return np.concatenate(padded, axis=0)


def write_rgb(path: str, image: np.ndarray) -> None:
    """Write an RGB uint8 image (any OpenCV format), creating the folder.

    Args:
        path (str): Output file, e.g. ``.png``.
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB.

    Raises:
        IOError: OpenCV could not write the file, naming it.
    """
    import os
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise IOError(f'Could not write "{path}"; use a .png or .jpg name in '
                      'a writable folder.')


__all__ = [
    'MeshVisualizer', 'fit_weak_perspective', 'box_camera',
    'find_mesh_faces', 'select_top_hypotheses', 'stack_rows', 'write_rgb',
    'time_step_names', 'time_step_colors', 'PAST_COLOR', 'MIDDLE_COLOR',
    'FUTURE_COLOR', 'GT_COLOR'
]
