"""Train, test, resume and distributed training through the real tools."""
import glob
import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest

from ..conftest import ROOT, run_tool

CONFIG = osp.join(ROOT, 'configs', 'lstm_demo_glvn.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
FAST = [
    f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
    for key in ('num_workers=0', 'persistent_workers=False')
] + ['model.cls_head.hidden_channels=64']


def env():
    e = dict(os.environ, OMP_NUM_THREADS='1')
    e['PYTHONPATH'] = ROOT + os.pathsep + e.get('PYTHONPATH', '')
    return e


@pytest.fixture(scope='module')
def trained(demo_root):
    """Two epochs on the tiny demo data (cwd holds data/demo)."""
    run_tool([TRAIN, CONFIG, '--work-dir', 'work', '--seed', '0',
              '--cfg-options', 'train_cfg.max_epochs=2'] + FAST,
             cwd=demo_root, env=env())
    return demo_root


def test_train_writes_checkpoints_logs_and_best(trained):
    work = osp.join(trained, 'work')
    assert osp.isfile(osp.join(work, 'epoch_2.pth'))
    assert glob.glob(osp.join(work, 'best_anticipation_action_top5@1.00s_*'))
    logs = glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json'))
    assert logs and 'anticipation/action_top5@1.00s' in open(logs[0]).read()


def test_test_from_checkpoint_with_dump(trained):
    dump = osp.join(trained, 'dump.pkl')
    proc = run_tool([TEST, CONFIG, 'work/epoch_2.pth', '--work-dir', 'tw',
                     '--dump', dump, '--cfg-options'] + FAST,
                    cwd=trained, env=env())
    assert 'action_top5@1.00s' in proc.stdout + proc.stderr
    with open(dump, 'rb') as f:
        results = pickle.load(f)
    val = [line.split(',') for line in open(
        osp.join(trained, 'data/demo/validation.csv'))]
    assert 0 < len(results) <= len(val)
    first = results[0]
    assert first['pred_score'].shape == (8, 65)
    np.testing.assert_allclose(first['pred_score'].sum(-1), 1, rtol=1e-5)
    assert {'segment_id', 'gt_label', 'verb_label', 'noun_label'} <= set(
        first)


def test_test_needs_no_prior_sources(trained, tmp_path):
    """The prior travels in the checkpoint: test works without its files."""
    elsewhere = tmp_path / 'feature_only'
    shutil.copytree(osp.join(trained, 'data/demo'), elsewhere / 'demo')
    # the features, the split and the metric's files stay; the GL+VN
    # prior's class-name files and the training CSV go
    for name in ('EPIC_verb_classes.csv', 'EPIC_noun_classes.csv',
                 'training.csv'):
        os.remove(elsewhere / 'demo' / name)
    ckpt = osp.join(trained, 'work', 'epoch_2.pth')
    dumps = []
    for root in (osp.join(trained, 'data/demo/'), str(elsewhere / 'demo')):
        dump = str(tmp_path / f'{len(dumps)}.pkl')
        run_tool([TEST, CONFIG, ckpt, '--work-dir', str(tmp_path / 'w'),
                  '--dump', dump, '--cfg-options',
                  f'test_dataloader.dataset.data_root={root}'] + FAST,
                 cwd=str(tmp_path), env=env())
        with open(dump, 'rb') as f:
            dumps.append(pickle.load(f))
    assert len(dumps[0]) == len(dumps[1])
    for a, b in zip(*dumps):
        np.testing.assert_array_equal(a['pred_score'], b['pred_score'])


def test_resume(trained):
    proc = run_tool([TRAIN, CONFIG, '--work-dir', 'work', '--resume',
                     '--cfg-options', 'train_cfg.max_epochs=3'] + FAST,
                    cwd=trained, env=env())
    out = proc.stdout + proc.stderr
    assert 'resumed epoch: 2' in out
    assert osp.isfile(osp.join(trained, 'work', 'epoch_3.pth'))


def test_distributed_training_on_cpu(demo_root):
    """2-process torchrun training (gloo), as tools/dist_train.sh does."""
    proc = run_tool([
        '-m', 'torch.distributed.run', '--nproc_per_node=2',
        '--master_port=29517', TRAIN, CONFIG, '--launcher', 'pytorch',
        '--work-dir', 'ddp', '--cfg-options', 'train_cfg.max_epochs=1'
    ] + FAST, cwd=demo_root, env=env())
    out = proc.stdout + proc.stderr
    assert 'Distributed training: True' in out
    assert "dist_cfg: {'backend': 'gloo'}" in out
    assert osp.isfile(osp.join(demo_root, 'ddp', 'epoch_1.pth'))


def test_export_challenge_json(trained, tmp_path):
    import json
    data = osp.join(trained, 'data', 'demo')
    rows = [line.split(',')[:4] for line in open(osp.join(data,
                                                          'validation.csv'))]
    with open(osp.join(data, 'test_seen.csv'), 'w') as f:
        for row in rows:
            f.write(','.join(row) + '\n')
        f.write('99999, D09_01, 0000000005, 0000000050\n')  # dropped
    out = str(tmp_path / 'seen.json')
    run_tool([osp.join(ROOT, 'tools', 'export_challenge.py'), CONFIG,
              'work/epoch_2.pth', '--split', 'test_seen.csv', '--out', out,
              '--work-dir', str(tmp_path / 'w'), '--cfg-options'] + FAST,
             cwd=trained, env=env())
    with open(out) as f:
        sub = json.load(f)
    assert sub['version'] == '0.1'
    assert sub['challenge'] == 'action_anticipation'
    assert (sub['sls_pt'], sub['sls_tl'], sub['sls_td']) == (1, 4, 3)
    ids = {str(int(r[0])) for r in rows} | {'99999'}
    assert set(sub['results']) == ids
    pairs = {tuple(line.strip().split(',')[2:4]) for line in open(
        osp.join(data, 'actions.csv')).readlines()[1:]}
    for seg_id, entry in sub['results'].items():
        assert set(entry) == {'verb', 'noun', 'action'}
        # the dataset's class counts (the demo's EK55-shaped 12 and 20)
        assert len(entry['verb']) == 12 and len(entry['noun']) == 20
        assert len(entry['action']) == 65  # fewer actions than top-100
        assert all(tuple(k.split(',')) in pairs for k in entry['action'])
        total = sum(entry['verb'].values())
        if seg_id == '99999':
            assert total == 0
        else:
            assert abs(total - 1) < 1e-4  # marginalised softmax
            assert abs(sum(entry['noun'].values()) - 1) < 1e-4


def test_visualize_predictions(trained, tmp_path):
    dump = osp.join(trained, 'vis.pkl')
    run_tool([TEST, CONFIG, 'work/epoch_2.pth', '--work-dir', 'tw2',
              '--dump', dump, '--cfg-options'] + FAST, cwd=trained,
             env=env())
    with open(dump, 'rb') as f:
        first = int(pickle.load(f)[0]['segment_id'])
    proc = run_tool([
        osp.join(ROOT, 'tools', 'visualize_predictions.py'), CONFIG, dump,
        '--checkpoint', 'work/epoch_2.pth', '--segments', str(first),
        '--out', str(tmp_path), '--cfg-options'
    ] + FAST, cwd=trained, env=env())
    assert f'segment {first}: ground truth' in proc.stdout
    png = tmp_path / f'segment_{first}.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
