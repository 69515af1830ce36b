"""Train a model (an anticipator, or any mmaction recognizer):
``python tools/train.py CONFIG [options]``."""
import argparse
import logging
import os
import os.path as osp
import re
from typing import Optional, Tuple

import lsant_mmaction  # noqa: F401  (environment fixes + registration)
from lsant_mmaction.engine.amp import use_amp_for_training
from lsant_mmaction.engine.checkpoint import read_checkpoint
from lsant_mmaction.engine.cli import (CfgOptionsAction, quiet_known_noise,
                                       setup_distributed)
from lsant_mmaction.models.losses import check_prior_smoothing
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Train an anticipator')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work_dir when no path is given (an unreadable latest '
        'checkpoint is reported and the newest readable earlier one used)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: float16 autocast with a loss scaler on CUDA '
        '(mmengine\'s AmpOptimWrapper), bfloat16 autocast on a CPU '
        '(CPUAmpOptimWrapper); weights, checkpoints and validation stay '
        'float32. Default: float32')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='set a different seed on each rank')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='deterministic options for CUDNN')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings of the config, key=value (e.g. '
        'train_dataloader.dataset.data_root=DIR); a value with spaces or '
        'commas is kept as one string when quoted inside the argument: '
        '\'key="/my data/"\'')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args):
    """Fold the command-line options into the config."""
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.save_best = None
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        use_amp_for_training(cfg)
    if args.seed is not None or args.deterministic:
        cfg.randomness = dict(
            seed=args.seed,
            diff_rank_seed=args.diff_rank_seed,
            deterministic=args.deterministic)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.resume is not None:
        resume_from(cfg, args)
    elif cfg.get('load_from'):
        # the previous stage's weights: an unreadable file is an error that
        # names it (mmengine would fail later with a bare torch message)
        read_checkpoint(cfg.load_from)
    setup_distributed(cfg, args.launcher)
    return cfg


_CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def _is_rank_zero(launcher: str) -> bool:
    """Rank 0 before the process group exists (torchrun's ``RANK``,
    slurm's ``SLURM_PROCID``); every process of a ``none`` launch."""
    if launcher == 'none':
        return True
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    return int(rank) == 0


def _earlier_checkpoints(work_dir: str, last: str) -> list:
    """``epoch_N.pth`` / ``iter_N.pth`` in ``work_dir`` older than ``last``
    (by their number), newest first."""
    named = _CHECKPOINT_NAME.match(osp.basename(last))
    found = []
    for name in os.listdir(work_dir):
        m = _CHECKPOINT_NAME.match(name)
        path = osp.abspath(osp.join(work_dir, name))
        if not m or osp.abspath(path) == osp.abspath(last):
            continue
        if named and (m.group(1) != named.group(1)
                      or int(m.group(2)) >= int(named.group(2))):
            continue
        found.append((m.group(1), int(m.group(2)), path))
    return [path for _, _, path in sorted(found, reverse=True)]


def find_resume_checkpoint(resume: str,
                           work_dir: str,
                           warn: bool = True) -> Tuple[Optional[str], dict]:
    """The checkpoint a ``--resume`` run starts from, read and checked.

    Args:
        resume (str): ``'auto'`` (the checkpoint that ``work_dir/
            last_checkpoint`` names) or a checkpoint path.
        work_dir (str): The run's work dir.
        warn (bool): Log the fallback to an earlier checkpoint (rank 0
            does, the other ranks do not). Defaults to ``True``.

    Returns:
        tuple: The path (``None`` when ``'auto'`` finds nothing saved yet:
        the run starts from scratch, as mmengine does) and the checkpoint.

    Raises:
        FileNotFoundError, ValueError: an explicit path that cannot be read,
            or no readable checkpoint for ``'auto'``; the messages name the
            files.
    """
    if resume != 'auto':
        return resume, read_checkpoint(resume)  # fails naming the path
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        return None, {}
    with open(record) as f:
        last = f.read().strip()
    errors = []
    if last:
        try:
            return last, read_checkpoint(last)
        except (OSError, ValueError) as e:
            errors.append(str(e))
    else:
        errors.append(f'{record} is empty (a run was killed while writing '
                      'it)')
        last = record
    for path in _earlier_checkpoints(work_dir, last):
        try:
            checkpoint = read_checkpoint(path)
        except (OSError, ValueError) as e:
            errors.append(str(e))
            continue
        if warn:
            print_log(
                f'Cannot resume from the latest checkpoint: {errors[0]}. '
                f'Resuming from the newest readable earlier checkpoint, '
                f'{path}, instead.' + (f' Also unreadable: {errors[1:]}'
                                       if len(errors) > 1 else ''),
                logger='current',
                level=logging.WARNING)
        return path, checkpoint
    raise ValueError('--resume: no readable checkpoint in '
                     f'{work_dir}:\n  ' + '\n  '.join(errors))


def resume_from(cfg, args) -> None:
    """Point the config at a readable checkpoint to resume from, and take
    the run's seed from it unless the command line gives one (the data
    sampler is seeded before mmengine would read the checkpoint)."""
    path, checkpoint = find_resume_checkpoint(
        args.resume, cfg.work_dir, warn=_is_rank_zero(args.launcher))
    cfg.resume, cfg.load_from = True, path
    meta = checkpoint.get('meta') or {}
    randomness = cfg.get('randomness') or {}
    if path is None or meta.get('seed') is None or args.seed is not None \
            or randomness.get('seed') is not None:
        return
    saved = {}
    try:  # the resumed run's own randomness settings (deterministic...)
        saved = Config.fromstring(meta['cfg'], '.py').get('randomness') or {}
    except Exception:  # noqa: BLE001 - older or foreign checkpoints
        pass
    merged = dict(saved)
    merged.update((k, v) for k, v in randomness.items() if v is not None)
    merged['seed'] = meta['seed']
    cfg.randomness = merged


def main():
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    runner = Runner.from_cfg(cfg)
    quiet_known_noise(runner.logger)
    # a prior that training reads and nothing provides, or a head that
    # smooths the labels before the loss: stop before the data and weights
    check_prior_smoothing(runner.model,
                          loads_checkpoint=bool(cfg.get('load_from')))
    runner.train()


if __name__ == '__main__':
    main()
