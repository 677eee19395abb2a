# Copyright (c) OpenMMLab. All rights reserved.
"""Recover hand-mesh sequences from blurry images, a folder or a video.

    python demo/image_demo.py CONFIG CHECKPOINT INPUT [--out-dir DIR]
        [--bbox X1 Y1 X2 Y2 ... | --bbox-file JSON] [--hand-type right|left]
        [--top-n N] [--device cpu] [--mesh-format obj|ply]
        [--det-model TASK_FILE] [--allow-skipped] [--trust-checkpoint]
        [--backend pytorch|onnxruntime] [--precision fp32|bf16|int8]

Without boxes (or a detector) the whole image is the hand crop.

In a folder run an image that cannot be used (unreadable, truncated, a bad
box) is reported and skipped; the run ends with a summary and exit status 1
when anything was skipped (0 with ``--allow-skipped``). Images whose names
differ only in the extension (``x.png``, ``x.jpg``) keep it in their output
names (``x_png_*``, ``x_jpg_*``).

For every image (or video frame) ``NAME`` it writes to ``--out-dir``:

- ``NAME_overlay.png``: the middle mesh of every hand over the image;
- ``NAME_sequence.png``: per hand, past / middle / future meshes over the
  hand crop and a side view;
- ``NAME_hypotheses.png``: per hand, the top-n hypotheses with their
  selector scores;
- ``meshes/NAME_hand{i}_{step}.{obj|ply}``: the chosen sequence, and
  ``meshes/NAME_hand{i}_rank{r}_hyp{k}_{step}.*`` for the top-n hypotheses;
- ``NAME.json``: MANO parameters, 3D joints (m) and 2D joints (pixels).

A video also gets ``NAME_overlay.mp4``. See ``docs/demo.md``.

The checkpoint is loaded without running code from it (``weights_only=True``
and mmblurhand's allow-list); ``--trust-checkpoint`` lifts that for
CHECKPOINT only, for a file you trust (``docs/security.md``).
"""
import argparse
import json
import os
import os.path as osp
import sys
import warnings

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v')


class DemoError(Exception):
    """A user error; printed as one line without a traceback."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Hand-mesh sequences from blurry images (mmblurhand)')
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='checkpoint (.pth) of the config')
    parser.add_argument(
        'input', help='an image, a folder of images, or a video file')
    parser.add_argument(
        '--out-dir',
        default='work_dirs/demo/outputs',
        help='output folder (default: %(default)s)')
    parser.add_argument(
        '--bbox',
        nargs=4,
        type=float,
        action='append',
        metavar=('X1', 'Y1', 'X2', 'Y2'),
        help='tight hand box in pixels; repeat for several hands. Padded by '
        '--bbox-padding. Default: the whole image is the hand crop')
    parser.add_argument(
        '--bbox-file',
        help='JSON file mapping image file names to hands, e.g. '
        '{"a.png": [{"bbox": [x1, y1, x2, y2], "hand_type": "left"}]}; '
        'for boxes from another detector or annotations (images not '
        'listed use the whole image)')
    parser.add_argument(
        '--bbox-padding',
        type=float,
        default=1.5,
        help='scale of each --bbox about its centre (default: %(default)s, '
        'BlurHand\'s crop)')
    parser.add_argument(
        '--hand-type',
        nargs='+',
        choices=['right', 'left'],
        help='hand type per box (or one for all); left hands are mirrored '
        'in and out. Default: right (or the detector\'s guess)')
    parser.add_argument(
        '--det-model',
        help='optional MediaPipe hand_landmarker.task file to find hand '
        'boxes (needs `pip install mediapipe`)')
    parser.add_argument(
        '--top-n',
        type=int,
        default=3,
        help='hypotheses in the gallery, meshes and JSON (default: '
        '%(default)s)')
    parser.add_argument(
        '--device', default='cpu', help='cpu or cuda:N (default: cpu)')
    parser.add_argument(
        '--backend',
        choices=['pytorch', 'onnxruntime'],
        default='pytorch',
        help='pytorch, or onnxruntime: the network exported to ONNX on first '
        'use and cached (MMBLURHAND_CACHE_DIR, default '
        '~/.cache/mmblurhand/onnx) (default: %(default)s)')
    parser.add_argument(
        '--precision',
        choices=['fp32', 'bf16', 'int8'],
        default='fp32',
        help='fp32; bf16 (pytorch only: bf16 network, MANO in fp32); int8 '
        '(dynamic int8 linear layers, CPU). Accuracy cost per precision: '
        'docs/benchmarks.md (default: %(default)s)')
    parser.add_argument(
        '--mesh-format',
        choices=['obj', 'ply'],
        default='obj',
        help='mesh file format (default: %(default)s)')
    parser.add_argument(
        '--render-backend',
        choices=['auto', 'moderngl', 'pyrender', 'opencv'],
        default='auto',
        help='auto: OpenGL via EGL, else the OpenCV painter\'s fallback')
    parser.add_argument(
        '--max-frames',
        type=int,
        default=None,
        help='stop a video after this many frames')
    parser.add_argument(
        '--allow-skipped',
        action='store_true',
        help='exit with status 0 even when images of a folder were skipped '
        '(unreadable, truncated or with a bad box); they are still listed')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load CHECKPOINT with torch.load(weights_only=False), which '
        'runs any code the file holds; only for a file you trust that the '
        'safe loader refuses (docs/security.md)')
    args = parser.parse_args(argv)
    if args.top_n < 1:
        parser.error('--top-n must be >= 1')
    if args.bbox_padding <= 0:
        parser.error('--bbox-padding must be > 0')
    if args.bbox and args.bbox_file:
        parser.error('give either --bbox or --bbox-file, not both')
    return args


def collect_inputs(path):
    """Classify the input: ``('images', [paths])`` or ``('video', path)``."""
    if osp.isdir(path):
        files = sorted(
            osp.join(path, f) for f in os.listdir(path)
            if f.lower().endswith(IMAGE_EXTS))
        if not files:
            raise DemoError(f'folder "{path}" holds no images '
                            f'({", ".join(IMAGE_EXTS)}); pass an image, a '
                            'folder of images or a video.')
        return 'images', files
    if not osp.exists(path):
        raise DemoError(f'input "{path}" does not exist; pass an image, a '
                        'folder of images or a video.')
    if path.lower().endswith(VIDEO_EXTS):
        return 'video', path
    return 'images', [path]


def output_names(files):
    """A distinct output name per input file: its stem, or, where stems
    clash (``x.png``, ``x.jpg``), the file name with ``_`` for the dot
    (``x_png``, ``x_jpg``).

    Raises:
        DemoError: Two files would still share a name.
    """
    stems = [osp.splitext(osp.basename(path))[0] for path in files]
    counts = {stem: stems.count(stem) for stem in stems}
    names = [
        stem if counts[stem] == 1 else osp.basename(path).replace('.', '_')
        for stem, path in zip(stems, files)
    ]
    seen = {}
    for path, name in zip(files, names):
        if name in seen:
            raise DemoError(f'"{seen[name]}" and "{path}" would write the '
                            f'same outputs ({name}_*); rename one of them.')
        seen[name] = path
    return names


def load_bbox_file(path):
    """Read ``--bbox-file``: ``{name: [(bbox, hand_type or None), ...]}``."""
    if not osp.isfile(path):
        raise DemoError(f'--bbox-file "{path}" does not exist.')
    try:
        with open(path) as f:
            content = json.load(f)
    except ValueError as err:
        raise DemoError(f'--bbox-file "{path}" is not valid JSON ({err}).')
    example = ('{"a.png": [{"bbox": [x1, y1, x2, y2], "hand_type": '
               '"right"}]}')
    if not isinstance(content, dict):
        raise DemoError(f'--bbox-file "{path}" must hold an object like '
                        f'{example}.')
    boxes = {}
    for name, hands in content.items():
        try:
            boxes[name] = [([float(v) for v in hand['bbox']],
                            hand.get('hand_type')) for hand in hands]
            assert all(len(b) == 4 for b, _ in boxes[name])
        except (TypeError, KeyError, ValueError, AssertionError):
            raise DemoError(f'--bbox-file "{path}": entry "{name}" is not a '
                            f'list of hands like {example}.')
    return boxes


def check_bbox_file_names(box_table, path, kind, inputs):
    """``--bbox-file`` must name at least one input image; names that
    match none are listed as a warning."""
    if kind == 'video':
        raise DemoError(f'--bbox-file "{path}" maps image file names to '
                        'boxes; it does not apply to a video. Use --bbox or '
                        '--det-model.')
    names = {osp.basename(f) for f in inputs}
    unmatched = [name for name in box_table if name not in names]
    if box_table and len(unmatched) == len(box_table):
        listed = ', '.join(sorted(names)[:3])
        raise DemoError(
            f'--bbox-file "{path}" names none of the {len(names)} input '
            f'image(s) (it lists e.g. "{unmatched[0]}"; the images are e.g. '
            f'{listed}); its keys must be the images\' file names.')
    if unmatched:
        print(f'warning: --bbox-file "{path}" lists {len(unmatched)} name(s) '
              f'that are not input images, e.g. "{unmatched[0]}"',
              file=sys.stderr)


def check_boxes_and_types(args):
    """Validate --bbox / --hand-type before loading the model."""
    num = len(args.bbox) if args.bbox else 1
    if args.hand_type and not args.bbox_file and len(
            args.hand_type) not in (1, num):
        raise DemoError(f'{len(args.hand_type)} --hand-type values for {num} '
                        'hand(s); give one per --bbox or one for all.')
    for box in args.bbox or []:
        if box[2] <= box[0] or box[3] <= box[1]:
            raise DemoError(f'--bbox {" ".join(f"{v:g}" for v in box)} is '
                            'not X1 Y1 X2 Y2 with X2 > X1 and Y2 > Y1.')


class Demo:
    """Runs the model on images and writes every output for one input."""

    def __init__(self, args):
        from mmblurhand.apis import (CheckpointMismatchError,
                                     MediaPipeHandDetector, init_model)
        from mmblurhand.visualization import MeshVisualizer
        self.args = args
        if not osp.isfile(args.config):
            raise DemoError(f'config "{args.config}" does not exist; pass '
                            'the config file the checkpoint was trained '
                            'with.')
        if not osp.isfile(args.checkpoint):
            raise DemoError(
                f'checkpoint "{args.checkpoint}" does not exist; train one '
                'with tools/train.py or run `make demo` (writes '
                'work_dirs/demo/).')
        try:
            self.model = init_model(
                args.config,
                args.checkpoint,
                args.device,
                trust_checkpoint=args.trust_checkpoint,
                backend=args.backend,
                precision=args.precision)
        except (CheckpointMismatchError, ValueError) as err:
            raise DemoError(str(err).splitlines()[0]) from err
        except RuntimeError as err:
            raise DemoError(str(err).splitlines()[0]) from err
        if self.model.mesh_faces is None:
            raise DemoError(f'the model of "{args.config}" has no hand model '
                            'with mesh faces; the demo needs a mesh model.')
        self.faces = self.model.mesh_faces
        self.visualizer = MeshVisualizer(
            name=f'demo_visualizer_{id(self)}',
            faces=self.faces,
            render_backend=args.render_backend,
            top_n=args.top_n)
        self.box_table = load_bbox_file(args.bbox_file) \
            if args.bbox_file else {}
        self.detector = None
        if args.det_model:
            try:
                self.detector = MediaPipeHandDetector(args.det_model)
            except (FileNotFoundError, ImportError) as err:
                raise DemoError(str(err)) from err

    def close(self):
        if self.detector is not None:
            self.detector.close()

    def boxes_for(self, image, file_name=None):
        """Boxes and hand types for one image: --bbox, --bbox-file, the
        detector, or the whole image."""
        args = self.args
        boxes = args.bbox
        types = args.hand_type
        if file_name in self.box_table:
            listed = self.box_table[file_name]
            boxes = [box for box, _ in listed]
            if all(t is not None for _, t in listed):
                types = types or [t for _, t in listed]
        if boxes is None and self.detector is not None:
            found, found_types, _ = self.detector(image)
            if len(found):
                boxes = found
                types = types or found_types
        if types and len(types) == 1 and boxes is not None:
            types = types * len(boxes)
        return boxes, types

    def run_image(self, image, name, file_name=None):
        """Predict one image and write its outputs; returns the BGR overlay.

        ``image`` (BGR) is used up: :meth:`write_outputs` turns it into RGB
        in place, so a large photo is held in at most two full-size copies
        (it and the overlay); everything else works on hand crops.
        """
        from mmblurhand.apis import inference_blurhand
        args = self.args
        boxes, types = self.boxes_for(image, file_name)
        try:
            hands = inference_blurhand(
                self.model,
                image,
                bboxes=boxes,
                hand_types=types,
                bbox_padding=args.bbox_padding)
        except ValueError as err:
            raise DemoError(f'{name}: {err}') from err
        return self.write_outputs(image, name, hands)

    def write_outputs(self, image_bgr, name, hands):
        """Write every output of one image; returns the BGR overlay.

        ``image_bgr`` is converted to RGB in place (see :meth:`run_image`).
        """
        import cv2
        import numpy as np

        from mmblurhand.apis import result_to_dict, save_mesh
        from mmblurhand.visualization.mesh_visualizer import (
            select_top_hypotheses, stack_rows, time_step_names, write_rgb)
        args, vis = self.args, self.visualizer
        out = args.out_dir
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB, dst=image_bgr)
        overlay = vis.draw_image_overlay(rgb, hands)
        overlay = cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR, dst=overlay)
        overlay_path = osp.join(out, f'{name}_overlay.png')
        if not cv2.imwrite(overlay_path, overlay):
            raise DemoError(f'could not write "{overlay_path}"; check that '
                            '--out-dir is writable.')
        write_rgb(
            osp.join(out, f'{name}_sequence.png'),
            stack_rows([
                vis.draw_prediction(rgb, h.pred_instances, h) for h in hands
            ]))
        write_rgb(
            osp.join(out, f'{name}_hypotheses.png'),
            stack_rows([
                vis.draw_hypotheses(rgb, h.pred_instances, h, args.top_n)
                for h in hands
            ]))
        summary = dict(
            image=name,
            config=args.config,
            checkpoint=args.checkpoint,
            hands=[result_to_dict(h, args.top_n) for h in hands])
        with open(osp.join(out, f'{name}.json'), 'w') as f:
            json.dump(summary, f)
        ext = args.mesh_format
        for i, hand in enumerate(hands):
            pred = hand.pred_instances
            steps = time_step_names(pred.vertices.shape[1])
            for t, step in enumerate(steps):
                save_mesh(
                    osp.join(out, 'meshes', f'{name}_hand{i}_{step}.{ext}'),
                    pred.vertices[0, t], self.faces)
            order = select_top_hypotheses(pred.hyp_scores[0], args.top_n,
                                          pred.topn_indices[0])
            for rank, k in enumerate(order):
                for t, step in enumerate(steps):
                    save_mesh(
                        osp.join(
                            out, 'meshes', f'{name}_hand{i}_rank{rank + 1}'
                            f'_hyp{k}_{step}.{ext}'),
                        np.asarray(pred.hyp_vertices[0, k, t]), self.faces)
        return overlay


#: Per-image failures a folder run reports and skips.
SKIPPABLE = (DemoError, ValueError, OSError)


def run_images(demo, files):
    """Run every image; returns ``(done, skipped)`` where ``skipped`` is a
    list of ``(path, reason)``. A single image's failure is an error."""
    from tqdm import tqdm

    from mmblurhand.apis import load_image
    single = len(files) == 1
    names = output_names(files)
    written, skipped = 0, []
    for path, name in tqdm(
            list(zip(files, names)), desc='images', unit='img',
            disable=single):
        try:
            image, _ = load_image(path)
            demo.run_image(image, name, osp.basename(path))
        except SKIPPABLE as err:
            if single:
                raise DemoError(str(err).splitlines()[0]) from err
            skipped.append((path, str(err).splitlines()[0]))
            continue
        written += 1
    for path, reason in skipped:
        print(f'warning: skipped "{path}": {reason}', file=sys.stderr)
    if written == 0:
        raise DemoError(f'none of the {len(files)} images could be used '
                        '(see the warnings above).')
    return written, skipped


def run_video(demo, path):
    import cv2
    from tqdm import tqdm
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise DemoError(f'cannot open video "{path}"; pass a video OpenCV '
                        'can decode (e.g. MP4/H.264 or AVI/MJPG).')
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    if demo.args.max_frames is not None:
        total = min(total or demo.args.max_frames, demo.args.max_frames)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    stem = osp.splitext(osp.basename(path))[0]
    writer, written = None, 0
    with tqdm(total=total, desc='frames', unit='frame') as bar:
        while total is None or written < total:
            ok, frame = capture.read()
            if not ok:
                break
            overlay = demo.run_image(frame, f'{stem}_{written:06d}')
            if writer is None:
                height, width = overlay.shape[:2]
                writer = cv2.VideoWriter(
                    osp.join(demo.args.out_dir, f'{stem}_overlay.mp4'),
                    cv2.VideoWriter_fourcc(*'mp4v'), fps, (width, height))
            if writer.isOpened():
                writer.write(overlay)
            written += 1
            bar.update(1)
    capture.release()
    if writer is not None:
        writer.release()
    if written == 0:
        raise DemoError(f'video "{path}" has no readable frames.')
    return written


def main(argv=None):
    args = parse_args(argv)
    skipped = []
    try:
        check_boxes_and_types(args)
        kind, inputs = collect_inputs(args.input)
        if kind == 'images':
            output_names(inputs)  # a name clash stops before the model
        if args.bbox_file:
            check_bbox_file_names(
                load_bbox_file(args.bbox_file), args.bbox_file, kind,
                inputs if kind == 'images' else [])
        make_out_dir(args.out_dir)
        demo = Demo(args)
        try:
            if kind == 'video':
                count = run_video(demo, inputs)
            else:
                count, skipped = run_images(demo, inputs)
        finally:
            demo.close()
    except DemoError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    unit = 'frame' if kind == 'video' else 'image'
    summary = f'{count} {unit}{"s" if count != 1 else ""} done'
    if skipped:
        summary += f', {len(skipped)} skipped (listed above)'
    print(f'{summary}; outputs in {osp.abspath(args.out_dir)}')
    return 1 if skipped and not args.allow_skipped else 0


def make_out_dir(path):
    """Create ``--out-dir``, or one line saying why it cannot be."""
    if osp.exists(path) and not osp.isdir(path):
        raise DemoError(f'--out-dir "{path}" is a file, not a folder; pass '
                        'a folder path (it is created if missing).')
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise DemoError(f'cannot create --out-dir "{path}": '
                        f'{err.strerror or err}.') from err


if __name__ == '__main__':
    with warnings.catch_warnings():
        # MMEngine warns about the visualiser's unused backends.
        warnings.filterwarnings('ignore', message='Failed to add')
        sys.exit(main())
