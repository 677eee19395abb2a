# Copyright (c) OpenMMLab. All rights reserved.
import os
import os.path as osp
import warnings
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.visualization import Visualizer

from mmblurhand.registry import HOOKS


@HOOKS.register_module()
class MeshVisualizationHook(Hook):
    """Draw predicted vs ground-truth hand-mesh sequences during val/test.

    The runner's visualiser must be a
    :class:`~mmblurhand.visualization.MeshVisualizer`
    (``visualizer = dict(type='MeshVisualizer', ...)`` in the config). The
    hook gives it the triangles of the model's own hand model, reloads each
    sample's image from ``metainfo['img_path']`` and calls
    ``add_datasample`` (prediction, ground truth, hypotheses gallery).

    - Validation: the first sample of every ``interval``-th batch goes to
      the visualisation backends (e.g. TensorBoard).
    - Test: every ``interval``-th sample is drawn; with ``out_dir`` the
      pictures are written to ``{work_dir}/{timestamp}/{out_dir}/`` as
      ``{image name}_{index}.png`` (this is what
      ``tools/test.py --show-dir`` sets), otherwise they go to the backends.

    Args:
        enable (bool): Draw at all. Defaults to False (``--show-dir`` and
            ``--show`` switch it on).
        interval (int): Draw every ``interval``-th batch (val) or sample
            (test). Defaults to 50.
        show (bool): Display each picture. Defaults to False.
        wait_time (float): Display time, seconds. Defaults to 0.
        out_dir (str, optional): Test pictures folder, relative to the run's
            ``{work_dir}/{timestamp}`` (absolute paths are kept).
        draw_gt (bool): Draw the ground truth row. Defaults to True.
        top_n (int, optional): Hypotheses in the gallery. Defaults to the
            visualiser's ``top_n``.
    """

    def __init__(self,
                 enable: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 out_dir: Optional[str] = None,
                 draw_gt: bool = True,
                 top_n: Optional[int] = None) -> None:
        if interval < 1:
            raise ValueError(f'MeshVisualizationHook: interval must be >= 1, '
                             f'got {interval}.')
        self.enable = enable
        self.interval = int(interval)
        self.show = show
        self.wait_time = wait_time
        self.out_dir = out_dir
        self.draw_gt = draw_gt
        self.top_n = top_n
        self._test_out_dir = None
        self._test_index = 0
        self._visualizer = None

    def _get_visualizer(self, runner: Runner):
        """The runner's ``MeshVisualizer``, with the model's faces set."""
        from mmblurhand.visualization import MeshVisualizer
        from mmblurhand.visualization.mesh_visualizer import find_mesh_faces
        if self._visualizer is None:
            visualizer = Visualizer.get_current_instance()
            if not isinstance(visualizer, MeshVisualizer):
                raise TypeError(
                    'MeshVisualizationHook needs a MeshVisualizer, but the '
                    f'runner\'s visualizer is {type(visualizer).__name__}; '
                    "set `visualizer = dict(type='MeshVisualizer', "
                    "vis_backends=[dict(type='LocalVisBackend')])` in the "
                    'config.')
            faces = find_mesh_faces(runner.model)
            if faces is not None:
                visualizer.set_faces(faces)
            if self.show:
                # Showing only: do not also store through the backends.
                visualizer._vis_backends = {}
            self._visualizer = visualizer
        return self._visualizer

    @staticmethod
    def _load_rgb(data_sample) -> Optional[np.ndarray]:
        img_path = data_sample.metainfo.get('img_path')
        if img_path is None:
            return None
        img = cv2.imread(img_path, cv2.IMREAD_COLOR)
        if img is None:
            warnings.warn(f'MeshVisualizationHook: cannot read "{img_path}"; '
                          'sample not drawn.')
            return None
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence) -> None:
        """Draw the first sample of every ``interval``-th val batch.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the val loop.
            data_batch (dict): The batch.
            outputs (Sequence[PoseDataSample]): The model's predictions.
        """
        if not self.enable or not outputs:
            return
        if batch_idx % self.interval:
            return
        visualizer = self._get_visualizer(runner)
        sample = outputs[0]
        image = self._load_rgb(sample)
        if image is None:
            return
        img_path = sample.metainfo.get('img_path')
        visualizer.add_datasample(
            osp.basename(img_path) if self.show else 'val_img',
            image,
            data_sample=sample,
            draw_gt=self.draw_gt,
            top_n=self.top_n,
            show=self.show,
            wait_time=self.wait_time,
            step=runner.iter + batch_idx)

    def before_test(self, runner: Runner) -> None:
        """Resolve the test output folder once per test run.

        Args:
            runner (Runner): The runner.
        """
        self._test_index = 0
        self._test_out_dir = None
        if self.enable and self.out_dir is not None:
            self._test_out_dir = osp.join(runner.work_dir, runner.timestamp,
                                          self.out_dir)
            os.makedirs(self._test_out_dir, exist_ok=True)

    def after_test_iter(self, runner: Runner, batch_idx: int,
                        data_batch: dict, outputs: Sequence) -> None:
        """Draw every ``interval``-th test sample.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Index of the batch in the test loop.
            data_batch (dict): The batch.
            outputs (Sequence[PoseDataSample]): The model's predictions.
        """
        if not self.enable:
            return
        visualizer = self._get_visualizer(runner)
        for sample in outputs:
            index = self._test_index
            self._test_index += 1
            if index % self.interval:
                continue
            image = self._load_rgb(sample)
            if image is None:
                continue
            img_path = sample.metainfo.get('img_path')
            out_file = None
            if self._test_out_dir is not None:
                stem = osp.splitext(osp.basename(img_path))[0]
                out_file = osp.join(self._test_out_dir,
                                    f'{stem}_{index}.png')
            visualizer.add_datasample(
                osp.basename(img_path) if self.show else 'test_img',
                image,
                data_sample=sample,
                draw_gt=self.draw_gt,
                top_n=self.top_n,
                show=self.show,
                wait_time=self.wait_time,
                out_file=out_file,
                step=index)
