# Copyright (c) OpenMMLab. All rights reserved.
"""Human-from-Blur-style reblur model, test-time refinement and a
physics-based hypothesis selector for blurry hands (see the project's
README)."""
from .camera import (crop_intrinsics, fit_translation,
                     fit_translation_scaled)
from .image_formation import (BlurImageFormation, best_foreground_colour,
                              composite, subframe_times)
from .losses import (gaussian_pose_prior, image_loss, joint_2d_loss,
                     matting_loss, polynomial_regulariser, soft_iou)
from .motion import (PolynomialMotion, fit_polynomial, pose_hand,
                     step_times, vandermonde)
from .physics_selector import PhysicsSelector, combine_scores, standardise
from .rasterizer import (SoftSilhouetteRasterizer, hard_silhouette,
                         project_points, soft_silhouette)
from .refiner import BlurMotionRefiner, init_translations

__all__ = [
    'SoftSilhouetteRasterizer', 'soft_silhouette', 'hard_silhouette',
    'project_points', 'fit_translation_scaled', 'PolynomialMotion',
    'fit_polynomial', 'vandermonde',
    'step_times', 'pose_hand', 'crop_intrinsics', 'fit_translation',
    'BlurImageFormation', 'best_foreground_colour', 'composite',
    'subframe_times', 'soft_iou', 'matting_loss', 'image_loss',
    'joint_2d_loss', 'polynomial_regulariser', 'gaussian_pose_prior',
    'BlurMotionRefiner', 'init_translations', 'PhysicsSelector',
    'combine_scores', 'standardise'
]
