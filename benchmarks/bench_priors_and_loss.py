"""Benchmark: building the EK55 priors, and the cost of the smoothed loss.

1. Time to build each of the five EK55 priors from the annotation files
   (no cache).
2. A training step of the LSTM baseline at EK55 size (rgb+flow+obj = 2400
   inputs, hidden 1024, 2513 actions, batch 128 x 14 steps, 8 outputs):
   forward + loss + backward + SGD, with plain cross-entropy and with the
   prior-smoothed loss (GL+VN, alpha 0.5), interleaved in the same run; the
   median ratio is reported. The loss alone is timed the same way.

Usage::

    python benchmarks/bench_priors_and_loss.py --data ../shared/data
"""
import argparse
import statistics
import time

import numpy as np
import torch

import lsant_mmaction  # noqa: F401
from lsant_mmaction.priors import build_prior
from mmaction.registry import MODELS


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='../shared/data',
                        help='folder with epic-kitchens-55/ and rulstm/')
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--threads', type=int, default=2)
    return parser.parse_args()


def ek55_files(data):
    return dict(
        dataset='epic55',
        actions=f'{data}/rulstm/ek55/actions.csv',
        verb_classes=f'{data}/epic-kitchens-55/EPIC_verb_classes.csv',
        noun_classes=f'{data}/epic-kitchens-55/EPIC_noun_classes.csv',
        train=f'{data}/rulstm/ek55/training.csv',
        glove='glove-6b-50d-classes')


def bench_priors(data):
    print('## Building the EK55 priors (2513 x 2513, from the files)')
    print('| prior | seconds |\n|---|---|')
    priors, total = {}, 0.0
    for kind in ('uniform', 'vn', 'te', 'gl', 'glvn'):
        start = time.perf_counter()
        priors[kind], _ = build_prior(kind, **ek55_files(data))
        seconds = time.perf_counter() - start
        total += seconds
        print(f'| {kind} | {seconds:.2f} |')
    print(f'| all five | {total:.2f} |\n')
    return priors['glvn']


def timed(fn, repeats):
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def bench_loss(prior, repeats):
    import tempfile
    path = tempfile.mktemp(suffix='.npy')
    np.save(path, prior)
    num_classes, batch = 2513, 128
    torch.manual_seed(0)

    def head(loss_cls):
        torch.manual_seed(0)
        return MODELS.build(
            dict(type='LSTMAnticipationHead', num_classes=num_classes,
                 in_channels=2400, modalities=('x', ), loss_cls=loss_cls))

    plain = head(dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.0))
    smooth = head(dict(type='PriorSmoothedCrossEntropyLoss', alpha=0.5,
                       prior=path, num_classes=num_classes))
    feats = dict(x=torch.randn(batch, 14, 2400))
    labels = torch.randint(0, num_classes, (batch, ))

    def step(model):
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def run():
            logits = model(feats).flatten(0, 1)  # (B*8, C)
            loss = model.loss_cls(logits, labels.repeat_interleave(8))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return run

    def loss_only(model):
        logits = torch.randn(batch * 8, num_classes, requires_grad=True)
        flat = labels.repeat_interleave(8)

        def run():
            model.loss_cls(logits, flat).backward()
        return run

    print('## Training step at EK55 size (LSTM baseline, batch 128 x 8 '
          'steps, 2513 classes)')
    print('| what | cross-entropy (s) | smoothed GL+VN (s) | ratio |')
    print('|---|---|---|---|')
    for name, make in (('full step: forward+loss+backward+SGD', step),
                       ('loss forward+backward only', loss_only)):
        a_fn, b_fn = make(plain), make(smooth)
        a_times, b_times = [], []
        for _ in range(repeats):  # interleaved: same machine state
            a_times += timed(a_fn, 1)
            b_times += timed(b_fn, 1)
        a, b = statistics.median(a_times), statistics.median(b_times)
        print(f'| {name} | {a:.4f} | {b:.4f} | {b / a:.3f} |')


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads\n')
    prior = bench_priors(args.data)
    bench_loss(prior, args.repeats)


if __name__ == '__main__':
    main()
