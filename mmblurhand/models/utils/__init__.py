# Copyright (c) OpenMMLab. All rights reserved.
"""Model utilities: rotations, the virtual camera, soft-argmax."""
from .camera import VirtualCamera, fit_translation
from .rotations import (axis_angle_to_matrix, axis_angle_to_quaternion,
                        matrix_to_axis_angle, matrix_to_quaternion,
                        matrix_to_rot6d, quaternion_to_axis_angle,
                        quaternion_to_matrix, rot6d_to_matrix)
from .soft_argmax import heatmap_cell_centres, normalized_to_grid, soft_argmax

__all__ = [
    'axis_angle_to_matrix', 'matrix_to_axis_angle', 'rot6d_to_matrix',
    'matrix_to_rot6d', 'quaternion_to_matrix', 'matrix_to_quaternion',
    'axis_angle_to_quaternion', 'quaternion_to_axis_angle', 'VirtualCamera',
    'fit_translation', 'heatmap_cell_centres', 'normalized_to_grid',
    'soft_argmax'
]
