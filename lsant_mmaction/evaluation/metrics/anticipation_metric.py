"""Anticipation metrics: verb, noun and action top-k at each anticipation
time, mean top-5 recall (over many-shot classes or every class present,
overall and on subsets of the segments), time to action."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmaction.registry import METRICS

from ...layout import (MANY_SHOT_RULES, ActionVocabulary, TimeGrid,
                       horizon_name, many_shot_classes)
from ..functional import (SUBSET_LISTS, degenerate_scores, in_subset,
                          label_ranks, marginal_matrix, mean_topk_recall,
                          measure_name, time_to_action, topk_accuracy)


@METRICS.register_module()
class AnticipationMetric(BaseMetric):
    """Top-k accuracy at each anticipation time, for actions and, with the
    action vocabulary, verbs and nouns; mean top-5 recall, over many-shot
    classes (EPIC-Kitchens-55) or over every class present
    (EPIC-Kitchens-100), overall and on subsets of the segments; optionally
    the mean time to action.

    Reads ``pred_score`` ``(S, A)``: softmax scores of the S anticipation
    steps of the dataset's time grid (2.0 s ... 0.25 s on RU-LSTM's), as
    the anticipation heads predict them; ``gt_label`` (the action) and
    ``segment_id``. Verb (noun) scores are the sum of the scores of the
    actions with that verb (noun), as in RU-LSTM. Metric names carry the
    horizon, e.g. ``anticipation/action_top5@1.00s`` (RU-LSTM's EK55
    model-selection criterion), ``verb_top1@2.00s``, ``noun_mt5r@1.00s``,
    ``action_mt5r@1.00s`` (the EK100 criterion), ``action_mt5r_unseen@1.00s``,
    ``verb_mt5r_tail@0.25s``, ``action_tta5``. The per-horizon table is also
    written to the log.

    EPIC-Kitchens-100 as RU-LSTM's ``--ek100`` evaluates it::

        dict(type='AnticipationMetric', verb_noun=True, all_classes=True,
             subsets=('unseen', 'tail'), count_dropped=True)

    The time grid, the vocabulary, the class counts, the many-shot files,
    the subsets and the dropped segments come from the dataset
    (``dataset_meta['anticipation']``, see
    :class:`AnticipationFeatureDataset`): changing the grid or the
    ``data_root`` of the dataset changes the metric with it.

    Args:
        topk (Sequence[int]): k values. Defaults to ``(1, 5)``.
        verb_noun (bool): Also evaluate verbs and nouns. Defaults to False.
        many_shot (str, optional): Mean top-5 recall over many-shot classes
            (needs the dataset's many-shot lists): ``'rulstm'`` (an action
            is many-shot when its verb or its noun is, as RU-LSTM does) or
            ``'official'`` (``EPIC_many_shot_actions.csv``). Defaults to
            None (not computed).
        all_classes (bool): Mean top-5 recall over every class present in
            the segments evaluated (EPIC-Kitchens-100's class-mean recall),
            named ``{task}_mt5r`` as the many-shot one; not with
            ``many_shot``. Defaults to False.
        subsets (Sequence[str]): Also report the mean top-5 recall on
            subsets of the segments, from the dataset's ``subsets`` lists of
            segment ids: ``'unseen'`` (unseen participants: the ``unseen``
            list for every task) and ``'tail'`` (verbs on the ``tail_verb``
            segments, nouns on ``tail_noun``, actions on ``tail_action``, as
            RU-LSTM does), named ``{task}_mt5r_{subset}``. Needs
            ``many_shot`` or ``all_classes``. Defaults to ``()``.
        count_dropped (bool): Count the segments the dataset dropped for
            lack of frames (its ``dropped_labels``) with zero scores, as
            RU-LSTM's ``--ek100`` does, in every measure: misses at every
            step (ties never count for the label) whenever k is smaller
            than the number of classes. EK55's protocol excludes them.
            Defaults to False.
        time_to_action (bool): Also report the mean time to action: the
            earliest anticipation time from which the label is in the top 5
            (0 when never), averaged. Defaults to False.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'anticipation'``.
    """
    default_prefix = 'anticipation'

    def __init__(self,
                 topk: Sequence[int] = (1, 5),
                 verb_noun: bool = False,
                 many_shot: Optional[str] = None,
                 all_classes: bool = False,
                 subsets: Sequence[str] = (),
                 count_dropped: bool = False,
                 time_to_action: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if many_shot is not None and many_shot not in MANY_SHOT_RULES:
            raise ValueError(f'many_shot must be None or one of '
                             f'{MANY_SHOT_RULES}, got {many_shot!r}')
        if many_shot and not verb_noun:
            raise ValueError('many_shot recall needs verb_noun=True')
        if many_shot and all_classes:
            raise ValueError('mean top-5 recall is over many-shot classes '
                             '(many_shot) or over all classes (all_classes),'
                             ' not both')
        unknown = [s for s in subsets if s not in SUBSET_LISTS]
        if unknown:
            raise ValueError(f'subsets must be among {tuple(SUBSET_LISTS)}, '
                             f'got {unknown}')
        if subsets and not (many_shot or all_classes):
            raise ValueError('subsets report the mean top-5 recall: set '
                             'all_classes=True or many_shot')
        self.topk = tuple(topk)
        self.times = None  # from the dataset's grid, at the first batch
        self.verb_noun = verb_noun
        self.many_shot_rule = many_shot
        self.all_classes = all_classes
        self.subsets = tuple(subsets)
        self.count_dropped = count_dropped
        self.time_to_action = time_to_action
        self.tasks = ('verb', 'noun', 'action') if verb_noun else ('action', )
        self.vocab = None
        self.many_shot: Dict[str, np.ndarray] = {}

    def _meta(self, key: str) -> str:
        meta = (self.dataset_meta or {}).get('anticipation', {})
        if key not in meta:
            raise KeyError(f'AnticipationMetric needs the dataset\'s {key} '
                           f'(dataset_meta has {sorted(meta)})')
        return meta[key]

    def _setup(self) -> None:
        """Take the grid, the vocabulary and the class lists from the
        dataset; check that it publishes the subsets and dropped segments
        asked for (before a whole evaluation runs)."""
        self.times = tuple(
            TimeGrid.from_dict(self._meta('grid')).anticipation_times())
        for subset in self.subsets:
            for task in self.tasks:
                self._subset_ids(subset, task)
        if self.count_dropped:
            self._meta('dropped_labels')
        if not self.verb_noun:
            return
        self.vocab = ActionVocabulary.from_dict(self._meta('vocabulary'))
        self.marginals = dict(
            verb=marginal_matrix(self.vocab.verbs, self._meta('num_verbs')),
            noun=marginal_matrix(self.vocab.nouns, self._meta('num_nouns')))
        if self.many_shot_rule is not None:
            self.many_shot = many_shot_classes(
                self.vocab, self._meta('many_shot_verbs'),
                self._meta('many_shot_nouns'),
                self._meta('many_shot_actions')
                if self.many_shot_rule == 'official' else None,
                rule=self.many_shot_rule)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep, per segment, the rank of its verb, noun and action label at
        each step (the scores themselves are not kept)."""
        scores = torch.stack([s['pred_score'] for s in data_samples])
        scores = scores.float().cpu()  # (B, S, A)
        labels = torch.cat([s['gt_label'].view(-1) for s in data_samples])
        ids = [s.get('segment_id') for s in data_samples]
        if self.times is None:
            self._setup()
        if scores.ndim != 3 or scores.shape[1] != len(self.times):
            raise ValueError(
                f'pred_score of segments {ids[:3]} has shape '
                f'{tuple(scores.shape[1:])}, but the dataset\'s time grid '
                f'has {len(self.times)} anticipation steps '
                f'({self._meta("grid")}): expected ({len(self.times)}, '
                'num_actions); do the head\'s num_anticipation_steps and the '
                'dataset\'s time_grid agree?')
        bad = (labels < 0) | (labels >= scores.shape[2])
        if bad.any():
            i = int(bad.nonzero()[0, 0])
            raise ValueError(
                f'segment {ids[i]}: label {int(labels[i])} outside [0, '
                f'{scores.shape[2]}) (unlabelled split?)')
        self.results.extend(
            self._rank(scores, labels, ids, degenerate_scores(scores)))

    def _rank(self, scores: torch.Tensor, labels: torch.Tensor,
              ids: list, flags: Dict[str, torch.Tensor]) -> List[dict]:
        """One result per segment: its id, the rank of its action (verb,
        noun) label at each step and the degenerate-score flags."""
        ranks = dict(action=label_ranks(scores, labels))
        classes = dict(action=labels)
        if self.verb_noun:
            if scores.shape[2] != len(self.vocab):
                raise ValueError(
                    f'pred_score has {scores.shape[2]} actions but '
                    f'{self.vocab.source} defines {len(self.vocab)}: scores '
                    'and vocabulary come from different datasets')
            for task, of in (('verb', self.vocab.verbs),
                             ('noun', self.vocab.nouns)):
                classes[task] = torch.from_numpy(of)[labels]
                ranks[task] = label_ranks(scores @ self.marginals[task],
                                          classes[task])
        return [{
            'segment_id': ids[i],
            **{f'{t}_rank': ranks[t][i].numpy() for t in ranks},
            **{f'{t}_label': int(classes[t][i]) for t in classes},
            **{flag: bool(value[i]) for flag, value in flags.items()}
        } for i in range(len(ids))]

    def _dropped_results(self, results: List[dict]) -> List[dict]:
        """The dataset's dropped segments with zero scores at every step:
        misses under the tie rule of :func:`label_ranks`, as RU-LSTM's
        ``--ek100`` counts them (the model is not run on them)."""
        rows = self._meta('dropped_labels')
        if rows is None:
            raise ValueError(
                'count_dropped needs the labels of the dropped segments, but '
                f'{self._meta("ann_file")} is an unlabelled split')
        ids = [row[0] for row in rows]
        published = self._meta('dropped_ids') if 'dropped_ids' in (
            self.dataset_meta or {}).get('anticipation', {}) else ids
        if sorted(map(str, ids)) != sorted(map(str, published)):
            raise ValueError(
                f'the dataset\'s dropped_labels ({len(ids)} segments) and '
                f'dropped_ids ({len(published)}) disagree')
        seen = {str(r['segment_id']) for r in results}
        twice = [i for i in ids if str(i) in seen]
        if twice:
            raise ValueError(f'dropped segments {twice[:5]} also have '
                             'predictions: the dataset lists them wrongly')
        if not rows:
            return []
        labels = np.array([row[1:] for row in rows], dtype=np.int64)  # (D, 3)
        num = self._meta('num_classes')
        if labels[:, 2].min() < 0 or labels[:, 2].max() >= num:
            raise ValueError(f'dropped_labels: action labels outside '
                             f'[0, {num})')
        if self.verb_noun and not (
                np.array_equal(self.vocab.verbs[labels[:, 2]], labels[:, 0])
                and np.array_equal(self.vocab.nouns[labels[:, 2]],
                                   labels[:, 1])):
            raise ValueError(
                'dropped_labels: verb and noun labels disagree with the '
                f'actions of {self.vocab.source}')
        zeros = torch.zeros(len(rows), len(self.times), num)  # (D, S, A)
        no = torch.zeros(len(rows), dtype=torch.bool)
        return self._rank(zeros, torch.from_numpy(labels[:, 2]), ids,
                          dict(nonfinite=no, constant=no))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if self.times is None:  # no prediction at all on this process
            self._setup()
        self._warn_degenerate(results)
        dropped = self._dropped_results(results) if self.count_dropped else []
        if not self.count_dropped:
            skipped = len((self.dataset_meta or {}).get(
                'anticipation', {}).get('dropped_labels') or [])
            if skipped:
                MMLogger.get_current_instance().info(
                    f'{skipped} segments dropped by the dataset are not '
                    'counted (count_dropped=False)')
        results = results + dropped
        ids = [r['segment_id'] for r in results]
        metrics = {}
        for task in self.tasks:
            ranks = np.stack([r[f'{task}_rank'] for r in results])  # (N, S)
            labels = np.array([r[f'{task}_label'] for r in results])
            for k in self.topk:
                acc = topk_accuracy(ranks, k) * 100
                metrics.update({measure_name(task, f'top{k}', t): float(a)
                                for t, a in zip(self.times, acc)})
            if self.all_classes or task in self.many_shot:
                classes = self.many_shot.get(task)  # None: all classes
                subsets = {None: np.ones(len(ids), bool)}
                subsets.update(
                    (subset, in_subset(ids, self._subset_ids(subset, task)))
                    for subset in self.subsets)
                for subset, keep in subsets.items():
                    recall = mean_topk_recall(ranks[keep], labels[keep],
                                              classes, 5) * 100
                    metrics.update({
                        measure_name(task, 'mt5r', t, subset): float(r)
                        for t, r in zip(self.times, recall)
                    })
            if self.time_to_action:
                metrics[f'{task}_tta5'] = float(
                    time_to_action(ranks, np.array(self.times), 5))
        MMLogger.get_current_instance().info(
            '\n' + self.format_table(metrics, len(results), len(dropped)))
        return metrics

    def _subset_ids(self, subset: str, task: str) -> list:
        """The ids of the dataset's ``subsets`` list that ``task`` is
        evaluated on in ``subset``; an error when the dataset has none."""
        name = SUBSET_LISTS[subset][task]
        meta = (self.dataset_meta or {}).get('anticipation', {})
        lists = meta.get('subsets') or {}
        if not lists.get(name):
            raise KeyError(
                f'AnticipationMetric(subsets={self.subsets}) needs the '
                f'dataset\'s subsets[{name!r}] (segment ids), but '
                f'{meta.get("ann_file", "the dataset")} has '
                f'{sorted(k for k in lists if lists[k])}: evaluate a split '
                'with subset lists, or leave subsets out')
        return lists[name]

    @staticmethod
    def _warn_degenerate(results: List[dict]) -> None:
        """Say loudly how many segments had broken scores (they count as
        misses; see :func:`label_ranks`)."""
        for flag, what in (('nonfinite', 'non-finite (NaN/inf) scores'),
                           ('constant', 'the same score for every action '
                            'at some step')):
            count = sum(r[flag] for r in results)
            if count:
                MMLogger.get_current_instance().warning(
                    f'{count} of {len(results)} segments have {what}: '
                    'the model is broken or diverged; these count as '
                    'misses (ties never count in the label\'s favour)')

    def format_table(self,
                     metrics: Dict[str, float],
                     num: int,
                     dropped: int = 0) -> str:
        """Markdown table: one row per task and measure, one column per
        anticipation time."""
        names = [horizon_name(t) for t in self.times]
        lines = [
            f'Anticipation results (%) on {num} segments' +
            (f' ({dropped} dropped, counted as misses)' if dropped else ''),
            '| | ' + ' | '.join(names) + ' |',
            '|---|' + '---|' * len(names),
        ]
        recall = 'mean top-5 recall' + (
            ' (all classes)' if self.all_classes else ' (many-shot)')
        measures = [(f'top{k}', None, f'top-{k}') for k in self.topk]
        measures += [('mt5r', subset, recall + (f', {subset}' if subset
                                                 else ''))
                     for subset in (None, ) + self.subsets]
        for task in self.tasks:
            for measure, subset, label in measures:
                keys = [measure_name(task, measure, t, subset)
                        for t in self.times]
                if keys[0] in metrics:
                    lines.append(f'| {task} {label} | ' + ' | '.join(
                        f'{metrics[k]:.2f}' for k in keys) + ' |')
        tta = [f'{t} {metrics[f"{t}_tta5"]:.2f} s' for t in self.tasks
               if f'{t}_tta5' in metrics]
        if tta:
            lines.append('Mean time to action (top-5): ' + ', '.join(tta))
        return '\n'.join(lines)
