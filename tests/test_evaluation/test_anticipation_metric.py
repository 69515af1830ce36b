import numpy as np
import pytest
import torch

from lsant_mmaction.evaluation import AnticipationMetric


def run_metric(scores, labels, **kwargs):
    metric = AnticipationMetric(**kwargs)
    metric.process(None, [
        dict(pred_score=torch.as_tensor(s), gt_label=torch.tensor([l]))
        for s, l in zip(scores, labels)
    ])
    return metric.compute_metrics(metric.results)


def test_hand_computed_topk():
    # 2 samples, 8 steps, 6 classes. Sample 0 (label 2): at every step the
    # label is ranked 1st for steps 0-3 and 3rd for steps 4-7.
    # Sample 1 (label 5): ranked 6th (last) at every step.
    s0 = np.zeros((8, 6))
    s0[:4] = [0.1, 0.2, 0.9, 0.0, 0.3, 0.4]
    s0[4:] = [0.5, 0.6, 0.4, 0.0, 0.3, 0.1]
    s1 = np.tile([0.6, 0.5, 0.4, 0.3, 0.2, 0.1], (8, 1))
    m = run_metric([s0, s1], [2, 5], topk=(1, 3, 5))
    for i, t in enumerate(['2.00', '1.75', '1.50', '1.25']):
        assert m[f'action_top1@{t}s'] == 50.0
        assert m[f'action_top5@{t}s'] == 50.0
    for t in ['1.00', '0.75', '0.50', '0.25']:
        assert m[f'action_top1@{t}s'] == 0.0
        assert m[f'action_top3@{t}s'] == 50.0
        assert m[f'action_top5@{t}s'] == 50.0


def test_against_loop_on_random_scores():
    rng = np.random.default_rng(0)
    scores = rng.random((50, 8, 20))
    labels = rng.integers(0, 20, 50)
    m = run_metric(scores, labels)
    times = ['2.00', '1.75', '1.50', '1.25', '1.00', '0.75', '0.50', '0.25']
    for step, t in enumerate(times):
        for k in (1, 5):
            hits = [labels[i] in np.argsort(-scores[i, step])[:k]
                    for i in range(50)]
            assert m[f'action_top{k}@{t}s'] == pytest.approx(
                100 * np.mean(hits))


def test_wrong_shapes_and_labels():
    with pytest.raises(ValueError, match='expected \\(8, C\\)'):
        run_metric([np.zeros((7, 3))], [0])
    with pytest.raises(ValueError, match='label -1'):
        run_metric([np.zeros((8, 3))], [-1])
