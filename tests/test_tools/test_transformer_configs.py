"""The transformer heads' demo configs through the tools as they are:
train, test with a dump, the challenge export, and an official protocol
(one horizon, 18 steps at 1 s, the past-action and feature losses)."""
import json
import os.path as osp

import pytest

from lsant_mmaction.evaluation import load_predictions

from ..conftest import ROOT, run_tool
from .test_end_to_end import FAST as LSTM_FAST
from .test_end_to_end import env

TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
FAST = [o for o in LSTM_FAST if 'hidden_channels' not in o] + [
    'train_cfg.max_epochs=1']
# AFFT's EK100 protocol on the demo data: 18 steps of 1 s, one horizon
# (1 s), the observed steps' labels for the past-action loss
GRID = dict(time_step=1.0, num_steps=18, num_anticipation_steps=1)
OFFICIAL = [f'{split}_dataloader.dataset.time_grid.{key}={value}'
            for split in ('train', 'val', 'test')
            for key, value in GRID.items()] + [
    'train_dataloader.dataset.past_labels=True',
    'train_dataloader.dataset.pipeline.1.meta_keys=[segment_id,past_label]',
    'model.cls_head.num_anticipation_steps=1',
    'model.cls_head.feat_loss_weight=1.0',
    'model.cls_head.past_loss_weight=1.0']


@pytest.mark.parametrize('model', ['avt', 'afft'])
def test_train_test_dump_and_export(model, demo_root, tmp_path):
    config = osp.join(ROOT, 'configs', f'{model}_demo_glvn.py')
    work = str(tmp_path / 'w')
    out = run_tool([TRAIN, config, '--work-dir', work, '--cfg-options']
                   + FAST, cwd=demo_root, env=env())
    log = out.stdout + out.stderr
    assert 'loss_cls' in log and 'anticipation/action_top5@0.25s' in log
    if model == 'avt':
        assert 'loss_feat' in log  # AVT's next-feature regression
    dump = str(tmp_path / 'scores.pkl')
    run_tool([TEST, config, osp.join(work, 'best.pth'), '--work-dir',
              str(tmp_path / 't'), '--dump', dump, '--cfg-options'] + FAST,
             cwd=demo_root, env=env())
    entries = load_predictions(dump)
    assert entries and entries[0]['pred_score'].shape == (8, 65)
    # the challenge export of a test split (the validation segments
    # without labels)
    split = f'test_{model}.csv'
    data = osp.join(demo_root, 'data', 'demo')
    with open(osp.join(data, 'validation.csv')) as f, \
            open(osp.join(data, split), 'w') as g:
        g.writelines(','.join(line.split(',')[:4]) + '\n' for line in f)
    out_json = str(tmp_path / 'seen.json')
    run_tool([osp.join(ROOT, 'tools', 'export_challenge.py'), config,
              osp.join(work, 'best.pth'), '--split', split, '--out',
              out_json, '--work-dir', str(tmp_path / 'e'), '--cfg-options']
             + FAST, cwd=demo_root, env=env())
    with open(out_json) as f:
        results = json.load(f)['results']
    assert len(results) == len(entries)


def test_an_official_protocol(tmp_path):
    # demo data with the frames of that grid too (as a full-frame LMDB)
    run_tool([osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
              'data/demo', '--train-videos', '3', '--val-videos', '1',
              '--segments-per-video', '12', '--also-grid', '1.0:18'],
             cwd=str(tmp_path))
    config = osp.join(ROOT, 'configs', 'afft_demo_glvn.py')
    out = run_tool([TRAIN, config, '--work-dir', str(tmp_path / 'w'),
                    '--cfg-options'] + FAST + OFFICIAL, cwd=str(tmp_path),
                   env=env())
    log = out.stdout + out.stderr
    for loss in ('loss_cls', 'loss_feat', 'loss_past'):
        assert loss in log
    assert 'observed steps lie in a segment (past_label)' in log
    # one horizon: the measures at 1 s only
    assert 'anticipation/action_top5@1.00s' in log
    assert '@0.25s' not in log and '@2.00s' not in log
