# Copyright (c) OpenMMLab. All rights reserved.
"""The mmblurhand registry tree: a child of every MMPose node."""
import mmpose.registry as mmpose_registry
import pytest
import torch
from mmengine.registry import DefaultScope, Registry
from torch import nn

import mmblurhand.registry as mmblurhand_registry
from mmblurhand.utils import register_all_modules

register_all_modules()


def _nodes(module):
    # only the module's own nodes (mmpose also imports mmengine's roots)
    return {
        name: obj
        for name, obj in vars(module).items()
        if isinstance(obj, Registry) and not name.startswith('MMENGINE_')
        and not name.startswith('MMPOSE_')
    }


def test_every_mmpose_node_has_an_mmblurhand_child():
    ours = _nodes(mmblurhand_registry)
    theirs = _nodes(mmpose_registry)
    assert set(theirs) <= set(ours), set(theirs) - set(ours)
    for name, node in ours.items():
        assert node.scope == 'mmblurhand', name
        assert node.parent is theirs[name], name
        assert node.parent.children['mmblurhand'] is node, name


@mmblurhand_registry.MODELS.register_module(force=True)
class _RegistryProbeHead(nn.Module):
    """A head only mmblurhand's registry knows."""

    def __init__(self, in_channels: int, out_channels: int = 3):
        super().__init__()
        self.fc = nn.Linear(in_channels, out_channels)

    def forward(self, feats):
        return self.fc(feats[-1].mean(dim=(2, 3)))


def test_mmpose_estimator_builds_a_head_registered_in_mmblurhand():
    with DefaultScope.overwrite_default_scope('mmblurhand'):
        model = mmblurhand_registry.MODELS.build(
            dict(
                type='TopdownPoseEstimator',
                backbone=dict(
                    type='ResNet', depth=18, out_indices=(3, )),
                head=dict(type='_RegistryProbeHead', in_channels=512)))
    assert type(model).__name__ == 'TopdownPoseEstimator'
    assert isinstance(model.head, _RegistryProbeHead)
    feats = model.extract_feat(torch.zeros(1, 3, 64, 64))
    assert model.head(feats).shape == (1, 3)


def test_mmpose_resnet_builds_from_mmblurhand_scope():
    with DefaultScope.overwrite_default_scope('mmblurhand'):
        resnet = mmblurhand_registry.MODELS.build(
            dict(type='ResNet', depth=50))
    n_params = sum(p.numel() for p in resnet.parameters())
    # torchvision ResNet-50 without fc (official-implementations.md §3.7)
    assert n_params == 23_508_032


def test_prefixed_type_builds_from_mmpose_scope():
    with DefaultScope.overwrite_default_scope('mmpose'):
        head = mmpose_registry.MODELS.build(
            dict(type='mmblurhand._RegistryProbeHead', in_channels=8))
    assert isinstance(head, _RegistryProbeHead)
    with DefaultScope.overwrite_default_scope('mmpose'):
        with pytest.raises(KeyError):
            mmpose_registry.MODELS.build(
                dict(type='_RegistryProbeHead', in_channels=8))
