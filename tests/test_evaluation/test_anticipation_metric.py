import logging
import numpy as np
import pytest
import torch

from lsant_mmaction.evaluation import AnticipationMetric
from lsant_mmaction.layout import TimeGrid, read_epic55_vocabulary

TIMES = ['2.00', '1.75', '1.50', '1.25', '1.00', '0.75', '0.50', '0.25']


def published(meta=None):
    """What a dataset publishes: the default grid and, given an
    ``actions_file``, its vocabulary and class counts."""
    meta = dict(meta or {})
    meta.setdefault('grid', TimeGrid().to_dict())
    if 'actions_file' in meta:
        vocab = read_epic55_vocabulary(meta['actions_file'])
        meta.update(vocabulary=vocab.to_dict(), num_verbs=int(vocab.verbs.max()) + 1,
                    num_nouns=int(vocab.nouns.max()) + 1)
    return meta


def run_metric(scores, labels, extra=None, meta=None, **kwargs):
    metric = AnticipationMetric(**kwargs)
    # what the runner passes from the dataset
    metric.dataset_meta = dict(anticipation=published(meta))
    samples = []
    for i, (s, l) in enumerate(zip(scores, labels)):
        sample = dict(pred_score=torch.as_tensor(s, dtype=torch.float32),
                      gt_label=torch.tensor([l]), segment_id=i)
        sample.update((extra or {}).get(i, {}))
        samples.append(sample)
    metric.process(None, samples)
    return metric.compute_metrics(metric.results)


def test_hand_computed_topk():
    # sample 0 (label 2): ranked 1st at steps 0-3 and 3rd at steps 4-7;
    # sample 1 (label 5): ranked last at every step.
    s0 = np.zeros((8, 6))
    s0[:4] = [0.1, 0.2, 0.9, 0.0, 0.3, 0.4]
    s0[4:] = [0.5, 0.6, 0.4, 0.0, 0.3, 0.1]
    s1 = np.tile([0.6, 0.5, 0.4, 0.3, 0.2, 0.1], (8, 1))
    m = run_metric([s0, s1], [2, 5], topk=(1, 3, 5))
    for t in TIMES[:4]:
        assert m[f'action_top1@{t}s'] == 50.0
        assert m[f'action_top5@{t}s'] == 50.0
    for t in TIMES[4:]:
        assert m[f'action_top1@{t}s'] == 0.0
        assert m[f'action_top3@{t}s'] == 50.0
        assert m[f'action_top5@{t}s'] == 50.0


def write(path, text):
    path.write_text(text)
    return str(path)


@pytest.fixture
def vocab_files(tmp_path):
    # actions: 0 (v0,n0) 1 (v0,n1) 2 (v1,n0) 3 (v1,n2) 4 (v2,n2)
    actions = write(tmp_path / 'actions.csv', 'id,action,verb,noun\n'
                    '0, a,0,0\n1, b,0,1\n2, c,1,0\n3, d,1,2\n4, e,2,2\n')
    verbs = write(tmp_path / 'v.csv', 'verb_class,verb\n1,x\n')
    nouns = write(tmp_path / 'n.csv', 'noun_class,noun\n2,y\n')
    official = write(tmp_path / 'a.csv', 'action_class,noun,noun_class,'
                     'verb,verb_class\n"(1, 2)",y,2,x,1\n')
    return actions, verbs, nouns, official


def test_verb_noun_marginalisation_by_hand(vocab_files):
    actions = vocab_files[0]
    # label action 2 = (v1, n0). Action probs: [.3, .3, .1, .05, .25]
    # verb scores: v0 = .6, v1 = .15, v2 = .25 -> v1 ranked 3rd
    # noun scores: n0 = .4, n1 = .3, n2 = .3 -> n0 ranked 1st
    probs = np.tile([0.3, 0.3, 0.1, 0.05, 0.25], (8, 1))
    m = run_metric([probs], [2], verb_noun=True, topk=(1, 2, 3),
                   meta=dict(dataset='epic55', actions_file=actions))
    assert m['action_top2@1.00s'] == 0 and m['action_top3@1.00s'] == 0
    assert m['verb_top2@1.00s'] == 0 and m['verb_top3@1.00s'] == 100
    assert m['noun_top1@1.00s'] == 100


def test_many_shot_recall_by_hand(vocab_files, tmp_path):
    _, verbs, nouns, official = vocab_files  # many-shot: verb 1, noun 2
    # 7 actions: 0 (v0,n0) 1 (v0,n1) 2 (v1,n0) 3 (v1,n2) 4 (v2,n2)
    # 5 (v2,n1) 6 (v0,n2); many-shot by RU-LSTM's rule: 2, 3, 4, 6
    actions = write(tmp_path / 'actions7.csv', 'id,action,verb,noun\n'
                    '0, a,0,0\n1, b,0,1\n2, c,1,0\n3, d,1,2\n4, e,2,2\n'
                    '5, f,2,1\n6, g,0,2\n')
    hit3 = np.tile([0, 0, 0, 1.0, 0, 0, 0], (8, 1))
    miss3 = np.tile([1.0, .9, .8, 0, .7, .6, .5], (8, 1))  # label 7th
    hit4 = np.tile([0, 0, 0, 0, 1.0, 0, 0], (8, 1))
    miss5 = np.tile([1.0, .9, .8, .7, .6, 0, .5], (8, 1))  # not many-shot
    scores, labels = [hit3, miss3, hit4, miss5], [3, 3, 4, 5]
    meta = dict(dataset='epic55', actions_file=actions,
                many_shot_verbs=verbs, many_shot_nouns=nouns,
                many_shot_actions=official)
    m = run_metric(scores, labels, verb_noun=True, many_shot='rulstm',
                   meta=meta)
    # present many-shot actions 3 (recall 1/2) and 4 (recall 1): mean 75
    assert m['action_mt5r@1.00s'] == 75.0
    assert m['action_top5@1.00s'] == 50.0  # 2 of 4 segments
    # official list: only (1, 2) = action 3
    m = run_metric(scores, labels, verb_noun=True, many_shot='official',
                   meta=meta)
    assert m['action_mt5r@1.00s'] == 50.0


def loop_reference(scores, labels, verb_of, noun_of, many, k_list):
    """Straightforward loops: argsort per sample and step."""
    out = {}
    n, steps, _ = scores.shape
    tasks = dict(action=(scores, labels))
    for task, of in (('verb', verb_of), ('noun', noun_of)):
        marg = np.zeros((n, steps, of.max() + 1))
        for a, c in enumerate(of):
            marg[:, :, c] += scores[:, :, a]
        tasks[task] = (marg, of[labels])
    for task, (sc, lab) in tasks.items():
        for s, t in enumerate(TIMES):
            for k in k_list:
                hits = [lab[i] in np.argsort(-sc[i, s], kind='stable')[:k]
                        for i in range(n)]
                out[f'{task}_top{k}@{t}s'] = 100 * np.mean(hits)
            classes = [c for c in many[task] if c in set(lab)]
            recalls = []
            for c in classes:
                idx = [i for i in range(n) if lab[i] == c]
                recalls.append(np.mean(
                    [c in np.argsort(-sc[i, s], kind='stable')[:5]
                     for i in idx]))
            out[f'{task}_mt5r@{t}s'] = 100 * np.mean(recalls)
        first = []
        for i in range(n):
            hit = [lab[i] in np.argsort(-sc[i, s], kind='stable')[:5]
                   for s in range(steps)]
            first.append(float(TIMES[hit.index(True)]) if any(hit) else 0.0)
        out[f'{task}_tta5'] = np.mean(first)
    return out


def test_against_loop_on_random_scores(tmp_path):
    rng = np.random.default_rng(0)
    num_verbs, num_nouns = 6, 9
    pairs = sorted({(int(rng.integers(num_verbs)), int(rng.integers(
        num_nouns))) for _ in range(60)})
    verb_of = np.array([p[0] for p in pairs])
    noun_of = np.array([p[1] for p in pairs])
    actions = write(tmp_path / 'actions.csv', 'id,action,verb,noun\n' +
                    ''.join(f'{a}, x,{v},{n}\n'
                            for a, (v, n) in enumerate(pairs)))
    verbs = write(tmp_path / 'v.csv', 'verb_class,verb\n0,a\n2,b\n3,c\n')
    nouns = write(tmp_path / 'n.csv', 'noun_class,noun\n1,a\n4,b\n')
    num = len(pairs)
    logits = rng.normal(size=(80, 8, num)) * 2
    scores = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = rng.integers(0, num, 80)
    m = run_metric(scores, labels, verb_noun=True, many_shot='rulstm',
                   time_to_action=True,
                   meta=dict(dataset='epic55', actions_file=actions,
                             many_shot_verbs=verbs, many_shot_nouns=nouns))
    many = dict(verb=[0, 2, 3], noun=[1, 4],
                action=[a for a in range(num)
                        if verb_of[a] in (0, 2, 3) or noun_of[a] in (1, 4)])
    ref = loop_reference(scores.astype(np.float32), labels, verb_of,
                         noun_of, many, (1, 5))
    assert set(ref) == set(m)
    for key, value in ref.items():
        assert m[key] == pytest.approx(value, abs=1e-9), key


def test_bad_inputs(vocab_files):
    actions = vocab_files[0]
    with pytest.raises(ValueError, match='the dataset\'s time grid has 8 '
                       'anticipation steps'):
        run_metric([np.zeros((7, 3))], [0])
    with pytest.raises(ValueError, match='label -1'):
        run_metric([np.zeros((8, 3))], [-1])
    meta = dict(dataset='epic55', actions_file=actions)
    with pytest.raises(ValueError, match='6 actions but .*defines 5'):
        run_metric([np.zeros((8, 6))], [0], verb_noun=True, meta=meta)
    with pytest.raises(KeyError, match="needs the dataset's vocabulary"):
        run_metric([np.zeros((8, 5))], [1], verb_noun=True, meta={})


def argsort_reference_topk(scores, labels, k):
    """Top-k hits ``(N, S)`` by sorting, independently of ``label_ranks``:
    classes in decreasing score, non-finite scores first, and the label
    after every class that ties with it (ties never in its favour); a
    non-finite label score is never a hit."""
    n, steps, num = scores.shape
    hits = np.zeros((n, steps), bool)
    for i in range(n):
        for s in range(steps):
            row, label = scores[i, s], labels[i]
            if not np.isfinite(row[label]):
                continue
            key = np.where(np.isfinite(row), -row, -np.inf)
            is_label = np.arange(num) == label
            order = np.lexsort((is_label, key))  # last key sorts first
            hits[i, s] = label in order[:k]
    return hits


def degenerate_cases():
    rng = np.random.default_rng(3)
    num = 40
    logits = rng.normal(size=(30, 8, num))
    labels = rng.integers(0, num, 30)
    nan = np.full((30, 8, num), np.nan)
    constant = np.full((30, 8, num), 1.0 / num)
    # a diverged run: huge logits, softmax mostly exact zeros
    huge = torch.from_numpy(logits * 1e6).float().softmax(-1).double().numpy()
    # ties and partial NaN mixed into sensible scores
    mixed = np.round(rng.random((30, 8, num)), 1)
    mixed[0, :, 5] = np.nan
    mixed[1, 2, labels[1]] = np.inf
    return labels, dict(nan=nan, constant=constant, diverged=huge,
                        mixed=mixed)


@pytest.mark.parametrize('case', ['nan', 'constant', 'diverged', 'mixed'])
def test_broken_scores_never_score_well(case):
    labels, cases = degenerate_cases()
    scores = cases[case]
    m = run_metric(scores, labels, topk=(1, 5))
    for k in (1, 5):
        ref = argsort_reference_topk(scores.astype(np.float32), labels, k)
        for s, t in enumerate(TIMES):
            assert m[f'action_top{k}@{t}s'] == pytest.approx(
                100 * ref[:, s].mean()), (case, k, t)
    if case in ('nan', 'constant'):
        assert all(v == 0 for v in m.values())
    if case == 'diverged':
        # most scores are exact zeros: at most the segments whose label got
        # a non-zero score can be hits
        assert (scores == 0).mean() > 0.9
        assert m['action_top5@1.00s'] <= 100 * (
            scores[:, 4][np.arange(30), labels] > 0).mean()


def test_label_ranks_ties_and_non_finite_by_hand():
    from lsant_mmaction.evaluation.functional import label_ranks
    scores = torch.tensor([[[0.5, 0.5, 0.0]],  # tie with class 0: rank 1
                           [[0.2, 0.2, 0.2]],  # constant: rank 2
                           [[np.nan, 0.1, 0.3]],  # NaN before the label
                           [[0.9, np.nan, 0.0]]])  # NaN label: never a hit
    labels = torch.tensor([1, 0, 2, 1])
    assert label_ranks(scores, labels)[:, 0].tolist() == [1, 2, 1, 3]


def test_broken_scores_are_reported():
    from mmengine.logging import MMLogger
    labels, cases = degenerate_cases()
    logger = MMLogger.get_instance('lsant_metric_test')
    records = []

    class Keep(logging.Handler):

        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep()
    logger.addHandler(handler)
    try:
        run_metric(cases['nan'][:7], labels[:7])
        run_metric(cases['constant'][:4], labels[:4])
    finally:
        logger.removeHandler(handler)
    assert any('7 of 7 segments have non-finite' in r for r in records)
    assert any('4 of 4 segments have the same score for every action' in r
               for r in records)


def test_measure_names_round_trip():
    from lsant_mmaction.evaluation.functional import (measure_name,
                                                      parse_measure_name)
    assert measure_name('action', 'top5', 1.0) == 'action_top5@1.00s'
    assert parse_measure_name('anticipation/verb_mt5r@0.25s') == (
        'verb_mt5r', 0.25)
    assert parse_measure_name('noun_top1@2.00s') == ('noun_top1', 2.0)
    assert parse_measure_name('anticipation/action_tta5') is None
    assert parse_measure_name('loss') is None
