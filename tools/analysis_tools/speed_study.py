# Copyright (c) OpenMMLab. All rights reserved.
"""Before/after measurements of inference-path speed changes, in one run.

    python tools/analysis_tools/speed_study.py [CONFIG] \
        [--experiments grad_mode channels_last mano_skinning compile] \
        [--num-iters 5] [--json OUT]

Every experiment times a baseline and one or more alternatives of the same
computation, interleaved (round r runs each variant once) so that load
changes on a shared machine hit all variants alike, checks that the
alternatives give the same outputs, and reports medians and the speed-up.

Experiments:

- ``grad_mode``: the generator's tensor forward under ``torch.no_grad``
  (what MMEngine's test loop uses) vs ``torch.inference_mode``;
- ``channels_last``: contiguous vs channels-last model and images;
- ``mano_skinning``: MANO as ``smplx`` runs it (the project's
  ``ManoLayer``) vs :func:`skinning_3x4_lbs` below (same maths: shape and
  pose blend shapes, forward kinematics, then skinning with the blended
  3x4 transforms applied by element-wise multiply-adds instead of
  ``K x B x T x V`` batched 4x4 products), optionally computing the shaped
  template once per image and time step when the K hypotheses share the
  shape; at inference size (``K x 1 x T``) and training size
  (``K x 16 x T``, forward + backward);
- ``compile``: eager vs ``torch.compile`` (inductor) of the generator
  forward, with the compile time;
- ``bf16``: the network (``PredictionExportWrapper``) in fp32 vs the
  ``precision='bf16'`` policy (bf16 weights under autocast, MANO regressor
  and MANO in fp32) vs its alternatives: autocast with fp32 weights (cast
  on every call), bf16 with the transformers kept in fp32, and bf16 with
  channels-last weights; the largest vertex distance to fp32 (mm) is
  reported for each.
"""
import argparse
import copy
import json
import os
import os.path as osp
import time
from collections import OrderedDict

import torch
from mmengine.config import Config

from mmblurhand.deployment import (HandMeshExportWrapper,
                                   build_inference_model, config_input_size)
from mmblurhand.deployment.onnxruntime_model import PredictionExportWrapper
from mmblurhand.deployment.precision import (FP32_MODULE_TYPES,
                                             autocast_forward, convert_bf16)
from mmblurhand.utils.benchmark import environment_info, format_table
from mmblurhand.utils.benchmark import interleave as _interleave

DEFAULT_CONFIG = ('configs/mh_blurhandnet/'
                  'mh-gen_r50_2xb24-30e_blurhand-256x256.py')
EXPERIMENTS = ('grad_mode', 'channels_last', 'mano_skinning', 'compile',
               'bf16')
#: Modules kept in fp32 by the ``bf16_fp32_transformers`` variant.
TRANSFORMER_TYPES = ('MultiHypothesisTransformer', 'KTFormer',
                     'HypothesisScoreDecoder')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Interleaved before/after timings of speed changes.')
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    parser.add_argument(
        '--experiments',
        nargs='+',
        default=['grad_mode', 'channels_last', 'mano_skinning'],
        choices=EXPERIMENTS)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--num-iters', type=int, default=5)
    parser.add_argument('--num-warmup', type=int, default=1)
    parser.add_argument(
        '--ks',
        type=int,
        nargs='+',
        default=[16, 32],
        help='K values of the MANO experiment')
    parser.add_argument(
        '--train-batch', type=int, default=16, help='B of the training case')
    parser.add_argument(
        '--checkpoint', help='weights (random initialisation without)')
    parser.add_argument(
        '--threads', type=int, help='torch intra-op threads')
    parser.add_argument(
        '--clock',
        choices=['wall', 'process'],
        default='wall',
        help='wall time, or the process\'s CPU time (with one thread: '
        'insensitive to other processes on a shared machine)')
    parser.add_argument('--json', help='write the results to this file')
    return parser.parse_args(argv)


def skinning_3x4_lbs(mano_layer, global_orient, hand_pose, betas,
                        shared_shape_dims: int = 0):
    """MANO forward with 3x4 skinning (prototype for ``ManoLayer``).

    Same outputs as ``ManoLayer.forward`` (vertices and MANO-21 joints,
    metres), built from ``smplx.lbs`` helpers: blend shapes, joint
    regression, Rodrigues, forward kinematics. Skinning blends only the
    ``3 x 4`` part of the joint transforms (``(V, J) @ (N, J, 12)``) and
    applies it with element-wise multiply-adds, instead of smplx's
    homogeneous ``4 x 4`` blend and ``N x V`` batched ``4 x 4 @ 4 x 1``
    products.

    Args:
        mano_layer (ManoLayer): The project's MANO layer (its ``smplx.MANO``
            buffers are used).
        global_orient (Tensor): ``(N, 3)``.
        hand_pose (Tensor): ``(N, 45)``, relative to the mean pose.
        betas (Tensor): ``(N, 10)``, or ``(N / K, 10)`` with
            ``shared_shape_dims = K``: one shape per group of K consecutive
            rows (the rows laid out ``(G, K)``, hypotheses innermost).
        shared_shape_dims (int): ``K`` when the rows come in groups of K
            that share one shape (the K hypotheses of an image and step);
            0 computes the shaped template per row.

    Returns:
        tuple[Tensor, Tensor]: vertices ``(N, V, 3)``, joints
        ``(N, 21, 3)``.
    """
    from smplx.lbs import (batch_rigid_transform, batch_rodrigues,
                           blend_shapes, vertices2joints)
    mano = mano_layer.mano
    num = global_orient.shape[0]
    # smplx adds the mean pose (zeros with ``flat_hand_mean``)
    pose = torch.cat([global_orient, hand_pose], dim=1) + mano.pose_mean
    v_shaped = mano.v_template + blend_shapes(betas, mano.shapedirs)
    joints_rest = vertices2joints(mano.J_regressor, v_shaped)
    if shared_shape_dims:
        groups = betas.shape[0]
        v_shaped = v_shaped[:, None].expand(
            groups, shared_shape_dims, *v_shaped.shape[1:]).reshape(
                num, *v_shaped.shape[1:])
        joints_rest = joints_rest[:, None].expand(
            groups, shared_shape_dims, *joints_rest.shape[1:]).reshape(
                num, *joints_rest.shape[1:])
    rot_mats = batch_rodrigues(pose.reshape(-1, 3)).view(num, -1, 3, 3)
    ident = torch.eye(3, dtype=pose.dtype, device=pose.device)
    pose_feature = (rot_mats[:, 1:] - ident).reshape(num, -1)
    v_posed = v_shaped + (pose_feature @ mano.posedirs).view(num, -1, 3)
    _, transforms = batch_rigid_transform(rot_mats, joints_rest,
                                          mano.parents)
    num_joints = transforms.shape[1]
    # (V, J) @ (N, J, 12): the blended 3x4 matrix of every vertex
    blended = (mano.lbs_weights @ transforms[:, :, :3, :].reshape(
        num, num_joints, 12)).view(num, -1, 3, 4)
    vertices = (blended[..., 3] + blended[..., 0] * v_posed[..., 0:1] +
                blended[..., 1] * v_posed[..., 1:2] +
                blended[..., 2] * v_posed[..., 2:3])
    joints = torch.einsum('jv,bvc->bjc', mano_layer.joint_regressor,
                          vertices)
    return vertices, joints


#: Clock of :func:`interleave` (set from ``--clock`` by :func:`main`).
CLOCK = dict(name='wall')


def interleave(variants, num_iters, num_warmup):
    """Median-ready timings of ``variants`` run round-robin
    (:func:`mmblurhand.utils.benchmark.interleave`)."""
    return _interleave(variants, num_iters, num_warmup,
                       clock=CLOCK['name'])


def max_diff(a, b) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def exp_grad_mode(wrapper, images, args):
    def run(ctx):
        def fn():
            with ctx():
                return wrapper(images)
        return fn

    with torch.no_grad():
        ref = wrapper(images)
    with torch.inference_mode():
        diff = max_diff(ref, wrapper(images))
    return interleave(
        OrderedDict(no_grad=run(torch.no_grad),
                    inference_mode=run(torch.inference_mode)),
        args.num_iters, args.num_warmup), dict(max_abs_diff=diff)


def exp_channels_last(wrapper, images, args):
    fast = copy.deepcopy(wrapper).to(memory_format=torch.channels_last)
    images_cl = images.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        diff = max_diff(wrapper(images), fast(images_cl))
        return interleave(
            OrderedDict(contiguous=lambda: wrapper(images),
                        channels_last=lambda: fast(images_cl)),
            args.num_iters, args.num_warmup), dict(max_abs_diff=diff)


def exp_compile(wrapper, images, args):
    compiled = torch.compile(wrapper)
    start = time.perf_counter()
    with torch.inference_mode():
        out = compiled(images)
        compile_s = time.perf_counter() - start
        diff = max_diff(wrapper(images), out)
        return interleave(
            OrderedDict(eager=lambda: wrapper(images),
                        compiled=lambda: compiled(images)), args.num_iters,
            args.num_warmup), dict(
                max_abs_diff=diff, compile_s=compile_s)


def exp_bf16(model, images, args):
    """fp32 vs the bf16 policy and its alternatives (module docstring)."""
    inputs = torch.randn_like(images)  # preprocessed-like inputs

    def bf16_variant(fp32_types=FP32_MODULE_TYPES, cast_weights=True,
                     channels_last=False):
        copy_ = convert_bf16(
            copy.deepcopy(model),
            fp32_types=fp32_types,
            autocast=False,
            cast_weights=cast_weights)
        if channels_last:
            copy_ = copy_.to(memory_format=torch.channels_last)
        wrapper = PredictionExportWrapper(copy_).eval()
        autocast_forward(wrapper)
        return wrapper

    nets = OrderedDict(
        fp32=PredictionExportWrapper(model).eval(),
        bf16=bf16_variant(),
        autocast_fp32_weights=bf16_variant(cast_weights=False),
        bf16_fp32_transformers=bf16_variant(FP32_MODULE_TYPES +
                                            TRANSFORMER_TYPES),
        bf16_channels_last=bf16_variant(channels_last=True))
    with torch.inference_mode():
        ref = nets['fp32'](inputs)[4]
        diffs = {
            name: float((net(inputs)[4].float() - ref).norm(dim=-1).max() *
                        1000.)
            for name, net in nets.items()
        }
        stats = interleave(
            OrderedDict((name, (lambda net=net: net(inputs)))
                        for name, net in nets.items()), args.num_iters,
            args.num_warmup)
    return stats, dict(max_vertex_diff_mm=diffs)


def exp_mano_skinning(model, args):
    """smplx LBS vs 3x4 skinning, inference and training sizes."""
    mano_layer = model.head.regressor.mano
    steps = model.head.regressor.num_steps
    results = {}
    torch.manual_seed(0)
    for k in args.ks:
        for batch, train in ((1, False), (args.train_batch, True)):
            groups = batch * steps
            num = groups * k
            pose = (torch.randn(num, 48) * 0.4).requires_grad_(train)
            shape = torch.randn(groups, 10) * 0.5
            shape_rows = shape[:, None].expand(groups, k, 10).reshape(num, 10)

            def make(fn):
                def run():
                    if train:
                        verts, joints = fn()
                        (verts.square().sum() + joints.sum()).backward()
                        return None
                    with torch.inference_mode():
                        return fn()
                return run

            smplx_fn = (lambda: (lambda o: (o.vertices, o.joints))(
                mano_layer(pose[:, :3], pose[:, 3:], shape_rows)))
            skin_fn = (lambda: skinning_3x4_lbs(
                mano_layer, pose[:, :3], pose[:, 3:], shape_rows))
            shared_fn = (lambda: skinning_3x4_lbs(
                mano_layer, pose[:, :3], pose[:, 3:], shape,
                shared_shape_dims=k))
            with torch.no_grad():
                ref = smplx_fn()
                diff = max(max_diff(ref, skin_fn()),
                           max_diff(ref, shared_fn()))
            key = (f'K{k}_B{batch}_T{steps}_'
                   f'{"train_fwd_bwd" if train else "inference"}')
            results[key] = (interleave(
                OrderedDict(smplx=make(smplx_fn),
                            skin3x4=make(skin_fn),
                            skin3x4_shared_shape=make(shared_fn)),
                args.num_iters, args.num_warmup), dict(
                    max_abs_diff=diff, meshes=num))
    return results


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    CLOCK['name'] = args.clock
    cfg = Config.fromfile(args.config)
    size = config_input_size(cfg)
    torch.manual_seed(0)
    model = build_inference_model(cfg, args.checkpoint)
    wrapper = HandMeshExportWrapper(model).eval()
    images = torch.rand(args.batch_size, 3, size[1], size[0]) * 255.
    report = dict(
        config=args.config,
        settings=vars(args),
        environment=environment_info('cpu'),
        experiments={})
    rows = []

    def add(name, stats, extra):
        report['experiments'][name] = dict(timings=stats, **extra)
        names = list(stats)
        base = stats[names[0]]['median']
        for variant in names:
            diff = extra.get('max_abs_diff', float('nan'))
            if 'max_vertex_diff_mm' in extra:
                diff = extra['max_vertex_diff_mm'][variant]
            rows.append((name, variant, stats[variant]['median'],
                         stats[variant]['p90'],
                         f'{base / stats[variant]["median"]:.2f}',
                         f'{diff:.3g}'))

    for exp in args.experiments:
        print(f'running {exp} ...', flush=True)
        if exp == 'grad_mode':
            add(exp, *exp_grad_mode(wrapper, images, args))
        elif exp == 'channels_last':
            add(exp, *exp_channels_last(wrapper, images, args))
        elif exp == 'compile':
            add(exp, *exp_compile(wrapper, images, args))
        elif exp == 'bf16':
            add(exp, *exp_bf16(model, images, args))
        elif exp == 'mano_skinning':
            for key, (stats, extra) in exp_mano_skinning(model,
                                                         args).items():
                add(f'mano_{key}', stats, extra)
    try:
        report['environment']['load_average_1m_after'] = round(
            os.getloadavg()[0], 2)
    except OSError:
        pass
    env = report['environment']
    print(f'\n{args.config}, batch {args.batch_size}, {env["cpu"]}, '
          f'{env["torch_threads"]} threads, load '
          f'{env.get("load_average_1m")} -> '
          f'{env.get("load_average_1m_after")}')
    print(
        format_table(rows, ('experiment', 'variant', 'median ms', 'p90 ms',
                            'speed-up', 'max |diff| (bf16: vertex mm)')))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
