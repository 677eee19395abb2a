# Domain-gap study: the sharp-trained single-frame baseline (the checkpoint
# of ./singleframe_r18s_train-sharp_test-blur_study-synthetic-64x64.py)
# tested on the SHARP middle frames.
_base_ = ['./singleframe_r18s_train-sharp_test-blur_study-synthetic-64x64.py']

val_dataloader = dict(dataset=dict(img_dir='sharp_images'))
test_dataloader = val_dataloader
