# Domain-gap study: the study BlurHandNet trained on BLURRY images
# (../blurhandnet_r18s_study-synthetic-64x64.py) on
# data/domain_gap_synthetic (train: blurry images, test: blurry images), so
# that every row of the domain-gap table uses the same test set. With the
# generator's options of data/blurhand_synthetic these are the same images.
_base_ = ['../blurhandnet_r18s_study-synthetic-64x64.py']

data_root = 'data/domain_gap_synthetic/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
