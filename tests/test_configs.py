"""Every config loads and builds its model; the committed configs are the
generator's output."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmaction.registry import MODELS

from .conftest import ROOT

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*.py')))


def test_configs_match_the_generator():
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'generate_configs.py'),
         '--check'], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_row_of_the_paper_has_a_config():
    names = {osp.basename(c)[:-3] for c in CONFIGS}
    for dataset, modalities in (('epic', ('rgb', 'flow', 'obj')),
                                ('egtea', ('rgb', 'flow'))):
        for prior in ('onehot', 'uniform', 'te', 'vn', 'gl', 'glvn'):
            assert f'lstm_{dataset}_{prior}' in names
            assert f'rulstm_{dataset}_{prior}' in names
            for m in modalities:  # single-modality rows and their stage 1
                assert f'rulstm_{dataset}_{prior}_{m}' in names
                assert f'rulstm_{dataset}_{prior}_{m}_scp' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_model(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['lsant_mmaction']
    assert cfg.default_hooks.checkpoint.save_best == \
        'anticipation/action_top5@1.00s'
    # the prior's sources (data/...) are absent here: the loss waits for a
    # checkpoint, it does not fail
    model = MODELS.build(cfg.model)
    head = model.cls_head
    assert head.num_classes == cfg.model.cls_head.num_classes
    assert head.modalities == tuple(cfg.model.modalities)
    # the pipeline packs exactly the model's modalities
    pipeline = cfg.train_dataloader.dataset.pipeline
    assert tuple(pipeline[-1].collect_keys) == tuple(cfg.model.modalities)
    if pipeline[0].type == 'LoadLMDBFeatures':
        assert tuple(pipeline[0].modalities) == tuple(cfg.model.modalities)
    loss = head.loss_cls
    name = osp.basename(path)
    if '_onehot' in name:
        assert loss.alpha == 0 and loss.prior is None
    else:
        assert loss.alpha > 0 and loss.num_classes == head.num_classes
        assert loss.prior_source['kind'] in name[:-3].split('_')
