"""The memory-mapped feature cache: same samples and errors as the LMDB."""
import errno
import glob
import json
import multiprocessing
import os
import os.path as osp
import warnings

import lmdb
import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

import lsant_mmaction  # noqa: F401
from lsant_mmaction.datasets import LoadLMDBFeatures
from lsant_mmaction.datasets import feature_cache
from lsant_mmaction.datasets.feature_cache import FeatureCacheWarning
from lsant_mmaction.datasets.transforms import load_lmdb_features
from mmaction.registry import DATASETS, TRANSFORMS

from .test_feature_dataset import DIMS, KEY, ROWS, write_tiny_dataset

# one more video and overlapping segments, so that frames are shared
CACHE_ROWS = ROWS + [(14, 'P01_03', 400, 450, 2, 0, 4),
                     (15, 'P01_01', 310, 330, 1, 2, 3)]


def build(root, cache_dir=None, feature_dims=DIMS, **kwargs):
    load = dict(type='LoadLMDBFeatures', modalities=tuple(DIMS),
                feature_dims=feature_dims)
    if cache_dir is not None:
        load.update(cache=True, cache_dir=str(cache_dir))
    cfg = dict(
        type='EpicKitchens55FeatureDataset',
        ann_file='training.csv',
        data_root=root,
        num_classes=5,
        num_verbs=3,
        num_nouns=3,
        pipeline=[
            load,
            dict(type='PackActionInputs', collect_keys=tuple(DIMS),
                 meta_keys=('segment_id', 'frame_inds'))
        ])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def assert_same_samples(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x['data_samples'].segment_id == y['data_samples'].segment_id
        for modality in DIMS:
            u, v = x['inputs'][modality].numpy(), y['inputs'][modality].numpy()
            assert u.dtype == v.dtype == np.float32 and u.shape == v.shape
            assert u.tobytes() == v.tobytes()  # bit for bit


def damage_bytes(path, damage):
    with open(path, 'r+b') as f:
        if damage == 'truncate':
            f.truncate(os.path.getsize(path) - 4)
        else:
            f.seek(-3, os.SEEK_END)
            f.write(b'\x01' if damage == 'flip' else b'}}}')


def entries(cache_dir, name='*'):
    return sorted(p for p in glob.glob(osp.join(str(cache_dir), f'{name}-*'))
                  if osp.isdir(p))


def stamp(folder):
    st = os.stat(osp.join(folder, 'features.npy'))
    return st.st_ino, st.st_mtime_ns


@pytest.fixture
def tiny(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, CACHE_ROWS)
    return root, tmp_path / 'cache'


def test_cached_samples_equal_uncached(tiny, monkeypatch):
    root, cache = tiny
    plain = build(root)
    cached = build(root, cache)
    assert [osp.basename(p).split('-')[0] for p in entries(cache)] == [
        'flow', 'obj', 'rgb']
    rgb = np.load(osp.join(entries(cache, 'rgb')[0], 'features.npy'),
                  mmap_mode='r')
    assert rgb.shape[1] == DIMS['rgb'] and rgb.shape[0] < 14 * len(cached)
    expected = [plain[i] for i in range(len(plain))]

    def no_lmdb(*args):
        raise AssertionError('read the LMDB although the cache has it')

    monkeypatch.setattr(LoadLMDBFeatures, '_read_lmdb', no_lmdb)
    assert_same_samples(expected, [cached[i] for i in range(len(cached))])


def test_cache_without_feature_dims(tiny):
    """The vector size is then that of the LMDB's values."""
    root, cache = tiny
    plain = build(root, feature_dims=None)
    cached = build(root, cache, feature_dims=None)
    assert_same_samples([plain[i] for i in range(len(plain))],
                        [cached[i] for i in range(len(cached))])


KEY_240 = KEY.format(video='P01_01', frame=240)


@pytest.mark.parametrize('feature_dims', [DIMS, None])
@pytest.mark.parametrize('fault,error', [
    (dict(skip_key=('obj', KEY_240)), KeyError),
    (dict(wrong_size=('rgb', KEY_240)), ValueError),
    (dict(nan=('rgb', KEY_240)), ValueError),
])
def test_same_errors_as_the_lmdb(tmp_path, fault, error, feature_dims):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, CACHE_ROWS, **fault)
    plain = build(root, feature_dims=feature_dims)
    cached = build(root, tmp_path / 'cache', feature_dims=feature_dims)
    with pytest.raises(error) as want:
        plain[0]
    with pytest.raises(error) as got:
        cached[0]
    assert str(got.value) == str(want.value)
    assert 'segment 10' in str(got.value)
    assert_same_samples([plain[1], plain[2]], [cached[1], cached[2]])


def test_second_dataset_reuses_the_cache(tiny):
    root, cache = tiny
    build(root, cache)
    before = [stamp(p) for p in entries(cache)]
    with warnings.catch_warnings():
        warnings.simplefilter('error', FeatureCacheWarning)
        again = build(root, cache)
    assert [stamp(p) for p in entries(cache)] == before
    again[0]
    # another split (other frames) gets its own entries
    with open(osp.join(root, 'validation.csv'), 'w') as f:
        f.write('20, P01_02, 900, 950, 1, 1, 2\n')
    build(root, cache, ann_file='validation.csv')[0]
    assert len(entries(cache)) == 6 and [
        stamp(p) for p in entries(cache) if stamp(p) in before] == before


def test_changed_lmdb_gets_a_new_cache(tiny):
    root, cache = tiny
    build(root, cache)[0]
    for env in load_lmdb_features._ENVS.values():  # lmdb: one per process
        env.close()
    load_lmdb_features._ENVS.clear()
    env = lmdb.open(osp.join(root, 'rgb'), map_size=1 << 22)
    with env.begin(write=True) as txn:
        txn.put(KEY_240.encode(), np.full(DIMS['rgb'], 7, np.float32))
    env.close()
    cached = build(root, cache)
    assert len(entries(cache, 'rgb')) == 2 and len(entries(cache)) == 4
    assert_same_samples([build(root)[0]], [cached[0]])
    assert (cached[0]['inputs']['rgb'][6].numpy() == 7).all()  # frame 240


def test_lmdb_rewritten_in_place_with_its_size_and_mtime_gets_a_new_cache(
        tiny, tmp_path, monkeypatch):
    """Another LMDB's bytes copied into ``data.mdb`` (same inode and size),
    then its times put back with ``os.utime`` (as ``touch -r``): the cache
    must not serve the old features."""
    root, cache = tiny
    old = build(root, cache)[0]['inputs']['rgb'].numpy()
    for env in load_lmdb_features._ENVS.values():
        env.close()
    load_lmdb_features._ENVS.clear()
    # the same layout with other values: an LMDB of the same size
    from . import test_feature_dataset
    monkeypatch.setattr(test_feature_dataset, 'feature_value',
                        lambda *a, f=test_feature_dataset.feature_value:
                        f(*a) + 0.5)
    other = str(tmp_path / 'other')
    write_tiny_dataset(other, CACHE_ROWS)
    data = osp.join(root, 'rgb', 'data.mdb')
    before = os.stat(data)
    with open(osp.join(other, 'rgb', 'data.mdb'), 'rb') as f:
        content = f.read()
    assert len(content) == before.st_size
    with open(data, 'r+b') as f:
        f.write(content)
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(data)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size, before.st_mtime_ns, before.st_ino)
    cached = build(root, cache)
    assert len(entries(cache, 'rgb')) == 2 and len(entries(cache)) == 4
    new = cached[0]['inputs']['rgb'].numpy()
    np.testing.assert_array_equal(new, old + 0.5)
    assert_same_samples([build(root)[0]], [cached[0]])


@pytest.mark.parametrize('damage', ['flip', 'truncate', 'header', 'field'])
def test_damaged_cache_is_rebuilt_with_a_warning(tiny, damage):
    root, cache = tiny
    build(root, cache)[0]  # mapped in this process before the damage
    folder = entries(cache, 'flow')[0]
    path = osp.join(folder, 'meta.json' if damage in ('header', 'field')
                    else 'features.npy')
    if damage == 'field':
        with open(path) as f:
            meta = json.load(f)
        del meta['sizes']
        with open(path, 'w') as f:
            json.dump(meta, f)
    else:
        damage_bytes(path, damage)
    untouched = stamp(entries(cache, 'rgb')[0])
    with pytest.warns(FeatureCacheWarning,
                      match=f'feature cache {folder} is damaged'):
        cached = build(root, cache)
    assert entries(cache, 'flow') == [folder]
    assert stamp(entries(cache, 'rgb')[0]) == untouched
    plain = build(root)
    assert_same_samples([plain[i] for i in range(len(plain))],
                        [cached[i] for i in range(len(cached))])
    with warnings.catch_warnings():
        warnings.simplefilter('error', FeatureCacheWarning)
        build(root, cache)  # repaired


def test_dataloader_workers_share_the_cache(tiny, monkeypatch):
    root, cache = tiny
    plain = build(root)
    expected = [plain[i] for i in range(len(plain))]
    cached = build(root, cache)

    def no_lmdb(*args):
        raise AssertionError('a worker read the LMDB')

    monkeypatch.setattr(LoadLMDBFeatures, '_read_lmdb', no_lmdb)
    loader = DataLoader(cached, batch_size=2, num_workers=2,
                        collate_fn=pseudo_collate)
    got = [dict(inputs={m: batch['inputs'][m][j] for m in DIMS},
                data_samples=batch['data_samples'][j])
           for batch in loader for j in range(len(batch['data_samples']))]
    assert_same_samples(expected, got)


def _build_and_stamp(root, cache, queue):
    build(root, cache)
    queue.put([stamp(p) for p in entries(cache)])


def test_concurrent_builders_build_once(tiny):
    """Two ranks starting together: one builds, the other waits for the
    lock and then uses the same files."""
    root, cache = tiny
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_build_and_stamp, args=(root, cache, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    stamps = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert stamps[0] == stamps[1] and len(stamps[0]) == 3
    assert not glob.glob(osp.join(str(cache), '.tmp-*'))


def test_default_cache_dir_and_cache_off_by_default(tiny, monkeypatch):
    root, _ = tiny
    monkeypatch.setenv('LSANT_MMACTION_CACHE', str(osp.dirname(root)))
    assert feature_cache.default_cache_dir() == osp.join(
        osp.dirname(root), 'features')
    build(root)[0]
    assert not osp.exists(feature_cache.default_cache_dir())
    load = dict(type='LoadLMDBFeatures', modalities=tuple(DIMS), cache=True)
    DATASETS.build(dict(
        type='EpicKitchens55FeatureDataset', ann_file='training.csv',
        data_root=root, num_classes=5, num_verbs=3, num_nouns=3,
        pipeline=[load]))
    assert len(entries(feature_cache.default_cache_dir())) == 3


def test_transform_without_the_dataset_s_frames_says_so(tiny):
    root, cache = tiny
    load = TRANSFORMS.build(dict(type='LoadLMDBFeatures', modalities=('rgb',),
                                 cache=True, cache_dir=str(cache)))
    with pytest.raises(RuntimeError, match='prepare_cache'):
        load(dict(feature_root=root, video_id='P01_01',
                  frame_inds=np.array([240]), segment_id=10))


def test_full_disk_names_the_entry(tiny, monkeypatch):
    root, cache = tiny

    def full(fd, offset, size):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, 'posix_fallocate', full)
    with pytest.raises(OSError, match=f'cannot write the feature cache '
                       f'{cache}/rgb-[0-9a-f]+ .*No space left') as e:
        build(root, cache)
    assert e.value.errno == errno.ENOSPC
    # no partial entry left, only the lock file
    assert [p for p in os.listdir(cache) if not p.endswith('.lock')] == []
