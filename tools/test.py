"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``."""
import argparse
import os
import os.path as osp

import lsant_mmaction  # noqa: F401  (environment fixes + registration)
from lsant_mmaction.engine.amp import (use_amp_for_testing,
                                       warn_if_bf16_is_slow)
from lsant_mmaction.engine.checkpoint import check_checkpoint_fits
from lsant_mmaction.engine.cli import (CfgOptionsAction, quiet_known_noise,
                                       setup_distributed, use_split)
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(description='Test an anticipator')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the dir to save the evaluation metrics and logs')
    parser.add_argument(
        '--dump',
        type=str,
        help='pickle file (.pkl) to write, per segment, segment_id, '
        'pred_score (float32 numpy (8, num_actions); 2.0 s ... 0.25 s), '
        'gt_label and the verb/noun labels; plain data, read it with '
        'lsant_mmaction.evaluation.load_predictions')
    parser.add_argument(
        '--split',
        help='test on another split of the config\'s data, a CSV relative '
        'to the test dataset\'s data_root (e.g. training.csv: a teacher\'s '
        'scores on the training split, with --dump, for '
        'tools/build_teacher_store.py); the configured split\'s subset '
        'lists are dropped')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='inference under autocast: float16 on CUDA, bfloat16 on a CPU '
        '(the heads\' logits and scores stay float32; the numbers differ '
        'slightly from a float32 test). Default: float32')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=CfgOptionsAction,
        help='override settings of the config, key=value (e.g. '
        'test_dataloader.dataset.data_root=DIR)')
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
    if args.amp:
        use_amp_for_testing(cfg)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.split is not None:
        use_split(cfg.test_dataloader.dataset, args.split)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must be a .pkl file, got {args.dump}')
        evaluator = cfg.test_evaluator
        if not isinstance(evaluator, (list, tuple)):
            evaluator = [evaluator]
        cfg.test_evaluator = list(evaluator) + [
            dict(type='AnticipationPredictionDump', out_file=args.dump)
        ]
    cfg.load_from = args.checkpoint
    setup_distributed(cfg, args.launcher)
    return cfg


def main():
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    runner = Runner.from_cfg(cfg)
    quiet_known_noise(runner.logger)
    if args.amp and get_device() == 'cpu':
        warn_if_bf16_is_slow()
    # mmengine loads non-strictly (a warning at most): the numbers of a
    # checkpoint that does not fit would be those of random weights
    check_checkpoint_fits(runner.model, args.checkpoint)
    runner.test()


if __name__ == '__main__':
    main()
