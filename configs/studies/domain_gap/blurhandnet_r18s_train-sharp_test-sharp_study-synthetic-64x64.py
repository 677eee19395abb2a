# Domain-gap study: the sharp-trained study BlurHandNet (the checkpoint of
# ./blurhandnet_r18s_train-sharp_test-blur_study-synthetic-64x64.py) tested
# on the SHARP middle frames of the test split (GT of frames 1/3/5).
_base_ = ['./blurhandnet_r18s_train-sharp_test-blur_study-synthetic-64x64.py']

val_dataloader = dict(dataset=dict(img_dir='sharp_images'))
test_dataloader = val_dataloader
