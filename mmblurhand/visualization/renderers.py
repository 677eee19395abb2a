# Copyright (c) OpenMMLab. All rights reserved.
"""Offscreen mesh rendering for visualisation and blur synthesis.

Vertices are in the OpenCV camera frame (metres; ``x`` right, ``y`` down,
``z`` forward) and are projected with pinhole intrinsics, pixel centres on
integer coordinates (``u = fx * x / z + cx``), exactly as joints are
projected elsewhere in mmblurhand, so renders and projected joints align.

Backends:

- ``'moderngl'``: moderngl with a headless EGL context (fastest: a few ms
  per 256x256 frame on llvmpipe), 2x2 supersampled.
- ``'pyrender'``: pyrender with ``PYOPENGL_PLATFORM=egl`` (set here, only
  when this backend is first used, never at import time).
- ``'opencv'``: a painter's algorithm with ``cv2.fillConvexPoly`` (faces
  sorted far to near, back faces culled, flat Lambert shading, 2x
  supersampling). Needs no GL at all.
- ``'auto'``: the first of moderngl, pyrender and opencv that works; falling
  back to opencv warns once.

Every backend shades with an ambient + Lambert (+ specular for the GL ones)
model under one directional light and returns straight (not premultiplied)
RGB, a coverage alpha and a depth map, so ``alpha * rgb + (1 - alpha) * bg``
composites a render over a background. One renderer per backend is created
lazily and reused (per process).
"""
import os
import warnings
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

ArrayLike = Union[np.ndarray, Sequence[float]]
RenderOutput = Tuple[np.ndarray, np.ndarray, np.ndarray]

DEFAULT_COLOR = (0.85, 0.66, 0.55)
#: Direction the default light travels in the camera frame (from the upper
#: left of the camera into the scene).
DEFAULT_LIGHT_DIR = (0.3, 0.45, 1.0)
BACKENDS = ('auto', 'moderngl', 'pyrender', 'opencv')


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals, batched over leading dimensions.

    Args:
        vertices (np.ndarray): (..., V, 3) vertices.
        faces (np.ndarray): (F, 3) vertex indices.

    Returns:
        np.ndarray: (..., V, 3) float32 unit normals (orientation follows the
        face winding).
    """
    from scipy.sparse import csr_matrix
    vertices = np.asarray(vertices, dtype=np.float32)
    lead = vertices.shape[:-2]
    num_verts = vertices.shape[-2]
    flat = vertices.reshape((-1, num_verts, 3))
    tri = flat[:, faces]  # (N, F, 3, 3)
    face_n = np.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :,
                                                                       0])
    num_faces = faces.shape[0]
    incidence = csr_matrix(
        (np.ones(faces.size, dtype=np.float32), (faces.reshape(-1),
                                                 np.repeat(
                                                     np.arange(num_faces),
                                                     3))),
        shape=(num_verts, num_faces))
    normals = incidence @ face_n.transpose(1, 0, 2).reshape(num_faces, -1)
    normals = normals.reshape(num_verts, -1, 3).transpose(1, 0, 2)
    norm = np.linalg.norm(normals, axis=-1, keepdims=True)
    normals = normals / np.maximum(norm, 1e-12)
    return normals.reshape(lead + (num_verts, 3)).astype(np.float32)


def concatenate_meshes(
        vertices: Sequence[np.ndarray], faces: Sequence[np.ndarray],
        colors: Optional[Sequence[ArrayLike]] = None
) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Merge meshes (e.g. two hands) into one for a single render.

    Args:
        vertices (Sequence[np.ndarray]): (..., V_i, 3) per mesh, same leading
            dimensions.
        faces (Sequence[np.ndarray]): (F_i, 3) per mesh.
        colors (Sequence[ArrayLike], optional): (3,) or (V_i, 3) per mesh.

    Returns:
        tuple: vertices (..., sum V_i, 3), faces (sum F_i, 3) and per-vertex
        colours (sum V_i, 3) (``None`` when ``colors`` is ``None``).
    """
    offsets = np.cumsum([0] + [v.shape[-2] for v in vertices])[:-1]
    merged_faces = np.concatenate(
        [np.asarray(f) + o for f, o in zip(faces, offsets)])
    merged_colors = None
    if colors is not None:
        merged_colors = np.concatenate([
            np.broadcast_to(np.asarray(c, np.float32), (v.shape[-2], 3))
            for c, v in zip(colors, vertices)
        ])
    return np.concatenate(vertices, axis=-2), merged_faces, merged_colors


def _vertex_colors(color: ArrayLike, num_verts: int) -> np.ndarray:
    color = np.asarray(color, dtype=np.float32)
    if color.shape not in ((3, ), (num_verts, 3)):
        raise ValueError(f'color must have shape (3,) or ({num_verts}, 3), '
                         f'got {color.shape}.')
    return np.ascontiguousarray(np.broadcast_to(color, (num_verts, 3)))


def _unit(vec: ArrayLike) -> np.ndarray:
    vec = np.asarray(vec, dtype=np.float64)
    return vec / max(np.linalg.norm(vec), 1e-12)


def _clip_planes(vertices: np.ndarray) -> Tuple[float, float]:
    """Near and far planes that enclose every vertex in front of the
    camera."""
    z = vertices[..., 2]
    front = z[z > 1e-6]
    if front.size == 0:
        return 0.01, 100.0
    return float(max(front.min() * 0.5, 1e-3)), float(front.max() * 2 + 1.0)


class _ModernGLBackend:
    """moderngl + EGL, anti-aliased by supersampling.

    Mesa's software rasteriser (llvmpipe) is several times slower with MSAA
    than without, so each frame is rendered at ``supersample`` times the
    resolution into an 8-bit RGBA buffer (and a float depth buffer when
    depth is wanted) and box-filtered down: uncovered pixels are cleared to
    zero, so the filtered colour is premultiplied by the coverage.
    """

    name = 'moderngl'
    _VERTEX_SHADER = '''
        #version 330
        uniform mat4 proj;
        in vec3 in_pos;
        in vec3 in_normal;
        in vec3 in_color;
        out vec3 v_pos;
        out vec3 v_normal;
        out vec3 v_color;
        void main() {
            v_pos = in_pos;
            v_normal = in_normal;
            v_color = in_color;
            gl_Position = proj * vec4(in_pos, 1.0);
        }
    '''
    _FRAGMENT_SHADER = '''
        #version 330
        uniform vec3 light_dir;
        uniform float ambient;
        uniform float diffuse;
        uniform float specular;
        in vec3 v_pos;
        in vec3 v_normal;
        in vec3 v_color;
        layout(location = 0) out vec4 out_color;
        layout(location = 1) out float out_depth;
        void main() {
            vec3 n = normalize(v_normal);
            vec3 view = normalize(-v_pos);
            if (dot(n, view) < 0.0) n = -n;  // two-sided lighting
            float lambert = max(dot(n, -light_dir), 0.0);
            vec3 refl = reflect(light_dir, n);
            float spec = pow(max(dot(refl, view), 0.0), 24.0);
            vec3 rgb = v_color * (ambient + diffuse * lambert)
                       + specular * spec;
            out_color = vec4(clamp(rgb, 0.0, 1.0), 1.0);
            out_depth = v_pos.z;
        }
    '''

    def __init__(self, supersample: int = 2) -> None:
        import moderngl
        self.ctx = moderngl.create_standalone_context(backend='egl')
        self.supersample = max(int(supersample), 1)
        self.prog = self.ctx.program(
            vertex_shader=self._VERTEX_SHADER,
            fragment_shader=self._FRAGMENT_SHADER)
        self._fbo_key = None
        self._fbo = None
        self._mesh_key = None
        self._vao = None
        self._buffers = None

    def _framebuffer(self, size: Tuple[int, int], with_depth: bool):
        key = (size, with_depth)
        if self._fbo_key != key:
            if self._fbo is not None:
                for att in self._fbo.color_attachments:
                    att.release()
                self._fbo.depth_attachment.release()
                self._fbo.release()
            ctx = self.ctx
            attachments = [ctx.renderbuffer(size, 4, dtype='f1')]
            if with_depth:
                attachments.append(ctx.renderbuffer(size, 1, dtype='f4'))
            self._fbo = ctx.framebuffer(
                color_attachments=attachments,
                depth_attachment=ctx.depth_renderbuffer(size))
            self._fbo_key = key
        return self._fbo

    def _mesh(self, num_verts: int, faces: np.ndarray):
        key = (num_verts, faces.shape[0], hash(faces.tobytes()))
        if self._mesh_key != key:
            if self._vao is not None:
                self._vao.release()
                for buf in self._buffers:
                    buf.release()
            ctx = self.ctx
            pos = ctx.buffer(reserve=num_verts * 12)
            nrm = ctx.buffer(reserve=num_verts * 12)
            col = ctx.buffer(reserve=num_verts * 12)
            ibo = ctx.buffer(faces.astype(np.uint32).tobytes())
            self._vao = ctx.vertex_array(
                self.prog, [(pos, '3f', 'in_pos'), (nrm, '3f', 'in_normal'),
                            (col, '3f', 'in_color')],
                index_buffer=ibo,
                index_element_size=4)
            self._buffers = (pos, nrm, col, ibo)
            self._mesh_key = key
        return self._vao, self._buffers

    @staticmethod
    def _projection(focal, princpt, size, near, far) -> np.ndarray:
        """OpenCV intrinsics -> OpenGL clip matrix.

        NDC ``y`` grows with the image row here, and ``glReadPixels``
        returns the bottom NDC row first, so the read buffer is the image
        top-down with no flip.
        """
        fx, fy = focal
        cx, cy = princpt
        w, h = size
        proj = np.zeros((4, 4), dtype=np.float64)
        proj[0, 0] = 2 * fx / w
        proj[0, 2] = 2 * (cx + 0.5) / w - 1
        proj[1, 1] = 2 * fy / h
        proj[1, 2] = 2 * (cy + 0.5) / h - 1
        proj[2, 2] = (far + near) / (far - near)
        proj[2, 3] = -2 * far * near / (far - near)
        proj[3, 2] = 1.0
        return proj

    def render(self, *args, **kwargs) -> RenderOutput:
        # Make this context current (another GL user, e.g. pyrender, may
        # have switched contexts) and restore the previous one afterwards.
        with self.ctx:
            return self._render(*args, **kwargs)

    def _render(self, vertices, normals, faces, colors, focal, princpt,
                size, light, with_depth=True,
                premultiplied=False) -> RenderOutput:
        import cv2
        w, h = size
        ss = self.supersample
        big = (w * ss, h * ss)
        fbo = self._framebuffer(big, with_depth)
        vao, (pos, nrm, col, _) = self._mesh(vertices.shape[-2], faces)
        near, far = _clip_planes(vertices)
        # Pixel centres of the big image: u_big = (u + 0.5) * ss - 0.5.
        proj = self._projection(
            np.asarray(focal) * ss, (np.asarray(princpt) + 0.5) * ss - 0.5,
            big, near, far)
        self.prog['proj'].write(proj.T.astype('f4').tobytes())
        self.prog['light_dir'].value = tuple(light['direction'])
        self.prog['ambient'].value = light['ambient']
        self.prog['diffuse'].value = light['diffuse']
        self.prog['specular'].value = light['specular']
        col.write(colors.astype('f4').tobytes())
        num = vertices.shape[0]
        rgba = np.empty((num, h, w, 4), np.uint8)
        depth = np.zeros((num, h, w), np.float32) if with_depth else None
        raw = np.empty((big[1], big[0], 4), np.uint8)
        raw_depth = np.empty((big[1], big[0]), np.float32)
        ctx = self.ctx
        ctx.enable(ctx.DEPTH_TEST)
        ctx.disable(ctx.CULL_FACE)
        for i in range(num):
            pos.write(np.ascontiguousarray(vertices[i], 'f4').tobytes())
            nrm.write(np.ascontiguousarray(normals[i], 'f4').tobytes())
            fbo.use()
            fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            vao.render()
            fbo.read_into(raw, components=4, dtype='f1', attachment=0)
            rgba[i] = raw if ss == 1 else cv2.resize(
                raw, size, interpolation=cv2.INTER_AREA)
            if with_depth:
                fbo.read_into(raw_depth, components=1, dtype='f4',
                              attachment=1)
                depth[i] = raw_depth if ss == 1 else cv2.resize(
                    raw_depth, size, interpolation=cv2.INTER_AREA)
        # Uncovered pixels hold zeros, so colour / coverage is the straight
        # colour there too.
        coverage = np.maximum(rgba[..., 3:], 1).astype(np.float32)
        rgb = rgba[..., :3].astype(np.float32)
        if premultiplied:
            rgb *= np.float32(1 / 255)
        else:
            rgb /= coverage
            np.minimum(rgb, 1.0, out=rgb)
        alpha = rgba[..., 3].astype(np.float32) * np.float32(1 / 255)
        if with_depth:
            depth /= coverage[..., 0] * np.float32(1 / 255)
        return rgb, alpha, depth


class _PyrenderBackend:
    """pyrender + EGL offscreen renderer, reused across calls."""

    name = 'pyrender'

    def __init__(self) -> None:
        os.environ.setdefault('PYOPENGL_PLATFORM', 'egl')
        import pyrender
        self.pyrender = pyrender
        self.renderer = pyrender.OffscreenRenderer(64, 64)

    def render(self, vertices, normals, faces, colors, focal, princpt,
               size, light, with_depth=True,
               premultiplied=False) -> RenderOutput:
        pyrender = self.pyrender
        w, h = size
        self.renderer.viewport_width = w
        self.renderer.viewport_height = h
        near, far = _clip_planes(vertices)
        # pyrender's camera looks down -z with y up: flip y and z.
        to_gl = np.array([1.0, -1.0, -1.0], dtype=np.float32)
        camera = pyrender.IntrinsicsCamera(
            fx=focal[0],
            fy=focal[1],
            cx=princpt[0] + 0.5,
            cy=princpt[1] + 0.5,
            znear=near,
            zfar=far)
        light_gl = _unit(np.asarray(light['direction']) * to_gl)
        z_axis = -light_gl
        helper = np.array([0.0, 1.0, 0.0]) if abs(z_axis[1]) < 0.9 else \
            np.array([1.0, 0.0, 0.0])
        x_axis = _unit(np.cross(helper, z_axis))
        light_pose = np.eye(4)
        light_pose[:3, :3] = np.stack(
            [x_axis, np.cross(z_axis, x_axis), z_axis], axis=1)
        rgba = np.concatenate([colors, np.ones((colors.shape[0], 1))],
                              axis=1)
        num = vertices.shape[0]
        rgb = np.empty((num, h, w, 3), np.float32)
        alpha = np.empty((num, h, w), np.float32)
        depth = np.empty((num, h, w), np.float32)
        for i in range(num):
            scene = pyrender.Scene(
                bg_color=(0.0, 0.0, 0.0, 0.0),
                ambient_light=(light['ambient'], ) * 3)
            scene.add(camera, pose=np.eye(4))
            scene.add(
                pyrender.DirectionalLight(
                    intensity=3.0 * light['diffuse']),
                pose=light_pose)
            # Double-sided: an open mesh (MANO's wrist) shows its inside.
            primitive = pyrender.Primitive(
                positions=vertices[i] * to_gl,
                normals=normals[i] * to_gl,
                indices=faces,
                color_0=rgba,
                material=pyrender.MetallicRoughnessMaterial(
                    baseColorFactor=(1.0, 1.0, 1.0, 1.0),
                    metallicFactor=0.0,
                    roughnessFactor=0.8,
                    doubleSided=True))
            scene.add(pyrender.Mesh([primitive]))
            color, zbuf = self.renderer.render(
                scene, flags=pyrender.RenderFlags.RGBA)
            cov = color[..., 3].astype(np.float32) / 255.0
            safe = np.where(cov > 1e-6, cov, 1.0)
            rgb[i] = np.where(cov[..., None] > 1e-6,
                              color[..., :3].astype(np.float32) / 255.0 /
                              safe[..., None], 0.0)
            alpha[i] = cov
            depth[i] = zbuf
        np.clip(rgb, 0.0, 1.0, out=rgb)
        if premultiplied:
            rgb *= alpha[..., None]
        return rgb, alpha, depth if with_depth else None


class _OpenCVBackend:
    """Painter's algorithm with ``cv2.fillConvexPoly``; no GL needed.

    Faces are drawn far to near with flat Lambert shading. On a closed mesh
    back faces are culled (they are always hidden); an open mesh (MANO's
    wrist) keeps them, lit from their visible side, because the inside can
    be seen through the opening.
    """

    name = 'opencv'

    def __init__(self, supersample: int = 2) -> None:
        import cv2
        self.cv2 = cv2
        self.supersample = max(int(supersample), 1)

    @staticmethod
    def _is_closed(faces: np.ndarray) -> bool:
        """Whether every edge is shared by exactly two faces."""
        edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        return bool((counts == 2).all())

    def render(self, vertices, normals, faces, colors, focal, princpt,
               size, light, with_depth=True,
               premultiplied=False) -> RenderOutput:
        cv2 = self.cv2
        w, h = size
        ss = self.supersample
        num = vertices.shape[0]
        rgb = np.empty((num, h, w, 3), np.float32)
        alpha = np.empty((num, h, w), np.float32)
        depth = np.empty((num, h, w), np.float32)
        face_colors = colors[faces].mean(axis=1)
        light_dir = _unit(light['direction'])
        cull = self._is_closed(faces)
        # Outward winding: a closed (or nearly closed) mesh has a positive
        # signed volume when its faces are counter-clockwise from outside.
        # Measured about the mesh centre, so that an opening (MANO's wrist)
        # adds only a small cone.
        tri0 = vertices[0][faces].astype(np.float64)
        tri0 -= vertices[0].mean(axis=0)
        volume = np.einsum('fi,fi->f', tri0[:, 0],
                           np.cross(tri0[:, 1], tri0[:, 2])).sum()
        winding = 1.0 if volume >= 0 else -1.0
        scale = float(1 << 4)  # fixed-point shift of 4 bits
        for i in range(num):
            tri = vertices[i][faces].astype(np.float64)  # (F, 3, 3)
            normal = winding * np.cross(tri[:, 1] - tri[:, 0],
                                        tri[:, 2] - tri[:, 0])
            centroid = tri.mean(axis=1)
            # Front faces: outward normal towards the camera (the origin).
            facing = np.einsum('fi,fi->f', normal, centroid) < 0
            visible = (tri[:, :, 2] > 1e-6).all(axis=1)
            if cull:
                visible &= facing
            idx = np.flatnonzero(visible)
            idx = idx[np.argsort(-centroid[idx, 2], kind='stable')]
            # Two-sided lighting: shade every face from the camera's side.
            unit_n = normal[idx] * np.where(facing[idx], 1.0, -1.0)[:, None]
            unit_n /= np.maximum(
                np.linalg.norm(unit_n, axis=1, keepdims=True), 1e-12)
            lambert = np.clip(unit_n @ -light_dir, 0.0, None)
            shade = face_colors[idx] * (light['ambient'] +
                                        light['diffuse'] * lambert[:, None])
            uv = tri[idx, :, :2] / tri[idx, :, 2:3] * np.asarray(
                focal) + np.asarray(princpt)
            uv = (uv + 0.5) * ss - 0.5
            pts = np.round(uv * scale).astype(np.int32)
            canvas = np.zeros((h * ss, w * ss, 4), np.float32)
            values = np.concatenate(
                [np.clip(shade, 0, 1), centroid[idx, 2:3]], axis=1)
            for poly, value in zip(pts, values.tolist()):
                cv2.fillConvexPoly(canvas, poly, value, cv2.LINE_8, 4)
            cov = (canvas[..., 3] > 0).astype(np.float32)
            if ss > 1:
                prem = np.concatenate(
                    [canvas[..., :3] * cov[..., None], canvas[..., 3:]],
                    axis=-1)
                prem = cv2.resize(prem, (w, h), interpolation=cv2.INTER_AREA)
                cov = cv2.resize(cov, (w, h), interpolation=cv2.INTER_AREA)
                safe = np.where(cov > 1e-6, cov, 1.0)
                canvas = np.concatenate(
                    [prem[..., :3] / safe[..., None],
                     prem[..., 3:] / safe[..., None]], axis=-1)
            rgb[i] = np.where(cov[..., None] > 1e-6, canvas[..., :3], 0.0)
            alpha[i] = cov
            depth[i] = np.where(cov > 1e-6, canvas[..., 3], 0.0)
        np.clip(rgb, 0.0, 1.0, out=rgb)
        if premultiplied:
            rgb *= alpha[..., None]
        return rgb, alpha, depth if with_depth else None


_BACKEND_CLASSES = {
    'moderngl': _ModernGLBackend,
    'pyrender': _PyrenderBackend,
    'opencv': _OpenCVBackend,
}
_RENDERERS: Dict[Tuple[int, str], object] = {}
_GL_FAILURES: Dict[str, str] = {}
_WARNED_FALLBACK = False


def _make_backend(name: str):
    """Build (or reuse) one backend instance for this process."""
    key = (os.getpid(), name)
    if key not in _RENDERERS:
        _RENDERERS[key] = _BACKEND_CLASSES[name]()
    return _RENDERERS[key]


def get_render_backend(backend: str = 'auto'):
    """The renderer for ``backend``, created once per process.

    Args:
        backend (str): One of :data:`BACKENDS`. ``'auto'`` tries moderngl,
            then pyrender, then falls back to opencv with one warning.

    Returns:
        object: A backend with a ``name`` attribute and a ``render`` method.

    Raises:
        ValueError: Unknown backend name.
        RuntimeError: An explicitly requested GL backend cannot create a
            context.
    """
    global _WARNED_FALLBACK
    if backend not in BACKENDS:
        raise ValueError(f'Unknown render backend {backend!r}; use one of '
                         f'{BACKENDS}.')
    if backend != 'auto':
        try:
            return _make_backend(backend)
        except Exception as err:  # GL libraries raise many kinds of errors
            raise RuntimeError(
                f'The {backend!r} render backend could not start ({err!r}). '
                'Headless GL needs EGL (e.g. Mesa libegl1); use '
                "backend='opencv' or backend='auto' to render without GL."
            ) from err
    for name in ('moderngl', 'pyrender'):
        if name in _GL_FAILURES:
            continue
        try:
            return _make_backend(name)
        except Exception as err:  # try the next backend
            _GL_FAILURES[name] = repr(err)
    if not _WARNED_FALLBACK:
        reasons = '; '.join(f'{k}: {v}' for k, v in _GL_FAILURES.items())
        warnings.warn(
            'No OpenGL context could be created (' + reasons + '). Meshes '
            'are rendered with the slower OpenCV painter\'s algorithm '
            '(flat shading, no anti-aliasing beyond 2x supersampling). '
            'Install EGL (e.g. Mesa libegl1) and moderngl or pyrender for '
            'GL rendering.', RuntimeWarning, stacklevel=3)
        _WARNED_FALLBACK = True
    return _make_backend('opencv')


def render_mesh_sequence(vertices: np.ndarray,
                         faces: np.ndarray,
                         focal: ArrayLike,
                         princpt: ArrayLike,
                         image_size: Sequence[int],
                         color: ArrayLike = DEFAULT_COLOR,
                         light_dir: ArrayLike = DEFAULT_LIGHT_DIR,
                         ambient: float = 0.35,
                         diffuse: float = 0.75,
                         specular: float = 0.08,
                         backend: str = 'auto',
                         return_depth: bool = True,
                         premultiplied: bool = False) -> RenderOutput:
    """Render N poses of one mesh (e.g. the sub-frames of a blur).

    Args:
        vertices (np.ndarray): (N, V, 3) camera-frame vertices, metres.
        faces (np.ndarray): (F, 3) vertex indices.
        focal (ArrayLike): (2,) ``(fx, fy)`` pixels.
        princpt (ArrayLike): (2,) ``(cx, cy)`` pixels.
        image_size (Sequence[int]): ``(w, h)``.
        color (ArrayLike): (3,) or (V, 3) RGB albedo in [0, 1].
        light_dir (ArrayLike): (3,) direction the light travels, camera
            frame.
        ambient (float): Ambient term. Defaults to 0.35.
        diffuse (float): Lambert term. Defaults to 0.75.
        specular (float): Specular term (GL backends). Defaults to 0.08.
        backend (str): See :func:`get_render_backend`. Defaults to
            ``'auto'``.
        return_depth (bool): Compute the depth maps (skip for speed).
            Defaults to ``True``.
        premultiplied (bool): Return colour multiplied by coverage
            (``alpha * rgb``), ready to be added to ``(1 - alpha) * bg``.
            Defaults to ``False``.

    Returns:
        tuple: ``rgb`` (N, H, W, 3) float32 in [0, 1], straight colour
        (0 where uncovered) unless ``premultiplied``; ``alpha`` (N, H, W)
        coverage in [0, 1];
        ``depth`` (N, H, W) camera ``z`` in metres (0 where uncovered), or
        ``None`` when ``return_depth`` is ``False``.
    """
    vertices = np.asarray(vertices, dtype=np.float32)
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise ValueError('vertices must have shape (N, V, 3), got '
                         f'{vertices.shape}.')
    faces = np.asarray(faces, dtype=np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f'faces must have shape (F, 3), got {faces.shape}.')
    if faces.size and (faces.min() < 0 or faces.max() >= vertices.shape[1]):
        raise ValueError('faces index vertices outside [0, '
                         f'{vertices.shape[1]}).')
    size = (int(image_size[0]), int(image_size[1]))
    colors = _vertex_colors(color, vertices.shape[1])
    light = dict(
        direction=_unit(light_dir).astype(np.float32),
        ambient=float(ambient),
        diffuse=float(diffuse),
        specular=float(specular))
    normals = vertex_normals(vertices, faces)
    renderer = get_render_backend(backend)
    return renderer.render(vertices, normals, faces, colors,
                           np.asarray(focal, np.float64).reshape(2),
                           np.asarray(princpt, np.float64).reshape(2), size,
                           light, with_depth=return_depth,
                           premultiplied=premultiplied)


def render_mesh(vertices: np.ndarray,
                faces: np.ndarray,
                focal: ArrayLike,
                princpt: ArrayLike,
                image_size: Sequence[int],
                color: ArrayLike = DEFAULT_COLOR,
                backend: str = 'auto',
                **kwargs) -> RenderOutput:
    """Render one mesh.

    Args:
        vertices (np.ndarray): (V, 3) camera-frame vertices, metres.
        faces (np.ndarray): (F, 3) vertex indices.
        focal (ArrayLike): (2,) ``(fx, fy)`` pixels.
        princpt (ArrayLike): (2,) ``(cx, cy)`` pixels.
        image_size (Sequence[int]): ``(w, h)``.
        color (ArrayLike): (3,) or (V, 3) RGB albedo in [0, 1].
        backend (str): ``'auto'``, ``'moderngl'``, ``'pyrender'`` or
            ``'opencv'``. Defaults to ``'auto'``.
        **kwargs: Lighting options of :func:`render_mesh_sequence`.

    Returns:
        tuple: ``rgb`` (H, W, 3) float32 in [0, 1], ``alpha`` (H, W) and
        ``depth`` (H, W) metres (0 where uncovered).
    """
    rgb, alpha, depth = render_mesh_sequence(
        np.asarray(vertices)[None], faces, focal, princpt, image_size, color,
        backend=backend, **kwargs)
    return rgb[0], alpha[0], depth[0]
