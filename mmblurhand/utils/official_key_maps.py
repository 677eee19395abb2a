# Copyright (c) OpenMMLab. All rights reserved.
"""Key maps from the official BlurHandNet / multi-hypothesis checkpoints.

Data only: one table per model, read by
:func:`mmblurhand.utils.official_weights.convert_state_dict`. Official key
names (after the ``module.`` wrapper prefix and, for the multi-hypothesis
training model, ``generator.`` / ``selector.`` are stripped) on the left,
mmblurhand key names on the right. Each row is
``(rule, official, mmblurhand, options)``:

- ``'prefix'``: every official key starting with ``official`` is renamed
  to the same suffix under ``mmblurhand``; ``{i}`` matches a block index.
- ``'rename'``: one key; ``options['reshape'] == 'rows'`` flattens the
  leading dims, e.g. ``(1, 3, 1, E)`` embeddings to ``(3, E)``.
- ``'steps'``: the official Unfolder has one decoder per time step
  (``decoder_e1``, ``decoder_md``, ``decoder_e2`` = past, middle, future,
  :data:`OFFICIAL_STEP_NAMES`); mmblurhand runs them as one grouped layer,
  so the T tensors of ``official`` (with ``{step}``) are concatenated along
  ``options['dim']`` (default 0) into ``mmblurhand``. Counters
  (``num_batches_tracked``) take the first step's value.
- ``'pose_heads'``: the 16 official per-joint linear heads
  ``joint_regs.{p}`` (input ``[feature; ancestors' 6D, root first]``) become
  :class:`~mmblurhand.models.heads.mano_regressor.KinematicTreePoseHeads`'
  stacked feature heads and per-depth ancestor weights
  (tree :data:`MANO16_PARENTS`).
- ``'flatten_tj_e'``: a linear layer whose input the official code
  flattens as ``(j, e)`` while mmblurhand flattens ``(e, j)``; the weight's
  columns are permuted (``E`` = output channels of
  ``options['embed_key']``, ``J`` = in-features / ``E``).
- ``'fixed'``: a fixed (non-learned) official buffer; mmblurhand computes
  it from ``options['formula']``, and the converter checks the stored
  values against it (``atol`` 1e-5) instead of copying it.
- ``'drop'``: known keys that mmblurhand does not keep (the MANO layers,
  which the official code saves in some checkpoints).

A key that no row matches is an error naming it.
"""

#: Official decoder names in mmblurhand's time-step order (past, middle,
#: future).
OFFICIAL_STEP_NAMES = ('e1', 'md', 'e2')

#: MANO's 16-joint kinematic tree (wrist, index 1-3, middle 1-3, pinky 1-3,
#: ring 1-3, thumb 1-3), as the official ``ANCESTOR_INDEX`` tables encode it.
MANO16_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)


def _unfolder_rows(official: str, mmblurhand: str):
    """The Unfolder rows shared by BlurHandNet and the MH models."""
    dec = official + 'decoder_{step}.'
    return [
        # first ConvTranspose2d reads C5 (groups=1): steps are its
        # output channels, weight dim 1
        ('steps', dec + 'deconv1.0.', mmblurhand + 'deconvs.0.0.',
         dict(dim=1)),
        ('steps', dec + 'deconv1.1.', mmblurhand + 'deconvs.0.1.', {}),
        ('steps', dec + 'skip1.0.', mmblurhand + 'skips.0.0.', {}),
        ('steps', dec + 'skip1.1.', mmblurhand + 'skips.0.1.', {}),
        ('steps', dec + 'conv1.0.', mmblurhand + 'convs.0.0.', {}),
        ('steps', dec + 'conv1.1.', mmblurhand + 'convs.0.1.', {}),
        # grouped ConvTranspose2d: weight (in * T, out / T, k, k), dim 0
        ('steps', dec + 'deconv2.0.', mmblurhand + 'deconvs.1.0.', {}),
        ('steps', dec + 'deconv2.1.', mmblurhand + 'deconvs.1.1.', {}),
        ('steps', dec + 'skip2.0.', mmblurhand + 'skips.1.0.', {}),
        ('steps', dec + 'skip2.1.', mmblurhand + 'skips.1.1.', {}),
        ('steps', dec + 'conv2.0.', mmblurhand + 'convs.1.0.', {}),
        ('steps', dec + 'conv2.1.', mmblurhand + 'convs.1.1.', {}),
        ('steps', dec + 'conv_proj.0.', mmblurhand + 'proj.', {}),
    ]


def _regressor_rows(official: str, mmblurhand: str):
    return [
        ('pose_heads', official + 'joint_regs.', mmblurhand + 'pose_heads.',
         dict(parents=MANO16_PARENTS)),
        ('prefix', official + 'shape_out.0.', mmblurhand + 'shape_head.', {}),
        ('prefix', official + 'cam_out.0.', mmblurhand + 'camera_head.', {}),
    ]


_DROP_MANO = [
    ('drop', 'mano_layer_right.', None, dict(reason='MANO layer')),
    ('drop', 'mano_layer_left.', None, dict(reason='MANO layer')),
]

#: BlurHandNet (BlurHand_RELEASE ``src/models/blurhandnet.py``) ->
#: ``configs/blurhandnet/blurhandnet_r50_*`` (:class:`BlurHandNet`).
BLURHANDNET_KEY_MAP = [
    ('prefix', 'backbone.', 'backbone.', {}),
    *_unfolder_rows('unfolder.', 'neck.'),
    ('rename', 'ktformer.pos_embed_t', 'head.ktformer.temporal_embed',
     dict(reshape='rows')),
    ('rename', 'ktformer.pos_embed_j', 'head.ktformer.kinematic_embed',
     dict(reshape='rows')),
    ('prefix', 'ktformer.patch_embed.', 'head.ktformer.patch_embed.', {}),
    ('prefix', 'ktformer.blocks.{i}.norm1.', 'head.ktformer.blocks.{i}.norm1.',
     {}),
    ('prefix', 'ktformer.blocks.{i}.norm2.', 'head.ktformer.blocks.{i}.norm2.',
     {}),
    ('prefix', 'ktformer.blocks.{i}.attn.qkv.',
     'head.ktformer.blocks.{i}.qkv.', {}),
    ('prefix', 'ktformer.blocks.{i}.attn.proj.',
     'head.ktformer.blocks.{i}.proj.', {}),
    ('prefix', 'ktformer.blocks.{i}.mlp.fc1.',
     'head.ktformer.blocks.{i}.mlp.0.', {}),
    ('prefix', 'ktformer.blocks.{i}.mlp.fc2.',
     'head.ktformer.blocks.{i}.mlp.3.', {}),
    *_regressor_rows('regressor.', 'head.regressor.'),
    *_DROP_MANO,
]

#: Multi-hypothesis generator (Multi_Hypothesis_BlurHandNet
#: ``src/models/generation_model.py``) -> ``configs/mh_blurhandnet/mh-gen_r50_*``
#: (:class:`MHBlurHandNet`).
MH_GENERATOR_KEY_MAP = [
    ('prefix', 'backbone.', 'backbone.', {}),
    *_unfolder_rows('unfolder.', 'neck.'),
    ('rename', 'ktformer.hypo_embed', 'head.transformer.hypothesis_embed',
     dict(reshape='rows')),
    ('rename', 'ktformer.pos_embed_t', 'head.transformer.time_embed',
     dict(reshape='rows')),
    ('rename', 'ktformer.pos_embed_j', 'head.transformer.joint_embed',
     dict(reshape='rows')),
    ('prefix', 'ktformer.blocks.{i}.self_attn.',
     'head.transformer.layers.{i}.attn.', {}),
    ('prefix', 'ktformer.blocks.{i}.norm1.',
     'head.transformer.layers.{i}.norm1.', {}),
    ('prefix', 'ktformer.blocks.{i}.norm2.',
     'head.transformer.layers.{i}.norm2.', {}),
    ('prefix', 'ktformer.blocks.{i}.linear1.',
     'head.transformer.layers.{i}.mlp.0.', {}),
    ('prefix', 'ktformer.blocks.{i}.linear2.',
     'head.transformer.layers.{i}.mlp.3.', {}),
    *_regressor_rows('regressor.', 'head.regressor.'),
    *_DROP_MANO,
]

#: Multi-hypothesis selection model (``src/models/selection_model.py``,
#: ScoreNet) -> the selector part of ``configs/mh_blurhandnet/mh-sel_r50_*``
#: (:class:`MHSelector` without its ``generator.``).
MH_SELECTOR_KEY_MAP = [
    ('prefix', 'backbone.', 'backbone.', {}),
    *_unfolder_rows('unfolder.', 'neck.'),
    ('prefix', 'scorenet.pose_layer.0.', 'head.pose_branch.0.', {}),
    ('prefix', 'scorenet.pose_layer.2.', 'head.pose_branch.1.', {}),
    ('prefix', 'scorenet.joint_layer.0.', 'head.joint_branch.0.', {}),
    ('prefix', 'scorenet.joint_layer.2.', 'head.joint_branch.1.', {}),
    ('prefix', 'scorenet.ctx_layer.0.', 'head.context_proj.0.', {}),
    ('prefix', 'scorenet.ctx_layer.1.', 'head.context_proj.1.', {}),
    ('rename', 'scorenet.pe_j', 'head.joint_embed', dict(reshape='rows')),
    ('rename', 'scorenet.pe_k', 'head.hypothesis_embed',
     dict(reshape='rows')),
    ('fixed', 'scorenet.pe_t', None, dict(formula='official_time_code')),
    ('fixed', 'scorenet.pe_ctx', None, dict(formula='official_context_code')),
    ('prefix', 'scorenet.blocks.{i}.self_attn.', 'head.layers.{i}.self_attn.',
     {}),
    ('prefix', 'scorenet.blocks.{i}.multihead_attn.',
     'head.layers.{i}.cross_attn.', {}),
    ('prefix', 'scorenet.blocks.{i}.norm1.', 'head.layers.{i}.norm1.', {}),
    ('prefix', 'scorenet.blocks.{i}.norm2.', 'head.layers.{i}.norm2.', {}),
    ('prefix', 'scorenet.blocks.{i}.norm3.', 'head.layers.{i}.norm3.', {}),
    ('prefix', 'scorenet.blocks.{i}.linear1.', 'head.layers.{i}.mlp.0.', {}),
    ('prefix', 'scorenet.blocks.{i}.linear2.', 'head.layers.{i}.mlp.3.', {}),
    ('prefix', 'scorenet.last_norm.', 'head.last_norm.', {}),
    ('prefix', 'scorenet.score_head.1.', 'head.time_conv.', {}),
    ('flatten_tj_e', 'scorenet.score_head.5.weight', 'head.score_mlp.3.weight',
     dict(embed_key='scorenet.score_head.1.weight')),
    ('rename', 'scorenet.score_head.5.bias', 'head.score_mlp.3.bias', {}),
    ('prefix', 'scorenet.score_head.8.', 'head.score_mlp.6.', {}),
]
