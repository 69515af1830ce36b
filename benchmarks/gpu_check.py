"""GPU check of the anticipation heads: correctness and training speed.

Part of ``benchmarks/gpu_check.sh``. On one device, in one run:

- correctness of ``RULSTMHead`` and ``MATTFusionHead`` against the
  sequential oracle of ``tests/test_models/rulstm_oracle.py`` (same
  weights): eval logits in fp32 (max abs difference <= ``FP32_ATOL``), the
  gradients of a training step without dropout in fp32 (relative
  difference <= ``FP32_GRAD_RTOL``), and eval logits of the head under
  bf16 autocast against the fp32 oracle (max abs difference relative to
  the largest oracle logit <= ``BF16_RTOL``);
- training throughput (forward + backward + SGD step, samples/s) of the
  LSTM baseline head, ``RULSTMHead`` and ``MATTFusionHead`` at EK55 size
  (batch 128; rgb 1024, flow 1024, obj 352; hidden 1024; 2513 classes), in
  fp32 and under bf16 autocast, against the oracles on the same device.

Writes a markdown table to stdout and to ``--out``; exits 1 when a check
fails, 2 when the device is not there. ``--device cpu --tiny`` is the smoke
mode the test suite runs.

Usage::

    python benchmarks/gpu_check.py [--device cuda] [--out FILE]
        [--repeats 10] [--tiny]
"""
import argparse
import os.path as osp
import statistics
import sys
import time

import torch
import torch.nn.functional as F

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

FP32_ATOL = 1e-4  # eval logits, head vs oracle, fp32
FP32_GRAD_RTOL = 1e-3  # max |grad diff| / max |oracle grad|, per parameter
BF16_RTOL = 3e-2  # max |logit diff| / max |oracle logit|, bf16 autocast
EK55 = dict(batch=128, dims=dict(rgb=1024, flow=1024, obj=352), hidden=1024,
            classes=2513)
TINY = dict(batch=4, dims=dict(rgb=12, flow=10, obj=6), hidden=16,
            classes=11)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--out', default=None, help='also write the table')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--tiny', action='store_true',
                        help='tiny sizes (the CPU smoke test)')
    return parser.parse_args(argv)


def require_device(device: str) -> torch.device:
    device = torch.device(device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit(
            'gpu_check: no CUDA device is available (torch '
            f'{torch.__version__}, CUDA build: {torch.version.cuda}); run it '
            'on a GPU machine with a CUDA build of torch, or pass '
            '--device cpu --tiny for the smoke mode')
    return device


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def autocast(device, bf16):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


def build_pairs(size, device):
    """(name, head, oracle, run_head, run_oracle, inputs) per head; the
    oracle holds the head's weights (None for the LSTM baseline)."""
    import lsant_mmaction  # noqa: F401
    from mmaction.registry import MODELS
    from tests.test_models.rulstm_oracle import OracleFusion, OracleRULSTM
    dims, hidden, classes = size['dims'], size['hidden'], size['classes']
    gen = torch.Generator().manual_seed(0)
    feats = {m: torch.randn(size['batch'], 14, d, generator=gen).to(device)
             for m, d in dims.items()}
    torch.manual_seed(0)
    pairs = []
    lstm = MODELS.build(dict(
        type='LSTMAnticipationHead', num_classes=classes,
        in_channels=sum(dims.values()), modalities=tuple(dims),
        hidden_channels=hidden)).to(device)
    pairs.append(('LSTM baseline (rgb+flow+obj)', lstm, None,
                  lambda x: lstm(x), None, feats))
    rulstm = MODELS.build(dict(
        type='RULSTMHead', num_classes=classes, in_channels=dims['rgb'],
        modalities=('rgb', ), hidden_channels=hidden)).to(device)
    oracle = OracleRULSTM(classes, dims['rgb'], hidden).to(device)
    oracle.load_state_dict(rulstm.branch.state_dict())
    rgb = dict(rgb=feats['rgb'])
    pairs.append(('RU-LSTM (rgb)', rulstm, oracle, lambda x: rulstm(x),
                  lambda x: oracle(x['rgb'])[0][:, -8:], rgb))
    fusion = MODELS.build(dict(
        type='MATTFusionHead', num_classes=classes, modalities=tuple(dims),
        branches={m: dict(type='RollingUnrollingLSTM', in_channels=d,
                          hidden_channels=hidden)
                  for m, d in dims.items()})).to(device)
    fused_oracle = OracleFusion(
        [OracleRULSTM(classes, d, hidden) for d in dims.values()],
        hidden).to(device)
    fused_oracle.load_state_dict({
        k.replace('matt.', 'MATT.'): v
        for k, v in fusion.state_dict().items()
    })
    pairs.append(('RU-LSTM fusion (MATT)', fusion, fused_oracle,
                  lambda x: fusion(x),
                  lambda x: fused_oracle([x[m] for m in dims])[0][:, -8:],
                  feats))
    return pairs


def correctness(pairs, device):
    """Rows (check, measured, tolerance, ok)."""
    rows = []
    for name, head, oracle, run, run_oracle, x in pairs:
        if oracle is None:
            continue
        head.eval()
        oracle.eval()
        with torch.no_grad():
            ref = run_oracle(x).float()
            out = run(x).float()
            with autocast(device, True):
                low = run(x).float()
        diff = (out - ref).abs().max().item()
        rows.append((f'{name}: eval logits fp32, max abs diff', diff,
                     FP32_ATOL, diff <= FP32_ATOL))
        rel = ((low - ref).abs().max() / ref.abs().max()).item()
        rows.append((f'{name}: eval logits bf16 autocast vs fp32 oracle, '
                     'max abs diff / max abs logit', rel, BF16_RTOL,
                     rel <= BF16_RTOL))
        # gradients of a training step without dropout (masks differ)
        saved = {m: m.p for m in list(head.modules()) + list(
            oracle.modules()) if isinstance(m, torch.nn.Dropout)}
        for m in saved:
            m.p = 0.0
        head.train()
        oracle.train()
        grads = []
        for model, fn in ((head, run), (oracle, run_oracle)):
            model.zero_grad(set_to_none=True)
            fn(x).logsumexp(-1).mean().backward()
            grads.append({
                n.replace('matt.', 'MATT.').replace('branch.', ''): p.grad
                for n, p in model.named_parameters() if p.grad is not None
            })
        for m, p in saved.items():
            m.p = p
        worst = 0.0
        for n, g in grads[1].items():
            mine = grads[0].get(n)
            if mine is None:
                worst = float('inf')
                continue
            scale = g.abs().max().clamp_min(1e-12)
            worst = max(worst, ((mine - g).abs().max() / scale).item())
        rows.append((f'{name}: training gradients fp32 (no dropout), max '
                     'rel diff over parameters', worst, FP32_GRAD_RTOL,
                     worst <= FP32_GRAD_RTOL))
    return rows


def train_rate(model, fn, x, device, bf16, repeats, classes):
    """Median samples/s of forward + backward + SGD step."""
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batch = next(iter(x.values())).shape[0]
    label = torch.randint(0, classes, (batch * 8, ), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast(device, bf16):
            logits = fn(x)  # (B, 8, C)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), label)
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up (cuDNN plans, allocator)
        step()
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def throughput(pairs, device, repeats, classes):
    """Rows (head, precision, variant, samples/s, vs oracle)."""
    rows = []
    for bf16 in (False, True):
        for name, head, oracle, run, run_oracle, x in pairs:
            rate = train_rate(head, run, x, device, bf16, repeats, classes)
            base = None
            if oracle is not None:
                base = train_rate(oracle, run_oracle, x, device, bf16,
                                  repeats, classes)
                rows.append((name, bf16, 'oracle', base, 1.0))
            rows.append((name, bf16, 'head', rate,
                         None if base is None else rate / base))
    return rows


def main(argv=None):
    args = parse_args(argv)
    device = require_device(args.device)
    size = TINY if args.tiny else EK55
    lines = []

    def out(text=''):
        print(text, flush=True)
        lines.append(text)

    name = (torch.cuda.get_device_name(device) if device.type == 'cuda' else
            'CPU')
    out(f'# gpu_check: {name}, torch {torch.__version__}, CUDA '
        f'{torch.version.cuda}, cuDNN '
        f'{torch.backends.cudnn.version() if device.type == "cuda" else "-"}')
    out(f'sizes: batch {size["batch"]}, features {size["dims"]}, hidden '
        f'{size["hidden"]}, {size["classes"]} classes, 14 steps '
        f'(8 anticipated)\n')
    pairs = build_pairs(size, device)
    checks = correctness(pairs, device)
    out('| check | measured | tolerance | result |')
    out('|---|---|---|---|')
    for what, value, tol, ok in checks:
        out(f'| {what} | {value:.2e} | {tol:.0e} | '
            f'{"PASS" if ok else "FAIL"} |')
    out('\n| head | precision | variant | train samples/s | vs oracle |')
    out('|---|---|---|---|---|')
    for head, bf16, variant, rate, ratio in throughput(
            pairs, device, args.repeats, size['classes']):
        out(f'| {head} | {"bf16 autocast" if bf16 else "fp32"} | {variant} '
            f'| {rate:,.0f} | {"-" if ratio is None else f"{ratio:.2f}x"} |')
    failed = [c for c in checks if not c[3]]
    out(f'\ncorrectness: {len(checks) - len(failed)} of {len(checks)} '
        'checks pass')
    if args.out:
        with open(args.out, 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
