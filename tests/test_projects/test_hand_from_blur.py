# Copyright (c) OpenMMLab. All rights reserved.
"""projects/hand_from_blur: rasteriser, polynomial motion, image formation,
refinement, physics selection, and the generator's background/alpha
outputs."""
import copy
import json
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmblurhand.datasets.synthesis import SynthesisConfig, synthesize_blurhand
from mmblurhand.datasets.synthesis.generator import expected_meta
from mmblurhand.datasets.synthesis.save_extras import (extra_path,
                                                       load_extras)
from mmblurhand.models.mano import ManoLayer
from mmblurhand.models.utils.rotations import axis_angle_to_matrix
from mmblurhand.registry import MODELS
from mmblurhand.utils import register_all_modules

from projects.hand_from_blur.hand_from_blur import (  # isort: skip
    BlurImageFormation, BlurMotionRefiner, PhysicsSelector, PolynomialMotion,
    SoftSilhouetteRasterizer, best_foreground_colour, combine_scores,
    crop_intrinsics, fit_polynomial, fit_translation,
    fit_translation_scaled, hard_silhouette,
    joint_2d_loss, pose_hand, soft_iou, soft_silhouette, step_times)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
register_all_modules()


def grid_mesh(n=6, step=2.3, origin=(5.37, 6.21)):
    """A square of 2 n^2 small triangles, pixel coordinates."""
    ys, xs = torch.meshgrid(
        torch.arange(n + 1.), torch.arange(n + 1.), indexing='ij')
    pts = torch.stack([xs, ys], -1).reshape(-1, 2) * step + torch.tensor(
        origin)
    idx = torch.arange((n + 1)**2).reshape(n + 1, n + 1)
    a, b = idx[:-1, :-1].reshape(-1), idx[:-1, 1:].reshape(-1)
    c, d = idx[1:, :-1].reshape(-1), idx[1:, 1:].reshape(-1)
    faces = torch.cat([torch.stack([a, b, d], 1), torch.stack([a, d, c], 1)])
    return pts, faces


def star_mesh():
    """A non-convex fan (star) with mixed windings."""
    angles = torch.arange(10) * (2 * math.pi / 10)
    radius = torch.where(torch.arange(10) % 2 == 0, 9.0, 4.0)
    rim = torch.stack([radius * angles.cos(), radius * angles.sin()], -1)
    pts = torch.cat([torch.zeros(1, 2), rim]) + torch.tensor([15.3, 14.6])
    faces = torch.tensor([[0, 1 + i, 1 + (i + 1) % 10] for i in range(10)])
    faces[::2] = faces[::2].flip(1)  # mixed winding must not matter
    return pts, faces


@pytest.fixture(scope='module')
def mano():
    return ManoLayer(model_path=None)


# ------------------------------------------------------------ rasteriser --
@pytest.mark.parametrize('mesh', [grid_mesh, star_mesh])
@pytest.mark.parametrize('sigma', [0.05, 1.0])
def test_soft_silhouette_matches_hard_rasteriser(mesh, sigma):
    pts, faces = mesh()
    hard = hard_silhouette(pts, faces, (32, 30))
    assert hard.shape == (30, 32) and hard.sum() > 40
    soft = soft_silhouette(pts, faces, (32, 30), sigma=sigma)
    assert soft.shape == (30, 32)
    assert float(soft.min()) >= 0 and float(soft.max()) <= 1
    mask = soft > 0.5
    iou = (mask & hard).sum() / (mask | hard).sum()
    # 'union' keeps the 0.5 level set on the outline for any sigma
    assert float(iou) == 1.0
    # SoftRas' product dilates the outline with many small faces
    prob = soft_silhouette(pts, faces, (32, 30), sigma=sigma,
                           aggregate='prob')
    assert float(prob.sum()) >= float(soft.sum()) - 1e-4


def test_windowed_rasteriser_equals_dense_softras():
    pts, faces = star_mesh()
    pts = pts.double()
    sigma, eps = 0.7, 1e-6
    soft = soft_silhouette(pts, faces, (32, 30), sigma, eps, aggregate='prob')
    # dense SoftRas: every pixel against every face
    from projects.hand_from_blur.hand_from_blur.rasterizer import \
        _point_triangle_sq_distance
    ys, xs = torch.meshgrid(torch.arange(30.), torch.arange(32.),
                            indexing='ij')
    tri = pts[faces]
    dist, inside = _point_triangle_sq_distance(
        xs.reshape(1, -1).double().expand(len(tri), -1),
        ys.reshape(1, -1).double().expand(len(tri), -1), tri)
    prob = torch.sigmoid(torch.where(inside, dist, -dist) / sigma)
    dense = 1 - (1 - prob).prod(0).view(30, 32)
    assert torch.allclose(soft, dense, atol=20 * eps)


def test_rasteriser_batches_clips_and_drops_faces():
    pts, faces = grid_mesh()
    batch = torch.stack([pts, pts + torch.tensor([30.0, 0.0])])  # 2nd: off
    soft = soft_silhouette(batch[None], faces, (32, 30))
    assert soft.shape == (1, 2, 30, 32)
    single = soft_silhouette(pts, faces, (32, 30))
    assert torch.allclose(soft[0, 0], single)
    # the shifted square is mostly off the image: only its left columns
    assert 0 < float(soft[0, 1].sum()) < 0.5 * float(single.sum())
    valid = torch.zeros(len(faces), dtype=torch.bool)
    assert float(soft_silhouette(pts, faces, (32, 30),
                                 face_valid=valid).max()) < 1e-3
    with pytest.raises(ValueError, match='aggregate'):
        soft_silhouette(pts, faces, (32, 30), aggregate='mean')
    with pytest.raises(ValueError, match=r'\(F, 3\)'):
        soft_silhouette(pts, faces[:, :2], (32, 30))


def test_rasteriser_gradients_match_finite_differences():
    pts, faces = star_mesh()
    pts = pts.double()
    target = soft_silhouette(pts + torch.tensor([1.5, -0.7]).double(),
                             faces, (32, 30), sigma=1.0)
    shift = torch.zeros(2, dtype=torch.float64, requires_grad=True)

    def loss_of(s):
        sil = soft_silhouette(pts + s, faces, (32, 30), sigma=1.0)
        return 1 - soft_iou(sil, target)

    loss = loss_of(shift)
    loss.backward()
    fd = []
    for i in range(2):
        delta = torch.zeros(2, dtype=torch.float64)
        delta[i] = 1e-4
        fd.append(float(loss_of(delta) - loss_of(-delta)) / 2e-4)
    assert np.allclose(shift.grad.numpy(), fd, rtol=0.05, atol=1e-4)
    # descending moves the mesh towards the target (+x, -y)
    assert shift.grad[0] < 0 and shift.grad[1] > 0


def test_rasterizer_module_projects_and_culls():
    pts, faces = grid_mesh()
    depth = 2.0
    focal = torch.tensor([100.0, 100.0])
    princpt = torch.tensor([3.0, 2.0])
    verts = torch.cat([(pts - princpt) / focal * depth,
                       torch.full((len(pts), 1), depth)], -1)
    raster = MODELS.build(
        dict(type='SoftSilhouetteRasterizer', sigma=0.3,
             cull_backfaces=False))
    assert isinstance(raster, SoftSilhouetteRasterizer)
    sil = raster(verts, faces, focal, princpt, (32, 30))
    assert torch.allclose(sil, soft_silhouette(pts, faces, (32, 30), 0.3),
                          atol=1e-5)
    behind = verts * torch.tensor([1.0, 1.0, -1.0])
    assert float(raster(behind, faces, focal, princpt, (32, 30)).max()) < 1e-3
    # this grid's faces turn their backs on the camera (normal +z): culled
    culling = SoftSilhouetteRasterizer(sigma=0.3, cull_backfaces=True)
    assert float(culling(verts, faces, focal, princpt, (32, 30)).max()) < 1e-3
    assert torch.allclose(
        culling(verts, faces.flip(1), focal, princpt, (32, 30)), sil)


# ---------------------------------------------------------------- motion --
def test_polynomial_motion_reproduces_samples():
    torch.manual_seed(0)
    pose = 0.4 * torch.randn(2, 3, 48)
    transl = torch.randn(2, 3, 3) * 0.05 + torch.tensor([0, 0, 0.5])
    betas = torch.randn(2, 10)
    motion = PolynomialMotion.from_samples(pose, transl, betas, degree=2)
    state = motion(step_times(3))
    assert torch.allclose(state['hand_pose'], pose[..., 3:], atol=1e-5)
    assert torch.allclose(state['transl'], transl, atol=1e-5)
    assert torch.allclose(state['rotation'],
                          axis_angle_to_matrix(pose[..., :3]), atol=1e-5)
    assert torch.allclose(motion.mano_pose(step_times(3))[..., 3:],
                          pose[..., 3:], atol=1e-5)
    # constant term of the rotation is zero: R(0) is the middle rotation
    assert motion.rot_coeffs[:, 0].abs().max() < 1e-5
    assert motion.coefficients().shape == (2, 2, 45 + 6)
    # a quadratic through 5 samples is fitted exactly
    tau = torch.linspace(-1, 1, 5)
    values = (1 + 2 * tau - 3 * tau**2)[:, None]
    assert torch.allclose(
        fit_polynomial(values, tau, 2)[:, 0],
        torch.tensor([1.0, 2.0, -3.0]), atol=1e-5)


def test_pose_hand_matches_mano_root_relative(mano):
    torch.manual_seed(1)
    pose = 0.3 * torch.randn(2, 48)
    betas = torch.randn(2, 10)
    ref = mano(pose[:, :3], pose[:, 3:], betas)
    root = ref.joints[:, :1]
    out = pose_hand(mano, pose[:, None, 3:], betas,
                    axis_angle_to_matrix(pose[:, None, :3]),
                    torch.tensor([[[0.1, 0.0, 0.6]]]).expand(2, 1, 3))
    assert torch.allclose(out['joints_rel'][:, 0], ref.joints - root,
                          atol=1e-5)
    assert torch.allclose(out['vertices'][:, 0],
                          ref.vertices - root + torch.tensor([0.1, 0, 0.6]),
                          atol=1e-5)


# ---------------------------------------------------------------- camera --
def test_fit_translation_recovers_translation():
    torch.manual_seed(2)
    joints = torch.randn(4, 21, 3) * 0.04
    transl = torch.tensor([0.05, -0.02, 0.6]).expand(4, 3)
    focal = torch.tensor([[150.0, 160.0]]).expand(4, 2)
    princpt = torch.tensor([[31.0, 33.0]]).expand(4, 2)
    pts = joints + transl[:, None]
    uv = pts[..., :2] / pts[..., 2:] * focal[:, None] + princpt[:, None]
    fitted, err = fit_translation(joints, uv, focal, princpt)
    assert torch.allclose(fitted, transl, atol=1e-4)
    assert float(err.max()) < 1e-2


def test_scaled_translation_fit_is_exact_for_a_flat_hand():
    torch.manual_seed(5)
    joints = torch.randn(3, 21, 3) * 0.04
    joints[..., 2] = 0.0  # fronto-parallel: no foreshortening
    transl = torch.tensor([[0.02, 0.01, 0.7], [-0.03, 0.0, 0.4],
                           [0.0, 0.05, 1.1]])
    focal = torch.full((3, 2), 150.0)
    princpt = torch.full((3, 2), 32.0)
    pts = joints + transl[:, None]
    uv = pts[..., :2] / pts[..., 2:] * focal[:, None] + princpt[:, None]
    fitted, err = fit_translation_scaled(joints, uv, focal, princpt)
    assert torch.allclose(fitted, transl, atol=1e-4)
    # from the box: the joints' larger extent spans box_side pixels
    extent = (joints[..., :2].amax(-2) - joints[..., :2].amin(-2)).amax(-1)
    box = extent * 150.0 / transl[:, 2]
    fitted, _ = fit_translation_scaled(joints, uv * 0 + uv.mean(-2, True),
                                       focal, princpt, box_side=box)
    assert torch.allclose(fitted[:, 2], transl[:, 2], atol=1e-4)


def test_crop_intrinsics_mirror_the_world_for_flipped_crops():
    from mmblurhand.datasets.transforms.hand_geometry import get_crop_matrix
    focal, princpt = np.array([250., 245.]), np.array([63.2, 64.9])
    point = np.array([0.03, -0.02, 0.5])
    uv = point[:2] / point[2] * focal + princpt
    for flip in (False, True):
        matrix = get_crop_matrix([60., 70.], [50., 50.], 0., (64, 64), flip)
        crop_uv = matrix[:, :2] @ uv + matrix[:, 2]
        f_c, p_c = crop_intrinsics(focal, princpt, matrix)
        world = point * np.array([-1. if flip else 1., 1., 1.])
        assert np.allclose(world[:2] / world[2] * f_c + p_c, crop_uv)
    rotated = get_crop_matrix([60., 70.], [50., 50.], 30., (64, 64))
    with pytest.raises(ValueError, match='rotated'):
        crop_intrinsics(focal, princpt, rotated)


# ------------------------------------------------------ image formation --
def _scene(mano, batch=1, size=32):
    """A hand moving sideways in front of a 32 px camera."""
    torch.manual_seed(3)
    pose = torch.zeros(batch, 3, 48)
    pose[..., 0] = math.pi / 2  # palm towards the camera
    pose[..., 3:] = 0.1 * torch.randn(batch, 1, 45)
    transl = torch.tensor([[-0.03, 0.0, 0.5], [0.0, 0.0, 0.5],
                           [0.03, 0.01, 0.5]]).expand(batch, 3, 3)
    betas = torch.zeros(batch, 10)
    focal = torch.full((batch, 2), 60.0)
    princpt = torch.full((batch, 2), (size - 1) / 2)
    return pose, transl, betas, focal, princpt


def test_image_formation_composites_averaged_silhouettes(mano):
    pose, transl, betas, focal, princpt = _scene(mano)
    formation = BlurImageFormation(mano_cfg=mano, num_subframes=5)
    motion = PolynomialMotion.from_samples(pose, transl, betas)
    background = torch.rand(1, 3, 32, 32)
    colour = torch.tensor([[0.8, 0.6, 0.5]])
    out = formation(motion, focal, princpt, (32, 32), background)
    assert out['silhouettes'].shape == (1, 5, 32, 32)
    assert torch.allclose(out['alpha'], out['silhouettes'].mean(1))
    # eq. 2 with a constant foreground, and its least-squares colour
    image = (1 - out['alpha'][:, None]) * background + out['alpha'][:, None] \
        * colour[..., None, None]
    out = formation(motion, focal, princpt, (32, 32), background, image)
    assert torch.allclose(out['colour'], colour, atol=1e-4)
    assert torch.allclose(out['image'], image, atol=1e-4)
    assert torch.allclose(
        best_foreground_colour(image, background, out['alpha']), colour,
        atol=1e-4)
    # moving hands blur: the alpha spreads wider than one sub-frame...
    first = out['silhouettes'][0, 0] > 0.5
    assert float((out['alpha'][0] > 0.01).sum()) > 1.3 * float(first.sum())
    # ...and a still hand's alpha is its silhouette
    still = PolynomialMotion.from_samples(pose, transl[:, 1:2].expand(1, 3, 3),
                                          betas)
    out = formation(still, focal, princpt, (32, 32))
    assert torch.allclose(out['alpha'], out['silhouettes'][:, 0], atol=1e-5)


def _observation(mano, formation, size=32):
    pose, transl, betas, focal, princpt = _scene(mano, batch=2, size=size)
    truth = PolynomialMotion.from_samples(pose, transl, betas)
    background = torch.rand(2, 3, size, size)
    with torch.no_grad():
        out = formation(truth, focal, princpt, (size, size), background)
        posed = formation.pose(truth, step_times(3))
        j = posed['joints']
        uv = j[..., :2] / j[..., 2:] * focal[:, None, None] + princpt[:, None,
                                                                      None]
    image = (1 - out['alpha'][:, None]) * background + out['alpha'][
        :, None] * torch.tensor([0.9, 0.7, 0.6])[:, None, None]
    obs = dict(
        image=image, background=background, alpha=out['alpha'],
        focal=focal, princpt=princpt, image_size=(size, size),
        joints_2d=uv / size,
        joints_2d_weight=torch.ones(uv.shape[:-1]))
    return pose, transl, betas, posed, obs


def test_refinement_step_lowers_the_loss(mano):
    formation = MODELS.build(
        dict(type='BlurImageFormation', mano_cfg=mano, num_subframes=4))
    refiner = BlurMotionRefiner(formation=formation, num_iters=3)
    pose, transl, betas, posed, obs = _observation(mano, formation)
    noisy = pose.clone()
    noisy[..., 3:] += 0.2 * torch.randn_like(noisy[..., 3:])
    noisy[..., :3] += 0.1 * torch.randn_like(noisy[..., :3])
    out = mano(noisy[..., :3], noisy[..., 3:], betas[:, None])
    joints_rel = out.joints - out.joints[..., :1, :]
    motion = refiner.init_motion(noisy, betas, joints_rel, obs)
    terms = refiner.losses(motion, obs)
    assert set(terms) >= {'image', 'matting', 'joints_2d', 'pose_prior',
                          'polynomial', 'loss'}
    assert terms['loss'].shape == (2, )
    before = [p.detach().clone() for p in motion.parameters()]
    result = refiner.refine(motion, obs, num_iters=1)
    assert len(result['history']) == 2
    assert (result['final'] < result['initial']).all()
    # the input motion is left alone
    assert all(torch.equal(a, b) for a, b in zip(before,
                                                   motion.parameters()))
    # the true motion explains the observation better than the noisy one
    truth = refiner.init_motion(pose, betas, posed['joints_rel'], obs)
    assert (refiner.losses(truth, obs)['matting'] < terms['matting']).all()
    with pytest.raises(KeyError, match='unknown loss weights'):
        BlurMotionRefiner(formation=formation, loss_weights=dict(foo=1.))


def test_joint_2d_loss_is_order_invariant():
    torch.manual_seed(4)
    seq = torch.rand(2, 3, 21, 2)
    assert torch.allclose(joint_2d_loss(seq.flip(1), seq), torch.zeros(2))
    assert float(joint_2d_loss(seq + 0.1, seq).min()) > 0.19


def test_physics_selector_prefers_the_true_hypothesis(mano):
    formation = BlurImageFormation(mano_cfg=mano, num_subframes=4)
    refiner = BlurMotionRefiner(formation=formation)
    selector = PhysicsSelector(refiner=refiner, chunk=2)
    pose, transl, betas, posed, obs = _observation(mano, formation)
    wrong = pose.clone()
    wrong[..., 3:] += 0.6 * torch.randn_like(wrong[..., 3:])
    out = mano(wrong[..., :3], wrong[..., 3:], betas[:, None])
    hyps = dict(
        mano_pose=torch.stack([wrong, pose, pose.flip(1)], 1),
        mano_shape=betas[:, None, None].expand(2, 1, 3, 10),
        joints_cam=torch.stack([
            out.joints - out.joints[..., :1, :], posed['joints_rel'],
            posed['joints_rel'].flip(1)
        ], 1))
    scored = selector.score(hyps, obs)
    assert scored['scores'].shape == (2, 3)
    assert (scored['scores'][:, 1] > scored['scores'][:, 0]).all()
    # the reblur cannot tell the direction of time
    assert torch.allclose(scored['scores'][:, 1], scored['scores'][:, 2],
                          atol=1e-4)
    learned = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.3, 0.1]])
    combined = combine_scores(scored['scores'], learned, weight=1.0)
    assert combined.shape == (2, 3)
    with pytest.raises(ValueError, match='shape'):
        combine_scores(scored['scores'], learned[:, :2])


# ----------------------------------------------- generator and config --
def test_generator_saves_background_and_alpha(tmp_path):
    cfg = SynthesisConfig(image_size=48, interacting_prob=0.0,
                          save_background=True, save_alpha=True)
    root = str(tmp_path / 'data')
    synthesize_blurhand(root, 0, 2, seed=3, cfg=cfg, progress=False)
    plain = str(tmp_path / 'plain')
    synthesize_blurhand(plain, 0, 2, seed=3,
                        cfg=SynthesisConfig(image_size=48,
                                            interacting_prob=0.0),
                        progress=False)
    images = sorted(
        osp.relpath(p, osp.join(root, 'blur_images', 'test'))
        for p in __import__('glob').glob(
            osp.join(root, 'blur_images', 'test', '**', '*.png'),
            recursive=True))
    assert len(images) == 2
    for rel in images:
        background, alpha = load_extras(root, 'test', rel)
        blurry = cv2.imread(osp.join(root, 'blur_images', 'test', rel))
        # the default outputs do not change with the options
        assert np.array_equal(
            blurry, cv2.imread(osp.join(plain, 'blur_images', 'test', rel)))
        assert background.shape == blurry.shape and alpha.shape == (48, 48)
        assert 0.0 <= alpha.min() and alpha.max() <= 1.0
        assert alpha.max() > 0.5 and (alpha == 0).mean() > 0.3
        # where no hand ever was, the blurry image is the background
        # (up to the sensor noise)
        empty = alpha == 0
        diff = np.abs(blurry.astype(int) - background.astype(int))[empty]
        assert np.median(diff) <= 3
        assert osp.isfile(extra_path(root, 'alpha', 'test', rel))
    assert not osp.exists(osp.join(plain, 'backgrounds'))
    # the options stay out of the meta when off (old datasets stay valid)
    meta = expected_meta(0, 2, 3, SynthesisConfig(image_size=48))
    assert 'save_background' not in meta and 'save_alpha' not in meta
    with open(osp.join(root, 'synthesis_meta.json')) as f:
        stored = json.load(f)
    assert stored['save_background'] and stored['save_alpha']
    with pytest.raises(FileNotFoundError, match='--save-background'):
        load_extras(plain, 'test', images[0])


def test_project_config_builds_registered_modules():
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings
    cfg = Config.fromfile(
        osp.join(REPO, 'projects', 'hand_from_blur', 'configs',
                 'hfb_mh-sel-ccr_r18s_k16_synthetic-64x64.py'))
    import_modules_from_strings(**cfg.custom_imports)
    selector = MODELS.build(copy.deepcopy(cfg.physics_selector))
    assert isinstance(selector, PhysicsSelector)
    refiner = MODELS.build(copy.deepcopy(cfg.refiner))
    assert refiner.formation.num_subframes == cfg.formation['num_subframes']
    assert all(r['start'] in ('ccr', 'ccr + physics', 'physics', 'init',
                              'oracle') for r in cfg.refinements)
