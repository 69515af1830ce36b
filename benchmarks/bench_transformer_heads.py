"""Benchmark: training and evaluation throughput of the transformer heads
(AVTHead, AFFTHead) against the RU-LSTM fusion head, at EK100 size.

EK100 size: rgb 1024, flow 1024, obj 352 features; 3,806 actions; the
official head sizes (AVT-h and AFFT: GPT-2 of 2048 channels, 6 layers,
4 heads; AFFT's SA-Fuser: 1024, depth 6, 4 heads; RU-LSTM: hidden 1024,
one branch per modality with MATT); the official batch sizes (RU-LSTM 128;
AVT-h on TSN features 64 per GPU on 2 GPUs = 128; AFFT 16 per GPU on 2
GPUs = 32, the TSN evaluation config 32). Each head runs the grid of the
project (14 steps, 8 anticipated) and the transformers also their own
protocols (AVT-h 10 observed steps, AFFT 18, one output). The training
step is the head's own ``loss`` (the transformers with their official
auxiliary losses on: next-feature regression and past-action
classification, random past labels with some -1) + backward + SGD
(momentum 0.9) step; the evaluation is a forward without gradients.
Reports the median over ``--repeats`` runs after one warm-up each (models
are built and measured one at a time, so only one is in memory), in fp32
and, with ``--bf16``, under bf16 autocast as ``--amp`` runs; on CUDA also
the peak memory of the training step.

Usage::

    python benchmarks/bench_transformer_heads.py [--device cpu]
        [--threads 2] [--repeats 3] [--bf16] [--tiny] [--out FILE]
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

EK100 = dict(dims=dict(rgb=1024, flow=1024, obj=352), classes=3806,
             channels=2048, layers=6, heads=4, fusion=1024, fuser_depth=6,
             fuser_heads=4, hidden=1024, batches=dict(rulstm=128, avt=128,
                                                      afft=32))
TINY = dict(dims=dict(rgb=8, flow=8, obj=4), classes=10, channels=16,
            layers=2, heads=2, fusion=8, fuser_depth=2, fuser_heads=2,
            hidden=8, batches=dict(rulstm=4, avt=4, afft=4))
#: (name, kind, observed steps, outputs)
VARIANTS = (
    ('RU-LSTM fusion (MATT, 3 branches)', 'rulstm', 14, 8),
    ('AVTHead (rgb+flow+obj concatenated)', 'avt', 14, 8),
    ('AVTHead, AVT protocol', 'avt', 10, 1),
    ('AFFTHead (SA-Fuser)', 'afft', 14, 8),
    ('AFFTHead, AFFT protocol', 'afft', 18, 1),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=2,
                        help='CPU threads. Defaults to 2')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--bf16', action='store_true',
                        help='also measure under bf16 autocast')
    parser.add_argument('--tiny', action='store_true',
                        help='tiny sizes (the smoke test)')
    parser.add_argument('--out', default=None, help='also write the table')
    return parser.parse_args(argv)


def build_head(kind, size, outputs):
    import lsant_mmaction  # noqa: F401
    from mmaction.registry import MODELS
    dims, classes = size['dims'], size['classes']
    transformer = dict(type='CausalTransformer', channels=size['channels'],
                       num_layers=size['layers'], num_heads=size['heads'])
    if kind == 'rulstm':
        cfg = dict(type='MATTFusionHead', num_classes=classes,
                   modalities=tuple(dims),
                   branches={m: dict(type='RollingUnrollingLSTM',
                                     in_channels=d,
                                     hidden_channels=size['hidden'])
                             for m, d in dims.items()})
    elif kind == 'avt':
        cfg = dict(type='AVTHead', num_classes=classes,
                   in_channels=sum(dims.values()), modalities=tuple(dims),
                   transformer=transformer, feat_loss_weight=1.0,
                   past_loss_weight=1.0)
    else:
        cfg = dict(type='AFFTHead', num_classes=classes,
                   modalities=tuple(dims), modality_channels=dims,
                   fusion_channels=size['fusion'],
                   fuser=dict(type='ModalityTokenFuser',
                              depth=size['fuser_depth'],
                              num_heads=size['fuser_heads']),
                   transformer=transformer, feat_loss_weight=1.0,
                   past_loss_weight=1.0)
    torch.manual_seed(0)
    return MODELS.build(dict(cfg, num_anticipation_steps=outputs))


def batch_inputs(size, batch, steps, device):
    """Random features ``{m: (B, T, D_m)}`` and data samples with an
    action label and past labels ``(T,)`` (about a third -1)."""
    from mmaction.structures import ActionDataSample
    gen = torch.Generator().manual_seed(0)
    feats = {m: torch.randn(batch, steps, d, generator=gen).to(device)
             for m, d in size['dims'].items()}
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(batch):
        sample = ActionDataSample().set_gt_label(
            int(rng.integers(size['classes'])))
        past = rng.integers(size['classes'], size=steps)
        past[rng.random(steps) < 0.3] = -1
        sample.set_metainfo(dict(past_label=past.astype(np.int64)))
        samples.append(sample)
    return feats, samples


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def median_seconds(fn, device, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(head, feats, samples, device, bf16, repeats):
    """(train step s, eval forward s, peak training memory GiB or None)."""
    opt = torch.optim.SGD(head.parameters(), lr=1e-3, momentum=0.9)
    amp = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    def train_step():
        head.train()
        opt.zero_grad(set_to_none=True)
        with amp:
            losses = head.loss(feats, samples)
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        opt.step()

    @torch.no_grad()
    def eval_forward():
        head.eval()
        with amp:
            head(feats)

    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    train = median_seconds(train_step, device, repeats)
    peak = (torch.cuda.max_memory_allocated(device) / 2**30
            if device.type == 'cuda' else None)
    return train, median_seconds(eval_forward, device, repeats), peak


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('bench_transformer_heads: no CUDA device is '
                         f'available (torch {torch.__version__})')
    size = TINY if args.tiny else EK100
    lines = []

    def out(text=''):
        print(text, flush=True)
        lines.append(text)

    where = (torch.cuda.get_device_name(device) if device.type == 'cuda'
             else f'CPU, {torch.get_num_threads()} threads')
    out(f'# transformer heads vs RU-LSTM: {where}, torch {torch.__version__}'
        f'; features {size["dims"]}, {size["classes"]} classes; median of '
        f'{args.repeats}')
    out('\n| head | steps observed / output | batch | parameters (M) | '
        'precision | train samples/s | eval samples/s | train step s | '
        'peak train memory (GiB) |')
    out('|---|---|---|---|---|---|---|---|---|')
    for name, kind, steps, outputs in VARIANTS:
        head = build_head(kind, size, outputs).to(device)
        batch = size['batches'][kind]
        feats, samples = batch_inputs(size, batch, steps, device)
        params = sum(p.numel() for p in head.parameters()) / 1e6
        for bf16 in (False, True) if args.bf16 else (False, ):
            train, evaluate, peak = measure(head, feats, samples, device,
                                            bf16, args.repeats)
            out(f'| {name} | {steps} / {outputs} | {batch} | {params:,.2f} | '
                f'{"bf16 autocast" if bf16 else "fp32"} | '
                f'{batch / train:,.1f} | {batch / evaluate:,.1f} | '
                f'{train:.3f} | {"-" if peak is None else f"{peak:.2f}"} |')
        del head, feats, samples
        if device.type == 'cuda':
            torch.cuda.empty_cache()
    if args.out:
        with open(args.out, 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
