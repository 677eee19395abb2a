# Human-from-Blur-style reblur selection and test-time refinement on top of
# the K = 16 multi-hypothesis study model (64x64 crops, CCR selector).
#
#   python projects/hand_from_blur/tools/evaluate_refinement.py \
#       projects/hand_from_blur/configs/<this file>
#
# Data: the synthetic generator's settings of the model's training data
# (128 px images) plus the background and the blurred alpha:
#   python tools/dataset_converters/synthesize_blurhand.py \
#       --out data/hand_from_blur_synthetic128 --num-train 0 --num-test 96 \
#       --seed 0 --img-size 128 --save-background --save-alpha
custom_imports = dict(
    imports=['projects.hand_from_blur.hand_from_blur'],
    allow_failed_imports=False)
default_scope = 'mmblurhand'

model_config = 'configs/studies/mh-sel-ccr_r18s_k16_study-synthetic-64x64.py'
checkpoint = ('work_dirs/studies/mh-sel-ccr_r18s_k16_study-synthetic-64x64/'
              'epoch_2.pth')
data_root = 'data/hand_from_blur_synthetic128/'

# Renders are made in the network crop (mirrored for left hands) at this
# side, pixels.
render_size = 48
batch_size = 8
# Human from Blur Table 1 bins, merged in pairs for a small test set.
blur_rate_bins = (0., 0.1, 0.2, 0.4, 0.6, float('inf'))

formation = dict(
    type='BlurImageFormation',
    mano_cfg=dict(type='ManoLayer', model_path=None),
    rasterizer=dict(type='SoftSilhouetteRasterizer', sigma=0.5),
    num_subframes=4)
refiner = dict(
    type='BlurMotionRefiner',
    formation=formation,
    degree=2,
    num_iters=10,
    # initial depth from the crop box (BlurHand crops: tight joint box x1.5)
    box_padding=1.5,
    lrs=dict(pose=0.01, rot=0.01, transl=0.001),
    loss_weights=dict(
        image=10.,
        matting=1.,
        joints_2d=1.,
        pose_prior=0.01,
        polynomial=1e-3))
physics_selector = dict(
    type='PhysicsSelector',
    refiner=refiner,
    weights=dict(image=10., matting=1.),
    chunk=4)
# weight of the physics z-score against the CCR z-score
combine_weight = 1.0
# refinement runs: start from a selector's choice; optional loss overrides
# (sizes chosen for a shared 2-core CPU: 48 px renders, 4 sub-frames,
# 10 Adam steps)
refinements = [
    dict(name='ccr + refine (no matte)', start='ccr',
         loss_weights=dict(matting=0.)),
    dict(name='ccr + physics + refine', start='ccr + physics'),
    # --init gt-noise: the one perturbed ground-truth sequence
    dict(name='init + refine', start='init'),
]
