# Copyright (c) OpenMMLab. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .checkpoint_compatibility_hook import CheckpointCompatibilityHook
from .nan_guard_hook import NaNGuardHook, NonFiniteLossError
from .mesh_visualization_hook import MeshVisualizationHook  # noqa: F401
from .learning_curve_hook import LearningCurveHook, unfolder_2d_errors  # noqa: F401,E501
