"""The launch scripts: torchrun (dist_*.sh) with paths that hold spaces, and
slurm (slurm_train.sh) through a stand-in ``srun`` that starts the tasks on
this machine with the variables slurm gives them."""
import os
import os.path as osp
import shutil
import stat
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from ..conftest import ROOT

CONFIG = osp.join(ROOT, 'configs', 'lstm_demo_glvn.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')
FAST = [
    f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
    for key in ('num_workers=0', 'persistent_workers=False')
] + ['model.cls_head.hidden_channels=64', 'train_cfg.max_epochs=1']

# Stands in for slurm's srun: records its options, then starts --ntasks
# copies of the command here, each with the variables srun sets.
FAKE_SRUN = r'''#!/usr/bin/env bash
printf '%s\n' "$@" > "$FAKE_SRUN_LOG"
ntasks=1
while [[ $# -gt 0 && $1 == -* ]]; do
    case $1 in
        --ntasks=*) ntasks=${1#--ntasks=} ;;
        -p|-J) shift ;;
    esac
    shift
done
pids=()
for ((i = 0; i < ntasks; i++)); do
    SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks \
    SLURM_NODELIST=localhost SLURM_JOB_ID=4242 "$@" &
    pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
exit $rc
'''


def env(**extra):
    e = dict(os.environ, OMP_NUM_THREADS='1', **extra)
    e['PYTHONPATH'] = ROOT + os.pathsep + e.get('PYTHONPATH', '')
    # the scripts call `python`: this interpreter
    e['PATH'] = osp.dirname(sys.executable) + os.pathsep + e['PATH']
    for name in list(e):
        if name.startswith('SLURM_') or name in ('MASTER_ADDR', 'RANK',
                                                 'WORLD_SIZE', 'LOCAL_RANK'):
            del e[name]
    e.update(extra)
    return e


def run_bash(args, cwd, env):
    """Run a tools/*.sh script and fail with its output when it fails."""
    proc = subprocess.run(['bash'] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f'{args} failed ({proc.returncode}):\n'
                    f'{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}')
    return proc


def test_dist_scripts_with_spaces_in_paths(demo_root, tmp_path):
    """Config, work dir, checkpoint and data root whose paths hold spaces."""
    here = tmp_path / 'my runs'
    (here / 'data root').mkdir(parents=True)
    shutil.copytree(osp.join(demo_root, 'data', 'demo'),
                    here / 'data root' / 'demo')
    config = here / 'my config.py'
    config.write_text(f'_base_ = [{CONFIG!r}]\n')
    work = here / 'work dir'
    root = f'{here}/data root/demo/'
    proc = run_bash([
        osp.join(ROOT, 'tools', 'dist_train.sh'), str(config), '1',
        '--work-dir', str(work), '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}'] + FAST,
        cwd=demo_root, env=env(PORT='29531'))
    dumped = Config.fromfile(str(work / 'my config.py'))
    assert dumped.train_dataloader.dataset.data_root == root
    assert dumped.val_dataloader.dataset.data_root == root
    checkpoint = work / 'epoch_1.pth'
    assert checkpoint.is_file()
    proc = run_bash([
        osp.join(ROOT, 'tools', 'dist_test.sh'), str(config),
        str(checkpoint), '1', '--work-dir', str(here / 'test dir'),
        '--cfg-options'] + FAST, cwd=demo_root, env=env(PORT='29532'))
    assert 'action_top5@1.00s' in proc.stdout + proc.stderr


def test_slurm_train_two_tasks(demo_root, tmp_path):
    """tools/slurm_train.sh: 2 tasks, world size 2, gloo on CPU."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN)
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / 'srun_args.txt'
    e = env(GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='1',
            SRUN_ARGS='--quotatype=auto --time=10', MASTER_ADDR='127.0.0.1',
            MASTER_PORT='29533', FAKE_SRUN_LOG=str(log))
    e['PATH'] = str(bin_dir) + os.pathsep + e['PATH']
    work = tmp_path / 'slurm work'
    proc = run_bash([
        osp.join(ROOT, 'tools', 'slurm_train.sh'), 'cpu-partition',
        'lsant', CONFIG, str(work), '--seed', '0', '--cfg-options'] + FAST,
        cwd=demo_root, env=e)
    out = proc.stdout + proc.stderr
    assert 'Distributed training: True' in out
    assert "dist_cfg: {'backend': 'gloo'}" in out
    assert "launcher = 'slurm'" in out
    checkpoint = torch.load(str(work / 'epoch_1.pth'), weights_only=True)
    assert len(checkpoint['random_states']) == 2  # one per rank
    srun_args = log.read_text().splitlines()
    assert srun_args[:2] == ['-p', 'cpu-partition']
    for expected in ('--job-name=lsant', '--ntasks=2', '--ntasks-per-node=2',
                     '--gres=gpu:2', '--cpus-per-task=1',
                     '--kill-on-bad-exit=1', '--quotatype=auto', '--time=10',
                     str(work), '--launcher', 'slurm', '--seed'):
        assert expected in srun_args


def test_slurm_scripts_print_usage_without_arguments():
    for script in ('slurm_train.sh', 'slurm_test.sh'):
        proc = subprocess.run(['bash', osp.join(ROOT, 'tools', script)],
                              capture_output=True, text=True)
        assert proc.returncode == 2
        assert 'Usage: ' in proc.stderr and 'PARTITION JOB_NAME' in (
            proc.stderr)


def test_cfg_options_keep_spaces_and_quoted_strings():
    import argparse

    from lsant_mmaction.engine.cli import CfgOptionsAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    args = parser.parse_args([
        '--cfg-options', 'a.data_root=/data/my set/', 'b=1,2', 'c=[x, y]',
        'd="/data/a,b c/"', "e='007'", 'f=True', 'g=3', 'h=None',
        'i=(1, 2)'
    ])
    assert args.cfg_options == {
        'a.data_root': '/data/my set/',  # mmengine: '/data/myset/'
        'b': [1, 2],
        'c': ['x', 'y'],
        'd': '/data/a,b c/',  # quoted: one literal string
        'e': '007',
        'f': True,
        'g': 3,
        'h': None,
        'i': (1, 2),
    }
    with pytest.raises(SystemExit):
        parser.parse_args(['--cfg-options', 'no_equal_sign'])
