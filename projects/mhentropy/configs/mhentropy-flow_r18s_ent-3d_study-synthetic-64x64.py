# MHEntropy's distributional objective with 3D supervision: the 2D-only
# objective of mhentropy-flow_r18s_ent-2d_study-synthetic-64x64.py plus a
# Laplace reconstruction of the annotated 3D joints (scale 1 cm).
_base_ = ['./mhentropy-flow_r18s_ent-2d_study-synthetic-64x64.py']

model = dict(
    head=dict(
        loss_weights=dict(rec_3d=1.0),
        rec_3d_scale=0.01))
