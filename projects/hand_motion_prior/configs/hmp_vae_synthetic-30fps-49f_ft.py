# Second training stage of the motion prior: continue from
# hmp_vae_synthetic-30fps-49f.py (epoch 12) with a 5x smaller KL weight
# (sharper reconstructions) and a cheaper joint-position term (2 key frames
# per window), for 15 more epochs. Run after the first stage:
#   PYTHONPATH=. python tools/train.py \
#       projects/hand_motion_prior/configs/hmp_vae_synthetic-30fps-49f_ft.py \
#       --work-dir work_dirs/hand_motion_prior/vae_ft
_base_ = ['./hmp_vae_synthetic-30fps-49f.py']

load_from = 'work_dirs/hand_motion_prior/vae/epoch_12.pth'
model = dict(
    loss_weights=dict(rot=1.0, pos=0.01, vel=0.05, kl=2e-4), pos_frames=2)
max_epochs = 15
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        eta_min=1e-5,
        by_epoch=True,
        convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
