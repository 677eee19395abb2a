# Domain-gap study: the study BlurHandNet trained on BLURRY images
# (the checkpoint of
# ./blurhandnet_r18s_train-blur_test-blur_study-synthetic-64x64.py or of
# ../blurhandnet_r18s_study-synthetic-64x64.py) tested on the SHARP middle
# frames of data/domain_gap_synthetic's test split.
_base_ = ['./blurhandnet_r18s_train-blur_test-blur_study-synthetic-64x64.py']

val_dataloader = dict(dataset=dict(img_dir='sharp_images'))
test_dataloader = val_dataloader
