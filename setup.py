# Copyright (c) OpenMMLab. All rights reserved.
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    with open(osp.join(HERE, 'mmblurhand', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname: str) -> list:
    """Read a requirements file, dropping comments and ``-r`` includes."""
    reqs = []
    with open(osp.join(HERE, fname)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


setup(
    name='mmblurhand',
    version=get_version(),
    description='3D hand mesh sequences from a single motion-blurred image '
    '(BlurHandNet and multi-hypothesis BlurHandNet) for MMPose 1.x',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    keywords='computer vision, hand mesh, motion blur, MANO, mmpose',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'demo',
                                    'projects', 'docs')),
    include_package_data=True,
    python_requires='>=3.8',
    license='Apache License 2.0',
    classifiers=[
        'Programming Language :: Python :: 3',
        'License :: OSI Approved :: Apache Software License',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    # mmcv (compiled ops), mmdet and mmpose are installed by
    # tools/setup_env.sh (see requirements/mminstall.txt for why --no-deps).
    install_requires=parse_requirements('requirements/runtime.txt'),
    extras_require={
        'optional': parse_requirements('requirements/optional.txt'),
        'tests': parse_requirements('requirements/tests.txt'),
        'mim': parse_requirements('requirements/mminstall.txt'),
    },
    zip_safe=False)
