"""The 3-stage RU-LSTM recipe and official-checkpoint conversion, through
the real tools on the tiny demo data."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from lsant_mmaction.compat import NUMPY_MULTIARRAY_NAMES
from lsant_mmaction.evaluation import load_predictions
from mmaction.registry import DATASETS, MODELS

from ..conftest import ROOT, run_tool
from ..test_models.rulstm_oracle import OracleFusion, OracleRULSTM
from ..weights_files import save_with_numpy_names
from .test_end_to_end import env

TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
CONVERT = osp.join(ROOT, 'tools', 'convert_rulstm_checkpoint.py')
EXPORT = osp.join(ROOT, 'tools', 'export_challenge.py')
FAST = [
    f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
    for key in ('num_workers=0', 'persistent_workers=False')
] + ['train_cfg.max_epochs=1']


def config(name):
    return osp.join(ROOT, 'configs', f'{name}.py')


def train(name, cwd, *options):
    return run_tool([TRAIN, config(name), '--seed', '0', '--cfg-options'] +
                    FAST + list(options), cwd=cwd, env=env())


@pytest.fixture(scope='module')
def recipe(demo_root):
    """Stage 1 and 2 of the rgb branch, stage 2 of flow and obj."""
    logs = {}
    for name, extra in (('rulstm_demo_glvn_rgb_scp', []),
                        ('rulstm_demo_glvn_rgb', []),
                        ('rulstm_demo_glvn_flow', ['load_from=None']),
                        ('rulstm_demo_glvn_obj', ['load_from=None'])):
        proc = train(name, demo_root, *extra)
        logs[name] = proc.stdout + proc.stderr
    return demo_root, logs


def test_best_checkpoint_link(recipe):
    root, _ = recipe
    link = osp.join(root, 'work_dirs', 'rulstm_demo_glvn_rgb_scp', 'best.pth')
    assert osp.islink(link)
    assert os.readlink(link).startswith('best_anticipation_action_top5@1.00s')
    assert osp.isfile(link)


def test_finetuning_starts_from_pretraining(recipe):
    _, logs = recipe
    assert ('Load checkpoint from work_dirs/rulstm_demo_glvn_rgb_scp/best.pth'
            in logs['rulstm_demo_glvn_rgb'])


def test_fusion_starts_from_the_branches(recipe, monkeypatch):
    root, _ = recipe
    monkeypatch.chdir(root)
    cfg = Config.fromfile(config('rulstm_demo_glvn'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    for i, modality in enumerate(('rgb', 'flow', 'obj')):
        ckpt = torch.load(f'work_dirs/rulstm_demo_glvn_{modality}/best.pth',
                          map_location='cpu')['state_dict']
        branch = model.cls_head.branches[i].state_dict()
        for key, value in branch.items():
            torch.testing.assert_close(value, ckpt['cls_head.branch.' + key])
    # and the fusion stage trains
    train('rulstm_demo_glvn', root)
    assert osp.isfile(osp.join(root, 'work_dirs', 'rulstm_demo_glvn',
                               'best.pth'))


def official_fusion(seed=0):
    """An oracle fusion model of the demo config's sizes, official names."""
    torch.manual_seed(seed)
    branches = [OracleRULSTM(65, d, 256) for d in (128, 128, 20)]
    return OracleFusion(branches, 256).eval()


def save_official(model, path, numpy_names='numpy._core.multiarray'):
    """As RU-LSTM's ``main.py`` saves: ``perf`` and ``best_perf`` are numpy
    scalars, pickled under numpy 2's names by default."""
    save_with_numpy_names(
        dict(state_dict=model.state_dict(), epoch=7, perf=np.float64(31.5),
             best_perf=np.float64(32.0)), path, numpy_names)


def test_converted_official_fusion_reproduces_the_oracle(demo_root,
                                                         tmp_path):
    oracle = official_fusion()
    src, dst = str(tmp_path / 'fusion.pth.tar'), str(tmp_path / 'f.pth')
    save_official(oracle, src)
    run_tool([CONVERT, src, dst, '--config', config('rulstm_demo_glvn')])
    dump = str(tmp_path / 'dump.pkl')
    run_tool([TEST, config('rulstm_demo_glvn'), dst, '--work-dir',
              str(tmp_path / 'w'), '--dump', dump, '--cfg-options'] + FAST,
             cwd=demo_root, env=env())
    results = {int(r['segment_id']): torch.from_numpy(r['pred_score'])
               for r in load_predictions(dump)}
    cfg = Config.fromfile(config('rulstm_demo_glvn'))
    dataset = DATASETS.build(dict(
        cfg.test_dataloader.dataset,
        data_root=osp.join(demo_root, 'data', 'demo')))
    assert len(results) == len(dataset)
    for i in range(len(dataset)):
        sample = dataset[i]
        inputs = [sample['inputs'][m][None] for m in ('rgb', 'flow', 'obj')]
        with torch.no_grad():
            fused, _ = oracle(inputs)
        expected = torch.softmax(fused[0, -8:], dim=-1)
        torch.testing.assert_close(
            results[sample['data_samples'].segment_id], expected,
            atol=1e-5, rtol=0)


@pytest.mark.parametrize('numpy_names', NUMPY_MULTIARRAY_NAMES)
def test_converted_single_branch(tmp_path, numpy_names):
    """Checkpoints written the official way under numpy 1 and numpy 2."""
    torch.manual_seed(0)
    oracle = OracleRULSTM(65, 128, 256).eval()
    src, dst = str(tmp_path / 'rgb.pth.tar'), str(tmp_path / 'rgb.pth')
    save_official(oracle, src, numpy_names)
    proc = run_tool([CONVERT, src, dst, '--config',
                     config('rulstm_demo_glvn_rgb')])
    assert 'single-branch, epoch 7, perf 31.5' in proc.stdout
    meta = torch.load(dst, weights_only=True)['meta']
    assert type(meta['rulstm_perf']) is float  # plain data in our checkpoint
    assert meta['rulstm_best_perf'] == 32.0
    model = MODELS.build(Config.fromfile(config('rulstm_demo_glvn_rgb')).model)
    from mmengine.runner import load_checkpoint
    load_checkpoint(model, dst, map_location='cpu')
    model.eval()
    x = torch.randn(2, 14, 128)
    with torch.no_grad():
        torch.testing.assert_close(model(dict(rgb=x), mode='tensor'),
                                   oracle(x)[0][:, -8:], atol=1e-5, rtol=0)


def convert_fails(src, cfg, tmp_path):
    proc = subprocess.run(
        [sys.executable, CONVERT, src, str(tmp_path / 'x.pth'), '--config',
         config(cfg)], capture_output=True, text=True)
    assert proc.returncode != 0
    return proc.stderr


def test_conversion_mismatch_errors(tmp_path):
    two = OracleFusion([OracleRULSTM(65, 128, 256),
                        OracleRULSTM(65, 128, 256)], 256)
    src = str(tmp_path / 'two.pth.tar')
    save_official(two, src)
    assert 'has 2 branch(es), the model of' in convert_fails(
        src, 'rulstm_demo_glvn', tmp_path)
    wrong = str(tmp_path / 'wrong.pth.tar')
    save_official(OracleRULSTM(65, 128, 512), wrong)  # hidden 512, not 256
    err = convert_fails(wrong, 'rulstm_demo_glvn_rgb', tmp_path)
    assert 'size mismatch' in err and 'cls_head.branch.unrolling_lstm' in err
    bad = str(tmp_path / 'bad.pth.tar')
    torch.save(dict(state_dict={'fc.weight': torch.zeros(2)}), bad)
    assert "unexpected parameter 'fc.weight'" in convert_fails(
        bad, 'rulstm_demo_glvn_rgb', tmp_path)


def ek100_slice(shared_data, root, dim):
    """The EK100 folder of docs/datasets.md, cut down: a few real validation segments
    (from every subset list) with the four id lists, the first real test
    segments and one without frames, the real actions, and random rgb
    features of their grid frames. Returns the number of validation
    segments and the test ids."""
    import shutil

    import lmdb

    from lsant_mmaction.layout import TimeGrid
    ek100 = osp.join(shared_data, 'rulstm', 'ek100')
    os.makedirs(root)
    lists = ('validation_unseen_participants_ids.csv',
             'validation_tail_verbs_ids.csv', 'validation_tail_nouns_ids.csv',
             'validation_tail_actions_ids.csv')
    chosen = set()
    for name in lists:
        ids = [line.strip() for line in open(osp.join(ek100, name))]
        chosen.update(i for i in ids[1:3])  # not the _0 segments: kept
    rows = [line for line in open(osp.join(ek100, 'validation.csv'))
            if line.split(',')[0] in chosen]
    with open(osp.join(root, 'validation.csv'), 'w') as f:
        f.writelines(rows)
    for name in lists:
        with open(osp.join(root, name), 'w') as f:
            f.writelines(i + '\n' for i in [
                line.strip() for line in open(osp.join(ek100, name))]
                if i in chosen)
    shutil.copy(osp.join(ek100, 'actions.csv'), root)
    # the first test segments and one of the 4 without frames (zero scores)
    test_rows = [line for line in open(osp.join(ek100, 'test_timestamps.csv'))
                 ][:5] + ['P02_137_0,P02_137,1,64\n']
    with open(osp.join(root, 'test_timestamps.csv'), 'w') as f:
        f.writelines(test_rows)
    rng = np.random.default_rng(0)
    env = lmdb.open(osp.join(root, 'rgb'), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for row in rows + test_rows:
            _, video, start = row.split(',')[:3]
            frames = TimeGrid().frame_indices(int(start))
            for frame in ([] if frames is None else frames.tolist()):
                txn.put(f'{video}_frame_{frame:010d}.jpg'.encode(),
                        rng.normal(size=dim).astype(np.float32).tobytes())
    env.close()
    return len(rows), [line.split(',')[0] for line in test_rows]


def test_official_ek100_checkpoint_converts_and_tests(shared_data, tmp_path):
    """An official EK100 single-branch checkpoint (3,806 actions, RU-LSTM's
    sizes) converts against the EK100 config, computes what the official
    model computes, and goes through tools/test.py with the EK100 measures
    on real EK100 validation segments (features generated here)."""
    torch.manual_seed(0)
    oracle = OracleRULSTM(3806, 1024, 1024).eval()
    src, dst = str(tmp_path / 'ek100.pth.tar'), str(tmp_path / 'ek100.pth')
    save_official(oracle, src)
    cfg_path = config('rulstm_ek100_onehot_rgb')
    run_tool([CONVERT, src, dst, '--config', cfg_path])
    model = MODELS.build(Config.fromfile(cfg_path).model)
    from mmengine.runner import load_checkpoint
    load_checkpoint(model, dst, map_location='cpu')
    model.eval()
    x = torch.randn(2, 14, 1024)
    with torch.no_grad():
        torch.testing.assert_close(model(dict(rgb=x), mode='tensor'),
                                   oracle(x)[0][:, -8:], atol=1e-5, rtol=0)
    root = str(tmp_path / 'ek100')
    num, test_ids = ek100_slice(shared_data, root, 1024)
    proc = run_tool([TEST, cfg_path, dst, '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', f'test_dataloader.dataset.data_root={root}',
                     'test_dataloader.num_workers=0',
                     'test_dataloader.persistent_workers=False'],
                    cwd=str(tmp_path), env=env())
    out = proc.stdout + proc.stderr
    assert f'on {num} segments' in out
    for key in ('action_mt5r@1.00s', 'action_mt5r_unseen@1.00s',
                'action_mt5r_tail@1.00s', 'verb_mt5r_tail@2.00s'):
        assert f'anticipation/{key}' in out, key
    # docs/datasets.md's challenge export on its folder (the validation
    # split's id lists present: they must stay with the validation split)
    out_json = str(tmp_path / 'test.json')
    run_tool([EXPORT, cfg_path, dst, '--split', 'test_timestamps.csv',
              '--out', out_json, '--work-dir', str(tmp_path / 'x'),
              '--cfg-options', f'test_dataloader.dataset.data_root={root}',
              'test_dataloader.num_workers=0',
              'test_dataloader.persistent_workers=False'],
             cwd=str(tmp_path), env=env())
    with open(out_json) as f:
        submission = json.load(f)
    assert submission['version'] == '0.2'
    assert sorted(submission['results']) == sorted(test_ids)
    dropped = submission['results']['P02_137_0']  # no frame before it
    assert not any(dropped['verb'].values()) and not any(
        dropped['action'].values())
    kept = submission['results'][test_ids[0]]
    assert len(kept['verb']) == 97 and len(kept['noun']) == 300
    assert len(kept['action']) == 100 and sum(kept['verb'].values()) > 0
