"""EPIC-Kitchens-100 measures (RU-LSTM's ``--ek100``): class-mean top-5
recall overall, on unseen participants and on tail classes, with dropped
segments counted as misses; dataset_meta built by hand, as the EK100 dataset
publishes it."""
import numpy as np
import pytest
import torch

from lsant_mmaction.evaluation import AnticipationMetric
from lsant_mmaction.evaluation.functional import (measure_name,
                                                  parse_measure_name)
from lsant_mmaction.layout import ActionVocabulary, TimeGrid

TIMES = ['2.00', '1.75', '1.50', '1.25', '1.00', '0.75', '0.50', '0.25']
EK100 = dict(verb_noun=True, all_classes=True, subsets=('unseen', 'tail'),
             count_dropped=True)


def epic100_meta(verb_of, noun_of, ids, dropped, subsets):
    """What ``EpicKitchens100FeatureDataset`` publishes; ``dropped`` is a
    list of ``(segment_id, action)``."""
    vocab = ActionVocabulary(verbs=np.asarray(verb_of),
                             nouns=np.asarray(noun_of), verb_names=None,
                             noun_names=None, source='hand-built actions')
    return dict(
        grid=TimeGrid().to_dict(), vocabulary=vocab.to_dict(),
        num_classes=len(verb_of), num_verbs=int(max(verb_of)) + 1,
        num_nouns=int(max(noun_of)) + 1, dataset='epic100',
        dropped_ids=[i for i, _ in dropped],
        dropped_labels=[[i, int(verb_of[a]), int(noun_of[a]), int(a)]
                        for i, a in dropped],
        num_segments=len(ids) + len(dropped), ann_file='validation.csv',
        actions_file='actions.csv', subsets=subsets)


def run(meta, scores, labels, ids, **kwargs):
    metric = AnticipationMetric(**kwargs)
    metric.dataset_meta = dict(anticipation=meta)
    samples = [dict(pred_score=torch.as_tensor(s, dtype=torch.float32),
                    gt_label=torch.tensor([l]), segment_id=i)
               for s, l, i in zip(scores, labels, ids)]
    for start in range(0, len(samples), 16):  # several batches
        metric.process(None, samples[start:start + 16])
    return metric.compute_metrics(metric.results)


def hits_by_argsort(row, label, k):
    """Whether ``label`` is in the top k of one score row: classes sorted by
    decreasing score, the label after every class that ties with it."""
    is_label = np.arange(len(row)) == label
    order = np.lexsort((is_label, -row))  # the last key sorts first
    return label in order[:k]


def loop_reference(scores, labels, ids, verb_of, noun_of, subsets):
    """Plain loops over segments, steps and classes, as RU-LSTM's
    ``topk_recall`` does, the dropped segments already appended with zero
    scores."""
    n, steps, num = scores.shape
    tasks = dict(action=(scores, labels))
    for task, of in (('verb', verb_of), ('noun', noun_of)):
        marg = np.zeros((n, steps, max(of) + 1))
        for a in range(num):
            marg[:, :, of[a]] += scores[:, :, a]
        tasks[task] = (marg, np.array([of[a] for a in labels]))
    out = {}
    for task, (sc, lab) in tasks.items():
        rows = dict(
            all=list(range(n)),
            unseen=[i for i in range(n) if ids[i] in subsets['unseen']],
            tail=[i for i in range(n) if ids[i] in subsets[f'tail_{task}']])
        for s, t in enumerate(TIMES):
            for k in (1, 5):
                out[f'{task}_top{k}@{t}s'] = 100 * np.mean(
                    [hits_by_argsort(sc[i, s], lab[i], k) for i in range(n)])
            for name, keep in rows.items():
                recalls = []
                for c in sorted({lab[i] for i in keep}):
                    of_c = [i for i in keep if lab[i] == c]
                    recalls.append(np.mean(
                        [hits_by_argsort(sc[i, s], c, 5) for i in of_c]))
                suffix = '' if name == 'all' else f'_{name}'
                out[f'{task}_mt5r{suffix}@{t}s'] = 100 * np.mean(recalls)
    return out


def random_case(seed=0, n=150, num_dropped=9):
    rng = np.random.default_rng(seed)
    num_verbs, num_nouns = 8, 14
    pairs = sorted({(int(rng.integers(num_verbs)), int(rng.integers(
        num_nouns))) for _ in range(70)})
    verb_of = [p[0] for p in pairs]
    noun_of = [p[1] for p in pairs]
    num = len(pairs)
    ids = [f'P{p:02d}_{v:02d}_{i}' for i, (p, v) in enumerate(
        rng.integers(1, 40, (n + num_dropped, 2)))]
    ids, dropped_ids = ids[:n], ids[n:]
    logits = rng.normal(size=(n, 8, num)) * 2
    scores = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    # a few labels sit where they are hit often, so recalls are not ~0
    labels = rng.integers(0, num, n)
    scores[np.arange(0, n, 3), :, labels[::3]] += 0.5
    dropped_labels = rng.integers(0, num, num_dropped)
    all_ids = ids + dropped_ids
    all_labels = np.concatenate([labels, dropped_labels])
    tail_verbs, tail_nouns = {1, 4, 6}, set(range(9, 14))
    subsets = dict(
        unseen=[i for i in all_ids if int(i[1:3]) > 25],
        tail_verb=[i for i, a in zip(all_ids, all_labels)
                   if verb_of[a] in tail_verbs],
        tail_noun=[i for i, a in zip(all_ids, all_labels)
                   if noun_of[a] in tail_nouns],
        tail_action=[i for i, a in zip(all_ids, all_labels)
                     if verb_of[a] in tail_verbs or noun_of[a] in tail_nouns])
    dropped = list(zip(dropped_ids, dropped_labels.tolist()))
    meta = epic100_meta(verb_of, noun_of, ids, dropped, subsets)
    return meta, scores, labels, ids, dropped, subsets, verb_of, noun_of


def test_ek100_measures_against_loop_on_random_scores():
    meta, scores, labels, ids, dropped, subsets, verb_of, noun_of = \
        random_case()
    # some dropped segments are in every subset
    for name in ('unseen', 'tail_verb', 'tail_noun', 'tail_action'):
        assert set(subsets[name]) & {i for i, _ in dropped}, name
    m = run(meta, scores, labels, ids, **EK100)
    zeros = np.zeros((len(dropped), 8, scores.shape[2]))
    ref = loop_reference(
        np.concatenate([scores.astype(np.float32), zeros]),
        np.concatenate([labels, [a for _, a in dropped]]),
        ids + [i for i, _ in dropped], verb_of, noun_of,
        {k: set(v) for k, v in subsets.items()})
    assert set(m) == set(ref)
    assert len(ref) == 3 * 8 * (2 + 3)  # 3 tasks, 8 times, 5 measures
    for key, value in ref.items():
        assert m[key] == pytest.approx(value, abs=1e-9), key
    assert 0 < m['action_mt5r_tail@1.00s'] < 100
    # dropped segments lower every measure: they are all misses
    m_without = run(meta, scores, labels, ids,
                    **dict(EK100, count_dropped=False))
    for t in TIMES:
        assert m[f'action_top5@{t}s'] < m_without[f'action_top5@{t}s']


def test_dropped_segments_are_misses_by_hand():
    # 7 actions (a, a): verbs and nouns as many; one segment predicted, one
    # dropped, both of action 2. Segment 'a' is hit at every step, top-1.
    verb_of = noun_of = list(range(7))
    meta = epic100_meta(verb_of, noun_of, ['a'], [('b', 2)],
                        dict(unseen=['b'], tail_verb=['a'],
                             tail_noun=['a', 'b'], tail_action=['b']))
    score = np.tile([0.1, 0.1, 0.3, 0.1, 0.1, 0.1, 0.2], (8, 1))
    m = run(meta, [score], [2], ['a'], **EK100)
    for t in TIMES:
        # both segments have action 2: recall 1/2 over the one class
        assert m[f'action_top1@{t}s'] == 50.0
        assert m[f'action_mt5r@{t}s'] == 50.0
        # zero scores miss the top 5 of 7 (ties never count)
        assert m[f'action_top5@{t}s'] == 50.0
        assert m[f'verb_top5@{t}s'] == m[f'noun_top5@{t}s'] == 50.0
        assert m[f'verb_mt5r_unseen@{t}s'] == 0.0  # only the dropped one
        assert m[f'verb_mt5r_tail@{t}s'] == 100.0  # only 'a'
        assert m[f'noun_mt5r_tail@{t}s'] == 50.0
        assert m[f'action_mt5r_tail@{t}s'] == 0.0


def test_measure_names_with_subsets():
    assert measure_name('action', 'mt5r', 1.0, 'unseen') == (
        'action_mt5r_unseen@1.00s')
    assert measure_name('verb', 'mt5r', 0.25) == 'verb_mt5r@0.25s'
    assert parse_measure_name('anticipation/action_mt5r_unseen@1.00s') == (
        'action_mt5r_unseen', 1.0)
    assert parse_measure_name('noun_mt5r_tail@2.00s') == ('noun_mt5r_tail',
                                                          2.0)
    assert parse_measure_name('anticipation/action_mt5r@1.00s') == (
        'action_mt5r', 1.0)


def test_table_shows_the_subsets():
    from mmengine.logging import MMLogger
    meta, scores, labels, ids, *_ = random_case(n=20, num_dropped=2)
    metric = AnticipationMetric(**EK100)
    metric.dataset_meta = dict(anticipation=meta)
    metric.process(None, [
        dict(pred_score=torch.as_tensor(s, dtype=torch.float32),
             gt_label=torch.tensor([l]), segment_id=i)
        for s, l, i in zip(scores, labels, ids)])
    m = metric.compute_metrics(metric.results)
    table = metric.format_table(m, 22, 2)
    assert '22 segments (2 dropped, counted as misses)' in table
    for task in ('verb', 'noun', 'action'):
        for label in ('mean top-5 recall (all classes) |',
                      'mean top-5 recall (all classes), unseen |',
                      'mean top-5 recall (all classes), tail |'):
            assert f'| {task} {label}' in table
    assert MMLogger.get_current_instance() is not None


def test_bad_ek100_settings():
    meta, scores, labels, ids, *_ = random_case(n=20, num_dropped=2)
    with pytest.raises(ValueError, match='not both'):
        AnticipationMetric(verb_noun=True, many_shot='rulstm',
                           all_classes=True)
    with pytest.raises(ValueError, match='subsets must be among'):
        AnticipationMetric(all_classes=True, subsets=('rare', ))
    with pytest.raises(ValueError, match='set all_classes=True or many_shot'):
        AnticipationMetric(subsets=('tail', ))
    # a split without subset lists: an error at the first batch
    no_lists = dict(meta, subsets=dict(unseen=[], tail_verb=[]))
    with pytest.raises(KeyError, match=r"subsets\['unseen'\]"):
        run(no_lists, scores, labels, ids, **EK100)
    without = {k: v for k, v in meta.items() if k != 'subsets'}
    with pytest.raises(KeyError, match='subsets'):
        run(without, scores, labels, ids, **EK100)
    # dropped labels that disagree with the dropped ids or the vocabulary
    with pytest.raises(ValueError, match='disagree'):
        run(dict(meta, dropped_ids=meta['dropped_ids'][:1]), scores, labels,
            ids, **EK100)
    wrong = [list(r) for r in meta['dropped_labels']]
    wrong[0][1] = (wrong[0][1] + 1) % meta['num_verbs']
    with pytest.raises(ValueError, match='disagree with the actions'):
        run(dict(meta, dropped_labels=wrong), scores, labels, ids, **EK100)
    # a dropped segment with a prediction too
    twice = dict(meta, dropped_ids=[ids[0]],
                 dropped_labels=[[ids[0], 0, 0, 0]])
    twice['dropped_labels'][0][1:] = [
        meta['vocabulary']['verbs'][labels[0]],
        meta['vocabulary']['nouns'][labels[0]], int(labels[0])]
    with pytest.raises(ValueError, match='also have predictions'):
        run(twice, scores, labels, ids, **EK100)
    with pytest.raises(ValueError, match='unlabelled split'):
        run(dict(meta, dropped_labels=None), scores, labels, ids, **EK100)
    no_dropped = {k: v for k, v in meta.items() if k != 'dropped_labels'}
    with pytest.raises(KeyError, match='dropped_labels'):
        run(no_dropped, scores, labels, ids, **EK100)


def test_summarize_results_reads_subset_names():
    import os.path as osp
    import sys
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    sys.path.insert(0, osp.join(root, 'tools'))
    try:
        import summarize_results
    finally:
        sys.path.pop(0)
    result = {f'anticipation/action_mt5r_unseen@{t}s': float(i)
              for i, t in enumerate(TIMES)}
    result['anticipation/action_mt5r@1.00s'] = 99.0
    values = summarize_results.horizons(result, 'action_mt5r_unseen', 'run')
    assert values == {float(t): float(i) for i, t in enumerate(TIMES)}


def test_real_validation_subsets_with_an_oracle(shared_data):
    """RU-LSTM's EK100 validation split, its unseen and tail id lists and
    its 10 segments without frames: an oracle (all the mass on the label)
    is hit on every segment it sees, so each measure is the class-mean of
    the fraction of segments not dropped."""
    import os.path as osp
    from lsant_mmaction.layout import read_columns, read_rows
    ek100 = osp.join(shared_data, 'rulstm', 'ek100')
    rows = read_rows(osp.join(ek100, 'validation.csv'))
    actions = read_columns(osp.join(ek100, 'actions.csv'),
                           ['id', 'verb', 'noun'])
    verb_of = [int(a[2]) for a in actions]
    noun_of = [int(a[3]) for a in actions]
    grid = TimeGrid()
    kept = [r for r in rows if grid.frame_indices(int(r[2])) is not None]
    dropped = [(r[0], int(r[6])) for r in rows
               if grid.frame_indices(int(r[2])) is None]
    assert (len(rows), len(kept), len(dropped)) == (9668, 9658, 10)
    subsets = {
        name: [r[0] for r in read_rows(osp.join(
            ek100, f'validation_{file}_ids.csv'))]
        for name, file in (('unseen', 'unseen_participants'),
                           ('tail_verb', 'tail_verbs'),
                           ('tail_noun', 'tail_nouns'),
                           ('tail_action', 'tail_actions'))}
    meta = epic100_meta(verb_of, noun_of, [r[0] for r in kept], dropped,
                        subsets)
    metric = AnticipationMetric(**EK100)
    metric.dataset_meta = dict(anticipation=meta)
    for start in range(0, len(kept), 512):
        batch = kept[start:start + 512]
        labels = torch.tensor([int(r[6]) for r in batch])
        scores = torch.zeros(len(batch), 8, 3806)
        scores[torch.arange(len(batch)), :, labels] = 1.0
        metric.process(None, [
            dict(pred_score=s, gt_label=l.view(1), segment_id=r[0])
            for s, l, r in zip(scores, labels, batch)])
    m = metric.compute_metrics(metric.results)
    column = dict(verb=4, noun=5, action=6)
    lost = {i for i, _ in dropped}
    for task in ('verb', 'noun', 'action'):
        for subset, name in ((None, None), ('unseen', 'unseen'),
                             ('tail', f'tail_{task}')):
            members = set(subsets[name]) if name else None
            per_class = {}
            for r in rows:
                if members is None or r[0] in members:
                    per_class.setdefault(r[column[task]], []).append(
                        r[0] not in lost)
            expected = 100 * np.mean([np.mean(v)
                                      for v in per_class.values()])
            key = measure_name(task, 'mt5r', 1.0, subset)
            assert m[key] == pytest.approx(expected), key
            assert m[key] == m[measure_name(task, 'mt5r', 2.0, subset)]
        assert m[f'{task}_top1@1.00s'] == pytest.approx(100 * 9658 / 9668)
