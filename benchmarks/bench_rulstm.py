"""Benchmark: the RU-LSTM head against the sequential official algorithm.

EK55 size: batch 128, input 1024, hidden 1024, 2513 classes, 14 steps.
Measured in the same run, interleaved, on CPU:

- eval forward (testing),
- train forward + backward (official per-copy dropout masks),
- train forward + backward with ``unroll_dropout='shared'``,

for the oracle of ``tests/test_models/rulstm_oracle.py`` (one LSTM call per
rolling step and per unrolling, all 14 outputs, as the official code) and
for :class:`RULSTMHead`. Reports median seconds, throughput ratios and the
peak resident memory of each variant (measured in a child process each).

Usage::

    python benchmarks/bench_rulstm.py [--batch 128] [--repeats 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

VARIANTS = ('oracle', 'head', 'head_shared')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--in-channels', type=int, default=1024)
    parser.add_argument('--hidden', type=int, default=1024)
    parser.add_argument('--classes', type=int, default=2513)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--memory-of', choices=VARIANTS + ('none', ),
                        default='none', help=argparse.SUPPRESS)
    return parser.parse_args()


def build(variant, args):
    import lsant_mmaction  # noqa: F401
    from mmaction.registry import MODELS
    from tests.test_models.rulstm_oracle import OracleRULSTM
    torch.manual_seed(0)
    if variant == 'oracle':
        model = OracleRULSTM(args.classes, args.in_channels, args.hidden)
        return model, lambda x: model(x)[0][:, -8:]
    head = MODELS.build(
        dict(type='RULSTMHead', num_classes=args.classes,
             in_channels=args.in_channels, modalities=('rgb', ),
             hidden_channels=args.hidden,
             unroll_dropout='shared' if variant == 'head_shared' else
             'independent'))
    return head, lambda x: head(dict(rgb=x))


def run_once(variant, fn, model, x, mode):
    if mode == 'eval':
        model.eval()
        with torch.no_grad():
            fn(x)
    else:
        model.train()
        model.zero_grad(set_to_none=True)
        fn(x).logsumexp(-1).mean().backward()


def peak_rss_mib() -> float:
    """VmHWM of this process (ru_maxrss survives exec on Linux; this does
    not)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmHWM in /proc/self/status')


def measure_memory(variant, args):
    """Peak RSS (MiB) around one train step, in a fresh process."""
    model, fn = build(variant, args)
    x = torch.randn(args.batch, 14, args.in_channels)
    base = peak_rss_mib()
    run_once(variant, fn, model, x, 'train')
    print(json.dumps(dict(base=base, peak=peak_rss_mib())))


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_of != 'none':
        measure_memory(args.memory_of, args)
        return
    x = torch.randn(args.batch, 14, args.in_channels)
    models = {v: build(v, args) for v in VARIANTS}
    # same weights everywhere
    state = models['head'][0].branch.state_dict()
    models['oracle'][0].load_state_dict(state)
    models['head_shared'][0].branch.load_state_dict(state)
    with torch.no_grad():
        for v in VARIANTS:
            models[v][0].eval()
        ref = models['oracle'][1](x)
        diff = (models['head'][1](x) - ref).abs().max().item()
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, '
          f'batch {args.batch}, input {args.in_channels}, hidden '
          f'{args.hidden}, {args.classes} classes, 14 steps')
    print(f'eval max |head - oracle| = {diff:.2e}\n')
    rows = [('eval forward', 'eval', ('oracle', 'head')),
            ('train forward+backward', 'train',
             ('oracle', 'head', 'head_shared'))]
    print('| measure | variant | median s | oracle / variant |')
    print('|---|---|---|---|')
    for name, mode, variants in rows:
        times = {v: [] for v in variants}
        for v in variants:  # warm-up
            run_once(v, models[v][1], models[v][0], x, mode)
        for _ in range(args.repeats):
            for v in variants:  # interleaved
                start = time.perf_counter()
                run_once(v, models[v][1], models[v][0], x, mode)
                times[v].append(time.perf_counter() - start)
        base = statistics.median(times['oracle'])
        for v in variants:
            t = statistics.median(times[v])
            print(f'| {name} | {v} | {t:.3f} | {base / t:.2f}x |')
    print('\n| variant | peak RSS (MiB) | peak RSS - RSS before the step (MiB) |'
          '\n|---|---|---|')
    for v in VARIANTS:
        out = subprocess.run(
            [sys.executable, __file__, '--memory-of', v, '--batch',
             str(args.batch), '--threads', str(args.threads)],
            capture_output=True, text=True, check=True).stdout
        mem = json.loads(out.strip().splitlines()[-1])
        print(f'| {v} | {mem["peak"]:.0f} | {mem["peak"] - mem["base"]:.0f} |')


if __name__ == '__main__':
    main()
