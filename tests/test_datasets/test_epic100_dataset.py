"""EpicKitchens100FeatureDataset: string ids, subsets, dropped labels."""
import io
import os.path as osp

import lmdb
import numpy as np
import pytest
import torch

import lsant_mmaction  # noqa: F401
from mmaction.registry import DATASETS
from lsant_mmaction.layout import TimeGrid

# (verb, noun) of actions 0..2
ACTIONS = [(0, 0), (0, 1), (1, 1)]
ROWS = [  # id, video, start, end, verb, noun, action
    ('P01_01_0', 'P01_01', 4, 30, 1, 1, 2),  # no valid frame: dropped
    ('P01_01_1', 'P01_01', 300, 350, 0, 1, 1),
    ('P01_01_10', 'P01_01', 900, 950, 0, 0, 0),
    ('P02_03_0', 'P02_03', 60, 90, 1, 1, 2),
]
SUBSETS = dict(unseen='unseen_ids.csv', tail_action='tail_actions_ids.csv')


def write_dataset(root, rows=ROWS):
    """A tiny EK100 layout: actions.csv, training.csv, two id lists and an
    rgb LMDB (2-d features: the frame number and the video's number)."""
    root.mkdir(exist_ok=True)
    (root / 'actions.csv').write_text('id,verb,noun,action\n' + ''.join(
        f'{a},{v},{n},v{v} n{n}\n' for a, (v, n) in enumerate(ACTIONS)))
    (root / 'training.csv').write_text(''.join(
        ','.join(str(x) for x in row) + '\n' for row in rows))
    (root / 'unseen_ids.csv').write_text('P02_03_0\n')
    (root / 'tail_actions_ids.csv').write_text('P01_01_0\nP01_01_10\n')
    env = lmdb.open(str(root / 'rgb'), map_size=1 << 20)
    with env.begin(write=True) as txn:
        for _, video, start, *_ in rows:
            frames = TimeGrid().frame_indices(start)
            for frame in [] if frames is None else frames.tolist():
                txn.put(f'{video}_frame_{frame:010d}.jpg'.encode(),
                        np.array([frame, int(video[1:3])],
                                 np.float32).tobytes())
    env.close()
    return str(root)


def build(root, **kwargs):
    cfg = dict(
        type='EpicKitchens100FeatureDataset',
        ann_file='training.csv',
        data_root=root,
        num_classes=3,
        num_verbs=2,
        num_nouns=2,
        pipeline=[
            dict(type='LoadLMDBFeatures', modalities=('rgb', ),
                 feature_dims=dict(rgb=2)),
            dict(type='PackActionInputs', collect_keys=('rgb', ),
                 meta_keys=('segment_id', 'frame_inds'))
        ])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_string_ids_reach_the_sample(tmp_path):
    dataset = build(write_dataset(tmp_path / 'ek100'))
    assert len(dataset) == 3 and dataset.dropped_ids == ['P01_01_0']
    info = dataset.get_data_info(0)
    assert info['segment_id'] == 'P01_01_1' and info['label'] == 1
    sample = dataset[2]
    assert sample['data_samples'].segment_id == 'P02_03_0'
    np.testing.assert_array_equal(
        sample['inputs']['rgb'][:, 0].numpy(),
        [7] * 8 + [15, 22, 30, 37, 45, 52])


def test_publishes_subsets_and_dropped_labels(tmp_path):
    root = write_dataset(tmp_path / 'ek100')
    meta = build(root, subsets=SUBSETS).metainfo['anticipation']
    assert meta['dataset'] == 'epic100'
    assert meta['subsets'] == dict(unseen=['P02_03_0'],
                                   tail_action=['P01_01_0', 'P01_01_10'])
    assert meta['dropped_ids'] == ['P01_01_0']
    assert meta['dropped_labels'] == [['P01_01_0', 1, 1, 2]]
    assert meta['num_segments'] == 4
    # plain data: checkpoints hold it and are read with weights_only=True
    buffer = io.BytesIO()
    torch.save(dict(meta=build(root, subsets=SUBSETS).metainfo), buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True)['meta']['anticipation'] == \
        meta


def test_training_split_without_subsets(tmp_path):
    meta = build(write_dataset(tmp_path / 'ek100')).metainfo['anticipation']
    assert meta['subsets'] == {}
    assert 'many_shot_verbs' not in meta


def test_unlabelled_split(tmp_path):
    root = write_dataset(tmp_path / 'ek100')
    with open(osp.join(root, 'test.csv'), 'w') as f:
        f.write(''.join(','.join(str(x) for x in r[:4]) + '\n' for r in ROWS))
    meta = build(root, ann_file='test.csv', test_mode=True,
                 subsets=SUBSETS).metainfo['anticipation']
    assert meta['dropped_ids'] == ['P01_01_0']
    assert meta['dropped_labels'] is None


def test_subset_id_absent_from_the_split(tmp_path):
    root = write_dataset(tmp_path / 'ek100')
    (tmp_path / 'ek100' / 'unseen_ids.csv').write_text('P02_03_0\nP09_01_4\n')
    with pytest.raises(ValueError, match=r"unseen_ids.csv, line 2: segment "
                       r"'P09_01_4' of subset 'unseen' is not a segment of "
                       r'.*training.csv'):
        build(root, subsets=SUBSETS)


def test_missing_subset_file_is_named(tmp_path):
    root = write_dataset(tmp_path / 'ek100')
    with pytest.raises(FileNotFoundError, match='tail_verbs_ids.csv'):
        build(root, subsets=dict(tail_verb='tail_verbs_ids.csv'))


def test_unknown_subset_name(tmp_path):
    root = write_dataset(tmp_path / 'ek100')
    with pytest.raises(ValueError, match=r"unknown subsets \['unsen'\]"):
        build(root, subsets=dict(unsen='unseen_ids.csv'))


def test_ek55_actions_csv_is_rejected(tmp_path):
    root = write_dataset(tmp_path / 'ek100')
    (tmp_path / 'ek100' / 'actions.csv').write_text(
        'id,action,verb,noun\n0,a0,0,0\n1,a1,0,1\n2,a2,1,1\n')
    with pytest.raises(ValueError, match='actions.csv: expected the header'):
        build(root)


VALIDATION_SUBSETS = dict(
    unseen='validation_unseen_participants_ids.csv',
    tail_verb='validation_tail_verbs_ids.csv',
    tail_noun='validation_tail_nouns_ids.csv',
    tail_action='validation_tail_actions_ids.csv')


def test_real_ek100_splits(shared_data):
    """RU-LSTM's EK100 splits: 67,182 of 67,217 training and 9,658 of 9,668
    validation segments kept; the subsets of the validation id lists."""
    root = f'{shared_data}/rulstm/ek100'
    train = build(root, num_classes=3806, num_verbs=97, num_nouns=300,
                  pipeline=[])
    assert len(train) == 67182
    meta = train.metainfo['anticipation']
    assert meta['num_segments'] == 67217 and len(meta['dropped_ids']) == 35
    assert len(meta['dropped_labels']) == 35 and meta['subsets'] == {}
    val = DATASETS.build(dict(
        type='EpicKitchens100FeatureDataset', ann_file='validation.csv',
        data_root=root, pipeline=[], test_mode=True,
        subsets=VALIDATION_SUBSETS))
    assert len(val) == 9658
    meta = val.metainfo['anticipation']
    assert (meta['num_classes'], meta['num_verbs'], meta['num_nouns']) == (
        3806, 97, 300)
    assert meta['num_segments'] == 9668 and len(meta['dropped_ids']) == 10
    assert meta['dropped_labels'][0] == ['P01_11_0', 0, 2, 106]
    assert {k: len(v) for k, v in meta['subsets'].items()} == dict(
        unseen=1065, tail_verb=1760, tail_noun=1900, tail_action=3105)
    # dropped segments belong to the subsets too (scored as misses)
    assert 'P32_02_0' in meta['subsets']['unseen']


def test_lmdb_of_the_wrong_size_for_a_modality(tmp_path):
    """A feature LMDB whose vectors are not the modality's size (e.g. the
    obj LMDB given as rgb) is an error naming the LMDB and the segment."""
    root = write_dataset(tmp_path / 'ek100')
    dataset = build(root, pipeline=[
        dict(type='LoadLMDBFeatures', modalities=('rgb', ),
             feature_dims=dict(rgb=1024))])
    with pytest.raises(ValueError, match=f"LMDB {root}/rgb: segment "
                       "P01_01_1 has rgb vectors of size \\[2\\], expected "
                       '1024'):
        dataset[0]
