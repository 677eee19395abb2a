# Copyright (c) OpenMMLab. All rights reserved.
"""Make ``projects.<name>.<package>`` importable from the repository root,
as the projects' configs expect (``custom_imports``)."""
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)
