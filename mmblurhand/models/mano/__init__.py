# Copyright (c) OpenMMLab. All rights reserved.
"""The MANO hand model: layer, chumpy-free loading, procedural hand, joint
orders. See ``docs/hand_model.md``."""
from .joint_orders import (INTERHAND21_JOINT_NAMES, MANO16_JOINT_NAMES,
                           MANO21_JOINT_NAMES, TIP_JOINT_NAMES,
                           convert_joint_order, joint_order_indices)
from .mano_io import (MANO_KEYS, ChumpyFreeUnpickler, MANOModelError,
                      MANOModelNotFoundError, load_mano_arrays,
                      load_procedural_mano, read_mano_file)
from .mano_layer import ManoLayer, ManoOutput

__all__ = [
    'ManoLayer', 'ManoOutput', 'convert_joint_order', 'joint_order_indices',
    'MANO21_JOINT_NAMES', 'MANO16_JOINT_NAMES', 'INTERHAND21_JOINT_NAMES',
    'TIP_JOINT_NAMES', 'load_mano_arrays', 'load_procedural_mano',
    'read_mano_file', 'ChumpyFreeUnpickler', 'MANOModelError',
    'MANOModelNotFoundError', 'MANO_KEYS'
]
