# Training-recipe study: as the 6.4k generator config, on the first 1,600
# images.
_base_ = ['./mh-gen_r18_recipe-6k4_synthetic-128x128.py']

train_dataloader = dict(dataset=dict(indices=1600))
