"""The maths of the anticipation measures, apart from any bookkeeping.

Plain functions on score tensors and rank arrays, called by
:class:`AnticipationMetric`, :class:`EpicChallengeExport`, the tools and the
tests alike. Measures are named ``{task}_{measure}@{time}``, e.g.
``action_top5@1.00s``, or ``{task}_{measure}_{subset}@{time}`` for a measure
on a subset of the segments, e.g. ``action_mt5r_unseen@1.00s``
(:func:`measure_name`, :func:`parse_measure_name`).
"""
import re
from typing import Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch

from ...layout import horizon_name

_MEASURE = re.compile(
    r'^(?:[a-z_]+/)?([a-z]+_[a-z0-9]+(?:_[a-z]+)?)@(\d+\.\d+)s$')

#: Segment subsets of EPIC-Kitchens-100's measures (RU-LSTM's ``--ek100``):
#: for each subset and task, the list of the dataset's ``subsets`` whose
#: segments the task is evaluated on. Tail verbs are measured on the
#: segments of ``tail_verb`` (segments whose verb is a tail class), and so
#: on; unseen participants on the same segments for every task.
SUBSET_LISTS: Dict[str, Dict[str, str]] = dict(
    unseen=dict(verb='unseen', noun='unseen', action='unseen'),
    tail=dict(verb='tail_verb', noun='tail_noun', action='tail_action'))


def measure_name(task: str,
                 measure: str,
                 seconds: float,
                 subset: Optional[str] = None) -> str:
    """``'action_top5@1.00s'`` for ``('action', 'top5', 1.0)``;
    ``'action_mt5r_tail@1.00s'`` for ``('action', 'mt5r', 1.0, 'tail')``."""
    suffix = f'_{subset}' if subset else ''
    return f'{task}_{measure}{suffix}@{horizon_name(seconds)}'


def parse_measure_name(key: str) -> Optional[Tuple[str, float]]:
    """``('action_top5', 1.0)`` for ``'action_top5@1.00s'`` and
    ``('action_mt5r_unseen', 1.0)`` for ``'action_mt5r_unseen@1.00s'``
    (with or without the metric's prefix, e.g. ``anticipation/``); None for
    other keys."""
    match = _MEASURE.match(key)
    return (match.group(1), float(match.group(2))) if match else None


def marginal_matrix(classes: np.ndarray, num: int) -> torch.Tensor:
    """``(A, num)`` 0/1 matrix: action ``a`` belongs to class ``classes[a]``.

    ``probs @ matrix`` sums the action probabilities of each verb (noun).
    """
    matrix = torch.zeros(len(classes), num)
    matrix[torch.arange(len(classes)), torch.from_numpy(classes)] = 1
    return matrix


def label_ranks(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Rank of each label at each step: the classes ranked before it.

    RU-LSTM ranks with ``np.argsort``, whose order among equal scores is an
    implementation detail of numpy's sort. Here every tie counts against the
    label (the worst case of any such order), so a model whose scores are
    constant, or collapsed to exact zeros, never scores above chance
    (a constant model scores 0). Non-finite scores are never a hit: a
    non-finite label score ranks last (``C``), and non-finite scores of
    other classes rank before the label.

    Args:
        scores (torch.Tensor): ``(N, S, C)``.
        labels (torch.Tensor): ``(N,)``.

    Returns:
        torch.Tensor: ``(N, S)`` int64 in ``[0, C]``; the label is in the
        top k iff rank < k.
    """
    own = scores.gather(2, labels.view(-1, 1, 1).expand(-1, scores.shape[1],
                                                        1))  # (N, S, 1)
    before = (scores >= own) | ~torch.isfinite(scores)  # (N, S, C)
    ranks = before.sum(-1) - 1  # the label itself is counted once
    return ranks.masked_fill(~torch.isfinite(own[..., 0]), scores.shape[2])


def degenerate_scores(scores: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per segment, whether any step's scores are non-finite, or constant
    across classes (a broken or collapsed model).

    Args:
        scores (torch.Tensor): ``(N, S, C)``.

    Returns:
        dict: ``nonfinite`` and ``constant``, bool ``(N,)``.
    """
    finite = torch.isfinite(scores)
    constant = (scores.amax(-1) == scores.amin(-1)) & finite.all(-1)
    return dict(nonfinite=~finite.all(-1).all(-1),
                constant=constant.any(-1))


def topk_accuracy(ranks: np.ndarray, k: int) -> np.ndarray:
    """Fraction of segments whose label is in the top k, at each step:
    ``(S,)`` in [0, 1] from ranks ``(N, S)`` (see :func:`label_ranks`)."""
    return (ranks < k).mean(axis=0)


def mean_topk_recall(ranks: np.ndarray, labels: np.ndarray,
                     classes: Optional[np.ndarray], k: int) -> np.ndarray:
    """Mean over ``classes`` present in ``labels`` (every class present when
    ``classes`` is None, EPIC-Kitchens-100's class-mean recall) of the
    per-class top-k recall, at each step: ``(S,)`` in [0, 1] (NaN without
    such classes, e.g. on an empty subset)."""
    present = np.unique(labels) if classes is None else np.intersect1d(
        classes, labels)
    if len(present) == 0:
        return np.full(ranks.shape[1], np.nan)
    keep = np.isin(labels, present)
    hits, labels = (ranks[keep] < k), labels[keep]  # (M, S)
    _, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse)  # samples per class
    per_class = np.stack([
        np.bincount(inverse, weights=hits[:, s]) / counts
        for s in range(hits.shape[1])
    ], axis=1)  # (classes, S)
    return per_class.mean(axis=0)


def in_subset(ids: Sequence, subset: Iterable) -> np.ndarray:
    """Bool ``(N,)``: whether each segment id is in ``subset`` (ids compared
    as strings, so ``12`` and ``'12'`` match, as ids read from CSVs)."""
    members = {str(i) for i in subset}
    return np.array([str(i) in members for i in ids], dtype=bool)


def time_to_action(ranks: np.ndarray, times: np.ndarray, k: int) -> float:
    """Mean over segments of the earliest anticipation time at which the
    label is in the top k (0 when it never is)."""
    hits = ranks < k  # (N, S), steps ordered from the earliest
    first = hits.argmax(axis=1)
    return float(np.where(hits.any(axis=1), times[first], 0.0).mean())
