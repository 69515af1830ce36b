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


# (script, arguments, environment, what the message must say): each is
# refused with exit code 2 and the usage line before anything starts
BAD_LAUNCHES = [
    ('dist_train.sh', [], {}, 'expected CONFIG and GPUS'),
    ('dist_train.sh', ['cfg.py'], {}, 'expected CONFIG and GPUS'),
    ('dist_train.sh', ['cfg.py', '0'], {},
     "GPUS must be a positive integer, got '0'"),
    ('dist_train.sh', ['cfg.py', 'two'], {},
     "GPUS must be a positive integer, got 'two'"),
    ('dist_train.sh', ['cfg.py', '--work-dir', 'w'], {},
     "GPUS must be a positive integer, got '--work-dir'"),
    ('dist_train.sh', ['', '1'], {}, 'CONFIG is empty'),
    ('dist_train.sh', ['cfg.py', '1'], dict(NNODES='0'),
     "NNODES must be a positive integer, got '0'"),
    ('dist_train.sh', ['cfg.py', '1'], dict(NNODES='2', NODE_RANK='2'),
     "NODE_RANK must be an integer 0 .. NNODES-1 = 1, got '2'"),
    ('dist_train.sh', ['cfg.py', '1'], dict(NODE_RANK='-1'),
     "NODE_RANK must be an integer 0 .. NNODES-1 = 0, got '-1'"),
    ('dist_train.sh', ['cfg.py', '1'], dict(PORT='70000'),
     "PORT must be an integer 1 .. 65535, got '70000'"),
    ('dist_train.sh', ['cfg.py', '1'], dict(PORT='29500x'),
     "PORT must be an integer 1 .. 65535, got '29500x'"),
    ('dist_test.sh', ['cfg.py', 'model.pth'], {},
     'expected CONFIG, CHECKPOINT and GPUS'),
    ('dist_test.sh', ['cfg.py', 'model.pth', '0'], {},
     "GPUS must be a positive integer, got '0'"),
    ('dist_test.sh', ['cfg.py', '', '1'], {}, 'CHECKPOINT is empty'),
    ('dist_test.sh', ['cfg.py', 'model.pth', '1'], dict(NNODES='many'),
     "NNODES must be a positive integer, got 'many'"),
    ('dist_test.sh', ['cfg.py', 'model.pth', '1'], dict(PORT='0'),
     "PORT must be an integer 1 .. 65535, got '0'"),
    ('slurm_train.sh', [], {},
     'expected PARTITION, JOB_NAME, CONFIG and WORK_DIR, got 0'),
    ('slurm_train.sh', ['part', 'job', 'cfg.py'], {},
     'expected PARTITION, JOB_NAME, CONFIG and WORK_DIR, got 3'),
    ('slurm_train.sh', ['part', 'job', 'cfg.py', 'w'], dict(GPUS='abc'),
     "GPUS must be a positive integer, got 'abc'"),
    ('slurm_train.sh', ['part', 'job', 'cfg.py', 'w'], dict(GPUS='0'),
     "GPUS must be a positive integer, got '0'"),
    ('slurm_train.sh', ['part', 'job', 'cfg.py', 'w'],
     dict(GPUS_PER_NODE='-8'),
     "GPUS_PER_NODE must be a positive integer, got '-8'"),
    ('slurm_train.sh', ['part', 'job', 'cfg.py', 'w'],
     dict(CPUS_PER_TASK='2.5'),
     "CPUS_PER_TASK must be a positive integer, got '2.5'"),
    ('slurm_train.sh', ['part', '', 'cfg.py', 'w'], {}, 'JOB_NAME is empty'),
    ('slurm_test.sh', ['part', 'job', 'cfg.py'], {},
     'expected PARTITION, JOB_NAME, CONFIG and CHECKPOINT, got 3'),
    ('slurm_test.sh', ['part', 'job', 'cfg.py', 'model.pth'],
     dict(GPUS='8x'), "GPUS must be a positive integer, got '8x'"),
    ('slurm_test.sh', ['part', 'job', 'cfg.py', 'model.pth'],
     dict(GPUS_PER_NODE='0'),
     "GPUS_PER_NODE must be a positive integer, got '0'"),
    ('slurm_test.sh', ['part', 'job', 'cfg.py', 'model.pth'],
     dict(CPUS_PER_TASK='all'),
     "CPUS_PER_TASK must be a positive integer, got 'all'"),
    ('slurm_test.sh', ['part', 'job', 'cfg.py', ''], {},
     'CHECKPOINT is empty'),
]
USAGES = {
    'dist_train.sh': 'CONFIG GPUS [train.py options]',
    'dist_test.sh': 'CONFIG CHECKPOINT GPUS [test.py options]',
    'slurm_train.sh': 'PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]',
    'slurm_test.sh':
    'PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]',
}


@pytest.mark.parametrize('script,args,variables,message', BAD_LAUNCHES)
def test_launchers_refuse_bad_arguments(tmp_path, script, args, variables,
                                        message):
    """Refused with exit code 2, a message naming the value and the usage
    line, and nothing started: the stand-ins for python (torchrun) and srun
    leave a mark when called."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    mark = tmp_path / 'started'
    for name in ('python', 'srun'):
        stand_in = bin_dir / name
        stand_in.write_text(f'#!/usr/bin/env bash\ntouch {mark}\n')
        stand_in.chmod(stand_in.stat().st_mode | stat.S_IEXEC)
    e = env(**variables)
    for name in ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'NNODES',
                 'NODE_RANK', 'PORT', 'PYTHON'):
        if name not in variables:
            e.pop(name, None)
    e['PATH'] = str(bin_dir) + os.pathsep + e['PATH']
    path = osp.join(ROOT, 'tools', script)
    proc = subprocess.run(['bash', path] + args, cwd=tmp_path, env=e,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    problem, usage = proc.stderr.splitlines()
    assert problem.startswith(f'{script}: ') and message in problem
    assert usage.startswith('usage: ')
    assert usage.endswith(f'{path} {USAGES[script]}')
    assert not mark.exists() and not proc.stdout


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
