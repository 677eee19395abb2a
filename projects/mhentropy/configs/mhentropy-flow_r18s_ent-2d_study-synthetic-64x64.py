# MHEntropy's distributional objective, weakly supervised (2D only): the
# flow minimises KL(p_phi(theta | I) || p_d(theta | I)) with
# p_d ~ p(theta) * Laplace(projected joints; visible 2D annotations), i.e.
# rec_2d (visible joints only: occluded ones have a uniform likelihood) +
# prior - entropy, estimated with 8 reparameterised samples per image. No 3D
# joints, no MANO parameters. Time order is treated as unknown
# (order_invariant). The Gaussian pose prior is fitted on the training poses
# by projects/mhentropy/tools/fit_pose_prior.py (run it first).
_base_ = ['./mhentropy-flow_r18s_nll_study-synthetic-64x64.py']

pose_prior_file = 'work_dirs/mhentropy/pose_prior_blurhand-synthetic.npz'

model = dict(
    head=dict(
        loss_weights=dict(
            _delete_=True, rec_2d=1.0, prior=1.0, entropy=1.0),
        rec_2d_scale=0.02,
        use_visibility=True,
        occluded_weight=0.0,
        order_invariant=True,
        prior=dict(
            type='GaussianPosePrior',
            pose_dims=48,
            first=3,
            stats_file=pose_prior_file)))
