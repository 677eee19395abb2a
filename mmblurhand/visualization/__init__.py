# Copyright (c) OpenMMLab. All rights reserved.
from .mesh_visualizer import MeshVisualizer  # noqa: F401
from .renderers import (get_render_backend, render_mesh,  # noqa: F401
                        render_mesh_sequence)
