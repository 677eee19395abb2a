# Domain-gap study: the single-frame baseline trained on BLURRY images
# (../singleframe_r18s_study-synthetic-64x64.py) on
# data/domain_gap_synthetic, tested on its blurry test images.
_base_ = ['../singleframe_r18s_study-synthetic-64x64.py']

data_root = 'data/domain_gap_synthetic/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
