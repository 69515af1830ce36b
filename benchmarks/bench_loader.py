"""Benchmark: the feature dataloader against what the RU-LSTM head consumes.

Writes an EK55-sized dataset into a temporary folder (``--segments``
segments over 240 actions; rgb 1024, flow 1024, obj 352 float32 per
frame, 14 frames per segment, one LMDB per modality) and measures, side by
side in one run (variants interleaved), samples per second of:

- the project's loader (``EpicKitchens55FeatureDataset`` with
  ``LoadLMDBFeatures`` + ``PackActionInputs``) with mmengine's
  ``pseudo_collate`` and with :func:`stack_collate`, at 0 and 2 workers:
  the dataloader alone, and through a data preprocessor to the
  ``(B, 14, D)`` model inputs, each collate with two preprocessors: the
  Anticipator's default (``FeatureDataPreprocessor``, which takes the
  stacked batch as it is) and mmaction's stock
  ``MultiModalDataPreprocessor`` with one ``ActionDataPreprocessor`` per
  modality (the default before it, which moves and stacks the rows one by
  one);
- a plain PyTorch LMDB reader in the style of the official RU-LSTM one
  (a ``Dataset`` returning numpy arrays, ``default_collate``);
- one training step of ``RULSTMHead`` at EK55 size (one rgb branch: input
  1024, hidden 1024, 2513 classes, forward + backward + SGD), as samples
  per second consumed.

Usage::

    python benchmarks/bench_loader.py [--segments 3000] [--batches 12]
        [--repeats 3] [--threads 2]
"""
import argparse
import os
import os.path as osp
import shutil
import statistics
import sys
import tempfile
import time

import lmdb
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

DIMS = dict(rgb=1024, flow=1024, obj=352)
KEY = '{video}_frame_{frame:010d}.jpg'
NUM_VERBS, NUM_NOUNS = 12, 20


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--segments', type=int, default=3000)
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--batches', type=int, default=12,
                        help='batches timed per repeat and variant')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 2])
    parser.add_argument('--classes', type=int, default=2513,
                        help='classes of the timed RU-LSTM head')
    parser.add_argument('--hidden', type=int, default=1024,
                        help='hidden size of the timed RU-LSTM head')
    parser.add_argument('--dims', type=int, nargs=3, default=None,
                        metavar=('RGB', 'FLOW', 'OBJ'),
                        help='feature sizes (default EK55: 1024 1024 352)')
    parser.add_argument('--keep', default=None,
                        help='write the dataset here and keep it')
    return parser.parse_args(argv)


def write_dataset(root, segments, dims, seed=0):
    """EK55-layout files: ``actions.csv``, ``training.csv`` with
    ``segments`` rows (40 per video, 2 s apart) and one LMDB per
    modality with random features for every frame the grid reads."""
    from lsant_mmaction.layout import TimeGrid
    os.makedirs(root, exist_ok=True)
    # EK55's actions.csv format over NUM_VERBS x NUM_NOUNS actions
    actions = np.array([(a, v, n) for a, (v, n) in enumerate(
        (v, n) for v in range(NUM_VERBS) for n in range(NUM_NOUNS))])
    with open(osp.join(root, 'actions.csv'), 'w') as f:
        f.write('id,action,verb,noun\n' + ''.join(
            f'{a},v{v}_n{n},{v},{n}\n' for a, v, n in actions))
    rng = np.random.default_rng(seed)
    grid = TimeGrid()
    rows, keys = [], {}
    for i in range(segments):
        video = f'P{i // 40 // 10 + 1:02d}_{i // 40 % 10 + 1:02d}'
        start = 150 + 60 * (i % 40)
        action, verb, noun = actions[rng.integers(len(actions))]
        rows.append(f'{i}, {video}, {start}, {start + 30}, {verb}, {noun}, '
                    f'{action}\n')
        for frame in grid.frame_indices(start).tolist():
            keys[KEY.format(video=video, frame=frame)] = None
    with open(osp.join(root, 'training.csv'), 'w') as f:
        f.writelines(rows)
    for modality, dim in dims.items():
        size = len(keys) * (dim * 4 + 4096) * 2 + (1 << 26)  # overflow pages
        env = lmdb.open(osp.join(root, modality), map_size=size)
        with env.begin(write=True) as txn:
            for key in keys:
                txn.put(key.encode(),
                        rng.standard_normal(dim, np.float32).tobytes())
        env.close()
        # the plain reader's own copy: lmdb opens a database once per
        # process, and the project's reader keeps its environments open
        shutil.copytree(osp.join(root, modality),
                        osp.join(root, 'plain', modality))
    return len(keys)


class PlainLMDBSegments(Dataset):
    """A plain PyTorch reader in the style of RU-LSTM's: one item is a dict
    of numpy arrays (``(14, D)`` per modality) and the action label; the
    default collate stacks them. LMDBs opened lazily in each process."""

    def __init__(self, root, dims):
        from lsant_mmaction.layout import TimeGrid
        self.root, self.dims = root, dims
        grid = TimeGrid()
        self.items = []
        with open(osp.join(root, 'training.csv')) as f:
            for line in f:
                _, video, start, _, _, _, action = (
                    v.strip() for v in line.split(','))
                frames = grid.frame_indices(int(start))
                self.items.append(([
                    KEY.format(video=video, frame=int(fr)).encode()
                    for fr in frames
                ], int(action)))
        self.envs, self.pid = None, None

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        if self.pid != os.getpid():
            self.envs = None  # a forked worker drops its parent's first
            self.envs = {
                m: lmdb.open(osp.join(self.root, 'plain', m), readonly=True,
                             lock=False, readahead=False, meminit=False)
                for m in self.dims
            }
            self.pid = os.getpid()
        keys, action = self.items[idx]
        out = {}
        for m, env in self.envs.items():
            with env.begin() as txn:
                out[m] = np.stack([
                    np.frombuffer(txn.get(k), dtype=np.float32) for k in keys
                ])
        out['label'] = action
        return out


def project_dataset(root, dims):
    from mmengine.registry import init_default_scope

    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    mods = tuple(dims)
    return DATASETS.build(dict(
        type='EpicKitchens55FeatureDataset', data_root=root,
        ann_file='training.csv', num_classes=NUM_VERBS * NUM_NOUNS,
        num_verbs=NUM_VERBS, num_nouns=NUM_NOUNS,
        pipeline=[
            dict(type='LoadLMDBFeatures', modalities=mods,
                 feature_dims=dims),
            dict(type='PackActionInputs', collect_keys=mods,
                 meta_keys=('segment_id', 'video_id', 'frame_inds',
                            'verb_label', 'noun_label'))
        ]))


def preprocessors(dims):
    """``{name: preprocessor}``: the Anticipator's default (taken from a
    model built with it) and mmaction's stock one."""
    from mmaction.registry import MODELS
    model = MODELS.build(dict(
        type='Anticipator', modalities=tuple(dims),
        cls_head=dict(type='LSTMAnticipationHead', num_classes=2,
                      in_channels=sum(dims.values()), hidden_channels=2)))
    default = model.data_preprocessor
    stock = MODELS.build(dict(
        type='MultiModalDataPreprocessor',
        preprocessors={m: dict(type='ActionDataPreprocessor')
                       for m in dims}))
    return {
        f'{type(default).__name__} (default)': default,
        'stock MultiModalDataPreprocessor': stock
    }


def time_loader(loader, batches, preprocess):
    """Seconds spent in the loader and in the preprocessor over
    ``batches`` batches, after one warm-up batch (worker start-up)."""
    it = iter(loader)
    next(it)
    load = prep = 0.0
    samples = 0
    for _ in range(batches):
        t0 = time.perf_counter()
        batch = next(it)
        t1 = time.perf_counter()
        if preprocess is not None:
            out = preprocess(batch, False)
            samples += len(out['data_samples'])
        else:
            samples += len(batch['label'])
        prep += time.perf_counter() - t1
        load += t1 - t0
    del it
    return samples, load, prep


def head_rate(args, batch, in_channels):
    """Samples per second of one RU-LSTM branch's training step."""
    from mmaction.registry import MODELS
    torch.manual_seed(0)
    head = MODELS.build(dict(
        type='RULSTMHead', num_classes=args.classes,
        in_channels=in_channels, modalities=('rgb', ),
        hidden_channels=args.hidden))
    head.train()
    opt = torch.optim.SGD(head.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 14, in_channels)
    label = torch.randint(0, args.classes, (batch, ))

    def step():
        opt.zero_grad(set_to_none=True)
        logits = head(dict(rgb=x))  # (B, 8, C)
        torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), label.repeat_interleave(8)).backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    step()
    return batch / (time.perf_counter() - t0)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import lsant_mmaction  # noqa: F401
    from mmengine.dataset import pseudo_collate

    from lsant_mmaction.datasets import stack_collate
    dims = dict(DIMS) if args.dims is None else dict(zip(DIMS, args.dims))
    tmp = args.keep or tempfile.mkdtemp(prefix='bench_loader_')
    try:
        t0 = time.perf_counter()
        n_keys = write_dataset(tmp, args.segments, dims)
        print(f'torch {torch.__version__}, {torch.get_num_threads()} threads,'
              f' {os.cpu_count()} CPUs; dataset: {args.segments} segments, '
              f'{n_keys} frames x {dims} float32 (written in '
              f'{time.perf_counter() - t0:.1f} s to {tmp}); batch '
              f'{args.batch}, {args.batches} batches x {args.repeats} '
              'repeats per variant, interleaved\n')
        ours, plain = project_dataset(tmp, dims), PlainLMDBSegments(tmp, dims)
        preps = preprocessors(dims)
        variants = {}
        for w in args.workers:
            for name, ds, collate in (
                    ('project, pseudo_collate', ours, pseudo_collate),
                    ('project, stack_collate', ours, stack_collate)):
                for pre_name, pre in preps.items():
                    variants[(name, w, pre_name)] = (ds, collate, pre)
            variants[('plain PyTorch reader (RU-LSTM style)', w,
                      'none (default_collate)')] = (plain, default_collate,
                                                    None)
        times = {v: [] for v in variants}
        heads = []
        for r in range(args.repeats):
            for variant, (ds, collate, pre) in variants.items():
                gen = torch.Generator().manual_seed(r)
                loader = DataLoader(
                    ds, batch_size=args.batch, shuffle=True,
                    generator=gen, num_workers=variant[1],
                    collate_fn=collate, drop_last=True)
                times[variant].append(time_loader(loader, args.batches, pre))
            heads.append(head_rate(args, args.batch, dims['rgb']))
        head = statistics.median(heads)
        print('| loader | workers | preprocessor | loader alone (samples/s) '
              '| to model inputs (samples/s) | to model inputs / head step '
              '|')
        print('|---|---|---|---|---|---|')
        for (name, w, pre_name), runs in times.items():
            alone = statistics.median(n / load for n, load, _ in runs)
            full = statistics.median(n / (load + p) for n, load, p in runs)
            print(f'| {name} | {w} | {pre_name} | {alone:,.0f} | '
                  f'{full:,.0f} | {full / head:.0f}x |')
        print(f'\nRU-LSTM head training step (one branch, input '
              f'{dims["rgb"]}, hidden {args.hidden}, {args.classes} classes, '
              f'batch {args.batch}, forward + backward + SGD): {head:,.0f} '
              f'samples/s (median of {len(heads)})')
        return times, head
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
