# Copyright (c) OpenMMLab. All rights reserved.
"""Importing mmblurhand and building its models must not import torchvision,
``mmpose.apis`` or ``mmpose.visualization`` (they break beside CPU torch)."""
import glob
import os.path as osp
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FORBIDDEN = ('torchvision', 'mmpose.apis', 'mmpose.visualization')

_SCRIPT = r'''
import sys, glob
import mmblurhand
from mmblurhand.utils import register_all_modules
register_all_modules()
from mmengine.config import Config
from mmblurhand.registry import MODELS, DATASETS, METRICS, TRANSFORMS
built = 0
for path in sorted(glob.glob('configs/**/*.py', recursive=True)):
    if '/_base_/' in path:
        continue
    cfg = Config.fromfile(path)
    if 'model' not in cfg:
        continue
    model_cfg = cfg.model
    # no downloads: drop pretrained weights everywhere
    def strip(d):
        if isinstance(d, dict):
            d.pop('init_cfg', None)
            for v in d.values():
                strip(v)
    strip(model_cfg)
    MODELS.build(model_cfg)
    built += 1
bad = [m for m in FORBIDDEN if m in sys.modules]
print('BUILT', built)
print('FORBIDDEN_LOADED', bad)
'''


def test_no_forbidden_imports_when_importing_and_building():
    script = f'FORBIDDEN = {FORBIDDEN!r}\n' + _SCRIPT
    proc = subprocess.run([sys.executable, '-c', script],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'FORBIDDEN_LOADED []' in proc.stdout, proc.stdout
    n_configs = len([
        p for p in glob.glob(osp.join(REPO, 'configs/**/*.py'),
                             recursive=True) if '/_base_/' not in p
    ])
    assert f'BUILT {n_configs}' in proc.stdout or n_configs == 0, \
        proc.stdout
