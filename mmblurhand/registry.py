# Copyright (c) OpenMMLab. All rights reserved.
"""MMBlurHand provides 22 registry nodes, one child of every MMPose node.

Every node has ``scope='mmblurhand'`` and a parent in :mod:`mmpose.registry`,
so with ``default_scope = 'mmblurhand'`` a config finds both mmblurhand's own
classes and every MMPose / MMEngine class without a prefix, and MMPose code
that builds sub-modules under our scope (e.g. ``TopdownPoseEstimator``
building its head) finds ours.

Other MMPose projects reach our classes with ``type='mmblurhand.CCRLoss'``.

Note:
    Parent look-ups do not trigger the parent's lazy ``locations`` import, so
    :func:`mmblurhand.utils.register_all_modules` imports the MMPose modules
    we rely on. It deliberately never imports ``mmpose.apis`` or
    ``mmpose.visualization`` (they import torchvision, which does not work
    beside the CPU torch wheel).
"""
from mmpose.registry import BATCH_AUGMENTS as MMPOSE_BATCH_AUGMENTS
from mmpose.registry import DATA_SAMPLERS as MMPOSE_DATA_SAMPLERS
from mmpose.registry import DATASETS as MMPOSE_DATASETS
from mmpose.registry import EVALUATORS as MMPOSE_EVALUATORS
from mmpose.registry import HOOKS as MMPOSE_HOOKS
from mmpose.registry import INFERENCERS as MMPOSE_INFERENCERS
from mmpose.registry import KEYPOINT_CODECS as MMPOSE_KEYPOINT_CODECS
from mmpose.registry import LOG_PROCESSORS as MMPOSE_LOG_PROCESSORS
from mmpose.registry import LOOPS as MMPOSE_LOOPS
from mmpose.registry import METRICS as MMPOSE_METRICS
from mmpose.registry import MODEL_WRAPPERS as MMPOSE_MODEL_WRAPPERS
from mmpose.registry import MODELS as MMPOSE_MODELS
from mmpose.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMPOSE_OPTIM_WRAPPER_CONSTRUCTORS
from mmpose.registry import OPTIM_WRAPPERS as MMPOSE_OPTIM_WRAPPERS
from mmpose.registry import OPTIMIZERS as MMPOSE_OPTIMIZERS
from mmpose.registry import PARAM_SCHEDULERS as MMPOSE_PARAM_SCHEDULERS
from mmpose.registry import \
    RUNNER_CONSTRUCTORS as MMPOSE_RUNNER_CONSTRUCTORS
from mmpose.registry import RUNNERS as MMPOSE_RUNNERS
from mmpose.registry import TASK_UTILS as MMPOSE_TASK_UTILS
from mmpose.registry import TRANSFORMS as MMPOSE_TRANSFORMS
from mmpose.registry import VISBACKENDS as MMPOSE_VISBACKENDS
from mmpose.registry import VISUALIZERS as MMPOSE_VISUALIZERS
from mmpose.registry import \
    WEIGHT_INITIALIZERS as MMPOSE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

_SCOPE = 'mmblurhand'

# Runner, loops and hooks
RUNNERS = Registry(
    'runner', parent=MMPOSE_RUNNERS, scope=_SCOPE,
    locations=['mmblurhand.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMPOSE_RUNNER_CONSTRUCTORS, scope=_SCOPE,
    locations=['mmblurhand.engine'])
LOOPS = Registry(
    'loop', parent=MMPOSE_LOOPS, scope=_SCOPE,
    locations=['mmblurhand.engine'])
HOOKS = Registry(
    'hook', parent=MMPOSE_HOOKS, scope=_SCOPE,
    locations=['mmblurhand.engine.hooks'])

# Data
DATASETS = Registry(
    'dataset', parent=MMPOSE_DATASETS, scope=_SCOPE,
    locations=['mmblurhand.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMPOSE_DATA_SAMPLERS, scope=_SCOPE,
    locations=['mmblurhand.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMPOSE_TRANSFORMS, scope=_SCOPE,
    locations=['mmblurhand.datasets.transforms'])
KEYPOINT_CODECS = Registry(
    'KEYPOINT_CODECS', parent=MMPOSE_KEYPOINT_CODECS, scope=_SCOPE,
    locations=['mmblurhand.codecs'])

# Models
MODELS = Registry(
    'model', parent=MMPOSE_MODELS, scope=_SCOPE,
    locations=['mmblurhand.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMPOSE_MODEL_WRAPPERS, scope=_SCOPE,
    locations=['mmblurhand.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMPOSE_WEIGHT_INITIALIZERS, scope=_SCOPE,
    locations=['mmblurhand.models'])
BATCH_AUGMENTS = Registry(
    'batch augment', parent=MMPOSE_BATCH_AUGMENTS, scope=_SCOPE,
    locations=['mmblurhand.models'])
TASK_UTILS = Registry(
    'task util', parent=MMPOSE_TASK_UTILS, scope=_SCOPE,
    locations=['mmblurhand.models'])

# Optimisation
OPTIMIZERS = Registry(
    'optimizer', parent=MMPOSE_OPTIMIZERS, scope=_SCOPE,
    locations=['mmblurhand.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMPOSE_OPTIM_WRAPPERS, scope=_SCOPE,
    locations=['mmblurhand.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMPOSE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=_SCOPE, locations=['mmblurhand.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMPOSE_PARAM_SCHEDULERS, scope=_SCOPE,
    locations=['mmblurhand.engine'])

# Evaluation
METRICS = Registry(
    'metric', parent=MMPOSE_METRICS, scope=_SCOPE,
    locations=['mmblurhand.evaluation.metrics'])
EVALUATORS = Registry(
    'evaluator', parent=MMPOSE_EVALUATORS, scope=_SCOPE,
    locations=['mmblurhand.evaluation'])

# Visualisation and logging
VISUALIZERS = Registry(
    'visualizer', parent=MMPOSE_VISUALIZERS, scope=_SCOPE,
    locations=['mmblurhand.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMPOSE_VISBACKENDS, scope=_SCOPE,
    locations=['mmblurhand.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMPOSE_LOG_PROCESSORS, scope=_SCOPE,
    locations=['mmblurhand.engine'])

# Inference
INFERENCERS = Registry(
    'inferencer', parent=MMPOSE_INFERENCERS, scope=_SCOPE,
    locations=['mmblurhand.apis'])

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'DATASETS',
    'DATA_SAMPLERS', 'TRANSFORMS', 'KEYPOINT_CODECS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'METRICS', 'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS',
    'LOG_PROCESSORS', 'INFERENCERS'
]
