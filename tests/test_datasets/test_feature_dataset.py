import os
import os.path as osp
import shutil

import lmdb
import numpy as np
import pytest
import torch

import lsant_mmaction  # noqa: F401
from mmaction.registry import DATASETS
from lsant_mmaction.layout import ActionVocabulary, TimeGrid

DIMS = dict(rgb=4, flow=3, obj=2)
KEY = '{video}_frame_{frame:010d}.jpg'


def feature_value(video, frame, modality):
    """Deterministic feature so tests can check exact values."""
    base = (int(video[-1]) * 100000 + frame) * 10 + len(modality)
    return (np.arange(DIMS[modality]) + base).astype(np.float32)


# (verb, noun) of actions 0..4, as the rows below label them
ACTIONS = [(0, 1), (0, 0), (1, 1), (1, 2), (2, 0)]


def write_actions(root, egtea=False):
    """``actions.csv`` of the tiny dataset: EK55 format, or EGTEA's (106
    actions whose first 5 are :data:`ACTIONS`)."""
    if not egtea:
        with open(osp.join(root, 'actions.csv'), 'w') as f:
            f.write('id,action,verb,noun\n' + ''.join(
                f'{a},a{a},{v},{n}\n' for a, (v, n) in enumerate(ACTIONS)))
        return
    pairs = ACTIONS + sorted({(v, n) for v in range(19) for n in range(51)}
                             - set(ACTIONS))[:106 - len(ACTIONS)]
    with open(osp.join(root, 'actions.csv'), 'w') as f:
        f.write(''.join(f'{a}, {v}_{n}, Verb{v}_noun{n}\n'
                        for a, (v, n) in enumerate(pairs)))


def write_tiny_dataset(root, rows, skip_key=None, wrong_size=None, nan=None):
    os.makedirs(root, exist_ok=True)
    write_actions(root)
    with open(osp.join(root, 'training.csv'), 'w') as f:
        for row in rows:
            f.write(', '.join(str(v) for v in row) + '\n')
    for modality, dim in DIMS.items():
        env = lmdb.open(osp.join(root, modality), map_size=1 << 22)
        with env.begin(write=True) as txn:
            for seg_id, video, start, *_ in rows:
                frames = TimeGrid().frame_indices(start)
                if frames is None:
                    continue
                for frame in frames.tolist():
                    key = KEY.format(video=video, frame=frame)
                    value = feature_value(video, frame, modality)
                    if (modality, key) == wrong_size:
                        value = value[:-1]
                    if (modality, key) == nan:
                        value = value.copy()
                        value[0] = np.nan
                    if (modality, key) != skip_key:
                        txn.put(key.encode(), value.tobytes())
        env.close()


ROWS = [
    (10, 'P01_01', 300, 350, 1, 2, 3),
    (11, 'P01_01', 60, 90, 0, 1, 0),
    (12, 'P01_02', 5, 40, 2, 0, 4),  # no valid frame: dropped
    (13, 'P01_02', 900, 950, 1, 1, 2),
]


def build(root, **kwargs):
    cfg = dict(
        type='EpicKitchens55FeatureDataset',
        ann_file='training.csv',
        data_root=root,
        num_classes=5,
        num_verbs=3,
        num_nouns=3,
        pipeline=[
            dict(type='LoadLMDBFeatures', modalities=tuple(DIMS),
                 feature_dims=DIMS),
            dict(type='PackActionInputs', collect_keys=tuple(DIMS),
                 meta_keys=('segment_id', 'frame_inds'))
        ])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_dataset_reads_features(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    dataset = build(root)
    assert len(dataset) == 3
    assert dataset.dropped_ids == [12]
    info = dataset.get_data_info(1)
    assert info['segment_id'] == 11 and info['label'] == 0
    assert info['frame_inds'].tolist() == [7] * 8 + [15, 22, 30, 37, 45, 52]
    assert (info['verb_label'], info['noun_label']) == (0, 1)
    sample = dataset[0]
    assert set(sample['inputs']) == set(DIMS)
    frames = TimeGrid().frame_indices(300)
    for modality, dim in DIMS.items():
        feats = sample['inputs'][modality]
        assert feats.shape == (14, dim) and feats.dtype == torch.float32
        expected = np.stack(
            [feature_value('P01_01', f, modality) for f in frames])
        np.testing.assert_array_equal(feats.numpy(), expected)
    assert sample['data_samples'].gt_label.item() == 3
    assert sample['data_samples'].segment_id == 10


def test_data_root_retargets_everything(tmp_path):
    root = str(tmp_path / 'elsewhere')
    write_tiny_dataset(root, ROWS)
    dataset = build(root)
    assert dataset.ann_file == osp.join(root, 'training.csv')
    assert osp.normpath(dataset.get_data_info(0)['feature_root']) == root
    dataset[2]  # reads from the new root


def test_unlabelled_split(tmp_path):
    root = str(tmp_path / 'test')
    write_tiny_dataset(root, ROWS)
    with open(osp.join(root, 'test.csv'), 'w') as f:
        f.write('00020, P01_01, 0000000300, 0000000400\n')
    dataset = build(root, ann_file='test.csv', test_mode=True)
    assert dataset.get_data_info(0)['label'] == -1


def test_missing_lmdb_folder(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    shutil.rmtree(osp.join(root, 'flow'))
    with pytest.raises(FileNotFoundError, match='flow'):
        build(root)[0]


def test_missing_key_names_key_and_segment(tmp_path):
    root = str(tmp_path / 'ek')
    key = KEY.format(video='P01_01', frame=240)
    write_tiny_dataset(root, ROWS, skip_key=('obj', key))
    with pytest.raises(KeyError, match=f"{key}.*segment 10"):
        build(root)[0]


def test_wrong_feature_size(tmp_path):
    root = str(tmp_path / 'ek')
    key = KEY.format(video='P01_01', frame=240)
    write_tiny_dataset(root, ROWS, wrong_size=('rgb', key))
    with pytest.raises(ValueError, match='segment 10 has rgb vectors of size'):
        build(root)[0]


def test_nan_feature(tmp_path):
    root = str(tmp_path / 'ek')
    key = KEY.format(video='P01_01', frame=240)
    write_tiny_dataset(root, ROWS, nan=('rgb', key))
    with pytest.raises(ValueError, match=f'non-finite.*{key}.*segment 10'):
        build(root)[0]


def test_truncated_lmdb_is_refused_when_opened(tmp_path):
    """A truncated data.mdb would die with SIGBUS on read: refused instead,
    naming the database."""
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    data = osp.join(root, 'flow', 'data.mdb')
    env = lmdb.open(osp.join(root, 'flow'), readonly=True, lock=False)
    needed = (env.info()['last_pgno'] + 1) * env.stat()['psize']
    env.close()
    assert os.path.getsize(data) == needed  # a complete file passes as is
    with open(data, 'r+b') as f:
        f.truncate(needed - 4096)
    with pytest.raises(ValueError, match=f'LMDB {root}/flow is truncated'):
        build(root)[0]


def test_garbage_lmdb_names_the_folder(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    with open(osp.join(root, 'obj', 'data.mdb'), 'wb') as f:
        f.write(b'not a database')
    with pytest.raises(ValueError, match=f'LMDB {root}/obj cannot be opened'):
        build(root)[0]


def test_value_that_is_not_whole_float32_names_the_key(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    key = KEY.format(video='P01_01', frame=240)
    env = lmdb.open(osp.join(root, 'rgb'), map_size=1 << 22)
    with env.begin(write=True) as txn:
        txn.put(key.encode(), b'\0' * 15)  # 3.75 floats
    env.close()
    with pytest.raises(ValueError, match=f"key '{key}' has 15 bytes.*"
                       'segment 10'):
        build(root)[0]


def test_csv_that_is_not_utf8_names_file_and_line(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    with open(osp.join(root, 'training.csv'), 'ab') as f:
        f.write('14, P01_02, 990, 999, 1, 1, 2 caf\xe9\n'.encode('latin-1'))
    with pytest.raises(ValueError, match='training.csv, line 5: not UTF-8'):
        build(root)


def test_every_segment_dropped_is_an_error(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, [ROWS[2], (15, 'P01_02', 1, 9, 0, 1, 0)])
    with pytest.raises(ValueError, match='training.csv: all 2 segments were '
                       'dropped'):
        build(root)


def test_csv_with_wrong_columns(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, [r[:5] for r in ROWS])
    with pytest.raises(ValueError, match='training.csv, line 1: expected 7'):
        build(root)


def test_csv_with_header_is_rejected(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    with open(osp.join(root, 'training.csv'), 'w') as f:
        f.write('id,video,start,end,verb,noun,action\n'
                '10, P01_01, 300, 350, 1, 2, 3\n')
    with pytest.raises(ValueError, match="line 1: column 'id' must be"):
        build(root)


def test_label_out_of_range(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS + [(14, 'P01_02', 990, 999, 1, 1, 7)])
    with pytest.raises(ValueError, match='segment 14 with action 7'):
        build(root)


def test_missing_annotation_file(tmp_path):
    write_actions(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='nothere.csv'):
        build(str(tmp_path), ann_file='nothere.csv')


def test_egtea_dataset_with_split_lmdb_names(tmp_path):
    """EGTEA: rgb + flow from the per-split LMDB folders of RU-LSTM."""
    root = str(tmp_path / 'egtea')
    write_tiny_dataset(root, ROWS)
    write_actions(root, egtea=True)
    for m in ('rgb', 'flow'):
        os.rename(osp.join(root, m),
                  osp.join(root, f'TSN-C_3_egtea_action_CE_s1_{m}_model_'
                           'best_fcfull_hd'))
    dirs = {m: f'TSN-C_3_egtea_action_CE_s1_{m}_model_best_fcfull_hd'
            for m in ('rgb', 'flow')}
    dataset = DATASETS.build(
        dict(type='EgteaGazeFeatureDataset', ann_file='training.csv',
             data_root=root, pipeline=[
                 dict(type='LoadLMDBFeatures', modalities=('rgb', 'flow'),
                      feature_dims=dict(rgb=4, flow=3), lmdb_dirs=dirs),
                 dict(type='PackActionInputs', collect_keys=('rgb', 'flow'))
             ]))
    assert dataset.num_classes == 106 and dataset.num_verbs == 19
    assert len(dataset) == 3
    sample = dataset[0]
    assert set(sample['inputs']) == {'rgb', 'flow'}
    np.testing.assert_array_equal(
        sample['inputs']['flow'][-1].numpy(),
        feature_value('P01_01', 292, 'flow'))
    meta = dataset.metainfo['anticipation']
    assert meta['dataset'] == 'egtea'
    assert meta['actions_file'] == osp.join(root, 'actions.csv')
    assert 'many_shot_verbs' not in meta


def test_ek55_metainfo_names_its_files(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    meta = build(root).metainfo['anticipation']
    vocab = ActionVocabulary.from_dict(meta.pop('vocabulary'))
    assert meta == dict(
        dataset='epic55', ann_file=osp.join(root, 'training.csv'),
        actions_file=osp.join(root, 'actions.csv'),
        many_shot_verbs=osp.join(root, 'EPIC_many_shot_verbs.csv'),
        many_shot_nouns=osp.join(root, 'EPIC_many_shot_nouns.csv'),
        many_shot_actions=osp.join(root, 'EPIC_many_shot_actions.csv'),
        grid=dict(fps=30, time_step=0.25, num_steps=14,
                  num_anticipation_steps=8),
        num_classes=5, num_verbs=3, num_nouns=3,
        dropped_ids=[12], dropped_labels=[[12, 2, 0, 4]], subsets={},
        num_segments=4)
    assert list(zip(vocab.verbs, vocab.nouns)) == ACTIONS
    assert vocab.action_names == ['a0', 'a1', 'a2', 'a3', 'a4']


def test_time_grid_is_the_dataset_s(tmp_path):
    """Another grid changes the frames and what the dataset publishes."""
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    grid = dict(time_step=0.5, num_steps=6, num_anticipation_steps=4)
    dataset = build(root, time_grid=grid, pipeline=[])
    assert dataset.metainfo['anticipation']['grid'] == dict(grid, fps=30)
    # start at 10 s: 3.0, 2.5, ... 0.5 s before, at 30 fps
    assert dataset.get_data_info(0)['frame_inds'].tolist() == [
        210, 225, 240, 255, 270, 285]


def test_vocabulary_must_match_the_dataset(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS)
    actions = osp.join(root, 'actions.csv')
    with pytest.raises(ValueError, match=f'{actions} defines 5 actions but '
                       'the dataset has num_classes=6'):
        build(root, num_classes=6)
    with pytest.raises(ValueError, match=f'{actions} uses noun ids up to 2 '
                       'but the dataset has num_nouns=2'):
        build(root, num_nouns=2)
    os.remove(actions)
    with pytest.raises(FileNotFoundError, match=actions):
        build(root)


def test_labels_must_agree_with_the_vocabulary(tmp_path):
    root = str(tmp_path / 'ek')
    write_tiny_dataset(root, ROWS + [(14, 'P01_02', 990, 999, 2, 1, 2)])
    with pytest.raises(ValueError, match='1 segments have a verb label that '
                       'is not the verb of their action in .*actions.csv, '
                       'e.g. segment 14: verb 2, action 2 has verb 1'):
        build(root)


def test_real_egtea_splits_load(shared_data, tmp_path):
    """The three real EGTEA splits parse and keep almost every segment."""
    for split in (1, 2, 3):
        for name in (f'training{split}', f'validation{split}'):
            dataset = DATASETS.build(
                dict(type='EgteaGazeFeatureDataset',
                     data_root=f'{shared_data}/rulstm/egtea',
                     ann_file=f'{name}.csv', pipeline=[]))
            assert len(dataset) + len(dataset.dropped_ids) > 2000
            assert len(dataset.dropped_ids) < 50
