"""The dataset owns the time grid: changing it in the config changes the
metric names and the export, and a head on another grid is stopped."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import ROOT, run_tool
from .test_end_to_end import FAST, env

CONFIG = osp.join(ROOT, 'configs', 'lstm_demo_glvn.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')
EXPORT = osp.join(ROOT, 'tools', 'export_challenge.py')
# the last 4 steps anticipate: 1.0, 0.75, 0.5, 0.25 s (the same frames, so
# the demo LMDBs hold them)
GRID = [f'{split}_dataloader.dataset.time_grid.num_anticipation_steps=4'
        for split in ('train', 'val', 'test')]


@pytest.fixture(scope='module')
def trained_on_4_steps(demo_root):
    run_tool([TRAIN, CONFIG, '--work-dir', 'grid4', '--cfg-options',
              'train_cfg.max_epochs=1',
              'model.cls_head.num_anticipation_steps=4'] + GRID + FAST,
             cwd=demo_root, env=env())
    return demo_root


def test_metric_names_follow_the_dataset_grid(trained_on_4_steps):
    logs = glob.glob(osp.join(trained_on_4_steps, 'grid4', '*', 'vis_data',
                              'scalars.json'))
    val = [json.loads(line) for line in open(logs[0])
           if 'anticipation/action_top1@1.00s' in line]
    assert val, 'no validation results'
    names = {k for k in val[0] if k.startswith('anticipation/action_top5@')}
    assert names == {f'anticipation/action_top5@{t}s'
                     for t in ('1.00', '0.75', '0.50', '0.25')}
    # the best checkpoint is still chosen on action top-5 at 1 s
    assert glob.glob(osp.join(trained_on_4_steps, 'grid4',
                              'best_anticipation_action_top5@1.00s_*.pth'))


def test_export_follows_the_dataset_grid(trained_on_4_steps, tmp_path):
    out = str(tmp_path / 'val.json')
    run_tool([EXPORT, CONFIG, 'grid4/epoch_1.pth', '--split',
              'validation.csv', '--out', out, '--work-dir',
              str(tmp_path / 'w'), '--cfg-options',
              'model.cls_head.num_anticipation_steps=4'] + GRID + FAST,
             cwd=trained_on_4_steps, env=env())
    with open(out) as f:
        results = json.load(f)['results']
    rows = [line for line in open(osp.join(
        trained_on_4_steps, 'data', 'demo', 'validation.csv')) if line.strip()]
    assert len(results) == len(rows)  # every segment, dropped ones too


def test_a_head_on_another_grid_is_stopped(demo_root, tmp_path):
    proc = subprocess.run(
        [sys.executable, TRAIN, CONFIG, '--work-dir', str(tmp_path / 'w'),
         '--cfg-options', 'train_cfg.max_epochs=1'] + GRID + FAST,
        cwd=demo_root, env=env(), capture_output=True, text=True,
        timeout=600)
    assert proc.returncode != 0
    assert ('the head predicts 8 anticipation steps (model.cls_head.'
            'num_anticipation_steps) but the time grid of train_dataloader.'
            'dataset has num_anticipation_steps=4') in proc.stderr
