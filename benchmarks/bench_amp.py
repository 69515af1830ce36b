"""Benchmark: fp32 against bf16 autocast on the CPU, side by side.

For each config (default: the LSTM baseline, an RU-LSTM branch and the
MATT fusion at EK55 and EK100 sizes), builds the model from the real
config and times, interleaved (fp32, bf16, fp32, bf16, ...), a training
step (forward, loss, backward, SGD step) on a batch of the config's
training size and an evaluation forward on a batch of its validation
size, on random inputs of the config's feature sizes. bf16 runs the model
under ``torch.autocast('cpu', dtype=torch.bfloat16)``, as ``--amp`` does on
the CPU (the loss itself in fp32). Also reports how far the bf16 eval
logits are from the fp32 ones (max abs difference relative to the largest
fp32 logit) and whether the bf16 gradients are finite.

Usage::

    python benchmarks/bench_amp.py [--threads 2] [--repeats 3]
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))

from bench_run_cost import batch_inputs  # noqa: E402

CONFIGS = (
    'configs/lstm_epic_onehot.py',
    'configs/rulstm_epic_onehot_rgb.py',
    'configs/rulstm_epic_onehot.py',
    'configs/lstm_ek100_onehot.py',
    'configs/rulstm_ek100_onehot_rgb.py',
    'configs/rulstm_ek100_onehot.py',
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS))
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=3)
    return parser.parse_args()


def interleaved_medians(fns: dict, repeats: int) -> dict:
    """Median seconds of each function, run in turn ``repeats`` times after
    one warm-up call each."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    import lsant_mmaction  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    print(f'{args.threads} threads; interleaved, median of {args.repeats}')
    print('| config | batch | train step fp32 | train step bf16 | speed-up '
          '| eval fwd fp32 | eval fwd bf16 | speed-up | bf16 logits: max '
          'abs diff / max abs fp32 logit | bf16 grads finite |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for name in args.configs:
        cfg = Config.fromfile(osp.join(ROOT, name))
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        optim = torch.optim.SGD(
            model.parameters(), **{k: v for k, v in
                                   cfg.optim_wrapper.optimizer.items()
                                   if k != 'type'})
        batch = cfg.train_dataloader.batch_size
        train_in, train_samples = batch_inputs(cfg, batch)
        val_in, _ = batch_inputs(cfg, cfg.val_dataloader.batch_size)
        finite = []

        def train_step(bf16: bool):
            model.train()
            optim.zero_grad()
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                losses = model(train_in, train_samples, mode='loss')
            sum(v for k, v in losses.items() if 'loss' in k).backward()
            if bf16:
                finite.append(all(torch.isfinite(p.grad).all()
                                  for p in model.parameters()
                                  if p.grad is not None))
            optim.step()

        def val_forward(bf16: bool):
            model.eval()
            with torch.no_grad(), torch.autocast(
                    'cpu', dtype=torch.bfloat16, enabled=bf16):
                return model(val_in, mode='tensor')

        times = interleaved_medians(dict(
            train_fp32=lambda: train_step(False),
            train_bf16=lambda: train_step(True),
            val_fp32=lambda: val_forward(False),
            val_bf16=lambda: val_forward(True)), args.repeats)
        ref, low = val_forward(False), val_forward(True).float()
        rel = ((low - ref).abs().max() / ref.abs().max()).item()
        print(f'| `{name}` | {batch} | {times["train_fp32"]:.3f} s | '
              f'{times["train_bf16"]:.3f} s | '
              f'{times["train_fp32"] / times["train_bf16"]:.2f}x | '
              f'{times["val_fp32"]:.3f} s | {times["val_bf16"]:.3f} s | '
              f'{times["val_fp32"] / times["val_bf16"]:.2f}x | {rel:.4f} | '
              f'{"yes" if all(finite) else "NO"} |')


if __name__ == '__main__':
    main()
