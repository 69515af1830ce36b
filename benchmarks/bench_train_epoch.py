"""Benchmark: a whole training epoch through the runner against the head's
own compute, at EK55 sizes (framework overhead measured, not assumed).

Writes an EK55-sized rgb dataset (``bench_loader.write_dataset``: rgb 1024
floats per frame, 14 frames per segment) into a temporary folder, then in
one process:

1. times ``runner.train()`` for one epoch of ``configs/
   rulstm_epic_onehot_rgb.py`` (RU-LSTM branch, hidden 1024, batch 128,
   SGD; no validation, no checkpoint) built as ``tools/train.py`` builds
   it, with the data on that folder;
2. times the same head's training step alone (forward, backward, SGD step
   on a fixed batch already in memory), ``--steps`` times;

and reports the epoch time against ``iterations x`` the median step time.

``--amp`` instead times the epoch in float32 and with ``tools/train.py
--amp`` (the device's mixed-precision wrapper, ``CPUAmpOptimWrapper`` on a
CPU), alternately ``--rounds`` times each in one process, and reports the
median epoch of each and their ratio.

Usage::

    python benchmarks/bench_train_epoch.py [--segments 2048] [--workers 2]
        [--threads 2] [--collate stack_collate] [--amp --rounds 2]
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--segments', type=int, default=2048)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--collate', default='stack_collate',
                        choices=['stack_collate', 'pseudo_collate'])
    parser.add_argument('--amp', action='store_true',
                        help='float32 against --amp epochs, alternately')
    parser.add_argument('--rounds', type=int, default=2,
                        help='epochs of each precision with --amp')
    return parser.parse_args()


def epoch_config(root: str, work_dir: str, args):
    from mmengine.config import Config

    from bench_loader import NUM_NOUNS, NUM_VERBS
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'rulstm_epic_onehot_rgb.py'))
    classes = NUM_VERBS * NUM_NOUNS
    loader = cfg.train_dataloader
    loader.num_workers = args.workers
    loader.persistent_workers = args.workers > 0
    loader.collate_fn = dict(type=args.collate)
    loader.dataset.update(data_root=root, num_classes=classes,
                          num_verbs=NUM_VERBS, num_nouns=NUM_NOUNS,
                          many_shot=None)
    cfg.model.cls_head.num_classes = classes
    cfg.load_from = None
    cfg.work_dir = work_dir
    cfg.train_cfg.max_epochs = 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)
    cfg.default_hooks.logger.interval = 1000
    cfg.randomness = dict(seed=0)
    return cfg, classes


def head_step_seconds(cfg, steps: int) -> float:
    """Median seconds of one training step of the config's head on a
    batch already in memory."""
    from mmaction.registry import MODELS
    head = MODELS.build(dict(cfg.model.cls_head, modalities=('rgb', )))
    head.train()
    opt = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9)
    batch = cfg.train_dataloader.batch_size
    x = torch.randn(batch, 14, cfg.model.cls_head.in_channels)
    labels = torch.randint(0, cfg.model.cls_head.num_classes, (batch, ))
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        head.loss_by_feat(head(dict(rgb=x)), [_Sample(l) for l in labels]
                          )['loss_cls'].backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])  # the first step warms up


class _Sample:
    """The one field ``loss_by_feat`` reads of a data sample."""

    def __init__(self, label):
        self.gt_label = label.view(1)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    import lsant_mmaction  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from bench_loader import write_dataset
    from lsant_mmaction.engine.cli import quiet_known_noise
    init_default_scope('mmaction')
    with tempfile.TemporaryDirectory() as tmp:
        root = osp.join(tmp, 'data')
        write_dataset(root, args.segments, dict(rgb=1024))
        if args.amp:
            return compare_amp(root, tmp, args)
        cfg, classes = epoch_config(root, osp.join(tmp, 'work'), args)
        runner = Runner.from_cfg(cfg)
        quiet_known_noise(runner.logger)
        iterations = len(runner.train_dataloader)
        t0 = time.perf_counter()
        runner.train()
        epoch = time.perf_counter() - t0
        step = head_step_seconds(cfg, args.steps)
    compute = iterations * step
    print(f'\n{args.segments} segments, batch '
          f'{cfg.train_dataloader.batch_size}, {iterations} iterations, '
          f'{classes} classes, {args.workers} workers, {args.collate}, '
          f'{args.threads} threads')
    print(f'epoch through the runner: {epoch:.2f} s')
    print(f'head alone: {step:.3f} s/step x {iterations} = {compute:.2f} s')
    print(f'framework overhead: {epoch / compute - 1:+.1%} of the head\'s '
          'compute')


def compare_amp(root: str, tmp: str, args) -> None:
    """Epochs through the runner in float32 and with ``--amp``, alternately;
    the median of each."""
    from mmengine.runner import Runner

    from lsant_mmaction.engine.amp import use_amp_for_training
    from lsant_mmaction.engine.cli import quiet_known_noise
    times = dict(fp32=[], amp=[])
    for r in range(args.rounds):
        for precision in times:
            cfg, classes = epoch_config(
                root, osp.join(tmp, f'work_{precision}_{r}'), args)
            if precision == 'amp':
                use_amp_for_training(cfg)  # what tools/train.py --amp does
            runner = Runner.from_cfg(cfg)
            quiet_known_noise(runner.logger)
            t0 = time.perf_counter()
            runner.train()
            times[precision].append(time.perf_counter() - t0)
    fp32, amp = (statistics.median(times[p]) for p in ('fp32', 'amp'))
    print(f'\n{args.segments} segments, batch '
          f'{cfg.train_dataloader.batch_size}, '
          f'{len(runner.train_dataloader)} iterations, {classes} classes, '
          f'{args.workers} workers, {args.threads} threads, '
          f'{args.rounds} epochs each, alternately')
    print(f'epoch, float32: {fp32:.2f} s (all: '
          f'{", ".join(f"{t:.2f}" for t in times["fp32"])})')
    print(f'epoch, --amp ({cfg.optim_wrapper.type}): {amp:.2f} s (all: '
          f'{", ".join(f"{t:.2f}" for t in times["amp"])})')
    print(f'speed-up: {fp32 / amp:.2f}x')


if __name__ == '__main__':
    main()
