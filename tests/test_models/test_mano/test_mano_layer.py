# Copyright (c) OpenMMLab. All rights reserved.
"""ManoLayer: shapes over leading dims, zero pose, tips, transl, wrist
rotation centre, gradients, left/right mirror symmetry, checkpoints,
registry and loading a MANO-like file."""
import numpy as np
import pytest
import torch

from mmblurhand.models.mano import (MANO16_JOINT_NAMES, MANO21_JOINT_NAMES,
                                    ManoLayer, ManoOutput)
from mmblurhand.models.utils.rotations import axis_angle_to_matrix

TIPS = [MANO21_JOINT_NAMES.index(f'{f}_4')
        for f in ('Thumb', 'Index', 'Middle', 'Ring', 'Pinky')]


@pytest.fixture(scope='module')
def layer():
    return ManoLayer()


@pytest.fixture(scope='module')
def flat_layer():
    return ManoLayer(flat_hand_mean=True)


def _random_inputs(shape, seed=0, scale=0.3):
    gen = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape + (3, ), generator=gen),
            scale * torch.randn(shape + (45, ), generator=gen),
            torch.randn(shape + (10, ), generator=gen),
            0.1 * torch.randn(shape + (3, ), generator=gen))


@pytest.mark.parametrize('shape', [(2, 3), (16, 2, 3)])
def test_output_shapes_for_leading_dims(layer, shape):
    out = layer(*_random_inputs(shape))
    assert isinstance(out, ManoOutput)
    assert out.vertices.shape == shape + (778, 3)
    assert out.joints.shape == shape + (21, 3)
    # One batched call equals the per-element results.
    go, pose, betas, transl = _random_inputs(shape)
    single = layer(go.reshape(-1, 3)[5], pose.reshape(-1, 45)[5],
                   betas.reshape(-1, 10)[5], transl.reshape(-1, 3)[5])
    assert single.vertices.shape == (778, 3)
    assert torch.allclose(single.vertices, out.vertices.reshape(-1, 778,
                                                                3)[5],
                          atol=1e-6)


def test_inputs_broadcast_over_leading_dims(layer):
    go, pose, _, _ = _random_inputs((4, 2, 3))
    betas = torch.randn(2, 1, 10)  # shared over hypotheses and time
    out = layer(go, pose, betas)
    ref = layer(go, pose, betas.expand(4, 2, 3, 10))
    assert torch.allclose(out.vertices, ref.vertices)
    with pytest.raises(ValueError, match='do not broadcast'):
        layer(go, pose, torch.zeros(5, 10))
    with pytest.raises(ValueError, match=r'hand_pose must be a tensor of '
                       r'shape \(\.\.\., 45\)'):
        layer(go, pose[..., :44], torch.zeros(10))


def test_attributes(layer, right_arrays):
    assert layer.num_vertices == 778 and layer.num_joints == 21
    assert layer.faces.dtype == np.int64 and layer.faces.shape == (1538, 3)
    assert layer.faces_tensor.dtype == torch.long
    assert np.array_equal(layer.faces_tensor.numpy(), layer.faces)
    assert layer.parents.tolist() == [
        -1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14
    ]
    assert layer.joint_regressor.shape == (21, 778)
    assert layer.hands_mean.shape == (45, )
    assert np.allclose(layer.hands_mean.numpy(), right_arrays['hands_mean'],
                       atol=1e-7)
    # Regressor rows: MANO-16 rows moved to MANO-21 order + one-hot tips.
    reg = layer.joint_regressor.numpy()
    for name in MANO16_JOINT_NAMES:
        np.testing.assert_allclose(
            reg[MANO21_JOINT_NAMES.index(name)],
            right_arrays['J_regressor'][MANO16_JOINT_NAMES.index(name)],
            atol=1e-7)
    for row, vid in zip(TIPS, (745, 317, 445, 556, 673)):
        assert reg[row, vid] == 1 and reg[row].sum() == 1


def test_zero_pose_gives_the_template(layer, flat_layer, right_arrays):
    template = torch.tensor(right_arrays['v_template'], dtype=torch.float32)
    zeros = (torch.zeros(2, 3), torch.zeros(2, 45), torch.zeros(2, 10))
    out = flat_layer(*zeros)
    assert torch.allclose(out.vertices, template.expand(2, -1, -1),
                          atol=1e-6)
    # With the mean pose added, minus the mean pose is the template too.
    out = layer(zeros[0], -layer.hands_mean.expand(2, 45), zeros[2])
    assert torch.allclose(out.vertices, template.expand(2, -1, -1),
                          atol=1e-6)
    # and zero pose is the (different) relaxed mean hand.
    relaxed = layer(*zeros).vertices
    assert (relaxed - template).norm(dim=-1).max() > 0.01


def test_tips_equal_the_configured_vertices(layer):
    out = layer(*_random_inputs((3, )))
    ids = list(layer.tip_vertex_ids)
    assert ids == [745, 317, 445, 556, 673]
    assert torch.equal(out.joints[:, TIPS], out.vertices[:, ids])
    smplx_tips = ManoLayer(tip_vertex_ids=(744, 320, 443, 554, 671))
    out = smplx_tips(*_random_inputs((3, )))
    assert torch.equal(out.joints[:, TIPS],
                       out.vertices[:, [744, 320, 443, 554, 671]])
    with pytest.raises(ValueError, match='tip_vertex_ids'):
        ManoLayer(tip_vertex_ids=(1, 2, 3))
    with pytest.raises(ValueError, match=r'\[0, 778\)'):
        ManoLayer(tip_vertex_ids=(1, 2, 3, 4, 778))


def test_transl_and_global_orient(layer):
    go, pose, betas, transl = _random_inputs((4, ))
    base = layer(torch.zeros_like(go), pose, betas)
    moved = layer(torch.zeros_like(go), pose, betas, transl)
    assert torch.allclose(moved.vertices, base.vertices + transl[:, None],
                          atol=1e-6)
    # The global rotation turns the hand about its rest wrist joint (the
    # wrist regressed from the unposed, shaped mesh).
    turned = layer(go, pose, betas)
    flat = layer(torch.zeros_like(go), -layer.hands_mean.expand(4, 45), betas)
    wrist = flat.joints[:, :1]
    rot = axis_angle_to_matrix(go)
    expected = (base.vertices - wrist) @ rot.transpose(-1, -2) + wrist
    assert torch.allclose(turned.vertices, expected, atol=1e-6)
    assert torch.allclose(turned.joints[:, 0], base.joints[:, 0], atol=1e-4)


def test_gradients_are_finite_including_zero_pose(layer):
    go, pose, betas, transl = [
        x.clone().requires_grad_(True) for x in _random_inputs((2, ))
    ]
    zero = torch.zeros(2, 3, requires_grad=True)
    out = layer(zero, pose, betas, transl)
    out2 = layer(go, torch.zeros(2, 45, requires_grad=True), betas)
    loss = out.vertices.square().sum() + out.joints.abs().sum() + \
        out2.joints.square().sum()
    loss.backward()
    for x in (zero, pose, betas, transl, go):
        assert x.grad is not None and torch.isfinite(x.grad).all()
    assert pose.grad.abs().sum() > 0 and betas.grad.abs().sum() > 0


def test_left_hand_is_the_mirror_image_of_the_right(layer):
    left = ManoLayer(side='left')
    go, pose, betas, _ = _random_inputs((3, ))
    mirror_aa = torch.tensor([1.0, -1.0, -1.0])
    right_out = layer(go, pose, betas)
    left_out = left(go * mirror_aa, pose * mirror_aa.repeat(15), betas)
    reflect = torch.tensor([-1.0, 1.0, 1.0])
    assert torch.allclose(left_out.vertices, right_out.vertices * reflect,
                          atol=1e-5)
    assert torch.allclose(left_out.joints, right_out.joints * reflect,
                          atol=1e-5)
    assert np.array_equal(left.faces, layer.faces[:, ::-1])


def test_checkpoints_hold_no_model_arrays(layer):
    # MANO may not be redistributed inside checkpoints, and a checkpoint
    # must not swap one hand model for another.
    assert list(layer.state_dict()) == []
    assert list(layer.parameters()) == []
    other = ManoLayer()
    other.load_state_dict(layer.state_dict())


def test_double_precision(layer):
    double = ManoLayer().double()
    go, pose, betas, _ = _random_inputs((2, ))
    out = double(go.double(), pose.double(), betas.double())
    assert out.vertices.dtype == torch.float64
    assert torch.allclose(out.vertices.float(),
                          layer(go, pose, betas).vertices, atol=1e-5)


def test_built_from_registry():
    from mmblurhand.registry import MODELS
    built = MODELS.build(dict(type='ManoLayer', side='left'))
    assert isinstance(built, ManoLayer) and built.side == 'left'


def test_loads_a_mano_like_official_file(tmp_path, right_arrays,
                                         official_like_pickle):
    scaled = dict(right_arrays, v_template=right_arrays['v_template'] * 1.1)
    official_like_pickle(tmp_path / 'MANO_RIGHT.pkl', scaled)
    real = ManoLayer(model_path=str(tmp_path), flat_hand_mean=True)
    out = real(torch.zeros(3), torch.zeros(45), torch.zeros(10))
    assert torch.allclose(
        out.vertices,
        torch.tensor(scaled['v_template'], dtype=torch.float32),
        atol=1e-6)
    assert 'MANO' in repr(real) and str(tmp_path) in repr(real)
