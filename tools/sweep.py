"""Train a grid of settings of one config, several seeds each, and summarise.

The grid is prior x alpha (the smoothing of the config's
``PriorSmoothedCrossEntropyLoss``) x any config option (``--grid``), each
setting trained with every seed by ``tools/train.py`` and its best
checkpoint tested by ``tools/test.py``; then ``tools/summarize_results.py``
prints the table (mean +- std over seeds), the best alpha of each prior on
the config's checkpoint-selection measure, the "Improv." row against
one-hot, and saves the plot::

    python tools/sweep.py configs/lstm_demo_onehot.py \\
        --priors onehot uniform vn te gl glvn --alphas 0.05 0.1 0.2 0.5 \\
        --seeds 0 1 2 --work-dir work_dirs/sweep_lstm_demo --jobs 2

Priors are the names of the config's ``priors`` dict (every dataset base
has one) and ``onehot`` (alpha 0, no prior: one run per seed, whatever
``--alphas`` says). ``--grid KEY=V1,V2`` adds an axis over any
``--cfg-options`` key (e.g. ``--grid optim_wrapper.optimizer.lr=0.01,0.1``;
each value parsed as ``--cfg-options`` parses one, so a list value cannot
be an axis); ``--cfg-options`` applies to every run.

Each setting has its folder ``WORK_DIR/<setting>/`` with ``config.py``,
the complete config its runs train and test with; each run (one seed) is
``WORK_DIR/<setting>/seed<S>/``: the training's work_dir (checkpoints,
``best.pth``, logs) and ``train.log``, ``test/`` and ``test.log`` (the best
checkpoint tested), and ``done.json`` once it finished. A second call
skips finished runs, resumes interrupted ones from their last checkpoint,
and refuses a setting folder that holds runs of another config. A failed run is reported (its log
named) and does not stop the others; the summary then covers the finished
runs and the exit status is 1. ``--jobs N`` runs N at a time (the CPU
threads shared between them); ``--gpus-per-run N`` trains each run with
``tools/dist_train.sh`` on N devices (with ``--jobs``, each job gets its
own devices). Progress goes to the console and ``WORK_DIR/sweep.log``.
"""
import argparse
import copy
import itertools
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.logging import MMLogger

from lsant_mmaction.engine.cli import CfgOptionsAction
from lsant_mmaction.evaluation.functional import parse_measure_name

TOOLS = osp.dirname(osp.abspath(__file__))
LOSS_TYPE = 'PriorSmoothedCrossEntropyLoss'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and test a grid of settings x seeds, then '
        'summarise (mean +- std, best alpha per prior, Improv.)',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config', help='the config every run starts from')
    parser.add_argument('--work-dir', help='folder of the sweep (default: '
                        'work_dirs/sweep_<config name>)')
    parser.add_argument('--priors', nargs='+', metavar='NAME',
                        help="prior axis: 'onehot' and names of the "
                        "config's priors dict (default: the config's loss)")
    parser.add_argument('--alphas', nargs='+', type=float, metavar='A',
                        help='alpha axis (default: the config\'s alpha)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0],
                        help='seeds of every setting (default: 0)')
    parser.add_argument('--grid', nargs='+', action='append', default=[],
                        metavar='KEY=V1,V2',
                        help='an axis over a config option')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='options of every run, key=value')
    parser.add_argument('--loss-key', default='model.cls_head.loss_cls',
                        help='where the config\'s loss is (default: '
                        '%(default)s)')
    parser.add_argument('--select', help='the measure that chooses alpha '
                        '(default: the config\'s checkpoint save_best, '
                        'e.g. action_top5@1.00s)')
    parser.add_argument('--metric', help='the measure of the table '
                        '(default: --select without its time)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at a time (default: 1)')
    parser.add_argument('--gpus-per-run', type=int, default=1,
                        help='devices (processes) per training; >1 uses '
                        'tools/dist_train.sh (default: 1)')
    parser.add_argument('--dry-run', action='store_true',
                        help='list the runs and exit')
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.gpus_per_run < 1:
        parser.error('--jobs and --gpus-per-run must be at least 1')
    if args.alphas and any(not 0.0 <= a <= 1.0 for a in args.alphas):
        parser.error(f'--alphas must lie in [0, 1], got {args.alphas}')
    return args


def parse_grid(specs: List[List[str]]) -> List[tuple]:
    """``[(key, [values])]`` from ``--grid KEY=V1,V2`` arguments."""
    axes = []
    for spec in itertools.chain.from_iterable(specs):
        if '=' not in spec:
            raise ValueError(f'--grid expects KEY=V1,V2,..., got {spec!r}')
        key, text = spec.split('=', 1)
        values = [CfgOptionsAction._parse_value(v) for v in text.split(',')]
        if key in (k for k, _ in axes):
            raise ValueError(f'--grid names {key!r} twice')
        axes.append((key, values))
    return axes


def _short_names(keys: List[str]) -> Dict[str, str]:
    """The last part of each key, or the whole key when that is ambiguous."""
    last = [k.rsplit('.', 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}


def expand(args, cfg: Config) -> List[dict]:
    """The settings of the grid, in order, each ``dict(name, folder,
    values)``: ``values`` are ``(axis, value)`` pairs."""
    axes = []
    if args.priors:
        known = sorted(cfg.get('priors') or {})
        unknown = [p for p in args.priors if p != 'onehot' and p not in known]
        if unknown:
            raise ValueError(
                f'--priors {unknown}: not in the priors dict of '
                f'{args.config} (has {known}, and onehot)')
        axes.append(('prior', list(dict.fromkeys(args.priors))))
    if args.alphas:
        axes.append(('alpha', list(dict.fromkeys(args.alphas))))
    grid = parse_grid(args.grid)
    short = _short_names([k for k, _ in grid])
    axes += [(k, v) for k, v in grid]
    settings = []
    for combo in itertools.product(*[v for _, v in axes]):
        values = list(zip([k for k, _ in axes], combo))
        if dict(values).get('prior') == 'onehot':  # no alpha for one-hot
            values = [(k, v) for k, v in values if k != 'alpha']
        names = [f'{short.get(k, k)}={v}' for k, v in values]
        name = ' '.join(names) or 'config'
        if any(s['name'] == name for s in settings):
            continue  # one-hot with several alphas: one setting
        folder = re.sub(r'[^A-Za-z0-9._-]+', '-', '_'.join(names)) \
            or 'config'  # prior-vn_alpha-0.1: no '=' (NAME=FOLDER rows)
        settings.append(dict(name=name, folder=folder, values=values))
    return settings


def run_config(cfg: Config, values, loss_key: str) -> Config:
    """The config of one setting (a copy of ``cfg``)."""
    cfg = copy.deepcopy(cfg)
    for axis, value in values:
        if axis not in ('prior', 'alpha'):
            cfg.merge_from_dict({axis: value})
    values = dict(values)
    loss = cfg
    for part in loss_key.split('.'):
        loss = loss.get(part) if loss is not None else None
    if ('prior' in values or 'alpha' in values) and (
            loss is None or loss.get('type') != LOSS_TYPE):
        raise ValueError(f'{cfg.filename}: no {LOSS_TYPE} at {loss_key} '
                         f'(found {loss!r}); give --loss-key')
    if 'alpha' in values:
        loss['alpha'] = float(values['alpha'])
    if values.get('prior') == 'onehot':
        loss.update(alpha=0.0, prior=None)
    elif 'prior' in values:
        loss.update(prior=cfg.priors[values['prior']])
        if loss.get('num_classes') is None:  # the dataset base's count
            loss['num_classes'] = cfg.get('num_classes')
        if not loss.get('alpha'):
            raise ValueError(f'prior={values["prior"]}: the config\'s alpha '
                             'is 0; give --alphas')
    if loss is not None and loss.get('alpha') and loss.get('prior') is None:
        raise ValueError(f'alpha={loss["alpha"]} without a prior: '
                         f'{cfg.filename} has one-hot targets; give --priors')
    return cfg


def selection_measure(cfg: Config, select: Optional[str]) -> str:
    """``action_top5@1.00s``: ``--select`` or the config's save_best."""
    if select is None:
        select = ((cfg.get('default_hooks') or {}).get('checkpoint')
                  or {}).get('save_best')
        if not isinstance(select, str):
            raise ValueError(
                f'{cfg.filename} has no default_hooks.checkpoint.save_best '
                'measure: give --select (e.g. action_top5@1.00s)')
    if parse_measure_name(select) is None:
        raise ValueError(f'--select {select!r} is not an anticipation '
                         'measure at a time, e.g. action_top5@1.00s')
    return select.split('/')[-1]


class Run:
    """One setting with one seed."""

    def __init__(self, setting: dict, seed: int, root: str, text: str):
        self.setting, self.seed, self.text = setting, seed, text
        self.name = f'{setting["name"]} seed {seed}'
        self.dir = osp.join(root, setting['folder'], f'seed{seed}')
        # the setting's config, shared by its seeds; not in the run's
        # work_dir, where mmengine writes its own config.py
        self.config = osp.join(root, setting['folder'], 'config.py')
        self.done = osp.join(self.dir, 'done.json')

    def state(self) -> str:
        """'new', 'finished' or 'interrupted'; a folder of another config
        is an error."""
        if not osp.isfile(self.config):
            if osp.isdir(self.dir):
                raise RuntimeError(f'{self.dir} exists without the config '
                                   f'it ran, {self.config}; delete it')
            return 'new'
        with open(self.config) as f:
            if f.read() != self.text:
                raise RuntimeError(
                    f'{osp.dirname(self.config)} holds runs of another '
                    f'config than the one this sweep gives {self.name} '
                    f'(compare {self.config}); use another --work-dir or '
                    'delete it')
        if not osp.isdir(self.dir):
            return 'new'
        if osp.isfile(self.done):
            return 'finished'
        return 'interrupted'


def _tail(path: str, lines: int = 3) -> str:
    try:
        with open(path, errors='replace') as f:
            return ' | '.join(line.strip() for line in
                              f.read().splitlines()[-lines:])
    except OSError:
        return ''


def _newest_result(folder: str) -> Optional[str]:
    """tools/test.py's ``<timestamp>/<timestamp>.json`` below ``folder``."""
    found = []
    if osp.isdir(folder):
        for stamp in os.listdir(folder):
            path = osp.join(folder, stamp, f'{stamp}.json')
            if osp.isfile(path):
                found.append(path)
    return max(found) if found else None


def execute(run: Run, args, env: dict, select: str) -> dict:
    """Train (resuming an interrupted run) and test one run."""
    resume = run.state() == 'interrupted' and osp.isfile(
        osp.join(run.dir, 'last_checkpoint'))
    if not osp.isfile(run.config):  # seeds of a setting may race: the
        os.makedirs(osp.dirname(run.config), exist_ok=True)  # same text
        tmp = f'{run.config}.{os.getpid()}.{run.seed}'
        with open(tmp, 'w') as f:
            f.write(run.text)
        os.replace(tmp, run.config)
    os.makedirs(run.dir, exist_ok=True)  # after its config (see state())
    if args.gpus_per_run > 1:
        train = ['bash', osp.join(TOOLS, 'dist_train.sh'), run.config,
                 str(args.gpus_per_run)]
    else:
        train = [sys.executable, osp.join(TOOLS, 'train.py'), run.config]
    train += ['--work-dir', run.dir, '--seed', str(run.seed)]
    if resume:
        train.append('--resume')
    start = time.time()
    train_log = osp.join(run.dir, 'train.log')
    with open(train_log, 'a' if resume else 'w') as log:
        code = subprocess.call(train, stdout=log, stderr=subprocess.STDOUT,
                               env=env)
    if code != 0:
        return dict(ok=False, why=f'training exited with {code}',
                    log=train_log)
    best = osp.join(run.dir, 'best.pth')
    if not osp.exists(best):
        return dict(ok=False, why='training left no best.pth (was '
                    'validation switched off?)', log=train_log)
    test_log = osp.join(run.dir, 'test.log')
    test = [sys.executable, osp.join(TOOLS, 'test.py'), run.config, best,
            '--work-dir', osp.join(run.dir, 'test')]
    with open(test_log, 'w') as log:
        code = subprocess.call(test, stdout=log, stderr=subprocess.STDOUT,
                               env=env)
    result_file = _newest_result(osp.join(run.dir, 'test'))
    if code != 0 or result_file is None:
        return dict(ok=False, why=f'testing exited with {code}', log=test_log)
    with open(result_file) as f:
        result = json.load(f)
    value = next((v for k, v in result.items()
                  if k.split('/')[-1] == select), None)
    record = dict(setting=run.setting['name'], seed=run.seed,
                  seconds=round(time.time() - start, 1), result=result_file,
                  select=select, value=value, resumed=resume)
    with open(run.done, 'w') as f:
        json.dump(record, f, indent=1)
    return dict(ok=True, **record)


def _env(slot: int, args, devices: Optional[List[str]]) -> dict:
    """The environment of a run in job slot ``slot``: its share of the CPU
    threads and, with ``devices``, its own GPUs and rendezvous port."""
    env = dict(os.environ)
    threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        env.setdefault(var, threads)
    env['PORT'] = str(int(os.environ.get('PORT', 29500)) + slot)
    env['PYTHON'] = sys.executable  # dist_train.sh's interpreter
    if devices is not None:
        n = args.gpus_per_run
        env['CUDA_VISIBLE_DEVICES'] = ','.join(devices[slot * n:(slot + 1) *
                                                       n])
    return env


def job_devices(args) -> Optional[List[str]]:
    """The GPUs the job slots share out (``CUDA_VISIBLE_DEVICES`` or all);
    None without CUDA (CPU runs) or with one job (it sees every GPU)."""
    import torch
    if args.jobs == 1 or not torch.cuda.is_available():
        return None
    visible = os.environ.get('CUDA_VISIBLE_DEVICES')
    devices = visible.split(',') if visible else [
        str(i) for i in range(torch.cuda.device_count())]
    needed = args.jobs * args.gpus_per_run
    if len(devices) < needed:
        raise ValueError(f'--jobs {args.jobs} x --gpus-per-run '
                         f'{args.gpus_per_run} needs {needed} GPUs, '
                         f'{len(devices)} visible ({devices})')
    return devices


def summarize(settings, runs, root, select, metric, title) -> Optional[int]:
    """tools/summarize_results.py over the settings with finished runs;
    its exit status, or None when no run finished."""
    finished = {r.setting['folder'] for r in runs
                if osp.isfile(r.done)}
    rows = [f'{s["name"]}={osp.join(root, s["folder"])}' for s in settings
            if s['folder'] in finished]
    if not rows:
        return None
    cmd = [sys.executable, osp.join(TOOLS, 'summarize_results.py')] + rows
    cmd += ['--metric', metric, '--select', select, '--title', title,
            '--out', osp.join(root, 'summary')]
    names = [s['name'] for s in settings if s['folder'] in finished]
    if 'prior=onehot' in names:
        cmd += ['--baseline', 'prior=onehot']
    if any('alpha' in dict(s['values']) for s in settings):
        cmd += ['--choose', 'alpha']
    return subprocess.call(cmd)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    select = selection_measure(cfg, args.select)
    metric = args.metric or parse_measure_name(select)[0]
    root = args.work_dir or osp.join(
        'work_dirs', 'sweep_' + osp.splitext(osp.basename(args.config))[0])
    settings = expand(args, cfg)
    runs = []
    # seeds outermost: every setting's first seed finishes first
    for seed in dict.fromkeys(args.seeds):
        for setting in settings:
            text = run_config(cfg, setting['values'], args.loss_key).dump()
            runs.append(Run(setting, seed, root, text))
    states = {id(r): r.state() for r in runs}  # refuse foreign folders now
    todo = [r for r in runs if states[id(r)] != 'finished']
    if args.dry_run:
        for r in runs:
            print(f'{states[id(r)]:>11}  {r.name}  ->  {r.dir}')
        return 0
    os.makedirs(root, exist_ok=True)
    logger = MMLogger.get_instance(
        f'sweep_{id(args)}', logger_name='sweep',
        log_file=osp.join(root, 'sweep.log'))
    logger.info(
        f'{len(runs)} runs ({len(settings)} settings x {len(args.seeds)} '
        f'seeds) of {args.config} in {root}: {len(runs) - len(todo)} '
        f'finished earlier (skipped), {len(todo)} to run, {args.jobs} at a '
        f'time; alpha chosen on {select}')
    failed, lock = [], threading.Lock()
    free_slots = list(range(args.jobs))
    devices = job_devices(args)

    def work(run):
        with lock:
            slot = free_slots.pop(0)
        try:
            return execute(run, args, _env(slot, args, devices), select)
        except Exception as e:  # noqa: BLE001 - reported, others go on
            return dict(ok=False, why=f'{type(e).__name__}: {e}',
                        log=osp.join(run.dir, 'train.log'))
        finally:
            with lock:
                free_slots.append(slot)

    start = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(work, r): r for r in todo}
        for i, future in enumerate(as_completed(futures), 1):
            run, out = futures[future], future.result()
            left = len(todo) - i
            eta = (time.time() - start) / i * left
            eta_text = time.strftime('%H:%M:%S', time.gmtime(eta))
            if out['ok']:
                value = out['value']
                shown = 'n/a' if value is None else f'{value:.2f}'
                logger.info(f'[{i}/{len(todo)}] {run.name}: done in '
                            f'{out["seconds"]:.0f} s, {select} {shown}; '
                            f'eta {eta_text}')
            else:
                failed.append((run, out))
                logger.error(f'[{i}/{len(todo)}] {run.name}: FAILED, '
                             f'{out["why"]}; see {out["log"]} '
                             f'({_tail(out["log"])}); eta {eta_text}')
    title = (f'{osp.splitext(osp.basename(args.config))[0]} sweep, mean ± '
             f'std over {len(set(args.seeds))} seeds')
    code = summarize(settings, runs, root, select, metric, title)
    if code is None:
        logger.error('no summary: no run finished')
    elif code != 0:
        logger.error(f'summarize_results.py exited with {code}')
    if failed:
        logger.error(f'{len(failed)} of {len(runs)} runs failed: ' + '; '.join(
            f'{r.name} ({o["log"]})' for r, o in failed))
        return 1
    return 0 if code == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
