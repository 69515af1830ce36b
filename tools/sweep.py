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
be an axis); ``--cfg-options`` applies to every run. A ``--grid`` key must
be in the config (``--grid max_epochs=1,2`` is an error naming
``train_cfg.max_epochs``: nothing reads a new top-level key); give
``--grid-new-key`` for a key created on purpose. The loss's alpha and
prior belong to ``--alphas`` and ``--priors``: a ``--grid`` on them is an
error. Alpha 0 is one-hot training: ``--priors onehot``, not ``--alphas
0``. The time of ``--select`` must be an anticipation time of the test
dataset's time grid; all this is checked before anything runs. A
recognizer's config (``configs/recognition/``) sweeps the same way, on a
measure without a time (``--select acc/top1``, or its save_best).

Each setting has its folder ``WORK_DIR/<setting>/`` with ``config.py``,
the complete config its runs train and test with; each run (one seed) is
``WORK_DIR/<setting>/seed<S>/``: the training's work_dir (checkpoints,
``best.pth``, logs) and ``train.log``, ``test/`` and ``test.log`` (the best
checkpoint tested), and ``done.json`` once it finished. A second call
skips finished runs, resumes interrupted ones from their last checkpoint,
and refuses a setting folder that holds runs of another config. A failed
run is reported (its log named) and does not stop the others; the summary
then covers the finished runs and the exit status is 1. The summary covers
exactly the runs of this call (the seeds given, in their folders; a seed
left from another call is not counted), each row and cell with its number
of runs, and a setting with fewer finished runs than seeds is flagged.
``--jobs N`` runs N at a time (the CPU threads shared between them);
``--gpus-per-run N`` trains each run with ``tools/dist_train.sh`` on N
devices (with ``--jobs``, each job gets its own devices). ``--amp`` trains
in mixed precision as ``tools/train.py --amp`` does, written into each
setting's ``config.py`` (tests stay float32). Progress goes to
the console and ``WORK_DIR/sweep.log``.

One sweep at a time works in a folder: ``WORK_DIR/sweep.lock`` names it
(pid, host, start time, command, the processes of its runs), and a second
sweep there is an error naming it; the lock of a sweep that is gone (and
whose runs are gone) is taken over with a warning. Each training and test
runs in its own process group: a sweep stopped by SIGTERM or SIGINT
(Ctrl-C) stops them (SIGTERM, then SIGKILL after 10 s) and exits with
128 + the signal; its runs resume on the next call. A sweep killed with
SIGKILL cannot stop them: the next call refuses the folder while they run
(the lock names their process groups).
"""
import argparse
import copy
import importlib.util
import itertools
import json
import os
import os.path as osp
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.logging import MMLogger

from lsant_mmaction.engine.amp import use_amp_for_training
from lsant_mmaction.engine.cli import CfgOptionsAction
from lsant_mmaction.evaluation.functional import parse_measure_name
from lsant_mmaction.layout import TimeGrid, horizon_name

TOOLS = osp.dirname(osp.abspath(__file__))
LOSS_TYPE = 'PriorSmoothedCrossEntropyLoss'
LOCK = 'sweep.lock'


def _load_tool(name: str):
    """``tools/<name>.py`` beside this one, as a module."""
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# how result files and done.json are read: one owner, the summary tool
summary_tool = _load_tool('summarize_results')


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
                        help='an axis over an option of the config')
    parser.add_argument('--grid-new-key', nargs='+', action='append',
                        default=[], metavar='KEY=V1,V2',
                        help='an axis over a key the config does not have '
                        '(created on purpose)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='options of every run, key=value')
    parser.add_argument('--loss-key', default='model.cls_head.loss_cls',
                        help='where the config\'s loss is (default: '
                        '%(default)s)')
    parser.add_argument('--select', help='the measure that chooses alpha '
                        '(default: the config\'s checkpoint save_best, '
                        'e.g. action_top5@1.00s, or acc/top1 for a '
                        'recognizer)')
    parser.add_argument('--metric', help='the measure of the table '
                        '(default: --select without its time)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at a time (default: 1)')
    parser.add_argument('--gpus-per-run', type=int, default=1,
                        help='devices (processes) per training; >1 uses '
                        'tools/dist_train.sh (default: 1)')
    parser.add_argument('--amp', action='store_true',
                        help='train every run in mixed precision, as '
                        'tools/train.py --amp (bfloat16 on a CPU); written '
                        "into each setting's config.py, so a folder of "
                        'float32 runs is refused; tests stay float32')
    parser.add_argument('--dry-run', action='store_true',
                        help='list the runs and exit')
    args = parser.parse_args(argv)
    if args.jobs < 1 or args.gpus_per_run < 1:
        parser.error('--jobs and --gpus-per-run must be at least 1')
    if args.alphas and 0.0 in args.alphas:
        parser.error(
            '--alphas 0: alpha 0 trains with one-hot targets whatever the '
            'prior (plain cross-entropy); for that run give --priors onehot '
            '(e.g. --priors onehot vn --alphas 0.1 0.2), and alphas in '
            '(0, 1] for the priors')
    if args.alphas and any(not 0.0 < a <= 1.0 for a in args.alphas):
        parser.error(f'--alphas must lie in (0, 1], got {args.alphas}')
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


def _has_key(cfg: Config, key: str) -> bool:
    """Whether the dotted ``key`` (list items by index) is in ``cfg``."""
    node = dict(cfg.items())
    for part in key.split('.'):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif (isinstance(node, (list, tuple)) and part.isdigit()
              and int(part) < len(node)):
            node = node[int(part)]
        else:
            return False
    return True


def _keys(node, prefix: str = ''):
    """Every dotted key of a config's dicts and lists."""
    items = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, (list, tuple)) else ()
    for part, value in items:
        key = f'{prefix}{part}'
        yield key
        yield from _keys(value, key + '.')


def check_grid_keys(cfg: Config, keys: List[str], new_keys: List[str],
                    loss_key: str) -> None:
    """``--grid`` keys must be in the config (``--grid-new-key`` ones may
    not be), and none may set what ``--alphas`` and ``--priors`` own."""
    owned = {f'{loss_key}.alpha': ('alpha', '--alphas'),
             f'{loss_key}.prior': ('prior', '--priors')}
    for key in keys + new_keys:
        for own, (what, flag) in owned.items():
            if key == own or key.startswith(own + '.') or own.startswith(
                    key + '.'):
                raise ValueError(
                    f'--grid {key}: the loss\'s {what} ({own}) is the '
                    f'{flag} axis; give {flag} instead (it names the runs '
                    f'by their {what}, and would override this --grid)')
    for key in keys:
        if not _has_key(cfg, key):
            last = key.rsplit('.', 1)[-1]
            like = [k for k in _keys(dict(cfg.items()))
                    if k.rsplit('.', 1)[-1] == last][:6]
            raise ValueError(
                f'--grid {key}: {cfg.filename} has no such key, so nothing '
                'would read it and every value would train the same thing'
                + (f' (keys ending in {last!r}: {like})' if like else '') +
                '; give the full key, or --grid-new-key for a key created '
                'on purpose')


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
    grid = parse_grid(args.grid + args.grid_new_key)
    new = [k for k, _ in parse_grid(args.grid_new_key)]
    check_grid_keys(cfg, [k for k, _ in grid if k not in new], new,
                    args.loss_key)
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
    # assigned whole: ConfigDict.update would merge the new spec into the
    # config's (a uniform prior keeping a glvn spec's files, refused)
    if values.get('prior') == 'onehot':
        loss['alpha'], loss['prior'] = 0.0, None
    elif 'prior' in values:
        loss['prior'] = copy.deepcopy(cfg.priors[values['prior']])
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
    """``action_top5@1.00s`` (or a recognizer's ``top1``): ``--select`` or
    the config's save_best, without the metric's prefix."""
    if select is None:
        select = ((cfg.get('default_hooks') or {}).get('checkpoint')
                  or {}).get('save_best')
        if not isinstance(select, str) or select == 'auto':
            raise ValueError(
                f'{cfg.filename} has no default_hooks.checkpoint.save_best '
                'measure: give --select (e.g. action_top5@1.00s, or '
                'acc/top1 for a recognizer)')
    # a measure without a time is named as its metric reports it:
    # prefix/name (mmaction's AccMetric: acc/top1)
    if parse_measure_name(select) is None and (
            '@' in select or '/' not in select
            or not summary_tool.plain_measure(select)):
        raise ValueError(f'--select {select!r} is not an anticipation '
                         'measure at a time, e.g. action_top5@1.00s, nor a '
                         'metric\'s measure without one, e.g. acc/top1')
    return select.split('/')[-1]


def check_select(cfg: Config, select: str, where: str) -> None:
    """``select``'s time must be an anticipation time of the time grid of
    the config's test dataset (the results the summary reads): the
    metric names no other. A measure without a time has nothing to check
    here."""
    if parse_measure_name(select) is None:
        return
    dataset = (cfg.get('test_dataloader') or {}).get('dataset')
    while isinstance(dataset, dict) and 'time_grid' not in dataset \
            and isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']  # a wrapper (RepeatDataset, ...)
    if not isinstance(dataset, dict):
        raise ValueError(f'{where}: no test_dataloader.dataset, so no test '
                         'results to summarise')
    try:
        grid = TimeGrid(**(dataset.get('time_grid') or {}))
    except TypeError as e:
        raise ValueError(f'{where}: test_dataloader.dataset.time_grid '
                         f'{dataset.get("time_grid")}: {e}') from e
    measure, seconds = parse_measure_name(select)
    try:
        grid.step_of(seconds)
    except ValueError as e:
        names = [f'{measure}@{horizon_name(t)}'
                 for t in grid.anticipation_times()]
        raise ValueError(
            f'--select {select} ({where}): {e}, the time grid of '
            f'test_dataloader.dataset ({grid.to_dict()}); the metric '
            f'reports {", ".join(names)}') from e


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
            try:  # refused now, not after the other runs have trained
                summary_tool.read_result(
                    summary_tool.recorded_result(self.done))
            except ValueError as e:
                raise RuntimeError(f'{self.name}: {e}') from e
            return 'finished'
        return 'interrupted'


def _tail(path: str, lines: int = 3) -> str:
    try:
        with open(path, errors='replace') as f:
            return ' | '.join(line.strip() for line in
                              f.read().splitlines()[-lines:])
    except OSError:
        return ''


class Stopped(RuntimeError):
    """The sweep is stopping: no new process is started."""


class Children:
    """The processes the sweep starts, each in its own process group (its
    own session), so that stopping the sweep stops them and everything
    they started (``dist_train.sh``'s workers, dataloader workers).

    Args:
        on_change (callable, optional): Called with the sorted pids of the
            running processes whenever they change (the lock records
            them). Defaults to None.
    """

    def __init__(self, on_change=None):
        self.procs: Dict[int, subprocess.Popen] = {}
        self.lock = threading.RLock()  # RLock: a signal may come inside
        self.stopping = False
        self.on_change = on_change or (lambda pids: None)

    def call(self, cmd: List[str], **kwargs) -> int:
        """``subprocess.call`` in a new process group."""
        with self.lock:
            if self.stopping:
                raise Stopped(f'the sweep is stopping; not started: {cmd}')
            proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
            self.procs[proc.pid] = proc
            self.on_change(sorted(self.procs))
        code = proc.wait()  # interrupted: it stays listed, stop() ends it
        with self.lock:
            self.procs.pop(proc.pid, None)
            if not self.stopping:
                self.on_change(sorted(self.procs))
        return code

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every group, no waiting (signal handlers)."""
        self.stopping = True
        for pid in list(self.procs):
            _signal_group(pid, signum)

    def stop(self, grace: float = 10.0) -> int:
        """SIGTERM every group, SIGKILL what is left after ``grace``
        seconds; the number of processes that were running."""
        with self.lock:
            self.stopping = True
            procs = list(self.procs.values())
        for proc in procs:
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.time() + grace
        for proc in procs:
            try:
                proc.wait(max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc.pid, signal.SIGKILL)  # and what it left
        return len(procs)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone


def _proc_stat(pid: str) -> Optional[List[str]]:
    """The fields of ``/proc/<pid>/stat`` after the name: state, ppid,
    pgrp, ...; None when it cannot be read."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None


def _alive(pid: int, group: bool = False) -> bool:
    """Whether process ``pid`` (with ``group``: any process of group
    ``pid``) runs on this host; zombies do not count."""
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's: it exists
    if not osp.isdir('/proc'):
        return True  # kill(0) said it exists
    if not group:
        stat = _proc_stat(str(pid))
        return stat is None or stat[0] != 'Z'
    for other in filter(str.isdigit, os.listdir('/proc')):
        stat = _proc_stat(other)
        if stat is not None and stat[2] == str(pid) and stat[0] != 'Z':
            return True
    return False


def _read_lock(path: str) -> Optional[dict]:
    """The holder recorded in lock file ``path``; None when it is gone."""
    try:
        with open(path) as f:
            holder = json.load(f)
        pid = int(holder['pid'])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RuntimeError(
            f'{path}: unreadable sweep lock ({type(e).__name__}: {e}); if '
            'no sweep runs in this folder, delete it') from e
    return dict(holder, pid=pid)


def _holder_text(holder: dict) -> str:
    return (f'pid {holder["pid"]} on {holder.get("host")}, started '
            f'{holder.get("started")}: {holder.get("command")}')


def _write_json(path: str, value: dict) -> str:
    """Write ``value`` to a new file beside ``path``; its name."""
    tmp = f'{path}.{os.getpid()}.{threading.get_ident()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(value, f, indent=1)
    return tmp


def acquire_lock(root: str, command: str) -> tuple:
    """Take ``root/sweep.lock`` for this process: ``(path, warning)``,
    the warning saying whose stale lock was taken over (or None).

    A lock held by a running sweep is an error naming it (pid, host, start
    time, command), as is one from another host (its pid cannot be
    checked) and one whose sweep is gone but whose runs still run. The
    file appears complete or not at all (written aside, then linked).
    """
    path = osp.join(root, LOCK)
    host = socket.gethostname()
    me = dict(pid=os.getpid(), host=host,
              started=time.strftime('%Y-%m-%d %H:%M:%S %z'),
              command=command, children=[])
    os.makedirs(root, exist_ok=True)
    warning = None
    for _ in range(5):
        tmp = _write_json(path, me)
        try:
            os.link(tmp, path)  # fails when the lock exists
            return path, warning
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            try:
                with open(path, 'x') as f:
                    json.dump(me, f, indent=1)
                return path, warning
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
        holder = _read_lock(path)
        if holder is None:
            continue  # released meanwhile
        held = (f'{path}: another sweep works in {root}: '
                f'{_holder_text(holder)}')
        if holder.get('host') != host:
            raise RuntimeError(
                f'{held}; it runs on another host, so this one cannot '
                f'tell whether it still does: if not, delete {path}')
        if _alive(holder['pid']):
            raise RuntimeError(f'{held}; wait for it to end or stop it '
                               f'(kill {holder["pid"]})')
        running = [p for p in holder.get('children') or []
                   if _alive(int(p), group=True)]
        if running:
            raise RuntimeError(
                f'{path}: the sweep {_holder_text(holder)} is gone, but '
                f'runs it started are still running (process groups '
                f'{running}) and write into {root}; stop them (kill -- '
                f'-{running[0]}) or wait for them, then run again')
        # stale: move it aside; only the one who moved it takes over
        aside = f'{path}.stale.{os.getpid()}'
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            continue
        moved = _read_lock(aside)
        os.unlink(aside)
        if moved != holder:
            raise RuntimeError(f'{path}: another sweep took the lock of '
                               'a finished sweep at the same time; run again')
        warning = (f'took over the stale lock {path} of a sweep that is no '
                   f'longer running ({_holder_text(holder)}); its unfinished '
                   'runs resume')
    raise RuntimeError(f'{path}: could not take the lock; run again')


def update_lock(path: str, children: List[int]) -> None:
    """Record the process groups of the running runs in our lock."""
    holder = _read_lock(path)
    if holder is None or holder['pid'] != os.getpid():
        return
    os.replace(_write_json(path, dict(holder, children=children)), path)


def release_lock(path: str) -> None:
    """Remove ``path`` if it is this process's lock."""
    try:
        holder = _read_lock(path)
    except RuntimeError:
        return
    if holder is not None and holder['pid'] == os.getpid():
        os.unlink(path)


def _new_results(folder: str, before: set) -> List[str]:
    """tools/test.py's ``<timestamp>/<timestamp>.json`` in ``folder`` that
    were not there ``before`` (the stamps listed then)."""
    found = []
    if osp.isdir(folder):
        for stamp in sorted(set(os.listdir(folder)) - before):
            path = osp.join(folder, stamp, f'{stamp}.json')
            if osp.isfile(path):
                found.append(path)
    return found


def execute(run: Run, args, env: dict, select: str,
            children: Children) -> dict:
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
        code = children.call(train, stdout=log, stderr=subprocess.STDOUT,
                             env=env)
    if code != 0:
        return dict(ok=False, why=f'training exited with {code}',
                    log=train_log)
    best = osp.join(run.dir, 'best.pth')
    if not osp.exists(best):
        return dict(ok=False, why='training left no best.pth (was '
                    'validation switched off?)', log=train_log)
    test_log = osp.join(run.dir, 'test.log')
    test_dir = osp.join(run.dir, 'test')
    before = set(os.listdir(test_dir)) if osp.isdir(test_dir) else set()
    test = [sys.executable, osp.join(TOOLS, 'test.py'), run.config, best,
            '--work-dir', test_dir]
    with open(test_log, 'w') as log:
        code = children.call(test, stdout=log, stderr=subprocess.STDOUT,
                             env=env)
    if code != 0:
        return dict(ok=False, why=f'testing exited with {code}', log=test_log)
    made = _new_results(test_dir, before)  # this test's result, no other
    if len(made) != 1:
        return dict(ok=False, why=f'testing left {len(made)} result files '
                    f'<timestamp>/<timestamp>.json in {test_dir}, not one '
                    f'({made})', log=test_log)
    try:
        result = summary_tool.read_result(made[0])
    except ValueError as e:
        return dict(ok=False, why=str(e), log=test_log)
    value = next((v for k, v in result.items()
                  if k.split('/')[-1] == select), None)
    record = dict(setting=run.setting['name'], seed=run.seed,
                  seconds=round(time.time() - start, 1),
                  result=osp.relpath(made[0], run.dir),  # movable folder
                  select=select, value=value, resumed=resume)
    os.replace(_write_json(run.done, record), run.done)  # whole or none
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


def summarize(settings, runs, root, select, metric, title, children,
              logger) -> Optional[int]:
    """tools/summarize_results.py over exactly the finished runs of this
    call (their run folders, not the whole setting folders: a seed left
    from another call is not counted), each setting's missing seeds
    logged and its row flagged; the exit status, or None when no run
    finished."""
    seeds = list(dict.fromkeys(r.seed for r in runs))
    rows, names = [], []
    for setting in settings:
        own = [r for r in runs if r.setting is setting]
        done = [r for r in own if osp.isfile(r.done)]
        if len(done) < len(own):
            missing = [r.seed for r in own if r not in done]
            logger.error(
                f'{setting["name"]}: {len(done)} of {len(own)} seeds '
                f'finished (missing: seeds {missing}); ' +
                ('its row is flagged in the summary' if done else
                 'not in the summary'))
        if done:
            rows.append(f'{setting["name"]}=' +
                        os.pathsep.join(r.dir for r in done))
            names.append(setting['name'])
    if not rows:
        return None
    cmd = [sys.executable, osp.join(TOOLS, 'summarize_results.py')] + rows
    cmd += ['--metric', metric, '--select', select, '--title', title,
            '--expect-runs', str(len(seeds)),
            '--out', osp.join(root, 'summary')]
    if 'prior=onehot' in names:
        cmd += ['--baseline', 'prior=onehot']
    if any('alpha' in dict(s['values']) for s in settings):
        cmd += ['--choose', 'alpha']
    return children.call(cmd)


class SweepInterrupted(Exception):
    """SIGTERM or SIGINT reached the sweep."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def main(argv=None):
    args = parse_args(argv)
    command = ' '.join([osp.abspath(__file__)] +
                       (sys.argv[1:] if argv is None else list(argv)))
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    select = selection_measure(cfg, args.select)
    metric = args.metric or (parse_measure_name(select) or (select, ))[0]
    root = args.work_dir or osp.join(
        'work_dirs', 'sweep_' + osp.splitext(osp.basename(args.config))[0])
    if os.pathsep in root:  # it joins the run folders of a summary row
        raise ValueError(f'--work-dir {root}: a folder name with '
                         f'{os.pathsep!r} is not supported')
    settings = expand(args, cfg)
    texts = []
    for setting in settings:  # every check before anything trains
        setting_cfg = run_config(cfg, setting['values'], args.loss_key)
        if args.amp:
            use_amp_for_training(setting_cfg)
        check_select(setting_cfg, select, f'setting {setting["name"]}')
        texts.append(setting_cfg.dump())
    # seeds outermost: every setting's first seed finishes first
    runs = [Run(setting, seed, root, text)
            for seed in dict.fromkeys(args.seeds)
            for setting, text in zip(settings, texts)]
    if args.dry_run:
        for r in runs:
            print(f'{r.state():>11}  {r.name}  ->  {r.dir}')
        return 0
    lock_file, took_over = acquire_lock(root, command)
    children = Children(lambda pids: update_lock(lock_file, pids))
    main_thread = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals} \
        if main_thread else {}

    def kill_now(signum, frame):  # a signal while stopping: no more waiting
        children.signal(signal.SIGKILL)

    def on_signal(signum, frame):
        for sig in previous:
            signal.signal(sig, kill_now)
        children.signal(signal.SIGTERM)
        raise SweepInterrupted(signum)

    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        logger = MMLogger.get_instance(
            f'sweep_{id(args)}', logger_name='sweep',
            log_file=osp.join(root, 'sweep.log'))
        if took_over:
            logger.warning(took_over)
        for sig in previous:
            signal.signal(sig, on_signal)
        try:
            return _sweep(args, settings, runs, root, select, metric,
                          children, pool, logger)
        except SweepInterrupted as e:
            stopped = children.stop()
            logger.error(
                f'interrupted by {e}: {stopped} running trainings/tests '
                'stopped; their runs resume on the next call')
            return 128 + e.signum
    finally:
        for sig in previous:  # until the children are gone
            signal.signal(sig, kill_now)
        children.stop()
        pool.shutdown(wait=True, cancel_futures=True)
        release_lock(lock_file)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _sweep(args, settings, runs, root, select, metric, children, pool,
           logger) -> int:
    """The runs to do, done ``args.jobs`` at a time, then the summary."""
    states = {id(r): r.state() for r in runs}  # refuse foreign folders now
    todo = [r for r in runs if states[id(r)] != 'finished']
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
            return execute(run, args, _env(slot, args, devices), select,
                           children)
        except Exception as e:  # noqa: BLE001 - reported, others go on
            return dict(ok=False, why=f'{type(e).__name__}: {e}',
                        log=osp.join(run.dir, 'train.log'))
        finally:
            with lock:
                free_slots.append(slot)

    start = time.time()
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
    code = summarize(settings, runs, root, select, metric, title, children,
                     logger)
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
