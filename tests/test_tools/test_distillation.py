"""The distillation recipe through the tools (docs/distillation.md):
train a teacher, dump it on the training split, build its store, train the
student on it; horizon self-distillation; the sweep over beta and T."""
import os.path as osp
import subprocess
import sys

import numpy as np

from lsant_mmaction.datasets import TeacherStore
from lsant_mmaction.evaluation import load_predictions

from ..conftest import ROOT, run_tool
from .test_end_to_end import FAST, env

TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
TEACHER = osp.join(ROOT, 'configs', 'lstm_demo_glvn.py')  # a quick teacher
KD = osp.join(ROOT, 'configs', 'lstm_demo_kd.py')
SELFKD = osp.join(ROOT, 'configs', 'lstm_demo_selfkd.py')
ONE_EPOCH = FAST + ['train_cfg.max_epochs=1']


def test_teacher_store_student(demo_root, tmp_path):
    teacher = str(tmp_path / 'teacher')
    run_tool([TRAIN, TEACHER, '--work-dir', teacher, '--cfg-options']
             + ONE_EPOCH, cwd=demo_root, env=env())
    ckpt = osp.join(teacher, 'best.pth')
    dump = str(tmp_path / 'train_scores.pkl')
    run_tool([TEST, TEACHER, ckpt, '--split', 'training.csv', '--dump', dump,
              '--work-dir', str(tmp_path / 'dump'), '--cfg-options'] + FAST,
             cwd=demo_root, env=env())
    store = str(tmp_path / 'store')
    run_tool([osp.join(ROOT, 'tools', 'build_teacher_store.py'), KD,
              '--teacher', TEACHER, ckpt, dump, '--out', store],
             cwd=demo_root, env=env())
    rows = {str(e['segment_id']): e['pred_score']
            for e in load_predictions(dump)}
    opened = TeacherStore(store)
    assert sorted(map(str, opened.ids)) == sorted(rows)
    first = opened.ids[0]
    np.testing.assert_allclose(opened.row(first), rows[str(first)],
                               rtol=1e-6)
    out = run_tool([TRAIN, KD, '--work-dir', str(tmp_path / 'student'),
                    '--cfg-options', f'train_dataloader.dataset.pipeline.1.'
                    f'store={store}'] + ONE_EPOCH, cwd=demo_root, env=env())
    assert 'loss_cls' in out.stdout + out.stderr
    assert osp.isfile(osp.join(tmp_path, 'student', 'best.pth'))
    # the store of another student's split is refused before training
    proc = subprocess.run(
        [sys.executable, TRAIN, KD, '--work-dir', str(tmp_path / 'bad'),
         '--cfg-options', f'train_dataloader.dataset.pipeline.1.store={store}',
         'train_dataloader.dataset.ann_file=validation.csv'] + ONE_EPOCH,
        cwd=demo_root, env=env(), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode != 0
    assert 'are not segments of the split' in proc.stderr


def test_self_distillation_and_the_sweep_grid(demo_root, tmp_path):
    out = run_tool([TRAIN, SELFKD, '--work-dir', str(tmp_path / 'self'),
                    '--cfg-options'] + ONE_EPOCH, cwd=demo_root, env=env())
    assert 'loss_cls' in out.stdout + out.stderr
    out = run_tool([osp.join(ROOT, 'tools', 'sweep.py'), KD, '--priors',
                    'glvn', '--alphas', '0.5', '--grid',
                    'model.cls_head.loss_cls.beta=0.25,0.5',
                    'model.cls_head.loss_cls.temperature=1,2', '--seeds',
                    '0', '--dry-run', '--work-dir', str(tmp_path / 'sweep')],
                   cwd=demo_root, env=env())
    assert out.stdout.count('  new  ') + out.stderr.count('  new  ') == 4
    assert 'beta=0.25 temperature=2 seed 0' in out.stdout + out.stderr
