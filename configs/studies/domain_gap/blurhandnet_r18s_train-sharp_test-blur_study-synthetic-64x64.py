# Domain-gap study (BlurHandNet paper, Table 1, on synthetic data; see
# docs/blurhand_from_video.md): the study BlurHandNet trained on SHARP
# frames, the generator's sharp middle frame of every blurry image (the
# "InterHand2.6M" row: the paper trains on the 3rd sharp frame of each
# BlurHand sample). A sharp frame shows no motion, so, like the official
# InterHand2.6M loader, the past and future targets are the middle frame's
# (frame_positions=(2, 2, 2)). Tested on the BLURRY test images; the
# *_test-sharp configs test the same checkpoint on the sharp ones.
# Data: tools/dataset_converters/synthesize_blurhand.py --out
# data/domain_gap_synthetic --num-train 1600 --num-test 320 --img-size 128
# --seed 0 --save-sharp (procedural hand, not MANO).
_base_ = ['../blurhandnet_r18s_study-synthetic-64x64.py']

data_root = 'data/domain_gap_synthetic/'
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        img_dir='sharp_images',
        frame_positions=(2, 2, 2)))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
