r"""Show, for chosen segments, the top-10 predicted actions next to the
ground truth and the prior's top entries (the paper's qualitative figure).

    python tools/test.py CFG CKPT --dump preds.pkl
    python tools/visualize_predictions.py CFG preds.pkl --checkpoint CKPT \
        --segments 1280 1290 --out work_dirs/vis

Segment ids are given as the dataset has them: ``P01_01_12`` (EK100 and
other string ids), ``1280`` (EK55, EGTEA; leading zeros as in the CSV are
fine). An id that is not in the dump is an error naming it, before any
figure is drawn.

One PNG per segment: the 10 best-scored actions at the chosen anticipation
time (ground truth in green), and the 10 largest entries of the prior row
of the ground-truth action, i.e. the futures the smoothed target rewarded.
The prior is read from the checkpoint (it is saved with the model) or from
``--prior FILE.npy``. Action names and the anticipation times come from the
config's test dataset (its vocabulary and time grid).
"""
import argparse
import os
import os.path as osp
import re
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
import torch

import lsant_mmaction  # noqa: F401  (environment fixes + registration)
from lsant_mmaction.engine.checkpoint import (check_checkpoint_fits,
                                              checkpoint_state_dict,
                                              read_checkpoint)
from lsant_mmaction.evaluation import load_predictions
from lsant_mmaction.evaluation.functional import label_ranks
from lsant_mmaction.layout import TimeGrid
from lsant_mmaction.priors import check_prior
from lsant_mmaction.engine.cli import CfgOptionsAction
from mmengine.config import Config


def parse_args():
    parser = argparse.ArgumentParser(
        description='Top-10 predictions and prior of chosen segments')
    parser.add_argument('config', help='the config the dump was tested with')
    parser.add_argument('dump', help='pickle written by tools/test.py --dump')
    parser.add_argument('--segments', nargs='+', required=True,
                        help='ids of the segments to show, as the dataset '
                        'has them (P01_01_12, 1280)')
    parser.add_argument('--checkpoint', help='checkpoint holding the prior')
    parser.add_argument('--prior', help='prior .npy (instead of the '
                        'checkpoint)')
    parser.add_argument('--time', type=float, default=1.0,
                        help='anticipation time to show (default 1.0 s)')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override settings of the config, key=value (as given to '
        'tools/test.py)')
    return parser.parse_args()


def select_segments(results: Sequence[dict], wanted: Sequence[str],
                    dump: str) -> List[Tuple[Union[int, str], dict]]:
    """The dump's entries of the ``--segments`` ids, in their order.

    A dump holds string ids as they are (EK100 ``P01_01_12``) and integer
    ids as ints (EK55, EGTEA): a wanted id matches a string id exactly and
    an integer id by value (``0042`` is 42).

    Raises:
        SystemExit: naming every wanted id that is not in the dump, or an
            id the dump holds twice.
    """
    by_id: Dict[Union[int, str], dict] = {}
    for result in results:
        seg = result['segment_id']
        seg = seg if isinstance(seg, str) else int(seg)
        if seg in by_id:
            raise SystemExit(f'visualize_predictions.py: error: {dump} holds '
                             f'segment {seg!r} twice')
        by_id[seg] = result
    chosen, missing = [], []
    for text in wanted:
        seg = int(text) if re.fullmatch(r'[0-9]+', text) and text not in \
            by_id else text
        if seg in by_id:
            chosen.append((seg, by_id[seg]))
        else:
            missing.append(text)
    if missing:
        ids = list(by_id)
        examples = ', '.join(repr(i) for i in ids[:3]) + (
            ', ...' if len(ids) > 3 else '')
        raise SystemExit(
            f'visualize_predictions.py: error: segment(s) '
            f'{", ".join(repr(m) for m in missing)} not in {dump} (it holds '
            f'{len(ids)} segments: {examples})')
    return chosen


def test_dataset_meta(cfg) -> dict:
    """What the config's test dataset publishes: grid, vocabulary, ..."""
    from mmengine.registry import init_default_scope

    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, pipeline=[]))
    return dataset.metainfo['anticipation']


def load_prior(args, cfg, num_actions: int):
    """The prior row source: ``--prior``, or the checkpoint, which must fit
    the config's model."""
    if args.prior:
        return check_prior(np.load(args.prior), num_actions, args.prior)
    if not args.checkpoint:
        return None
    from mmaction.registry import MODELS
    check_checkpoint_fits(MODELS.build(cfg.model), args.checkpoint)
    state = checkpoint_state_dict(read_checkpoint(args.checkpoint),
                                  args.checkpoint)
    priors = [v for k, v in state.items() if k.endswith('loss_cls.prior')]
    if not priors or not torch.isfinite(priors[0]).all():
        return None  # trained with plain cross-entropy
    return priors[0].numpy()


def draw(path, title, panels):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4),
                             dpi=110, squeeze=False)
    for ax, (subtitle, names, values, colors) in zip(axes[0], panels):
        y = np.arange(len(names))[::-1]
        ax.barh(y, values, color=colors)
        ax.set_yticks(y, names, fontsize=8)
        ax.set_title(subtitle, fontsize=10)
        ax.set_xlim(0, max(values) * 1.15 if len(values) else 1)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    chosen = select_segments(load_predictions(args.dump), args.segments,
                             args.dump)
    meta = test_dataset_meta(cfg)
    names = meta['vocabulary']['action_names']
    step = TimeGrid.from_dict(meta['grid']).step_of(args.time)
    prior = load_prior(args, cfg, len(names))
    os.makedirs(args.out, exist_ok=True)
    for seg, result in chosen:
        scores = np.asarray(result['pred_score'])[step]
        if len(scores) != len(names):
            raise ValueError(
                f'{args.dump} has scores over {len(scores)} actions but '
                f'{meta["actions_file"]} defines {len(names)}: dump and '
                'config are from different datasets')
        label = int(np.asarray(result['gt_label']).reshape(-1)[0])
        top = np.argsort(-scores)[:10]
        panels = [(f'top-10 predictions at {args.time:.2f} s',
                   [names[a] for a in top], scores[top],
                   ['tab:green' if a == label else 'tab:blue' for a in top])]
        if prior is not None:
            row = prior[label]
            top_prior = np.argsort(-row)[:10]
            panels.append(('prior row of the ground truth',
                           [names[a] for a in top_prior], row[top_prior],
                           ['tab:green' if a == label else 'tab:orange'
                            for a in top_prior]))
        rank = int(label_ranks(torch.from_numpy(scores)[None, None],
                               torch.tensor([label]))) + 1
        path = osp.join(args.out, f'segment_{seg}.png')
        draw(path, f'segment {seg}: ground truth "{names[label]}" '
             f'(rank {rank}, score {scores[label]:.3f})', panels)
        print(f'segment {seg}: ground truth {names[label]!r} ranked {rank}; '
              f'top-3 {[names[a] for a in top[:3]]} -> {path}')


if __name__ == '__main__':
    main()
