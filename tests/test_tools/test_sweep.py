"""tools/sweep.py: the grid, finished runs skipped, the summary, failures."""
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config

from ..conftest import ROOT, load_tool, run_tool

TOOL = osp.join(ROOT, 'tools', 'sweep.py')
CONFIG = osp.join(ROOT, 'configs', 'lstm_demo_onehot.py')
TIMES = ['2.00', '1.75', '1.50', '1.25', '1.00', '0.75', '0.50', '0.25']


def test_grid_expansion():
    sweep = load_tool(TOOL)
    cfg = Config.fromfile(CONFIG)
    args = sweep.parse_args([
        CONFIG, '--priors', 'onehot', 'vn', 'glvn', '--alphas', '0.1', '0.5',
        '--grid', 'model.cls_head.dropout=0.5,0.8'
    ])
    settings = sweep.expand(args, cfg)
    names = [s['name'] for s in settings]
    # one-hot has no alpha: one setting per other value, not one per alpha
    assert names == [
        'prior=onehot dropout=0.5', 'prior=onehot dropout=0.8',
        'prior=vn alpha=0.1 dropout=0.5', 'prior=vn alpha=0.1 dropout=0.8',
        'prior=vn alpha=0.5 dropout=0.5', 'prior=vn alpha=0.5 dropout=0.8',
        'prior=glvn alpha=0.1 dropout=0.5',
        'prior=glvn alpha=0.1 dropout=0.8',
        'prior=glvn alpha=0.5 dropout=0.5',
        'prior=glvn alpha=0.5 dropout=0.8'
    ]
    assert settings[2]['folder'] == 'prior-vn_alpha-0.1_dropout-0.5'
    # each setting's config: the loss and the option, nothing else changed
    run = sweep.run_config(cfg, settings[7]['values'], args.loss_key)
    loss = run.model.cls_head.loss_cls
    assert loss.alpha == 0.1 and loss.prior == cfg.priors['glvn']
    assert loss.num_classes == 65 and run.model.cls_head.dropout == 0.8
    onehot = sweep.run_config(cfg, settings[0]['values'], args.loss_key)
    assert onehot.model.cls_head.loss_cls.alpha == 0.0
    assert onehot.model.cls_head.loss_cls.get('prior') is None
    assert cfg.model.cls_head.loss_cls.alpha == 0.0  # the base untouched
    assert 'prior' not in cfg.model.cls_head.loss_cls
    # two keys with the same last part keep their whole names
    args = sweep.parse_args([
        CONFIG, '--grid', 'train_dataloader.batch_size=32',
        'val_dataloader.batch_size=64'
    ])
    assert [s['name'] for s in sweep.expand(args, cfg)] == [
        'train_dataloader.batch_size=32 val_dataloader.batch_size=64'
    ]


def test_grid_errors():
    sweep = load_tool(TOOL)
    cfg = Config.fromfile(CONFIG)
    with pytest.raises(ValueError, match=r"\['vm'\]: not in the priors dict"):
        sweep.expand(sweep.parse_args([CONFIG, '--priors', 'vm']), cfg)
    with pytest.raises(ValueError, match='expects KEY=V1,V2'):
        sweep.expand(sweep.parse_args([CONFIG, '--grid', 'lr']), cfg)
    # a prior on a one-hot config needs an alpha
    args = sweep.parse_args([CONFIG, '--priors', 'vn'])
    with pytest.raises(ValueError, match="alpha is 0; give --alphas"):
        sweep.run_config(cfg, sweep.expand(args, cfg)[0]['values'],
                         args.loss_key)
    args = sweep.parse_args([CONFIG, '--alphas', '0.2'])
    with pytest.raises(ValueError, match='without a prior'):
        sweep.run_config(cfg, sweep.expand(args, cfg)[0]['values'],
                         args.loss_key)
    with pytest.raises(ValueError, match='no PriorSmoothedCrossEntropyLoss'):
        sweep.run_config(cfg, [('alpha', 0.1)], 'model.cls_head.nothing')
    with pytest.raises(ValueError, match='not an anticipation measure'):
        sweep.selection_measure(cfg, 'loss')
    assert sweep.selection_measure(cfg, None) == 'action_top5@1.00s'
    with pytest.raises(SystemExit):
        sweep.parse_args([CONFIG, '--alphas', '1.5'])


def sweep_cmd(work_dir, *extra):
    return [
        TOOL, CONFIG, '--priors', 'vn', 'gl', '--alphas', '0.1', '0.5',
        '--seeds', '0', '--work-dir', work_dir, '--jobs', '2',
        '--cfg-options', 'train_cfg.max_epochs=1'
    ] + list(extra)


def results_of(folder):
    """action_top5 of each run below ``folder``, read from its done.json's
    result file (tools/test.py's JSON)."""
    rows = {}
    for seed in sorted(d for d in os.listdir(folder) if d.startswith('seed')):
        with open(osp.join(folder, seed, 'done.json')) as f:
            done = json.load(f)
        with open(done['result']) as f:
            result = json.load(f)
        rows[seed] = [result[f'anticipation/action_top5@{t}s'] for t in TIMES]
    return np.array(list(rows.values()))


def test_sweep_runs_skips_and_summarizes(demo_root, tmp_path):
    work_dir = str(tmp_path / 'sweep')
    proc = run_tool(sweep_cmd(work_dir), cwd=demo_root)
    log = proc.stdout + proc.stderr
    assert '4 runs (4 settings x 1 seeds)' in log
    assert '0 finished earlier (skipped), 4 to run' in log
    assert len(re.findall(r'\[\d/4\] prior=\w+ alpha=0\.[15] seed 0: done',
                          log)) == 4
    folders = {
        'prior=vn alpha=0.1': 'prior-vn_alpha-0.1',
        'prior=vn alpha=0.5': 'prior-vn_alpha-0.5',
        'prior=gl alpha=0.1': 'prior-gl_alpha-0.1',
        'prior=gl alpha=0.5': 'prior-gl_alpha-0.5'
    }
    for name, folder in folders.items():
        run = osp.join(work_dir, folder, 'seed0')
        # the config the runner ran (mmengine's copy in the run's work_dir)
        ran = Config.fromfile(osp.join(run, 'config.py'))
        loss = ran.model.cls_head.loss_cls
        assert (loss.prior['kind'], loss.alpha) == (
            name.split()[0][6:], float(name.split('=')[-1]))
        assert ran.train_cfg.max_epochs == 1
        assert osp.islink(osp.join(run, 'best.pth'))
    # the table: mean and std of each row from the runs' own result files
    table = open(osp.join(work_dir, 'summary.md')).read()
    for name, folder in folders.items():
        runs = results_of(osp.join(work_dir, folder))
        cells = ' | '.join(f'{m:.2f} ± {s:.2f}'
                           for m, s in zip(runs.mean(0), runs.std(0)))
        assert f'| {name} (1 runs) | {cells} |' in table
    # the best alpha of each prior: the larger action top-5 at 1 s (the
    # first alpha on a tie), shown in bold in the by-alpha table
    at_1s = {n: results_of(osp.join(work_dir, f))[:, 4].mean()
             for n, f in folders.items()}
    for prior in ('vn', 'gl'):
        a, b = at_1s[f'prior={prior} alpha=0.1'], at_1s[
            f'prior={prior} alpha=0.5']
        cells = [f'{a:.2f} ± 0.00', f'{b:.2f} ± 0.00']
        cells[0 if a >= b else 1] = f'**{cells[0 if a >= b else 1]}**'
        assert f'| prior={prior} | {cells[0]} | {cells[1]} |' in table
    assert 'action_top5@1.00s (%) by alpha | 0.1 | 0.5 |' in table
    assert open(osp.join(work_dir, 'summary.png'), 'rb').read(4) == \
        b'\x89PNG'
    stamps = {f: os.stat(osp.join(work_dir, f, 'seed0', 'train.log')).st_mtime
              for f in folders.values()}

    # a second call runs nothing
    proc = run_tool(sweep_cmd(work_dir), cwd=demo_root)
    log = proc.stdout + proc.stderr
    assert '4 finished earlier (skipped), 0 to run' in log
    assert 'seed 0: done' not in log
    assert stamps == {
        f: os.stat(osp.join(work_dir, f, 'seed0', 'train.log')).st_mtime
        for f in folders.values()
    }
    assert '| prior=vn alpha=0.1 (1 runs) |' in proc.stdout

    # an interrupted run (no done.json, no test) is resumed, not redone
    run = osp.join(work_dir, 'prior-gl_alpha-0.5', 'seed0')
    os.remove(osp.join(run, 'done.json'))
    proc = run_tool(sweep_cmd(work_dir), cwd=demo_root)
    assert '3 finished earlier (skipped), 1 to run' in proc.stdout + \
        proc.stderr
    with open(osp.join(run, 'done.json')) as f:
        assert json.load(f)['resumed'] is True
    # mmengine's own line: the training went on from the saved epoch
    assert 'resumed epoch: 1' in open(osp.join(run, 'train.log')).read()

    # the same folder with another config is refused before anything runs
    proc = subprocess.run(
        [sys.executable] + sweep_cmd(work_dir, 'model.cls_head.dropout=0.5'),
        cwd=demo_root, capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'holds runs of another config' in proc.stderr
    assert 'prior-vn_alpha-0.1' in proc.stderr


def test_failed_run_is_reported_and_others_go_on(demo_root, tmp_path):
    work_dir = str(tmp_path / 'sweep')
    proc = subprocess.run([
        sys.executable, TOOL, CONFIG, '--priors', 'onehot', '--work-dir',
        work_dir, '--grid',
        'train_dataloader.dataset.ann_file=training.csv,missing.csv',
        '--cfg-options', 'train_cfg.max_epochs=1'
    ], cwd=demo_root, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 1, log
    bad = osp.join(work_dir, 'prior-onehot_ann_file-missing.csv', 'seed0')
    assert re.search(r'prior=onehot ann_file=missing.csv seed 0: FAILED, '
                     r'training exited with 1; see .*train.log', log), log
    assert 'missing.csv' in open(osp.join(bad, 'train.log')).read()
    assert '1 of 2 runs failed' in log
    assert not osp.exists(osp.join(bad, 'done.json'))
    # the other run finished and is summarised alone
    assert 'prior=onehot ann_file=training.csv seed 0: done' in log
    table = open(osp.join(work_dir, 'summary.md')).read()
    assert '| prior=onehot ann_file=training.csv (1 runs) |' in table
    assert 'missing' not in table


def test_job_environment(monkeypatch):
    import torch
    sweep = load_tool(TOOL)
    args = sweep.parse_args([CONFIG, '--jobs', '2', '--gpus-per-run', '2'])
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 4)
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    devices = sweep.job_devices(args)
    assert sweep._env(0, args, devices)['CUDA_VISIBLE_DEVICES'] == '0,1'
    env = sweep._env(1, args, devices)
    assert env['CUDA_VISIBLE_DEVICES'] == '2,3'
    assert env['PORT'] != sweep._env(0, args, devices)['PORT']
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '4,5,6')
    with pytest.raises(ValueError, match=r'needs 4 GPUs, 3 visible'):
        sweep.job_devices(args)
    # without CUDA: the CPU threads shared out, devices left alone
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert sweep.job_devices(args) is None
    env = sweep._env(1, args, None)
    assert env['CUDA_VISIBLE_DEVICES'] == '4,5,6'
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    threads = sweep._env(0, args, None)['OMP_NUM_THREADS']
    assert threads == str(max(1, (os.cpu_count() or 1) // 2))


def test_distributed_runs(demo_root, tmp_path):
    """--gpus-per-run 2: each run trains with tools/dist_train.sh (two
    gloo processes on CPU)."""
    work_dir = str(tmp_path / 'sweep')
    run_tool([
        TOOL, CONFIG, '--priors', 'onehot', '--work-dir', work_dir,
        '--gpus-per-run', '2', '--cfg-options', 'train_cfg.max_epochs=1'
    ], cwd=demo_root, env=dict(os.environ, PORT='29531'))
    log = open(osp.join(work_dir, 'prior-onehot', 'seed0',
                        'train.log')).read()
    assert 'Distributed training: True' in log, log[-2000:]
    assert "dist_cfg: {'backend': 'gloo'}" in log
    assert osp.isfile(osp.join(work_dir, 'prior-onehot', 'seed0',
                               'done.json'))
