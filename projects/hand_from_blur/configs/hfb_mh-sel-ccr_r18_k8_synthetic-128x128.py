# The same reblur selection and refinement on top of the synthetic
# model-zoo selector (128x128 crops, K = 8, CCR, trained with the short-run
# settings: heatmap logit scale and camera-depth loss; docs/model_zoo.md).
#
#   python projects/hand_from_blur/tools/evaluate_refinement.py \
#       projects/hand_from_blur/configs/<this file>
_base_ = ['./hfb_mh-sel-ccr_r18s_k16_synthetic-64x64.py']

model_config = ('configs/mh_blurhandnet/'
                'mh-sel_r18_1xb16-10e_blurhand-synthetic-128x128.py')
checkpoint = ('work_dirs/mh-sel_r18_1xb16-10e_blurhand-synthetic-128x128/'
              'epoch_10.pth')
