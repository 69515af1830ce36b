"""Benchmark: what a teacher adds to a training step, at EK55 size.

A training step of the LSTM baseline of ``configs/lstm_epic_onehot.py``
(inputs 2400, hidden 1024, 2513 actions, batch 128 x 14 steps, 8 outputs)
with the prior-smoothed loss (alpha 0.5, a random prior of the real size),
from the samples' pipeline to the SGD step:

    PackActionInputs per sample -> stack_collate -> the worker queue's
    pickling (torch's ForkingPickler, as a DataLoader worker sends a batch)
    -> FeatureDataPreprocessor -> forward, loss, backward, SGD step
    (``model.train_step``)

timed, interleaved (the order rotated every round), for four losses:

- ``prior``: the prior alone (beta 0), the reference;
- ``prior + teacher (dense)``: beta 0.5, T 2, each sample's row read by
  ``LoadTeacherScores`` from a dense teacher store of the EK55 training
  split's size (``--segments`` rows of 8 x 2513 float32: 1.9 GB for
  23,493; written first, so read from a warm page cache) and carried in
  the data samples;
- ``prior + teacher (top-k)``: the same from a ``--topk`` store;
- ``self-distillation``: ``teacher='self'``, no store.

The features come from a fixed in-memory pool (no LMDB read, the same for
every variant), so the ratios are an upper bound of the teacher's share.

A whole step is about a second and varies by a few percent between
repeats, so the difference of two such steps is noisy. The parts that
differ are therefore also timed on their own, interleaved: the data path
(pipeline, collate, pickling) of a batch, and the head's loss
(``loss_by_feat``: the teacher rows stacked, the loss, its backward) on
fixed logits; their sum over the prior-alone step is the teacher's cost.

Usage::

    python benchmarks/bench_distillation.py [--segments 23493] [--topk 100]
        [--repeats 5] [--threads 2]
"""
import argparse
import os.path as osp
import pickle
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
import torch.multiprocessing  # noqa: F401  (ForkingPickler's tensor reductions)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))

NUM_CLASSES, STEPS, BATCH, DIM = 2513, 8, 128, 2400


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--segments', type=int, default=23493,
                        help='rows of the teacher stores (default: the EK55 '
                        'training split)')
    parser.add_argument('--topk', type=int, default=100)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    return parser.parse_args()


def rotated_medians(fns: dict, repeats: int) -> dict:
    """Median seconds of each function, run in turn ``repeats`` times after
    one warm-up call each, the order rotated every round (no variant always
    runs first, right after another's memory traffic)."""
    for fn in fns.values():
        fn()
    names = list(fns)
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def teacher_rows(num, seed=0):
    """Softmax rows ``(8, 2513)`` of random logits, one per segment."""
    rng = np.random.default_rng(seed)
    for _ in range(num):
        logits = rng.standard_normal((STEPS, NUM_CLASSES), np.float32) * 3
        row = np.exp(logits - logits.max(1, keepdims=True))
        yield row / row.sum(1, keepdims=True)


def write_stores(folder, ids, topk):
    from mmengine.utils import ProgressBar

    from lsant_mmaction.datasets.teacher_store import write_store
    record = dict(split=dict(path='benchmark'), teachers=[],
                  anticipation_times=[2.0 - 0.25 * i for i in range(STEPS)])
    stores = {}
    for name, k in (('dense', None), ('topk', topk)):
        out = osp.join(folder, name)
        print(f'writing the {name} store ({len(ids)} segments)')
        write_store(out, ids, teacher_rows(len(ids)), STEPS, NUM_CLASSES,
                    record, topk=k, progress=ProgressBar(len(ids)))
        print()
        stores[name] = out
    return stores


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    import lsant_mmaction  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')

    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'lstm_epic_onehot.py'))
    with tempfile.TemporaryDirectory(prefix='bench_distillation_') as tmp:
        run(args, cfg, tmp)  # the stores (1.9 GB dense) go with the folder


def run(args, cfg, tmp):
    from multiprocessing.reduction import ForkingPickler

    from lsant_mmaction.datasets import stack_collate
    from mmaction.registry import MODELS, TRANSFORMS
    from mmengine.optim import OptimWrapper
    prior = osp.join(tmp, 'prior.npy')
    rows = np.random.default_rng(1).random((NUM_CLASSES, NUM_CLASSES))
    np.save(prior, (rows / rows.sum(1, keepdims=True)).astype(np.float32))
    ids = list(range(args.segments))
    stores = write_stores(tmp, ids, args.topk)

    meta = ('segment_id', 'teacher_score', 'has_teacher')
    pack_plain = TRANSFORMS.build(dict(
        type='PackActionInputs', collect_keys=cfg.model.modalities,
        meta_keys=('segment_id', )))
    pack_teacher = TRANSFORMS.build(dict(
        type='PackActionInputs', collect_keys=cfg.model.modalities,
        meta_keys=meta))
    rng = np.random.default_rng(2)
    pool = {m: rng.standard_normal((BATCH, 14, cfg.feature_dims[m]),
                                   np.float32)
            for m in cfg.model.modalities}
    labels = rng.integers(0, NUM_CLASSES, args.segments)

    def variant(loss, store=None):
        torch.manual_seed(0)
        model_cfg = cfg.model.copy()
        model_cfg.cls_head = dict(model_cfg.cls_head, loss_cls=dict(
            type='PriorSmoothedCrossEntropyLoss', alpha=0.5, prior=prior,
            num_classes=NUM_CLASSES, **loss))
        model = MODELS.build(model_cfg)
        model.train()
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01,
                                             momentum=0.9))
        load = store and TRANSFORMS.build(
            dict(type='LoadTeacherScores', store=store))
        pack = pack_teacher if load else pack_plain
        draw = np.random.default_rng(3)

        def data():
            packed = []
            for n, i in enumerate(draw.choice(args.segments, BATCH, False)):
                results = dict(segment_id=int(i), label=int(labels[i]),
                               **{m: f[n] for m, f in pool.items()})
                if load:
                    results = load(results)
                packed.append(pack(results))
            return pickle.loads(ForkingPickler.dumps(stack_collate(packed)))

        def step():
            model.train_step(data(), optim)

        samples = model.data_preprocessor(data(), True)['data_samples']
        logits = torch.randn(BATCH, STEPS, NUM_CLASSES, requires_grad=True)

        def loss():
            model.cls_head.loss_by_feat(logits, samples)['loss_cls'].backward()
        return dict(step=step, data=data, loss=loss)

    variants = {
        'prior': variant({}),
        'prior + teacher (dense)': variant(
            dict(beta=0.5, temperature=2.0), stores['dense']),
        f'prior + teacher (top-{args.topk})': variant(
            dict(beta=0.5, temperature=2.0), stores['topk']),
        'self-distillation': variant(
            dict(beta=0.5, temperature=2.0, teacher='self')),
    }
    times = {part: rotated_medians(
        {name: fns[part] for name, fns in variants.items()}, args.repeats)
        for part in ('step', 'data', 'loss')}
    print(f'\ntorch {torch.__version__}, {torch.get_num_threads()} threads; '
          f'interleaved (order rotated), median of {args.repeats}; stores of '
          f'{args.segments} segments')
    print('| loss | training step (s) | against the prior alone | data path '
          '(ms) | head loss + backward (ms) | their extra cost over the '
          'prior alone, share of its step |')
    print('|---|---|---|---|---|---|')
    step, data, loss = (times[p] for p in ('step', 'data', 'loss'))
    for name in variants:
        extra = (data[name] - data['prior'] + loss[name] - loss['prior'])
        print(f'| {name} | {step[name]:.3f} | {step[name] / step["prior"]:.3f}'
              f' | {1e3 * data[name]:.1f} | {1e3 * loss[name]:.1f} | '
              f'{100 * extra / step["prior"]:+.1f} % |')


if __name__ == '__main__':
    main()
