# Copyright (c) OpenMMLab. All rights reserved.
"""The implied-depth fit of tools/analysis_tools/projection_diagnostics.py."""
import importlib.util
import math
import os.path as osp

import torch

from mmblurhand.models.utils.camera import VirtualCamera

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    spec = importlib.util.spec_from_file_location(
        'projection_diagnostics',
        osp.join(REPO, 'tools/analysis_tools/projection_diagnostics.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_implied_depth_recovers_the_camera_depth():
    """Joints projected by the virtual camera at depths 6 and 9 m (a flat
    hand, so perspective is exact) give those depths back; a hand with one
    valid joint gives NaN."""
    camera = VirtualCamera(input_size=(128, 128))
    gen = torch.Generator().manual_seed(0)
    joints = torch.rand(3, 21, 3, generator=gen) * 0.2 - 0.1
    joints[..., 2] = 0.0
    depths = torch.tensor([6.0, 9.0, 7.0])
    trans = torch.zeros(3, 3)
    trans[:, 2] = depths
    joints_2d = camera.project(joints, trans)
    valid = torch.ones(3, 21, dtype=torch.bool)
    valid[2, 1:] = False
    depth = _tool().implied_depth(joints, joints_2d, valid,
                                  camera.focal[0] / camera.input_size[0])
    assert torch.allclose(depth[:2], depths[:2], rtol=1e-4)
    assert math.isnan(float(depth[2]))
