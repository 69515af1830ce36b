"""The frame configs' backbones get the pre-trained weights they name: from
a local file via the override their comments give, or an error naming the
source when those weights are unavailable; their pipelines and normaliser
give the backbone's mode the input it takes."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmaction.registry import MODELS

from lsant_mmaction.models.backbones.per_step_backbone import FRAME, SHIFT

from .conftest import ROOT
from .weights_files import (assert_holds, no_network,
                            write_recognizer_checkpoint,
                            write_torchvision_resnet)

# config, the --cfg-options key its comment gives, the file layout there
FRAME_CONFIGS = [
    ('rulstm_epic_glvn_tsn_r50_frames.py',
     'model.backbones.imgs.backbone.pretrained', write_torchvision_resnet),
    ('lstm_epic_glvn_x3d_frames.py',
     'model.backbones.imgs.init_cfg.checkpoint', write_recognizer_checkpoint),
    ('lstm_epic_glvn_tsm_r50_frames.py',
     'model.backbones.imgs.init_cfg.checkpoint', write_recognizer_checkpoint),
    ('lstm_custom_glvn_frames.py',
     'model.backbones.imgs.backbone.pretrained', write_torchvision_resnet),
]
IDS = [c[0] for c in FRAME_CONFIGS]


def load(name):
    path = osp.join(ROOT, 'configs', name)
    with open(path) as f:
        return Config.fromfile(path), f.read()


def lookup(cfg, key):
    value = cfg
    for part in key.split('.'):
        value = value[part]
    return value


@pytest.mark.parametrize('name,key,write', FRAME_CONFIGS, ids=IDS)
def test_config_names_weights_and_how_to_override(name, key, write):
    cfg, text = load(name)
    # the comment says how to point at a local copy
    assert '--cfg-options' in text and f'{key}=/path/' in text
    source = lookup(cfg, key)
    assert source.startswith('https://') and source.endswith('.pth')
    model = MODELS.build(cfg.model)
    assert model.backbones['imgs'].pretrained_source == source


@pytest.mark.parametrize('name,key,write', FRAME_CONFIGS, ids=IDS)
def test_config_backbone_holds_local_weights(name, key, write, tmp_path):
    cfg, _ = load(name)
    plain = MODELS.build(cfg.model.backbones.imgs.backbone)
    values = write(plain, tmp_path / 'weights.pth')
    cfg.merge_from_dict({key: str(tmp_path / 'weights.pth')})
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert_holds(model.backbones['imgs'].backbone, values)


@pytest.mark.parametrize('name,key,write', FRAME_CONFIGS, ids=IDS)
def test_config_weights_unavailable_is_an_error(name, key, write, tmp_path,
                                                monkeypatch):
    no_network(monkeypatch, tmp_path)
    cfg, _ = load(name)
    model = MODELS.build(cfg.model)
    with pytest.raises(RuntimeError, match='cannot load the pretrained '
                       f"weights '{lookup(cfg, key)}' .*URLError"):
        model.init_weights()


@pytest.mark.parametrize('name', IDS)
def test_pipelines_fit_the_backbone_mode(name):
    cfg, _ = load(name)
    backbone = MODELS.build(cfg.model.backbones.imgs)  # no weights loaded
    layout = 'NCHW' if backbone.mode == FRAME else 'NCTHW'
    assert cfg.model.data_preprocessor.preprocessors.imgs.format_shape == \
        layout
    for split in ('train', 'val', 'test'):
        pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
        shapes = [t for t in pipeline if t['type'] == 'FormatShape']
        assert [t['input_format'] for t in shapes] == [layout], split
        clip_len = pipeline[0]['clip_len']
        assert pipeline[0]['type'] == 'LoadAnticipationFrames'
        if backbone.mode == FRAME:
            assert clip_len == 1
        if backbone.mode == SHIFT:
            assert clip_len == backbone.num_segments
