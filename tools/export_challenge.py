r"""Write the EPIC-Kitchens-55 or -100 anticipation challenge JSON of a
test split.

    python tools/export_challenge.py configs/rulstm_epic_glvn.py \
        work_dirs/rulstm_epic_glvn/best.pth --split test_seen.csv \
        --out work_dirs/rulstm_epic_glvn/seen.json

The split CSV (RU-LSTM's EK55 ``test_seen.csv`` / ``test_unseen.csv`` or
EK100 ``test_timestamps.csv``: id, video, start, end; no labels) and
``actions.csv`` are read from the test dataset's ``data_root``; segments
dropped for lack of frames get zero scores. Scores are taken 1 s before each
action. The dataset of the config decides the format: EK55 writes version
0.1 (integer ids), EK100 version 0.2 (ids such as ``P01_101_0``).
"""
import argparse
import os
import os.path as osp

import lsant_mmaction  # noqa: F401  (environment fixes + registration)
from lsant_mmaction.engine.checkpoint import check_checkpoint_fits
from lsant_mmaction.engine.cli import (CfgOptionsAction, quiet_known_noise,
                                       setup_distributed, use_split)
from mmengine.config import Config
from mmengine.runner import Runner


def parse_args():
    parser = argparse.ArgumentParser(
        description='Export the EPIC-Kitchens anticipation challenge JSON')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--split', required=True,
                        help='test CSV relative to data_root, e.g. '
                        'test_seen.csv')
    parser.add_argument('--out', required=True, help='JSON file to write')
    parser.add_argument('--top-actions', type=int, default=100)
    parser.add_argument('--work-dir', help='folder for the logs')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override settings of the config, key=value')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    # the split's own subset lists stay with the configured split
    use_split(cfg.test_dataloader.dataset, args.split)
    cfg.test_evaluator = dict(
        type='EpicChallengeExport',
        out_file=args.out,
        top_actions=args.top_actions)
    cfg.load_from = args.checkpoint
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or osp.join(
        './work_dirs',
        osp.splitext(osp.basename(args.config))[0], 'challenge')
    setup_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    quiet_known_noise(runner.logger)
    check_checkpoint_fits(runner.model, args.checkpoint)  # no silent misfit
    runner.test()


if __name__ == '__main__':
    main()
