r"""Build a teacher store from ``tools/test.py --dump`` files of the training
split: one teacher, or a weighted ensemble.

    python tools/test.py configs/rulstm_demo_glvn.py work_dirs/rulstm_demo_glvn/best.pth \
        --split training.csv --dump work_dirs/teacher/train_scores.pkl
    python tools/build_teacher_store.py configs/lstm_demo_glvn.py \
        --teacher configs/rulstm_demo_glvn.py work_dirs/rulstm_demo_glvn/best.pth \
            work_dirs/teacher/train_scores.pkl \
        --out work_dirs/teacher/store

CONFIG is the student's config: its training dataset (``train_dataloader``)
is the split the store must cover (``--split`` for another CSV relative to
its ``data_root``), its grid gives the steps and its ``num_classes`` the
actions. Each ``--teacher CONFIG CHECKPOINT DUMP [WEIGHT]`` names one
member (WEIGHT defaults to 1); with several, the store holds the weighted
mean of their probabilities. Every dump must hold exactly the split's kept
segments, with softmax scores of the grid's anticipation steps, finite and
summing to 1; anything else is an error naming the dump and the segment.
The store records the split (path, sha256) and each member's config,
checkpoint (path, sha256), dump and weight. ``--topk K`` keeps the K most
probable actions of each step (renormalised when read), for many classes
(EK100's 3,806 make a dense training store of about 8 GB). Each dump is
read whole into memory, as ``tools/test.py`` wrote it.
"""
import argparse
import os.path as osp

import numpy as np

import lsant_mmaction  # noqa: F401  (environment fixes + registration)
from lsant_mmaction.datasets.feature_cache import file_sha256
from lsant_mmaction.datasets.teacher_store import write_store
from lsant_mmaction.engine.cli import CfgOptionsAction
from lsant_mmaction.evaluation.metrics.prediction_dump import \
    load_predictions
from lsant_mmaction.layout import TimeGrid


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Build a teacher store from test.py --dump files',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config', help="the student's config")
    parser.add_argument(
        '--teacher', nargs='+', action='append', required=True,
        metavar='CONFIG CHECKPOINT DUMP [WEIGHT]',
        help='one member of the teacher: its config, checkpoint and dump '
        'of the split (tools/test.py --split ... --dump), and its weight '
        '(default 1); repeat for an ensemble')
    parser.add_argument('--out', required=True, help='store folder to write')
    parser.add_argument('--split', help="CSV of the student's training "
                        'data (relative to its data_root); default: its '
                        'train_dataloader ann_file')
    parser.add_argument('--topk', type=int,
                        help='keep the K most probable actions per step')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help="override settings of the student's config")
    args = parser.parse_args(argv)
    for member in args.teacher:
        if len(member) not in (3, 4):
            parser.error('--teacher takes CONFIG CHECKPOINT DUMP [WEIGHT], '
                         f'got {member}')
    return args


def members(args):
    """``[dict(config, checkpoint, dump, weight)]`` of the teacher."""
    out = []
    for member in args.teacher:
        config, checkpoint, dump = member[:3]
        try:
            weight = float(member[3]) if len(member) == 4 else 1.0
        except ValueError:
            raise ValueError(f'--teacher {member}: the weight must be a '
                             f'number, got {member[3]!r}') from None
        if not weight > 0:
            raise ValueError(f'--teacher {member}: the weight must be '
                             f'positive, got {weight}')
        for path in (config, checkpoint, dump):
            if not osp.isfile(path):
                raise FileNotFoundError(f'--teacher {member}: file not found:'
                                        f' {path}')
        out.append(dict(config=osp.abspath(config),
                        checkpoint=osp.abspath(checkpoint),
                        checkpoint_sha256=file_sha256(checkpoint),
                        dump=osp.abspath(dump), weight=weight))
    return out


def student_split(args):
    """The student's training dataset (no pipeline): kept ids, actions,
    grid, and the split file."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset_cfg = cfg.train_dataloader.dataset
    if args.split:
        dataset_cfg.ann_file = args.split
    dataset = DATASETS.build(dict(dataset_cfg, pipeline=[]))
    meta = dataset.metainfo['anticipation']
    ids = [dataset.get_data_info(i)['segment_id']
           for i in range(len(dataset))]
    return ids, meta


def main(argv=None):
    from mmengine.utils import ProgressBar
    args = parse_args(argv)
    teachers = members(args)
    ids, meta = student_split(args)
    grid = TimeGrid.from_dict(meta['grid'])
    num_steps, num_classes = grid.num_anticipation_steps, meta['num_classes']
    total = sum(t['weight'] for t in teachers)
    mean = None
    for teacher in teachers:
        dump = teacher['dump']
        rows = {}
        for entry in load_predictions(dump):
            rows[str(entry['segment_id'])] = entry['pred_score']
        split = {str(i) for i in ids}
        foreign = sorted(set(rows) - split)
        missing = [i for i in ids if str(i) not in rows]
        if foreign or missing:
            raise ValueError(
                f'{dump} does not hold the segments of {meta["ann_file"]}: '
                f'{len(foreign)} of its {len(rows)} are not the split\'s '
                f'(e.g. {foreign[:3]}), {len(missing)} of the split\'s '
                f'{len(ids)} are missing (e.g. {missing[:3]}); dump the '
                'teacher with tools/test.py --split on the same split')
        scores = np.stack([rows[str(i)] for i in ids]).astype(np.float64)
        if scores.shape[1:] != (num_steps, num_classes):
            raise ValueError(
                f'{dump} holds scores of shape {scores.shape[1:]} per '
                f'segment; the student\'s grid and classes need '
                f'({num_steps}, {num_classes}) (steps, actions)')
        scores *= teacher['weight'] / total
        mean = scores if mean is None else mean + scores
    print(f'{len(ids)} segments of {meta["ann_file"]}, {len(teachers)} '
          f'teacher(s), writing {args.out}')
    progress = ProgressBar(len(ids))
    write_store(
        args.out, ids, mean, num_steps, num_classes,
        dict(split=dict(path=osp.abspath(meta['ann_file']),
                        sha256=file_sha256(meta['ann_file'])),
             teachers=teachers,
             anticipation_times=grid.anticipation_times().tolist()),
        topk=args.topk, progress=progress)
    print(f'\n{args.out}: {len(ids)} x {num_steps} x '
          f'{args.topk or num_classes} '
          f'{"top-k " if args.topk else ""}probabilities')


if __name__ == '__main__':
    main()
