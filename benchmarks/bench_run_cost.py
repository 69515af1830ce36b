"""Benchmark: the expected cost of one sweep run on the paper's grid.

For each config (default: the LSTM rows on EK55 and EGTEA Gaze+), builds
the model from the real config, times a training step (forward, backward,
SGD step) on a batch of the config's training size and an evaluation
forward on a batch of its validation size, on random inputs of the
config's feature sizes, and multiplies by the number of training and
validation segments and the config's epochs (validation every epoch, as
the configs do). The segment counts are those of RU-LSTM's split files
(``--data``, the RU-LSTM folder of ``../shared/data``, when present;
otherwise the numbers below). Loading is not counted (the feature cache
makes it small: BENCHMARKS.md), so this is the compute floor of a run on
this machine.

Usage::

    python benchmarks/bench_run_cost.py [--threads 2] [--repeats 3]
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

# config -> (training split, validation split, their sizes when the split
# files are absent)
CONFIGS = {
    'configs/lstm_epic_onehot.py':
    ('ek55/training.csv', 'ek55/validation.csv', 23493, 4979),
    'configs/lstm_egtea_onehot.py':
    ('egtea/training1.csv', 'egtea/validation1.csv', 8299, 2022),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS))
    parser.add_argument('--data', default=osp.join(ROOT, '..', 'shared',
                                                   'data', 'rulstm'))
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    return parser.parse_args()


def count_rows(path: str, fallback: int) -> int:
    if not osp.isfile(path):
        return fallback
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def batch_inputs(cfg, batch: int):
    from mmaction.structures import ActionDataSample
    steps = 14
    dims = cfg.feature_dims
    inputs = {m: torch.randn(batch, steps, dims[m])
              for m in cfg.model.modalities}
    samples = []
    for _ in range(batch):
        sample = ActionDataSample()
        sample.set_gt_label(torch.randint(cfg.num_classes, (1, )))
        samples.append(sample)
    return inputs, samples


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    import lsant_mmaction  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    print(f'{args.threads} threads; one training step and one evaluation '
          f'forward, median of {args.repeats}')
    print('| config | train / val segments | epochs | train step (batch) '
          '| val forward (batch) | one run (compute) |')
    print('|---|---|---|---|---|---|')
    for name in args.configs:
        cfg = Config.fromfile(osp.join(ROOT, name))
        train_split, val_split, n_train, n_val = CONFIGS.get(
            name, (None, None, 0, 0))
        if train_split:
            n_train = count_rows(osp.join(args.data, train_split), n_train)
            n_val = count_rows(osp.join(args.data, val_split), n_val)
        model = MODELS.build(cfg.model)
        optim = torch.optim.SGD(model.parameters(),
                                **{k: v for k, v in
                                   cfg.optim_wrapper.optimizer.items()
                                   if k != 'type'})
        b_train = cfg.train_dataloader.batch_size
        b_val = cfg.val_dataloader.batch_size
        train_in, train_samples = batch_inputs(cfg, b_train)
        val_in, _ = batch_inputs(cfg, b_val)

        def train_step():
            model.train()
            optim.zero_grad()
            losses = model(train_in, train_samples, mode='loss')
            sum(v for k, v in losses.items() if 'loss' in k).backward()
            optim.step()

        def val_forward():
            model.eval()
            with torch.no_grad():
                model(val_in, mode='tensor')

        t_train = median_time(train_step, args.repeats)
        t_val = median_time(val_forward, args.repeats)
        epochs = cfg.train_cfg.max_epochs
        per_epoch = (-(-n_train // b_train) * t_train +
                     -(-n_val // b_val) * t_val)
        hours = epochs * per_epoch / 3600
        print(f'| `{name}` | {n_train:,} / {n_val:,} | {epochs} | '
              f'{t_train:.3f} s ({b_train}) | {t_val:.3f} s ({b_val}) | '
              f'{hours:.1f} h |')


if __name__ == '__main__':
    main()
