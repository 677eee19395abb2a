# Training-recipe study: as the 6.4k config, on all 25,600 images
# (train_a + train_b).
_base_ = ['./mh-gen_r18_recipe-6k4_synthetic-128x128.py']

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type='BlurHandDataset',
                data_root={{_base_.train_a}},
                split='train',
                pipeline={{_base_.train_pipeline}}),
            dict(
                type='BlurHandDataset',
                data_root={{_base_.train_b}},
                split='train',
                pipeline={{_base_.train_pipeline}}),
        ]))
