# Copyright (c) OpenMMLab. All rights reserved.
"""Rotation conversions: hand-computed cases, round trips (property tests,
including angles near 0 and pi), an independent oracle (scipy), gradients."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from mmblurhand.models.utils.rotations import (axis_angle_to_matrix,
                                               axis_angle_to_quaternion,
                                               matrix_to_axis_angle,
                                               matrix_to_quaternion,
                                               matrix_to_rot6d,
                                               quaternion_to_axis_angle,
                                               quaternion_to_matrix,
                                               rot6d_to_matrix)

# Angles that stress the special cases: exactly 0, tiny, around the Taylor
# switch, generic, and just below / at pi.
ANGLES = st.one_of(
    st.just(0.0),
    st.floats(1e-9, 1e-6),
    st.floats(5e-3, 2e-2),
    st.floats(0.0, math.pi),
    st.floats(math.pi - 1e-4, math.pi),
    st.just(math.pi),
)
AXES = st.tuples(*[st.floats(-1, 1) for _ in range(3)]).filter(
    lambda a: np.linalg.norm(a) > 1e-3)

PROPERTY = settings(max_examples=60, deadline=None)


def _axis_angle(axis, angle):
    axis = np.asarray(axis, dtype=np.float64)
    return torch.tensor(axis / np.linalg.norm(axis) * angle)


def _rotation_distance(r1, r2):
    """Geodesic angle between rotation matrices (radians)."""
    cos = ((r1.transpose(-1, -2) @ r2).diagonal(dim1=-2, dim2=-1).sum(-1) -
           1) / 2
    return torch.arccos(cos.clamp(-1, 1))


def test_hand_computed_cases():
    quarter_z = torch.tensor([0.0, 0.0, math.pi / 2])
    r = axis_angle_to_matrix(quarter_z)
    assert torch.allclose(r @ torch.tensor([1.0, 0, 0]),
                          torch.tensor([0.0, 1, 0]), atol=1e-6)
    q = axis_angle_to_quaternion(quarter_z)
    s = math.sqrt(0.5)
    assert torch.allclose(q, torch.tensor([s, 0, 0, s]), atol=1e-6)
    half_x = torch.tensor([math.pi, 0.0, 0.0])
    assert torch.allclose(
        axis_angle_to_matrix(half_x), torch.diag(torch.tensor([1.0, -1,
                                                               -1])),
        atol=1e-6)
    # A half turn about x read back from its matrix keeps angle pi.
    aa = matrix_to_axis_angle(torch.diag(torch.tensor([1.0, -1, -1])))
    assert torch.allclose(aa.abs(), half_x, atol=1e-6)


def test_rot6d_layout_matches_official_reading():
    # Elements (0, 2, 4) are column 1, (1, 3, 5) column 2.
    x = torch.tensor([2.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    assert torch.allclose(rot6d_to_matrix(x), torch.eye(3))
    # Column 1 along y, column 2 along z: b3 = y x z = x.
    x = torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0, 0.5])
    expected = torch.tensor([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert torch.allclose(rot6d_to_matrix(x), expected)
    assert torch.allclose(matrix_to_rot6d(torch.eye(3)),
                          torch.tensor([1.0, 0, 0, 1, 0, 0]))


@PROPERTY
@given(AXES, ANGLES)
def test_axis_angle_matrix_round_trip(axis, angle):
    aa = _axis_angle(axis, angle)
    r = axis_angle_to_matrix(aa)
    assert torch.allclose(r @ r.T, torch.eye(3, dtype=r.dtype), atol=1e-9)
    oracle = Rotation.from_rotvec(aa.numpy()).as_matrix()
    assert np.allclose(r.numpy(), oracle, atol=1e-9)
    back = matrix_to_axis_angle(r)
    if angle < math.pi - 1e-3:
        assert torch.allclose(back, aa, atol=1e-7)
    else:
        # At pi, aa and -aa are the same rotation.
        assert torch.allclose(axis_angle_to_matrix(back), r, atol=1e-7)
        assert abs(back.norm().item() - angle) < 1e-6


@PROPERTY
@given(AXES, ANGLES)
def test_quaternion_round_trips(axis, angle):
    aa = _axis_angle(axis, angle)
    q = axis_angle_to_quaternion(aa)
    assert abs(q.norm().item() - 1) < 1e-12
    assert torch.allclose(quaternion_to_matrix(q), axis_angle_to_matrix(aa),
                          atol=1e-9)
    q_back = matrix_to_quaternion(quaternion_to_matrix(q))
    # q and -q are the same rotation.
    assert min((q_back - q).abs().max(), (q_back + q).abs().max()) < 1e-7
    aa_back = quaternion_to_axis_angle(q)
    if angle < math.pi - 1e-3:
        assert torch.allclose(aa_back, aa, atol=1e-7)
    else:
        assert torch.allclose(axis_angle_to_matrix(aa_back),
                              axis_angle_to_matrix(aa), atol=1e-7)
    # Scale invariance of the quaternion input.
    assert torch.allclose(quaternion_to_axis_angle(-3.0 * q), aa_back,
                          atol=1e-7)


@PROPERTY
@given(st.lists(st.floats(-10, 10), min_size=6, max_size=6).filter(
    lambda v: np.linalg.norm(np.cross(v[0::2], v[1::2])) > 1e-3))
def test_rot6d_gives_rotations_and_round_trips(values):
    x = torch.tensor(values, dtype=torch.float64)
    r = rot6d_to_matrix(x)
    assert torch.allclose(r @ r.T, torch.eye(3, dtype=r.dtype), atol=1e-9)
    assert abs(torch.det(r).item() - 1) < 1e-9
    # Column 1 keeps the direction of the first 3x2 column.
    col1 = x[0::2] / x[0::2].norm()
    assert torch.allclose(r[:, 0], col1, atol=1e-9)
    assert torch.allclose(rot6d_to_matrix(matrix_to_rot6d(r)), r, atol=1e-9)


def test_random_batches_against_scipy_and_leading_dims():
    rng = np.random.default_rng(0)
    rot = Rotation.random(2 * 3 * 4, random_state=1)
    mats = torch.tensor(rot.as_matrix()).reshape(2, 3, 4, 3, 3)
    aa = matrix_to_axis_angle(mats)
    assert aa.shape == (2, 3, 4, 3)
    assert torch.allclose(axis_angle_to_matrix(aa), mats, atol=1e-9)
    quat = matrix_to_quaternion(mats)
    assert quat.shape == (2, 3, 4, 4)
    scipy_q = rot.as_quat()[:, [3, 0, 1, 2]]  # scipy is (x, y, z, w)
    scipy_q *= np.sign(scipy_q[:, :1])
    assert np.allclose(quat.reshape(-1, 4).numpy(), scipy_q, atol=1e-9)
    assert matrix_to_rot6d(mats).shape == (2, 3, 4, 6)
    noisy = matrix_to_rot6d(mats) + 0.01 * torch.tensor(
        rng.standard_normal((2, 3, 4, 6)))
    assert rot6d_to_matrix(noisy).shape == (2, 3, 4, 3, 3)
    # Float32 works and stays float32.
    assert axis_angle_to_matrix(aa.float()).dtype == torch.float32


@pytest.mark.parametrize('angle', [0.0, 1e-7, 1e-3, 1.0, math.pi - 1e-6,
                                   math.pi])
def test_gradients_are_finite(angle):
    axis = torch.tensor([0.3, -0.5, 0.8])
    aa = (axis / axis.norm() * angle).double().requires_grad_(True)
    r = axis_angle_to_matrix(aa)
    q = axis_angle_to_quaternion(aa)
    out = r.sum() + q.sum() + matrix_to_axis_angle(r).sum() + \
        quaternion_to_axis_angle(q).sum() + matrix_to_quaternion(r).sum()
    (grad, ) = torch.autograd.grad(out, aa)
    assert torch.isfinite(grad).all()

    mat = axis_angle_to_matrix(aa.detach()).requires_grad_(True)
    (grad, ) = torch.autograd.grad(matrix_to_axis_angle(mat).sum(), mat)
    assert torch.isfinite(grad).all()
    x6 = matrix_to_rot6d(mat.detach()).requires_grad_(True)
    (grad, ) = torch.autograd.grad(rot6d_to_matrix(x6).sum(), x6)
    assert torch.isfinite(grad).all()


def test_gradient_at_zero_matches_derivative_of_rodrigues():
    # d R / d aa at 0 is the cross-product generator: dR[1,0]/d aa_z = 1.
    aa = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    (grad, ) = torch.autograd.grad(axis_angle_to_matrix(aa)[1, 0], aa)
    assert torch.allclose(grad, torch.tensor([0.0, 0, 1], dtype=grad.dtype))
    # and the log map has unit slope at the identity.
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    (grad, ) = torch.autograd.grad(
        matrix_to_axis_angle(axis_angle_to_matrix(w))[2], w)
    assert torch.allclose(grad, torch.tensor([0.0, 0, 1], dtype=grad.dtype))


def test_near_pi_matrices_keep_their_angle_in_float32():
    axis = torch.tensor([1.0, 2.0, -2.0]) / 3
    for eps in (0.0, 1e-6, 1e-4):
        r = axis_angle_to_matrix(axis * (math.pi - eps))
        back = matrix_to_axis_angle(r)
        assert torch.isfinite(back).all()
        assert _rotation_distance(axis_angle_to_matrix(back), r) < 1e-3


def test_wrong_shapes_raise():
    with pytest.raises(ValueError, match=r'\(\.\.\., 3\)'):
        axis_angle_to_matrix(torch.zeros(4))
    with pytest.raises(ValueError, match=r'\(\.\.\., 3, 3\)'):
        matrix_to_axis_angle(torch.zeros(3, 4))
    with pytest.raises(ValueError, match='rot6d'):
        rot6d_to_matrix(torch.zeros(2, 5))
