# Copyright (c) OpenMMLab. All rights reserved.
"""Official checkpoint converters, on the official key names and shapes.

``tests/data/official_checkpoints/*_keys.json`` record every key and shape
of the official networks' state dicts (built from the official code at the
commits the files name; data only, no official code). Tensors of those
shapes on the ``meta`` device are converted and loaded strictly into the
paper-config models, also built on ``meta`` (no memory, about a second).
"""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmblurhand.registry import MODELS
from mmblurhand.utils import register_all_modules
from mmblurhand.utils.official_conversion_cli import (UntrustedSourceError,
                                                      load_official)
from mmblurhand.utils.official_weights import (PAPER_CONFIGS,
                                               OfficialConversionError,
                                               check_against,
                                               convert_state_dict,
                                               make_checkpoint,
                                               official_network,
                                               split_training_model)

register_all_modules()
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(REPO, 'tests', 'data', 'official_checkpoints')


class Custom:
    """A type outside torch's weights_only allow-list."""


def recorded(name):
    with open(osp.join(DATA, f'{name}_keys.json')) as f:
        data = json.load(f)
    state = {}
    for key, shape in data['shapes'].items():
        dtype = torch.int64 if key.endswith('num_batches_tracked') else \
            torch.float32
        state[key] = torch.empty(shape, dtype=dtype, device='meta')
    return data, state


def meta_model(model):
    cfg = Config.fromfile(osp.join(REPO, PAPER_CONFIGS[model]))
    if model == 'mh_selector':
        cfg.model.generator_checkpoint = None
    with torch.device('meta'):
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('model', ['blurhandnet', 'mh_generator',
                                   'mh_selector'])
def test_recorded_official_keys_load_strictly(model):
    name = 'blurhandnet' if model == 'blurhandnet' else 'mh_selection_stage'
    data, ckpt = recorded(name)
    assert len(data['commit']) == 40
    state = official_network({'network': ckpt}, name)
    if model == 'blurhandnet':
        converted = convert_state_dict(state, model)
    else:
        gen = convert_state_dict(
            split_training_model(state, 'generator'), 'mh_generator')
        converted = gen
        if model == 'mh_selector':
            converted = {'generator.' + k: v for k, v in gen.items()}
            converted.update(
                convert_state_dict(
                    split_training_model(state, 'selector'), model))
    net = meta_model(model)
    check_against(converted, {
        k: tuple(v.shape)
        for k, v in net.state_dict().items()
    }, model)
    result = net.load_state_dict(converted, strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_unknown_and_incomplete_keys_are_named():
    _, ckpt = recorded('blurhandnet')
    state = official_network({'network': ckpt}, 'x')
    bad = dict(state)
    bad['unfolder.decoder_md.attention.weight'] = torch.empty(3)
    with pytest.raises(OfficialConversionError,
                       match='decoder_md.attention.weight'):
        convert_state_dict(bad, 'blurhandnet')
    partial = {k: v for k, v in state.items() if 'decoder_e2' not in k}
    with pytest.raises(OfficialConversionError, match=r"lacks decoder.*e2"):
        convert_state_dict(partial, 'blurhandnet')
    # a multi-hypothesis checkpoint is not a BlurHandNet one
    _, mh = recorded('mh_selection_stage')
    gen = split_training_model(official_network({'network': mh}, 'mh'),
                               'generator')
    with pytest.raises(OfficialConversionError, match='hypo_embed'):
        convert_state_dict(gen, 'blurhandnet')


def test_shape_check_names_the_mismatch():
    with pytest.raises(OfficialConversionError, match='neck.proj.weight'):
        check_against({'neck.proj.weight': torch.empty(2, 3)},
                      {'neck.proj.weight': (3, 3)}, 'cfg')


def test_fixed_buffers_are_checked():
    from mmblurhand.models.selectors.score_decoder import \
        official_sinusoidal_embedding_1d
    code = official_sinusoidal_embedding_1d(3, 16)[None, None, :, None]
    convert_state_dict({'scorenet.pe_t': code}, 'mh_selector')
    with pytest.raises(OfficialConversionError, match='pe_t'):
        convert_state_dict({'scorenet.pe_t': code + 0.1}, 'mh_selector')


def test_score_head_columns_are_permuted():
    # official input column j * E + e -> mmblurhand column e * J + j
    e, j = 2, 3
    weight = torch.arange(float(j * e)).view(1, -1)
    out = convert_state_dict(
        {
            'scorenet.score_head.1.weight': torch.empty(e, e, 3, 1),
            'scorenet.score_head.5.weight': weight
        }, 'mh_selector')
    assert out['head.score_mlp.3.weight'].tolist() == [[0., 2., 4., 1., 3.,
                                                        5.]]


def test_safe_loading_and_plain_meta(tmp_path):
    state = {'backbone.conv1.weight': torch.ones(2, 3, 1, 1)}
    good = tmp_path / 'epoch_13.pth.tar'
    torch.save({'network': {'module.' + k: v for k, v in state.items()},
                'epoch': 13, 'optimizer': {'state': {}, 'param_groups': []}},
               good)
    assert list(load_official(str(good))) == ['backbone.conv1.weight']

    bad = tmp_path / 'custom.pth.tar'
    torch.save({'network': state, 'extra': Custom()}, bad)
    with pytest.raises(UntrustedSourceError, match='--trust-source'):
        load_official(str(bad))
    assert list(load_official(str(bad), trust_source=True)) == list(state)
    with pytest.raises(OfficialConversionError, match="'network'"):
        official_network({'model': 1}, 'x.pth')

    ckpt = make_checkpoint(state, [str(good)], 'blurhandnet')
    out = tmp_path / 'converted.pth'
    torch.save(ckpt, out)
    loaded = torch.load(out, weights_only=True)
    meta = loaded['meta']
    assert meta['config'] == PAPER_CONFIGS['blurhandnet']
    assert len(meta['source_sha256'][0]) == 64
    assert meta['num_parameters'] == 6
