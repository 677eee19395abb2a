# Copyright (c) OpenMMLab. All rights reserved.
"""BlurHand dataset metainfo: 21 hand joints in MANO-21 order.

Joint order (every mmblurhand target and prediction uses it): wrist 0,
then thumb, index, middle, ring and pinky with four joints each, from the
knuckle (``1``) to the fingertip (``4``). A hand has no left/right joint
pairs, so ``swap`` is empty and ``flip_indices`` is the identity. Colours
are RGB, one per finger. ``sigmas`` are the COCO-WholeBody hand values
(same joint order); they are only used by OKS-based tools.
"""
dataset_info = dict(
    dataset_name='blurhand',
    paper_info=dict(
        author='Oh, Yeonguk and Park, JoonKyu and Kim, Jaeha and '
        'Moon, Gyeongsik and Lee, Kyoung Mu',
        title='Recovering 3D Hand Mesh Sequence from a Single '
        'Blurry Image: A New Dataset and Temporal Unfolding',
        container='IEEE/CVF Conference on Computer Vision and '
        'Pattern Recognition (CVPR)',
        year='2023',
        homepage='https://github.com/JaehaKim97/BlurHand_RELEASE',
    ),
    keypoint_info={
        0:
        dict(name='wrist', id=0, color=[255, 255, 255], type='', swap=''),
        1:
        dict(name='thumb1', id=1, color=[255, 128, 0], type='', swap=''),
        2:
        dict(name='thumb2', id=2, color=[255, 128, 0], type='', swap=''),
        3:
        dict(name='thumb3', id=3, color=[255, 128, 0], type='', swap=''),
        4:
        dict(name='thumb4', id=4, color=[255, 128, 0], type='', swap=''),
        5:
        dict(name='index1', id=5, color=[255, 153, 255], type='', swap=''),
        6:
        dict(name='index2', id=6, color=[255, 153, 255], type='', swap=''),
        7:
        dict(name='index3', id=7, color=[255, 153, 255], type='', swap=''),
        8:
        dict(name='index4', id=8, color=[255, 153, 255], type='', swap=''),
        9:
        dict(name='middle1', id=9, color=[102, 178, 255], type='', swap=''),
        10:
        dict(name='middle2', id=10, color=[102, 178, 255], type='', swap=''),
        11:
        dict(name='middle3', id=11, color=[102, 178, 255], type='', swap=''),
        12:
        dict(name='middle4', id=12, color=[102, 178, 255], type='', swap=''),
        13:
        dict(name='ring1', id=13, color=[255, 51, 51], type='', swap=''),
        14:
        dict(name='ring2', id=14, color=[255, 51, 51], type='', swap=''),
        15:
        dict(name='ring3', id=15, color=[255, 51, 51], type='', swap=''),
        16:
        dict(name='ring4', id=16, color=[255, 51, 51], type='', swap=''),
        17:
        dict(name='pinky1', id=17, color=[0, 255, 0], type='', swap=''),
        18:
        dict(name='pinky2', id=18, color=[0, 255, 0], type='', swap=''),
        19:
        dict(name='pinky3', id=19, color=[0, 255, 0], type='', swap=''),
        20:
        dict(name='pinky4', id=20, color=[0, 255, 0], type='', swap=''),
    },
    skeleton_info={
        0:
        dict(link=('wrist', 'thumb1'), id=0, color=[255, 128, 0]),
        1:
        dict(link=('thumb1', 'thumb2'), id=1, color=[255, 128, 0]),
        2:
        dict(link=('thumb2', 'thumb3'), id=2, color=[255, 128, 0]),
        3:
        dict(link=('thumb3', 'thumb4'), id=3, color=[255, 128, 0]),
        4:
        dict(link=('wrist', 'index1'), id=4, color=[255, 153, 255]),
        5:
        dict(link=('index1', 'index2'), id=5, color=[255, 153, 255]),
        6:
        dict(link=('index2', 'index3'), id=6, color=[255, 153, 255]),
        7:
        dict(link=('index3', 'index4'), id=7, color=[255, 153, 255]),
        8:
        dict(link=('wrist', 'middle1'), id=8, color=[102, 178, 255]),
        9:
        dict(link=('middle1', 'middle2'), id=9, color=[102, 178, 255]),
        10:
        dict(link=('middle2', 'middle3'), id=10, color=[102, 178, 255]),
        11:
        dict(link=('middle3', 'middle4'), id=11, color=[102, 178, 255]),
        12:
        dict(link=('wrist', 'ring1'), id=12, color=[255, 51, 51]),
        13:
        dict(link=('ring1', 'ring2'), id=13, color=[255, 51, 51]),
        14:
        dict(link=('ring2', 'ring3'), id=14, color=[255, 51, 51]),
        15:
        dict(link=('ring3', 'ring4'), id=15, color=[255, 51, 51]),
        16:
        dict(link=('wrist', 'pinky1'), id=16, color=[0, 255, 0]),
        17:
        dict(link=('pinky1', 'pinky2'), id=17, color=[0, 255, 0]),
        18:
        dict(link=('pinky2', 'pinky3'), id=18, color=[0, 255, 0]),
        19:
        dict(link=('pinky3', 'pinky4'), id=19, color=[0, 255, 0]),
    },
    joint_weights=[1.] * 21,
    sigmas=[
        0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018,
        0.024, 0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.02, 0.019, 0.022,
        0.031
    ])
