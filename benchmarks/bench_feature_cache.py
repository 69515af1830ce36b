"""Benchmark: samples/s of the LMDB path vs the memory-mapped feature cache.

Writes rgb (1024), flow (1024) and obj (352) LMDBs of random float32
features for every grid frame of the first ``--segments`` segments of the
real EK55 validation split (RU-LSTM layout), then reads every sample of
the dataset in a shuffled order, through ``LoadLMDBFeatures`` without and
with ``cache=True``, in this process: warm (the page cache holds the files:
the same machine just wrote them) and cold (before each run the process
closes its LMDBs and maps, and asks the kernel to drop these files' pages,
``posix_fadvise(DONTNEED)``: only the benchmark's own files). Prints the
cache's build time, its size on disk, and samples/s side by side.

Usage::

    python benchmarks/bench_feature_cache.py --data ../shared/data \\
        --segments 4979 --work /tmp/bench_feature_cache
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import time

import lmdb
import numpy as np

import lsant_mmaction  # noqa: F401
from lsant_mmaction.layout import TimeGrid

DIMS = dict(rgb=1024, flow=1024, obj=352)
KEY = '{video}_frame_{frame:010d}.jpg'


def write_data(root: str, csv: str, segments: int) -> int:
    """The split's first segments and LMDBs of all their grid frames."""
    os.makedirs(root, exist_ok=True)
    data = osp.dirname(csv)
    shutil.copy(osp.join(data, 'actions.csv'), root)
    with open(csv) as f:
        rows = [line for line in f if line.strip()][:segments]
    with open(osp.join(root, 'split.csv'), 'w') as f:
        f.writelines(rows)
    keys = set()
    for row in rows:
        _, video, start = (v.strip() for v in row.split(',')[:3])
        frames = TimeGrid().frame_indices(int(start))
        if frames is not None:
            keys.update(KEY.format(video=video, frame=int(i)).encode()
                        for i in frames)
    rng = np.random.default_rng(0)
    for modality, dim in DIMS.items():
        env = lmdb.open(osp.join(root, modality), map_size=1 << 34)
        with env.begin(write=True) as txn:
            for key in sorted(keys):
                txn.put(key, rng.standard_normal(dim, np.float32).tobytes())
        env.close()
    return len(keys)


def build(root: str, cache_dir: str = None):
    from mmaction.registry import DATASETS
    load = dict(type='LoadLMDBFeatures', modalities=tuple(DIMS),
                feature_dims=DIMS)
    if cache_dir:
        load.update(cache=True, cache_dir=cache_dir)
    return DATASETS.build(dict(
        type='EpicKitchens55FeatureDataset', data_root=root,
        ann_file='split.csv', pipeline=[load], test_mode=True))


def drop_pages(folders) -> None:
    """Close this process's LMDBs and cache maps, and evict their files."""
    import gc

    from lsant_mmaction.datasets import feature_cache
    from lsant_mmaction.datasets.transforms import load_lmdb_features
    for env in load_lmdb_features._ENVS.values():
        env.close()
    load_lmdb_features._ENVS.clear()
    feature_cache._OPEN.clear()
    gc.collect()
    for folder in folders:
        for dirpath, _, names in os.walk(folder):
            for name in names:
                fd = os.open(osp.join(dirpath, name), os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)


def samples_per_s(dataset, order) -> float:
    t0 = time.perf_counter()
    for i in order:
        dataset[i]
    return len(order) / (time.perf_counter() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', default='../shared/data')
    parser.add_argument('--segments', type=int, default=2000)
    parser.add_argument('--work', default='/tmp/bench_feature_cache')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--keep', action='store_true',
                        help='keep the LMDBs and the cache in --work')
    args = parser.parse_args()
    from mmengine.registry import init_default_scope
    init_default_scope('mmaction')
    shutil.rmtree(args.work, ignore_errors=True)
    root, cache = osp.join(args.work, 'ek55'), osp.join(args.work, 'cache')
    t0 = time.perf_counter()
    frames = write_data(root, f'{args.data}/rulstm/ek55/validation.csv',
                        args.segments)
    print(f'{args.segments} segments, {frames} frames: LMDBs written in '
          f'{time.perf_counter() - t0:.1f} s')
    drop_pages([root])  # the build reads the LMDBs from disk
    t0 = time.perf_counter()
    cached = build(root, cache)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    build(root, cache)
    reopened = time.perf_counter() - t0
    du = subprocess.run(['du', '-sm', cache, osp.join(root, 'rgb'),
                         osp.join(root, 'flow'), osp.join(root, 'obj')],
                        capture_output=True, text=True).stdout.split()
    print(f'cache built from cold LMDBs in {built:.1f} s (dataset '
          f'included); a second '
          f'dataset checks it in {reopened:.2f} s; cache {du[0]} MiB, '
          f'LMDBs {sum(map(int, du[2::2]))} MiB')
    plain = build(root)
    order = np.random.default_rng(1).permutation(len(plain)).tolist()
    for a, b in zip((plain[i] for i in order[:50]),
                    (cached[i] for i in order[:50])):
        for m in DIMS:
            assert a[m].tobytes() == b[m].tobytes()
    samples_per_s(plain, order[:200])  # open the LMDBs, warm up
    samples_per_s(cached, order[:200])
    for r in range(args.repeats):
        for state in ('warm', 'cold'):
            if state == 'cold':
                drop_pages([root])
            lm = samples_per_s(plain, order)
            if state == 'cold':
                drop_pages([cache])
            ca = samples_per_s(cached, order)
            print(f'run {r} {state}: LMDB {lm:8.0f} samples/s   cache '
                  f'{ca:8.0f} samples/s   x{ca / lm:.2f}  ({len(order)} '
                  'samples, rgb+flow+obj, one process)')
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == '__main__':
    main()
