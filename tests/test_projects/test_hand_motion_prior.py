# Copyright (c) OpenMMLab. All rights reserved.
"""Tests of projects/hand_motion_prior and the blurry-video generator."""
import os.path as osp

import numpy as np
import pytest
import torch

from mmblurhand.datasets.synthesis import SynthesisConfig
from mmblurhand.datasets.synthesis.generator import hand_model
from mmblurhand.datasets.synthesis.video import (VideoSynthesisConfig,
                                                 frame_tables,
                                                 load_video_clip,
                                                 sample_motion_corpus,
                                                 sample_video_motion,
                                                 synthesize_blurhand_videos)
from mmblurhand.datasets.synthesis.motion import sample_speeds
from mmblurhand.utils import register_all_modules
from projects.hand_motion_prior.hand_motion_prior import (
    HandMotionFitter, HandMotionVAE, keypoint_confidence, observation_grid,
    resolve_frame_orders, sequence_errors, slerp, slerp_smooth,
    solve_translation)
from projects.hand_motion_prior.hand_motion_prior.evaluation import \
    fitter_inputs

register_all_modules()


def tiny_vae(window=9, **kwargs):
    cfg = dict(
        window=window,
        latent_dim=8,
        embed_dims=32,
        num_layers=1,
        num_heads=2,
        num_freqs=3,
        decoder_dims=64,
        decoder_layers=2,
        pos_frames=2)
    cfg.update(kwargs)
    return HandMotionVAE(**cfg)


# ----------------------------------------------------------------------------
# video generator
def test_frame_tables_consecutive_exposures():
    cfg = VideoSynthesisConfig(num_frames=3)
    tables = frame_tables(cfg)
    # back-to-back: the last key frame of a frame is the next one's first
    assert (tables['frame_keyframes'][1:, 0] ==
            tables['frame_keyframes'][:-1, -1]).all()
    # each frame averages the image generator's 33 sub-frames
    start, stop = tables['frame_subframes'].T
    assert ((stop - start) == 33).all()
    assert len(tables['subframe_times']) == (cfg.num_keyframes_total -
                                             1) * 8 + 1
    assert cfg.video_fps == pytest.approx(7.5)
    np.testing.assert_allclose(np.diff(tables['frame_times']), 4 / 30)
    # a longer stride leaves gaps between exposures
    gap = frame_tables(VideoSynthesisConfig(num_frames=3, frame_stride=6))
    assert (gap['frame_keyframes'][1:, 0] -
            gap['frame_keyframes'][:-1, -1] == 2).all()
    with pytest.raises(ValueError, match='cannot overlap'):
        VideoSynthesisConfig(frame_stride=2)


def test_video_motion_is_continuous():
    _, art, _ = hand_model(None, 'right')
    rng = np.random.default_rng(0)
    times = np.arange(0, 1.0, 1 / 240)
    speeds = sample_speeds(rng)
    from scipy.spatial.transform import Rotation
    motion = sample_video_motion(rng, art, speeds, Rotation.identity(),
                                 np.zeros(3), times, control_dt=4 / 30)
    assert motion['hand_pose'].shape == (len(times), art.num_joints * 3)
    # no jumps between sub-frames (smooth splines)
    step = np.abs(np.diff(motion['hand_pose'], axis=0)).max()
    assert step < 0.05
    assert np.linalg.norm(motion['transl'], axis=1).max() < 0.1


def test_synthesize_video_clip(tmp_path):
    cfg = VideoSynthesisConfig(
        image=SynthesisConfig(image_size=32), num_frames=2)
    out = str(tmp_path / 'videos')
    summary = synthesize_blurhand_videos(out, 0, 1, cfg=cfg, progress=False)
    assert summary['splits']['test']['frames'] == 2
    clip = load_video_clip(osp.join(out, 'test', 'clip_00000'))
    assert all(osp.isfile(p) for p in clip['image_paths'])
    num_sub = len(clip['subframe_times'])
    assert clip['joints_cam'].shape == (num_sub, 21, 3)
    assert clip['hand_pose'].shape == (num_sub, 45)
    # GT projections follow the camera
    proj = clip['joints_cam'][..., :2] / clip['joints_cam'][..., 2:] * \
        clip['focal'] + clip['princpt']
    np.testing.assert_allclose(proj, clip['joints_img'], atol=1e-2)
    # same options: nothing to do; other options: refused
    assert synthesize_blurhand_videos(
        out, 0, 1, cfg=cfg, progress=False)['skipped']
    with pytest.raises(FileExistsError, match='overwrite'):
        synthesize_blurhand_videos(out, 0, 2, cfg=cfg, progress=False)
    with pytest.raises(FileNotFoundError, match='--video'):
        load_video_clip(str(tmp_path / 'missing'))


def test_converter_video_option(tmp_path, capsys):
    import importlib.util
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    spec = importlib.util.spec_from_file_location(
        'synthesize_blurhand_cli',
        osp.join(repo, 'tools/dataset_converters/synthesize_blurhand.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    argv = [
        '--video', '--out',
        str(tmp_path / 'v'), '--num-train', '1', '--num-test', '0',
        '--num-frames', '2', '--img-size', '32', '--workers', '1', '--quiet'
    ]
    summary = cli.main(argv)
    assert summary['splits']['train']['frames'] == 2
    assert osp.isfile(tmp_path / 'v' / 'train' / 'clip_00000' /
                      'frame_0001.png')
    with pytest.raises(SystemExit, match='cannot overlap'):
        cli.main(argv + ['--frame-stride', '1'])


# ----------------------------------------------------------------------------
# motion VAE
def test_vae_shapes_and_losses():
    torch.manual_seed(0)
    vae = tiny_vae()
    pose = 0.2 * torch.randn(3, 9, 45)
    times = torch.linspace(0, 1, 9).expand(3, -1)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[0, 1::2] = False
    mu, log_var = vae.encode(pose, times, mask)
    assert mu.shape == log_var.shape == (3, 8)
    query = torch.rand(3, 5)
    assert vae.decode(mu, query).shape == (3, 5, 15, 3, 3)
    assert vae.decode_pose(mu, query).shape == (3, 5, 45)
    # rotations are proper
    rot = vae.decode(mu, query)
    np.testing.assert_allclose(torch.det(rot).detach().numpy(), 1, atol=1e-4)
    # masked observations do not change the posterior
    changed = pose.clone()
    changed[0, 1::2] += 1.0
    mu2, _ = vae.encode(changed, times, mask)
    torch.testing.assert_close(mu2[0], mu[0], atol=1e-5, rtol=1e-5)
    losses = vae(pose, mode='loss')
    assert set(losses) == {'loss_rot', 'loss_pos', 'loss_vel', 'loss_kl'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert vae(pose, mode='tensor').shape == (3, 9, 45)
    with pytest.raises(ValueError, match='windows of 9'):
        vae.loss(pose[:, :5])
    with pytest.raises(ValueError, match='hand_pose must be'):
        vae.encode(pose[..., :10], times)


def test_vae_decoder_is_a_continuous_field():
    torch.manual_seed(0)
    vae = tiny_vae()
    z = torch.randn(2, 8)
    t = torch.tensor([[0.1, 0.5, 0.9]]).expand(2, -1)
    # a time's output does not depend on the other queried times
    full = vae.decode_pose(z, t)
    single = vae.decode_pose(z, t[:, 1:2])
    torch.testing.assert_close(full[:, 1:2], single)
    # nearby times give nearby poses
    near = vae.decode_pose(z, t + 1e-4)
    assert (near - full).abs().max() < 1e-2


def test_kl_to_posterior_matches_gaussian_nll():
    z = torch.tensor([[1.0, -2.0]])
    mu = torch.tensor([[0.0, 0.0]])
    log_var = torch.log(torch.tensor([[4.0, 1.0]]))
    # 0.5 * (1/4 + log 4) + 0.5 * (4 + 0)
    expected = 0.5 * (0.25 + np.log(4.0)) + 0.5 * 4.0
    value = HandMotionVAE.kl_to_posterior(z, mu, log_var)
    assert float(value) == pytest.approx(expected, rel=1e-6)


# ----------------------------------------------------------------------------
# confidence
def test_keypoint_confidence_formula():
    # original view at 0; two views at distances 3 and 4 for joint 0 and
    # at 0 for joint 1
    points = np.zeros((3, 2, 2))
    points[1, 0] = [3.0, 0.0]
    points[2, 0] = [0.0, 4.0]
    alpha, sigma = keypoint_confidence(points, gamma=10.0, return_sigma=True)
    # sigma^2 = (9 + 16) / 2
    assert sigma[0] == pytest.approx(np.sqrt(12.5))
    assert alpha[0] == pytest.approx(1 - np.sqrt(12.5) / 10)
    assert alpha[1] == 1.0
    # clipped at gamma: zero confidence
    assert keypoint_confidence(points, gamma=2.0)[0] == 0.0
    # batched over leading dims, gamma broadcast per joint
    batch = keypoint_confidence(np.stack([points, points]),
                                gamma=np.array([10.0, 1.0]))
    assert batch.shape == (2, 2)
    with pytest.raises(ValueError, match='N >= 1'):
        keypoint_confidence(points[:1], 1.0)
    with pytest.raises(ValueError, match='gamma must be > 0'):
        keypoint_confidence(points, 0.0)


# ----------------------------------------------------------------------------
# sequence helpers
def test_slerp_and_smoothing():
    q0 = np.array([1.0, 0, 0, 0])
    q1 = np.array([np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])  # 90 deg z
    mid = slerp(q0, q1, 0.5)
    np.testing.assert_allclose(
        mid, [np.cos(np.pi / 8), 0, 0, np.sin(np.pi / 8)], atol=1e-12)
    # a constant-speed rotation is left alone; a spike is reduced
    line = np.zeros((7, 3))
    line[:, 2] = np.linspace(0, 1.2, 7)
    np.testing.assert_allclose(slerp_smooth(line), line, atol=1e-9)
    spike = line.copy()
    spike[3, 0] = 0.5
    assert np.abs(slerp_smooth(spike)[3, 0]) < 0.25


def test_resolve_frame_orders():
    t = np.linspace(0, 1, 13)
    path = np.stack([np.sin(3 * t), t**2, 0.5 * t], -1)  # (13, 3)
    joints = np.repeat(path[:, None], 4, 1) * np.arange(1, 5)[None, :, None]
    frames = np.stack([joints[i * 2:i * 2 + 3] for i in range(6)])  # F, T
    flip = np.array([False, True, True, False, True, False])
    observed = np.where(flip[:, None, None, None], frames[:, ::-1], frames)
    assert (resolve_frame_orders(observed) == ~flip).all()


def test_sequence_errors_hand_computed():
    gt = np.zeros((4, 2, 3))
    gt[:, 1, 0] = 0.1
    pred = gt.copy()
    pred[:, 1, 1] = 0.01  # 10 mm off at joint 1
    out = sequence_errors(pred, gt)
    assert out['ra_mpjpe'] == pytest.approx(5.0)
    assert out['ra_acc'] == pytest.approx(0.0)
    pred[2, 1, 1] = 0.02  # a 10 mm spike at t=2
    # second differences of joint 1: t=1: +10 mm, t=2: -20 mm; joint 0: 0
    assert sequence_errors(pred, gt)['ra_acc'] == pytest.approx(
        (10 + 20) / 4)


def test_solve_translation_recovers_root():
    rng = np.random.default_rng(0)
    rel = rng.normal(0, 0.05, (21, 3))
    rel -= rel[:1]
    root = np.array([0.03, -0.02, 0.6])
    focal, princpt = np.array([300.0, 310.0]), np.array([64.0, 60.0])
    cam = rel + root
    kp = cam[:, :2] / cam[:, 2:] * focal + princpt
    np.testing.assert_allclose(
        solve_translation(rel, kp, focal, princpt), root, atol=1e-6)


# ----------------------------------------------------------------------------
# fitting
def _noisy_clip(rng, num_frames=6, num_steps=3):
    """GT motion of a short clip and noisy per-frame observations."""
    from scipy.spatial.transform import Rotation
    cfg = VideoSynthesisConfig(num_frames=num_frames)
    tables = frame_tables(cfg)
    layer, art, _ = hand_model(None, 'right')
    key_t = tables['subframe_times'][tables['keyframe_subframes']]
    speeds = dict(articulation=2.0, rotation=3.0, translation=0.3)
    motion = sample_video_motion(rng, art, speeds, Rotation.identity(),
                                 np.zeros(3), key_t, 4 / 30)
    grid = observation_grid(tables['frame_times'], num_steps, 4 / 30)
    key_idx = np.round(grid['obs_times'] * 30).astype(int)
    orient = motion['global_orient'][key_idx]
    pose = motion['hand_pose'][key_idx]
    with torch.no_grad():
        out = layer(
            torch.as_tensor(orient, dtype=torch.float32),
            torch.as_tensor(pose, dtype=torch.float32),
            torch.zeros(len(key_idx), 10))
    gt = out.joints.numpy() - out.joints.numpy()[:, :1]
    n = len(key_idx)
    noisy_orient = orient + rng.normal(0, 0.15, orient.shape)
    noisy_pose = pose + rng.normal(0, 0.15, pose.shape)
    with torch.no_grad():
        nj = layer(
            torch.as_tensor(noisy_orient, dtype=torch.float32),
            torch.as_tensor(noisy_pose, dtype=torch.float32),
            torch.zeros(n, 10)).joints.numpy()
    nj = nj - nj[:, :1]
    root = np.array([0.0, 0.0, 0.5])
    focal, princpt = np.array([250.0, 250.0]), np.array([64.0, 64.0])
    cam = gt + root
    kp = cam[..., :2] / cam[..., 2:] * focal + princpt
    obs = dict(
        grid_times=grid['grid_times'],
        obs_index=grid['obs_index'],
        global_orient=noisy_orient[None],
        hand_pose=noisy_pose[None],
        betas=np.zeros((1, n, 10)),
        joints_cam=nj[None],
        keypoints=kp[None],
        alpha=np.ones((1, n, 21)),
        box_size=np.full((1, n), 60.0),
        focal=focal[None],
        princpt=princpt[None])
    gt_grid = np.zeros((len(grid['grid_times']), 21, 3))
    gt_grid[grid['obs_index']] = gt
    return obs, gt_grid, nj, gt, motion


def test_fit_stage1_lowers_error_on_short_clip():
    rng = np.random.default_rng(1)
    obs, gt_grid, noisy, gt, _ = _noisy_clip(rng)
    fitter = HandMotionFitter(
        stage1=dict(iters=60, weights=dict(j2d=1.0)))
    fit = fitter.fit(obs, use_prior=False)
    assert fit['joints'].shape == (1, len(obs['grid_times']), 21, 3)
    before = sequence_errors(noisy, gt)['ra_mpjpe']
    after = sequence_errors(fit['joints'][0, obs['obs_index']],
                            gt)['ra_mpjpe']
    # the exact 2D keypoints and smoothness correct the noisy rotations
    assert after < 0.8 * before
    with pytest.raises(ValueError, match='needs a prior'):
        fitter.fit(obs, use_prior=True)
    with pytest.raises(KeyError, match='alpha'):
        fitter.fit({k: v for k, v in obs.items() if k != 'alpha'},
                   use_prior=False)


def test_fit_stage2_with_prior_lowers_error():
    """A prior trained for a few seconds on a small corpus denoises the
    hand pose of a short clip (stage II, fit to noisy poses only)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    window = 21
    corpus = sample_motion_corpus(
        192, window, seed=5,
        cfg=VideoSynthesisConfig())['hand_pose']
    vae = tiny_vae(window=window, obs_strides=(2, ), input_noise=0.15,
                   loss_weights=dict(pos=0.0, vel=0.0, kl=1e-4))
    optim = torch.optim.Adam(vae.parameters(), lr=3e-3)
    data = torch.as_tensor(corpus)
    for step in range(150):
        batch = data[torch.randint(len(data), (32, ))]
        loss = sum(vae.loss(batch).values())
        optim.zero_grad()
        loss.backward()
        optim.step()
    vae.eval()
    obs, gt_grid, noisy, gt, _ = _noisy_clip(rng, num_frames=5)
    # no image evidence: the prior alone has to clean the poses
    obs['alpha'] = np.zeros_like(obs['alpha'])
    fitter = HandMotionFitter(
        prior=vae,
        stage1=dict(iters=20),
        stage2=dict(iters=60, weights=dict(mp=1.0)))
    fit = fitter.fit(obs, use_prior=True)
    assert fit['z'].shape == (1, 8)
    before = sequence_errors(noisy, gt)['ra_mpjpe']
    after = sequence_errors(fit['joints'][0, obs['obs_index']],
                            gt)['ra_mpjpe']
    assert after < before
    # a clip longer than the prior's window is refused
    long_obs = dict(obs, grid_times=obs['grid_times'] * 10)
    with pytest.raises(ValueError, match='longer than the prior window'):
        fitter.fit(long_obs, use_prior=True)


def test_fitter_inputs_merge_shared_times():
    num_clips, num_frames, num_steps = 2, 4, 3
    obs = dict(
        joints_cam=np.zeros((num_clips, num_frames, num_steps, 21, 3)),
        keypoints=np.zeros((num_clips, num_frames, num_steps, 21, 2)),
        mano_pose=np.zeros((num_clips, num_frames, num_steps, 48)),
        mano_shape=np.zeros((num_clips, num_frames, num_steps, 10)),
        alpha=np.ones((num_clips, num_frames, num_steps, 21)),
        box_size=np.ones((num_clips, num_frames)),
        frame_times=np.tile(np.arange(num_frames) * 4 / 30 + 2 / 30,
                            (num_clips, 1)),
        exposure=4 / 30,
        focal=np.ones((num_clips, 2)),
        princpt=np.ones((num_clips, 2)))
    inputs = fitter_inputs(obs)
    # back-to-back exposures: F * (T - 1) + 1 distinct times
    assert len(inputs['grid_times']) == num_frames * (num_steps - 1) + 1
    assert inputs['hand_pose'].shape == (num_clips, num_frames * num_steps,
                                         45)
    middle = fitter_inputs(obs, [1])
    assert len(middle['grid_times']) == num_frames
