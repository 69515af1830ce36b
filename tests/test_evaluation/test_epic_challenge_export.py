"""The EPIC-Kitchens challenge JSON: EK55 version 0.1 (integer ids), EK100
version 0.2 (string ids), dropped segments with zero scores; dataset_meta
built by hand, as the datasets publish it."""
import json
import os.path as osp

import numpy as np
import pytest
import torch

from lsant_mmaction.evaluation import EpicChallengeExport
from lsant_mmaction.layout import ActionVocabulary, TimeGrid, read_columns


def export_meta(dataset, verb_of, noun_of, num_segments, dropped_ids):
    vocab = ActionVocabulary(verbs=np.asarray(verb_of),
                             nouns=np.asarray(noun_of), verb_names=None,
                             noun_names=None, source='hand-built actions')
    return dict(grid=TimeGrid().to_dict(), vocabulary=vocab.to_dict(),
                num_classes=len(verb_of), num_verbs=int(max(verb_of)) + 1,
                num_nouns=int(max(noun_of)) + 1, dataset=dataset,
                dropped_ids=list(dropped_ids), num_segments=num_segments,
                ann_file='test_timestamps.csv', actions_file='actions.csv')


def export(meta, ids, out_file, scores=None, batch=256, **kwargs):
    """Run the export on softmax scores (random when not given); returns
    the JSON and the scores."""
    num = len(meta['vocabulary']['verbs'])
    if scores is None:
        rng = np.random.default_rng(0)
        logits = torch.from_numpy(rng.normal(size=(len(ids), num)))
        scores = logits.float().softmax(-1)
    metric = EpicChallengeExport(out_file=str(out_file), **kwargs)
    metric.dataset_meta = dict(anticipation=meta)
    step = TimeGrid().step_of(1.0)
    for start in range(0, len(ids), batch):
        samples = []
        for i in range(start, min(start + batch, len(ids))):
            # the exported step holds the scores, the others are ignored
            pred = torch.zeros(8, num)
            pred[step] = scores[i]
            samples.append(dict(pred_score=pred, segment_id=ids[i]))
        metric.process(None, samples)
    assert metric.compute_metrics(metric.results) == {}
    with open(out_file) as f:
        return json.load(f), scores


def check_format(sub, version, ids, dropped, num_verbs, num_nouns,
                 pairs, top=100):
    """The challenge format, RU-LSTM's ``predictions_to_json``."""
    assert set(sub) == {'version', 'challenge', 'sls_pt', 'sls_tl',
                        'sls_td', 'results'}
    assert sub['version'] == version
    assert sub['challenge'] == 'action_anticipation'
    assert (sub['sls_pt'], sub['sls_tl'], sub['sls_td']) == (1, 4, 3)
    assert set(sub['results']) == {str(i) for i in ids} | {
        str(i) for i in dropped}
    assert len(sub['results']) == len(ids) + len(dropped)
    for seg_id, entry in sub['results'].items():
        assert set(entry) == {'verb', 'noun', 'action'}
        assert list(entry['verb']) == [str(v) for v in range(num_verbs)]
        assert list(entry['noun']) == [str(n) for n in range(num_nouns)]
        assert len(entry['action']) == min(top, len(pairs))
        assert set(entry['action']) <= pairs
        values = [*entry['verb'].values(), *entry['noun'].values(),
                  *entry['action'].values()]
        if seg_id in {str(i) for i in dropped}:
            assert all(v == 0 for v in values), seg_id
        else:
            assert sum(entry['verb'].values()) == pytest.approx(1, abs=1e-4)
            assert sum(entry['noun'].values()) == pytest.approx(1, abs=1e-4)


def random_vocab(num_verbs, num_nouns, num_actions, seed=1):
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < num_actions:
        pairs.add((int(rng.integers(num_verbs)), int(rng.integers(
            num_nouns))))
    pairs = sorted(pairs)
    # every verb and noun has an action, so the counts are the maxima + 1
    pairs[0], pairs[-1] = (0, 0), (num_verbs - 1, num_nouns - 1)
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_epic100_json_by_hand(tmp_path):
    verb_of, noun_of = random_vocab(9, 15, 130)
    ids = [f'P{p:02d}_1{v:02d}_{i}' for i, (p, v) in enumerate(
        np.random.default_rng(2).integers(1, 40, (60, 2)))]
    dropped = ['P01_101_0', 'P37_103_7']
    meta = export_meta('epic100', verb_of, noun_of, 62, dropped)
    sub, scores = export(meta, ids, tmp_path / 'test.json', batch=16)
    pairs = {f'{v},{n}' for v, n in zip(verb_of, noun_of)}
    check_format(sub, '0.2', ids, dropped, 9, 15, pairs)
    # values: the marginal sums and the top-100 actions of each segment
    for i, seg_id in enumerate(ids):
        entry = sub['results'][seg_id]
        for v in range(9):
            assert entry['verb'][str(v)] == pytest.approx(
                float(sum(scores[i, a] for a in range(130)
                          if verb_of[a] == v)), abs=1e-6)
        best = np.argsort(-scores[i].numpy(), kind='stable')[:100]
        assert set(entry['action']) == {f'{verb_of[a]},{noun_of[a]}'
                                        for a in best}
        a = int(best[0])
        assert entry['action'][f'{verb_of[a]},{noun_of[a]}'] == (
            pytest.approx(float(scores[i, a])))
    # string ids are kept: no '1' for 'P01_101_1', no int conversion
    assert all(isinstance(k, str) and k.startswith('P')
               for k in sub['results'])


def test_epic55_json_keeps_version_and_integer_ids(tmp_path):
    verb_of, noun_of = random_vocab(5, 7, 20)
    meta = export_meta('epic55', verb_of, noun_of, 12, [9999])
    ids = [str(1900 + i) if i % 2 else 1900 + i for i in range(11)]
    sub, _ = export(meta, ids, tmp_path / 'seen.json', top_actions=10)
    pairs = {f'{v},{n}' for v, n in zip(verb_of, noun_of)}
    check_format(sub, '0.1', [int(i) for i in ids], [9999], 5, 7, pairs,
                 top=10)


def test_export_refuses_incomplete_or_other_splits(tmp_path):
    verb_of, noun_of = random_vocab(4, 4, 8)
    meta = export_meta('epic100', verb_of, noun_of, 5, ['P01_101_9'])
    with pytest.raises(ValueError, match='5 segments, but the predictions '
                       'and the dropped segments cover 4'):
        export(meta, ['P01_101_1', 'P01_101_2', 'P01_101_3'],
               tmp_path / 'x.json')
    with pytest.raises(ValueError, match='needs an EPIC-Kitchens dataset'):
        export(dict(meta, dataset='egtea'), ['a'], tmp_path / 'y.json')


def test_epic100_json_with_real_test_ids(shared_data, tmp_path):
    """The 13,092 segments of RU-LSTM's ``ek100/test_timestamps.csv`` with
    the real vocabulary (3,806 actions, 97 verbs, 300 nouns); segments
    without any valid frame on the grid are dropped, as the dataset does."""
    from lsant_mmaction.layout import read_rows
    ek100 = osp.join(shared_data, 'rulstm', 'ek100')
    rows = read_rows(osp.join(ek100, 'test_timestamps.csv'))
    assert len(rows) == 13092
    grid = TimeGrid()
    dropped = [r[0] for r in rows if grid.frame_indices(int(r[2])) is None]
    ids = [r[0] for r in rows if grid.frame_indices(int(r[2])) is not None]
    assert dropped == ['P02_137_0', 'P33_103_0', 'P33_107_0', 'P34_110_0']
    actions = read_columns(osp.join(ek100, 'actions.csv'),
                           ['id', 'verb', 'noun'])
    assert [int(a[1]) for a in actions] == list(range(3806))
    verb_of = [int(a[2]) for a in actions]
    noun_of = [int(a[3]) for a in actions]
    meta = export_meta('epic100', verb_of, noun_of, 13092, dropped)
    # one-hot-like scores keep the file small: a point mass per segment
    scores = torch.zeros(len(ids), 3806)
    scores[torch.arange(len(ids)), torch.arange(len(ids)) % 3806] = 1.0
    sub, _ = export(meta, ids, tmp_path / 'test.json', scores=scores,
                    batch=1024)
    pairs = {f'{v},{n}' for v, n in zip(verb_of, noun_of)}
    check_format(sub, '0.2', ids, dropped, 97, 300, pairs)
    assert len(sub['results']) == 13092
    assert 'P01_101_0' in sub['results']
    first = sub['results'][ids[0]]
    assert first['action'][f'{verb_of[0]},{noun_of[0]}'] == 1.0
