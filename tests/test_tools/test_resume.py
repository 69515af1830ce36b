"""Exact resume and same-seed determinism through tools/train.py.

Three short epochs on the tiny demo data (5 iterations each, dropout 0.8),
seed 0, deterministic mode. A run killed with SIGKILL in epoch 2 and resumed
with ``--resume`` must end bit-identical to the uninterrupted run, and so
must a run whose last checkpoint was truncated (it falls back to the one
before).
"""
import glob
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from ..conftest import ROOT, load_tool, run_tool

CONFIG = osp.join(ROOT, 'configs', 'lstm_demo_glvn.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')
SMALL = ['train_cfg.max_epochs=3', 'train_dataloader.batch_size=8',
         'model.cls_head.hidden_channels=64']
# data loaded in the main process, or (the config's default) by a
# persistent worker process: the harder case for the random states
NO_WORKERS = [
    f'{split}_dataloader.{key}' for split in ('train', 'val')
    for key in ('num_workers=0', 'persistent_workers=False')
]


def env(**extra):
    e = dict(os.environ, OMP_NUM_THREADS='1')
    e.update(extra)
    e['PYTHONPATH'] = ROOT + os.pathsep + e.get('PYTHONPATH', '')
    return e


def train(cwd, config, work_dir, *options, extra_env=None, check=True):
    args = [TRAIN, config, '--work-dir', work_dir, '--seed', '0',
            '--deterministic', *options]
    if check:
        return run_tool(args, cwd=cwd, env=env(**(extra_env or {})))
    return subprocess.run([sys.executable] + args, cwd=cwd,
                          env=env(**(extra_env or {})), capture_output=True,
                          text=True, timeout=600)


def load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def assert_same_checkpoint(a, b):
    ca, cb = load(a), load(b)
    sa, sb = ca['state_dict'], cb['state_dict']
    assert sa.keys() == sb.keys()
    differ = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not differ, f'{a} and {b} differ in {differ}'
    # the optimizer state (momentum) goes on from here in a longer run
    ma = ca['optimizer']['state']
    mb = cb['optimizer']['state']
    assert all(
        torch.equal(ma[i]['momentum_buffer'], mb[i]['momentum_buffer'])
        for i in ma)
    assert ca['meta']['epoch'] == cb['meta']['epoch'] == 3


def final_metrics(work_dir):
    """The validation metrics of the last epoch, from the newest log."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    lines = [json.loads(line) for line in open(logs[-1])]
    val = [line for line in lines if any(
        k.startswith('anticipation/') for k in line)]
    assert val, f'no validation metrics in {logs[-1]}'
    return {k: v for k, v in val[-1].items() if k.startswith('anticipation')}


@pytest.fixture(scope='module')
def runs(demo_root, tmp_path_factory):
    """The config with the kill hook, and where the runs go."""
    here = str(tmp_path_factory.mktemp('resume'))
    hooks = list(Config.fromfile(CONFIG).custom_hooks) + [
        dict(type='KillAtIterHook')
    ]
    config = osp.join(here, 'kill_config.py')
    with open(config, 'w') as f:
        f.write(f'_base_ = [{CONFIG!r}]\n'
                "custom_imports = dict(imports=['lsant_mmaction', "
                "'tests.helpers_kill_hook'], allow_failed_imports=False)\n"
                f'custom_hooks = {hooks!r}\n')
    return dict(cwd=demo_root, config=config, here=here)


@pytest.fixture(scope='module')
def reference(runs):
    """Uninterrupted, data loaded in the main process."""
    work = osp.join(runs['here'], 'reference')
    train(runs['cwd'], runs['config'], work, '--cfg-options', *SMALL,
          *NO_WORKERS)
    return work


@pytest.fixture(scope='module')
def reference_workers(runs):
    """Uninterrupted, with the config's persistent worker process. (Its
    random stream differs from the main-process run's: a new DataLoader
    iterator draws a seed at every epoch there, once here.)"""
    work = osp.join(runs['here'], 'reference_workers')
    train(runs['cwd'], runs['config'], work, '--cfg-options', *SMALL)
    return work


def test_same_seed_runs_are_identical(runs, reference):
    again = osp.join(runs['here'], 'again')
    train(runs['cwd'], runs['config'], again, '--cfg-options', *SMALL,
          *NO_WORKERS)
    assert_same_checkpoint(osp.join(reference, 'epoch_3.pth'),
                           osp.join(again, 'epoch_3.pth'))
    assert final_metrics(again) == final_metrics(reference)


def test_checkpoints_carry_random_states(reference):
    checkpoint = load(osp.join(reference, 'epoch_3.pth'))
    (state, ) = checkpoint['random_states']  # one process
    assert set(state) == {'python', 'numpy', 'torch', 'cuda', 'num_threads'}
    assert state['num_threads'] == 1  # OMP_NUM_THREADS of env()
    assert len(state['numpy']['keys']) == 624


def test_kill_in_epoch_2_then_resume_ends_identical(runs, reference_workers):
    work = osp.join(runs['here'], 'killed')
    proc = train(runs['cwd'], runs['config'], work, '--cfg-options', *SMALL,
                 extra_env=dict(LSANT_KILL_AT='2:2'), check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert not osp.exists(osp.join(work, 'epoch_2.pth'))
    proc = train(runs['cwd'], runs['config'], work, '--resume',
                 '--cfg-options', *SMALL)
    out = proc.stdout + proc.stderr
    assert 'resumed epoch: 1, iter: 5' in out
    assert 'holds no random number generator states' not in out
    assert_same_checkpoint(osp.join(reference_workers, 'epoch_3.pth'),
                           osp.join(work, 'epoch_3.pth'))
    assert final_metrics(work) == final_metrics(reference_workers)


def test_resume_with_another_thread_count_ends_identical(runs):
    """Killed with 2 CPU threads, resumed with 1 (OMP_NUM_THREADS): in
    deterministic mode the resumed run takes the checkpoint's 2 threads
    (another count sums in another order) and ends bit-identical. Hidden
    256, where 1 and 2 threads gave other weights on the machines this was
    written on (at 64 they need not). Where they give the same weights (a
    CPU and torch build whose kernels split work without changing the
    order of sums), the resume is still checked, and the test then skips
    saying that the ending cannot tell the two counts apart."""
    options = ['--cfg-options', *SMALL, *NO_WORKERS,
               'model.cls_head.hidden_channels=256']
    two = dict(OMP_NUM_THREADS='2')
    ref_1, ref_2, work = (osp.join(runs['here'], name) for name in (
        'hidden256_1_thread', 'hidden256_2_threads', 'hidden256_killed'))
    train(runs['cwd'], runs['config'], ref_1, *options)
    train(runs['cwd'], runs['config'], ref_2, *options, extra_env=two)
    one, other = (load(osp.join(r, 'epoch_3.pth'))['state_dict']
                  for r in (ref_1, ref_2))
    threads_matter = any(not torch.equal(one[k], other[k]) for k in one)
    proc = train(runs['cwd'], runs['config'], work, *options, check=False,
                 extra_env=dict(two, LSANT_KILL_AT='2:2'))
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    proc = train(runs['cwd'], runs['config'], work, '--resume',
                 *options)  # 1 thread
    out = proc.stdout + proc.stderr
    assert 'Resumed with the 2 CPU threads of the checkpoint' in out
    assert_same_checkpoint(osp.join(ref_2, 'epoch_3.pth'),
                           osp.join(work, 'epoch_3.pth'))
    if not threads_matter:
        pytest.skip('resumed with the checkpoint\'s 2 threads and ended '
                    'identical, but here 1 and 2 threads give the same '
                    'weights, so the ending cannot tell the counts apart')


def test_truncated_last_checkpoint_falls_back_and_ends_identical(
        runs, reference):
    work = osp.join(runs['here'], 'truncated')
    shutil.copytree(reference, work, symlinks=True)
    last = osp.join(work, 'epoch_3.pth')
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(last)
    os.truncate(last, os.path.getsize(last) // 2)  # killed while writing
    proc = train(runs['cwd'], runs['config'], work, '--resume',
                 '--cfg-options', *SMALL, *NO_WORKERS)
    out = proc.stdout + proc.stderr
    assert f'checkpoint {last}' in out and 'cannot be read' in out
    assert 'newest readable earlier checkpoint' in out
    assert osp.join(work, 'epoch_2.pth') in out
    assert 'resumed epoch: 2, iter: 10' in out
    assert_same_checkpoint(osp.join(reference, 'epoch_3.pth'), last)
    assert final_metrics(work) == final_metrics(reference)


# The resume choice itself, in-process (no training).
def _train_module():
    return load_tool(TRAIN)


def _checkpoint(path, epoch):
    torch.save(dict(meta=dict(epoch=epoch, seed=7)), str(path))


def test_find_resume_checkpoint_choices(tmp_path):
    find = _train_module().find_resume_checkpoint
    assert find('auto', str(tmp_path)) == (None, {})  # nothing saved yet
    for epoch in (1, 2, 3):
        _checkpoint(tmp_path / f'epoch_{epoch}.pth', epoch)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    path, checkpoint = find('auto', str(tmp_path))
    assert path == str(tmp_path / 'epoch_3.pth')
    assert checkpoint['meta']['epoch'] == 3
    # killed while writing epoch 3 and then epoch 2: epoch 1 it is
    (tmp_path / 'epoch_3.pth').write_bytes(b'')
    (tmp_path / 'epoch_2.pth').write_bytes(b'PK\x03\x04 half a zip')
    path, checkpoint = find('auto', str(tmp_path))
    assert path == str(tmp_path / 'epoch_1.pth')
    # killed while writing last_checkpoint itself
    (tmp_path / 'last_checkpoint').write_text('')
    assert find('auto', str(tmp_path))[0] == str(tmp_path / 'epoch_1.pth')
    # nothing readable: the error names every file tried
    (tmp_path / 'epoch_1.pth').write_bytes(b'not a checkpoint')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_3.pth'))
    with pytest.raises(ValueError) as error:
        find('auto', str(tmp_path))
    for epoch in (1, 2, 3):
        assert str(tmp_path / f'epoch_{epoch}.pth') in str(error.value)
    # an explicit path is never replaced by another
    with pytest.raises(ValueError, match=str(tmp_path / 'epoch_3.pth')):
        find(str(tmp_path / 'epoch_3.pth'), str(tmp_path))
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        find(str(tmp_path / 'nowhere.pth'), str(tmp_path))


def test_resume_takes_the_seed_of_the_checkpoint(tmp_path):
    tool = _train_module()
    _checkpoint(tmp_path / 'epoch_1.pth', 1)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    args = tool.argparse.Namespace(resume='auto', seed=None,
                                   deterministic=False, launcher='none')
    cfg = Config(dict(work_dir=str(tmp_path)))
    tool.resume_from(cfg, args)
    assert cfg.resume and cfg.load_from == str(tmp_path / 'epoch_1.pth')
    assert cfg.randomness['seed'] == 7
    args.seed = 3  # the command line wins (mmengine then warns)
    cfg = Config(dict(work_dir=str(tmp_path), randomness=dict(seed=3)))
    tool.resume_from(cfg, args)
    assert cfg.randomness['seed'] == 3


def test_explicit_unreadable_resume_fails_naming_it(tmp_path, monkeypatch):
    tool = _train_module()
    bad = tmp_path / 'half.pth'
    _checkpoint(bad, 1)
    bad.write_bytes(bad.read_bytes()[:100])
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setattr(sys, 'argv', [
        TRAIN, CONFIG, '--work-dir', str(tmp_path / 'w'), '--resume',
        str(bad)
    ])
    args = tool.parse_args()
    with pytest.raises(ValueError, match=f'checkpoint {bad} .*truncated'):
        tool.merge_args(Config.fromfile(CONFIG), args)
