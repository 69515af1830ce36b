"""Benchmark: the full anticipation metric at EK55 validation size.

4,979 segments x 8 steps x 2,513 actions of random softmax scores, in
batches of 128 as the test loop feeds them, with verb/noun marginalisation,
many-shot recall and time to action (real EK55 actions.csv and many-shot
lists).

Usage::

    python benchmarks/bench_metric.py --data ../shared/data
"""
import argparse
import time

import torch

import lsant_mmaction  # noqa: F401
from lsant_mmaction.evaluation import AnticipationMetric


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='../shared/data')
    parser.add_argument('--segments', type=int, default=4979)
    args = parser.parse_args()
    torch.set_num_threads(2)
    ek = f'{args.data}/rulstm/ek55'
    metric = AnticipationMetric(
        verb_noun=True, many_shot='rulstm', time_to_action=True)
    from mmengine.registry import init_default_scope

    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    dataset = DATASETS.build(dict(  # what the runner gives the metric
        type='EpicKitchens55FeatureDataset', data_root=ek,
        ann_file='validation.csv', pipeline=[], test_mode=True))
    metric.dataset_meta = dataset.metainfo
    torch.manual_seed(0)
    process = 0.0
    for start in range(0, args.segments, 128):
        n = min(128, args.segments - start)
        scores = torch.softmax(torch.randn(n, 8, 2513) * 3, -1)
        labels = torch.randint(0, 2513, (n, ))
        samples = [dict(pred_score=s, gt_label=l.view(1), segment_id=start + i)
                   for i, (s, l) in enumerate(zip(scores, labels))]
        t0 = time.perf_counter()
        metric.process(None, samples)
        process += time.perf_counter() - t0
    t0 = time.perf_counter()
    metrics = metric.compute_metrics(metric.results)
    compute = time.perf_counter() - t0
    print(f'{args.segments} segments x 8 x 2513: process {process:.2f} s, '
          f'compute_metrics {compute:.2f} s, {len(metrics)} metrics')


if __name__ == '__main__':
    main()
