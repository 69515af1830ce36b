"""tools/sweep.py: the grid, finished runs skipped, the summary, failures."""
import json
import logging
import os
import os.path as osp
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.device import get_device

from lsant_mmaction.priors import check_prior_spec

from ..conftest import ROOT, load_tool, run_tool

TOOL = osp.join(ROOT, 'tools', 'sweep.py')
CONFIG = osp.join(ROOT, 'configs', 'lstm_demo_onehot.py')
TIMES = ['2.00', '1.75', '1.50', '1.25', '1.00', '0.75', '0.50', '0.25']


def test_a_prior_replaces_the_configs_whole():
    """--priors over a config with another prior: the setting's spec is the
    priors dict's, not merged into the config's (a uniform or vn spec
    keeping glvn's files would be refused by the loss)."""
    sweep = load_tool(TOOL)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'lstm_demo_glvn.py'))
    for prior in ('uniform', 'vn', 'te'):
        run = sweep.run_config(cfg, [('prior', prior), ('alpha', 0.2)],
                               'model.cls_head.loss_cls')
        assert run.model.cls_head.loss_cls.prior == cfg.priors[prior]
        check_prior_spec(run.model.cls_head.loss_cls.prior)


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


def results_of(folder, seeds=('seed0', )):
    """action_top5 of runs ``seeds`` of ``folder``, read from the result
    file that its done.json names (tools/test.py's JSON, relative to the
    run folder)."""
    rows = {}
    for seed in seeds:
        with open(osp.join(folder, seed, 'done.json')) as f:
            done = json.load(f)
        assert not osp.isabs(done['result'])
        with open(osp.join(folder, seed, done['result'])) as f:
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
        assert (f'| prior={prior} | {cells[0]} (1 runs) | {cells[1]} '
                '(1 runs) |') in table
    assert 'action_top5@1.00s (%) by alpha | 0.1 | 0.5 |' in table
    assert open(osp.join(work_dir, 'summary.png'), 'rb').read(4) == \
        b'\x89PNG'
    assert not osp.exists(osp.join(work_dir, 'sweep.lock'))  # released
    stamps = {f: os.stat(osp.join(work_dir, f, 'seed0', 'train.log')).st_mtime
              for f in folders.values()}
    # a seed left from another call, with other numbers
    first = osp.join(work_dir, 'prior-vn_alpha-0.1')
    shutil.copytree(osp.join(first, 'seed0'), osp.join(first, 'seed5'))
    with open(osp.join(first, 'seed5', 'done.json')) as f:
        left = osp.join(first, 'seed5', json.load(f)['result'])
    with open(left) as f:
        result = {k: 0.0 for k in json.load(f)}
    with open(left, 'w') as f:
        json.dump(result, f)

    # a second call runs nothing, and summarises its own seed only
    proc = run_tool(sweep_cmd(work_dir), cwd=demo_root)
    log = proc.stdout + proc.stderr
    assert '4 finished earlier (skipped), 0 to run' in log
    assert 'seed 0: done' not in log
    assert stamps == {
        f: os.stat(osp.join(work_dir, f, 'seed0', 'train.log')).st_mtime
        for f in folders.values()
    }
    runs = results_of(first)
    cells = ' | '.join(f'{m:.2f} ± 0.00' for m in runs.mean(0))
    assert f'| prior=vn alpha=0.1 (1 runs) | {cells} |' in proc.stdout

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
    assert ('prior=onehot ann_file=missing.csv: 0 of 1 seeds finished '
            '(missing: seeds [0]); not in the summary') in log
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


def test_grid_keys_are_checked(tmp_path):
    """A --grid key the config lacks is an error naming it (and the keys it
    may mean), unless given with --grid-new-key; a --grid on what --alphas
    and --priors own is an error."""
    sweep = load_tool(TOOL)
    cfg = Config.fromfile(CONFIG)
    args = sweep.parse_args([CONFIG, '--grid', 'max_epochs=1,2'])
    with pytest.raises(ValueError, match=r"--grid max_epochs: .* has no such "
                       r"key.*\['train_cfg.max_epochs'\].*--grid-new-key"):
        sweep.expand(args, cfg)
    args = sweep.parse_args([CONFIG, '--grid-new-key', 'max_epochs=1,2'])
    assert [s['name'] for s in sweep.expand(args, cfg)] == [
        'max_epochs=1', 'max_epochs=2']
    # list items by index; a wrong index is a missing key
    args = sweep.parse_args([CONFIG, '--grid', 'custom_hooks.0.type=A'])
    assert len(sweep.expand(args, cfg)) == 1
    args = sweep.parse_args([CONFIG, '--grid', 'custom_hooks.9.type=A'])
    with pytest.raises(ValueError, match='custom_hooks.9.type: .* no such'):
        sweep.expand(args, cfg)
    for key, flag in (('model.cls_head.loss_cls.alpha', '--alphas'),
                      ('model.cls_head.loss_cls.prior.kind', '--priors'),
                      ('model.cls_head.loss_cls', '--alphas')):
        args = sweep.parse_args([CONFIG, '--priors', 'vn', '--alphas', '0.1',
                                 '--grid', f'{key}=0.1,0.2'])
        with pytest.raises(ValueError, match=f'--grid {key}: .* is the '
                           f'{flag} axis'):
            sweep.expand(args, cfg)
    # also with --grid-new-key, and at another --loss-key
    args = sweep.parse_args([CONFIG, '--loss-key', 'model.loss',
                             '--grid-new-key', 'model.loss.alpha=0.1'])
    with pytest.raises(ValueError, match='is the --alphas axis'):
        sweep.expand(args, cfg)


def test_alpha_zero_says_onehot(capsys):
    sweep = load_tool(TOOL)
    with pytest.raises(SystemExit) as exit_:
        sweep.parse_args([CONFIG, '--priors', 'vn', '--alphas', '0', '0.1'])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert ('--alphas 0: alpha 0 trains with one-hot targets whatever the '
            'prior') in err
    assert 'give --priors onehot' in err


def test_select_is_checked_before_anything_runs(tmp_path):
    """--select at a time the test dataset's grid does not have: an error
    naming the measure, the setting and the times, before any training
    (here a dry run, which lists only)."""
    sweep = load_tool(TOOL)
    work_dir = str(tmp_path / 'sweep')
    with pytest.raises(ValueError, match=r'--select action_top5@3.00s '
                       r'\(setting config\): 3.0 s is not an anticipation '
                       r'time.*action_top5@2.00s, action_top5@1.75s'):
        sweep.main([CONFIG, '--select', 'action_top5@3.00s', '--work-dir',
                    work_dir])
    assert not osp.exists(work_dir)
    # a setting whose test grid has no 2 s: that setting named
    key = 'test_dataloader.dataset.time_grid.num_anticipation_steps'
    with pytest.raises(ValueError, match=r'\(setting num_anticipation_steps'
                       r'=4\): 2.0 s is not .*the metric reports '
                       r'action_top5@1.00s, action_top5@0.75s'):
        sweep.main([CONFIG, '--select', 'action_top5@2.00s', '--work-dir',
                    work_dir, '--grid-new-key', f'{key}=8,4'])
    assert not osp.exists(work_dir)
    assert sweep.main([CONFIG, '--select', 'action_top5@1.00s', '--work-dir',
                       work_dir, '--grid-new-key', f'{key}=8,4',
                       '--dry-run']) == 0


def fabricate_run(run, value):
    """A finished run as tools/sweep.py leaves it: its setting's config,
    test/<ts>/<ts>.json and done.json naming it."""
    stamp = '20260101_000000'
    os.makedirs(osp.dirname(run.config), exist_ok=True)
    with open(run.config, 'w') as f:
        f.write(run.text)
    os.makedirs(osp.join(run.dir, 'test', stamp))
    with open(osp.join(run.dir, 'test', stamp, f'{stamp}.json'), 'w') as f:
        json.dump({f'anticipation/action_top5@{t}s': value for t in TIMES},
                  f)
    with open(run.done, 'w') as f:
        json.dump(dict(result=f'test/{stamp}/{stamp}.json'), f)


class ListHandler(logging.Handler):

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_summary_of_this_call_only(tmp_path, capfd):
    """The summary reads the runs of this call (a seed5/ left from another
    call is not averaged in) and flags a setting with fewer finished runs
    than seeds; a damaged record of a finished run is refused before
    anything runs."""
    sweep = load_tool(TOOL)
    cfg = Config.fromfile(CONFIG)
    root = str(tmp_path / 'sweep')
    args = sweep.parse_args([CONFIG, '--priors', 'onehot', 'vn', '--alphas',
                             '0.1', '--seeds', '0', '1'])
    settings = sweep.expand(args, cfg)
    text = cfg.dump()
    runs = [sweep.Run(s, seed, root, text) for seed in (0, 1)
            for s in settings]
    values = {('prior=onehot', 0): 10.0, ('prior=onehot', 1): 20.0,
              ('prior=vn alpha=0.1', 0): 30.0}  # vn seed 1 failed
    for run in runs:
        if (run.setting['name'], run.seed) in values:
            fabricate_run(run, values[run.setting['name'], run.seed])
    # seed 5 of an earlier call, beside them
    left = sweep.Run(settings[1], 5, root, text)
    fabricate_run(left, 99.0)
    logger = logging.getLogger('test_sweep_summary')
    handler = ListHandler()
    logger.addHandler(handler)
    code = sweep.summarize(settings, runs, root, 'action_top5@1.00s',
                           'action_top5', 't', sweep.Children(), logger)
    assert code == 1  # a row flagged
    table = open(osp.join(root, 'summary.md')).read()
    assert '| prior=onehot (2 runs) | 15.00 ± 5.00 |' in table
    assert '| prior=vn alpha=0.1 (1 runs, 2 expected) | 30.00 ± 0.00 |' \
        in table
    assert '| prior=vn | **30.00 ± 0.00** (1 runs, 2 expected) |' in table
    assert 'prior=onehot: 15.00 ± 5.00 (2 runs)' in table
    assert '| Improv. (1 vs 2 runs) | +15.00 |' in table
    assert 'prior=vn alpha=0.1 (1 runs)' in capfd.readouterr().err
    assert handler.lines == [
        'prior=vn alpha=0.1: 1 of 2 seeds finished (missing: seeds [1]); '
        'its row is flagged in the summary']
    # a record cut short: the next call refuses it, naming it
    with open(runs[0].done, 'w') as f:
        f.write('{"result": "te')
    with pytest.raises(RuntimeError, match=f'prior=onehot seed 0: '
                       f'{runs[0].done}: unreadable record'):
        runs[0].state()


def _dead(pid):
    """Whether process ``pid`` is gone (a zombie counts as gone)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except FileNotFoundError:
        return True


def test_lock_names_its_holder(tmp_path):
    """sweep.lock: a live holder, one on another host, a gone sweep whose
    run still runs, a damaged lock: errors naming them; a stale lock is
    taken over with a warning."""
    sweep = load_tool(TOOL)
    root = tmp_path / 'sweep'
    root.mkdir()
    lock = root / 'sweep.lock'
    host = socket.gethostname()
    gone = subprocess.Popen([sys.executable, '-c', ''])
    gone.wait()
    holder = dict(pid=gone.pid, host=host, started='2026-01-01 00:00:00',
                  command='tools/sweep.py old', children=[])
    lock.write_text(json.dumps(holder))
    path, warning = sweep.acquire_lock(str(root), 'tools/sweep.py new')
    assert path == str(lock)
    assert f'took over the stale lock {lock}' in warning
    assert f'pid {gone.pid} on {host}' in warning and 'sweep.py old' in warning
    mine = json.loads(lock.read_text())
    assert (mine['pid'], mine['host'], mine['command']) == (
        os.getpid(), host, 'tools/sweep.py new')
    sweep.update_lock(path, [123])
    assert json.loads(lock.read_text())['children'] == [123]
    sweep.release_lock(path)
    assert not lock.exists()
    live = subprocess.Popen([sys.executable, '-c',
                             'import time; time.sleep(120)'],
                            start_new_session=True)
    try:
        lock.write_text(json.dumps(dict(holder, children=[live.pid])))
        with pytest.raises(RuntimeError, match=rf'the sweep pid {gone.pid} '
                           rf'.* is gone, but runs .* still running '
                           rf'\(process groups \[{live.pid}\]\)'):
            sweep.acquire_lock(str(root), 'new')
        lock.write_text(json.dumps(dict(holder, pid=live.pid)))
        with pytest.raises(RuntimeError, match=rf'another sweep works in '
                           rf'{root}: pid {live.pid} on {host}, started '
                           r'2026-01-01 00:00:00: tools/sweep.py old'):
            sweep.acquire_lock(str(root), 'new')
    finally:
        live.kill()
        live.wait()
    lock.write_text(json.dumps(dict(holder, host='elsewhere')))
    with pytest.raises(RuntimeError, match=f'pid {gone.pid} on elsewhere.*'
                       f'another host.*delete {lock}'):
        sweep.acquire_lock(str(root), 'new')
    lock.write_text('{"pid": 1')
    with pytest.raises(RuntimeError, match=f'{lock}: unreadable sweep lock'):
        sweep.acquire_lock(str(root), 'new')


FAKE_TRAIN = '''\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, '-c',
                          'import time; time.sleep(300)'])
with open(os.environ['FAKE_PIDS'] + '.tmp', 'w') as f:
    f.write(f'{os.getpid()} {child.pid}')
os.replace(os.environ['FAKE_PIDS'] + '.tmp', os.environ['FAKE_PIDS'])
time.sleep(300)
'''

DRIVER = '''\
import importlib.util, sys
spec = importlib.util.spec_from_file_location('sweep', {tool!r})
sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sweep)
sweep.TOOLS = {tools!r}  # a train.py that sleeps (and starts a child)
sys.exit(sweep.main(sys.argv[1:]))
'''


def test_one_sweep_per_folder_and_a_killed_sweep_stops_its_runs(tmp_path):
    """While a sweep trains, a second one on its folder is refused naming
    it; SIGTERM stops the sweep, its training and the training's child
    (process groups), and releases the lock. No real training: train.py
    is a stand-in that sleeps."""
    tools = tmp_path / 'tools'
    tools.mkdir()
    (tools / 'train.py').write_text(FAKE_TRAIN)
    driver = tmp_path / 'driver.py'
    driver.write_text(DRIVER.format(tool=TOOL, tools=str(tools)))
    work_dir = tmp_path / 'sweep'
    pids = tmp_path / 'pids'
    args = [CONFIG, '--priors', 'onehot', '--work-dir', str(work_dir)]
    with open(tmp_path / 'sweep.out', 'w') as out:
        proc = subprocess.Popen([sys.executable, str(driver)] + args,
                                env=dict(os.environ, FAKE_PIDS=str(pids)),
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while not pids.exists():
            assert proc.poll() is None, (tmp_path / 'sweep.out').read_text()
            assert time.time() < deadline, 'the stand-in train.py never ran'
            time.sleep(0.5)
        train, child = map(int, pids.read_text().split())
        holder = json.loads((work_dir / 'sweep.lock').read_text())
        assert holder['pid'] == proc.pid and holder['host'] == \
            socket.gethostname()
        assert str(work_dir) in holder['command']
        assert holder['children'] == [train]  # its own process group
        assert os.getpgid(train) == train != os.getpgid(proc.pid)
        sweep = load_tool(TOOL)
        with pytest.raises(RuntimeError, match=rf'{work_dir}/sweep.lock: '
                           rf'another sweep works in {work_dir}: pid '
                           rf'{proc.pid} on {socket.gethostname()}'):
            sweep.main(args)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.time() + 30
    while not (_dead(train) and _dead(child)) and time.time() < deadline:
        time.sleep(0.2)
    assert _dead(train) and _dead(child)
    assert not (work_dir / 'sweep.lock').exists()
    log = (work_dir / 'sweep.log').read_text()
    assert 'interrupted by SIGTERM: 1 running trainings/tests stopped' in log


@pytest.mark.skipif(get_device() != 'cpu', reason='checks the CPU wrapper')
def test_amp_is_part_of_each_setting(tmp_path, capsys):
    """--amp is written into each setting's config (the device's wrapper:
    CPUAmpOptimWrapper here), so a folder of float32 runs is refused before
    anything runs, and the tests stay float32."""
    sweep = load_tool(TOOL)
    root = str(tmp_path / 'sweep')
    base = [CONFIG, '--priors', 'onehot', '--seeds', '0', '--work-dir', root]
    cfg = Config.fromfile(CONFIG)
    args = sweep.parse_args(base)
    setting = sweep.expand(args, cfg)[0]
    fp32 = sweep.run_config(cfg, setting['values'], args.loss_key)
    fabricate_run(sweep.Run(setting, 0, root, fp32.dump()), 50.0)
    assert sweep.main(base + ['--dry-run']) == 0
    assert 'finished' in capsys.readouterr().out
    with pytest.raises(RuntimeError, match='holds runs of another config'):
        sweep.main(base + ['--amp', '--dry-run'])
    amp_root = str(tmp_path / 'amp')
    assert sweep.main(base[:-1] + [amp_root, '--amp', '--dry-run']) == 0
    amp = sweep.run_config(cfg, setting['values'], args.loss_key)
    sweep.use_amp_for_training(amp)
    assert amp.optim_wrapper.type == 'CPUAmpOptimWrapper'
    assert amp.optim_wrapper.dtype == 'bfloat16'
    assert not (amp.get('test_cfg') or {}).get('fp16')
