"""Teacher stores: built from test.py dumps (generated here), checked
against the split when the dataset starts, read the same in workers."""
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from mmaction.registry import DATASETS

from lsant_mmaction.datasets import TeacherStore
from lsant_mmaction.datasets.teacher_store import write_store

from ..conftest import ROOT, load_tool

TOOL = load_tool(osp.join(ROOT, 'tools', 'build_teacher_store.py'))
CONFIG = osp.join(ROOT, 'configs', 'lstm_demo_glvn.py')
DEMO = dict(type='EpicKitchens55FeatureDataset', data_root='data/demo/',
            num_classes=65, num_verbs=12, num_nouns=20)


def split_ids(ann_file, **kwargs):
    dataset = DATASETS.build(dict(DEMO, ann_file=ann_file, pipeline=[],
                                  **kwargs))
    return [dataset.get_data_info(i)['segment_id']
            for i in range(len(dataset))]


def write_dump(path, ids, seed, steps=8, classes=65):
    """A dump as tools/test.py writes it, softmax scores of random logits."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(ids), steps, classes)) * 3
    scores = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    with open(path, 'wb') as f:
        pickle.dump([dict(segment_id=i, pred_score=s.astype(np.float32),
                          gt_label=0, verb_label=0, noun_label=0)
                     for i, s in zip(ids, scores)], f)
    return scores.astype(np.float32)


@pytest.fixture
def demo(demo_root, monkeypatch):
    monkeypatch.chdir(demo_root)
    (open('teacher.pth', 'wb')).write(b'weights')
    return demo_root


def build(*extra):
    TOOL.main([CONFIG, '--out', 'store'] + list(extra))


def test_store_of_an_ensemble(demo):
    ids = split_ids('training.csv')
    a = write_dump('a.pkl', ids, seed=0)
    b = write_dump('b.pkl', ids, seed=1)
    build('--teacher', CONFIG, 'teacher.pth', 'a.pkl', '3',
          '--teacher', CONFIG, 'teacher.pth', 'b.pkl')
    store = TeacherStore('store')
    assert store.ids == ids and store.num_steps == 8
    mean = (3 * a.astype(np.float64) + b) / 4
    for n in (0, len(ids) - 1):
        np.testing.assert_allclose(store.row(ids[n]), mean[n], rtol=1e-6)
    record = store.record
    assert record['split']['path'].endswith('data/demo/training.csv')
    assert len(record['split']['sha256']) == 64
    assert [t['weight'] for t in record['teachers']] == [3.0, 1.0]
    assert record['teachers'][0]['checkpoint_sha256'] == \
        __import__('hashlib').sha256(b'weights').hexdigest()
    assert record['anticipation_times'] == [
        2.0, 1.75, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25]
    with pytest.raises(KeyError, match="segment 'nope' has no row"):
        store.row('nope')


def test_topk_store_keeps_the_most_probable(demo):
    ids = split_ids('training.csv')
    scores = write_dump('a.pkl', ids, seed=2)
    build('--teacher', CONFIG, 'teacher.pth', 'a.pkl', '--topk', '5')
    row = TeacherStore('store').row(ids[3])
    top = np.argsort(-scores[3], 1)[:, :5]
    expected = np.zeros_like(scores[3])
    np.put_along_axis(expected, top, np.take_along_axis(scores[3], top, 1),
                      1)
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(row, expected, rtol=1e-6)
    assert (row > 0).sum(1).tolist() == [5] * 8


def test_dumps_that_do_not_fit_are_refused(demo):
    train, val = split_ids('training.csv'), split_ids('validation.csv')
    write_dump('val.pkl', val, seed=0)
    with pytest.raises(ValueError, match=r'val\.pkl does not hold the '
                       r'segments of .*training\.csv: \d+ of its \d+ are not '
                       'the split'):
        build('--teacher', CONFIG, 'teacher.pth', 'val.pkl')
    write_dump('steps.pkl', train, seed=0, steps=4)
    with pytest.raises(ValueError, match=r'scores of shape \(4, 65\) .* '
                       r'need \(8, 65\)'):
        build('--teacher', CONFIG, 'teacher.pth', 'steps.pkl')
    write_dump('classes.pkl', train, seed=0, classes=10)
    with pytest.raises(ValueError, match=r'\(8, 10\) .* need \(8, 65\)'):
        build('--teacher', CONFIG, 'teacher.pth', 'classes.pkl')
    scores = write_dump('nan.pkl', train, seed=0)
    scores[2, 1, 0] = np.nan
    with open('nan.pkl', 'wb') as f:
        pickle.dump([dict(segment_id=i, pred_score=s, gt_label=0,
                          verb_label=0, noun_label=0)
                     for i, s in zip(train, scores)], f)
    with pytest.raises(ValueError, match=f'segment {train[2]}: non-finite'):
        build('--teacher', CONFIG, 'teacher.pth', 'nan.pkl')


def teacher_dataset(store, ann_file='training.csv', missing='error',
                    **kwargs):
    return DATASETS.build(dict(DEMO, ann_file=ann_file, **kwargs, pipeline=[
        dict(type='LoadLMDBFeatures', modalities=('rgb', ),
             feature_dims=dict(rgb=128)),
        dict(type='LoadTeacherScores', store=store, missing=missing),
        dict(type='PackActionInputs', collect_keys=('rgb', ),
             meta_keys=('segment_id', 'teacher_score', 'has_teacher'))]))


def test_dataset_checks_the_store_against_its_split(demo):
    ids = split_ids('training.csv')
    scores = write_dump('a.pkl', ids, seed=0)
    build('--teacher', CONFIG, 'teacher.pth', 'a.pkl')
    sample = teacher_dataset('store')[4]['data_samples']
    np.testing.assert_array_equal(sample.teacher_score, scores[4])
    assert sample.has_teacher is True
    with pytest.raises(ValueError, match='are not segments of the split .* '
                       'another split'):
        teacher_dataset('store', ann_file='validation.csv')
    store = TeacherStore('store')
    with pytest.raises(ValueError, match='has 65 actions, the dataset 66'):
        store.check_split(ids, 66, store.anticipation_times)
    with pytest.raises(ValueError, match=r'holds the steps \[2\.0, .*\] '
                       r".* anticipates at \[0\.25\]"):
        teacher_dataset('store', time_grid=dict(num_anticipation_steps=1,
                                                num_steps=14))


def test_segments_without_a_row(demo):
    ids = split_ids('training.csv')
    rows = write_dump('a.pkl', ids, seed=0)
    write_store('part', ids[:-3], rows[:-3], 8, 65, dict(
        anticipation_times=[2.0, 1.75, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25]))
    with pytest.raises(ValueError, match=r"no row for 3 of the split's "
                       r".*\(missing='prior'\)"):
        teacher_dataset('part')
    dataset = teacher_dataset('part', missing='prior')
    last = dataset[len(dataset) - 1]['data_samples']
    assert last.has_teacher is False and not last.teacher_score.any()


def test_damaged_stores_are_refused(demo):
    ids = split_ids('training.csv')
    write_dump('a.pkl', ids, seed=0)
    build('--teacher', CONFIG, 'teacher.pth', 'a.pkl')
    with open(osp.join('store', 'scores.npy'), 'r+b') as f:
        f.truncate(os.path.getsize(osp.join('store', 'scores.npy')) - 100)
    with pytest.raises(ValueError, match=r'scores\.npy has \d+ bytes, the '
                       r'store recorded \d+: truncated'):
        TeacherStore('store')
    os.remove(osp.join('store', 'teacher.json'))
    with pytest.raises(ValueError, match='has no teacher.json: .* did not '
                       'finish'):
        TeacherStore('store')


def test_same_inputs_with_and_without_workers(demo):
    from mmengine.runner import Runner
    ids = split_ids('training.csv')
    write_dump('a.pkl', ids, seed=0)
    build('--teacher', CONFIG, 'teacher.pth', 'a.pkl', '--topk', '7')
    batches = {}
    for workers in (0, 2):
        loader = Runner.build_dataloader(dict(
            batch_size=5, num_workers=workers, collate_fn=dict(
                type='stack_collate'),
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=teacher_dataset('store')))
        batches[workers] = [
            (b['inputs']['rgb'].tensor if hasattr(b['inputs']['rgb'],
                                                   'tensor')
             else torch.stack(list(b['inputs']['rgb'])),
             np.stack([s.teacher_score for s in b['data_samples']]),
             [s.segment_id for s in b['data_samples']])
            for b in loader]
    assert len(batches[0]) == len(batches[2]) > 1
    for (x0, t0, i0), (x2, t2, i2) in zip(batches[0], batches[2]):
        assert i0 == i2
        assert torch.equal(x0, x2)
        assert t0.tobytes() == t2.tobytes()
