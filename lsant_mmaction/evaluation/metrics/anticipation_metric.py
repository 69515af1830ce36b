"""Anticipation metrics: verb, noun and action top-k at each anticipation
time, mean top-5 recall over many-shot classes, time to action."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmaction.registry import METRICS

from ...layout import (MANY_SHOT_RULES, ActionVocabulary, TimeGrid,
                       horizon_name, many_shot_classes)
from ..functional import (degenerate_scores, label_ranks, marginal_matrix,
                          mean_topk_recall, measure_name, time_to_action,
                          topk_accuracy)


@METRICS.register_module()
class AnticipationMetric(BaseMetric):
    """Top-k accuracy at each anticipation time, for actions and, with the
    action vocabulary, verbs and nouns; mean top-5 recall over many-shot
    classes; optionally the mean time to action.

    Reads ``pred_score`` ``(S, A)``: softmax scores of the S anticipation
    steps of the dataset's time grid (2.0 s ... 0.25 s on RU-LSTM's), as
    the anticipation heads predict them; and ``gt_label`` (the action). Verb (noun) scores are the sum of the
    scores of the actions with that verb (noun), as in RU-LSTM. Metric names
    carry the horizon, e.g. ``anticipation/action_top5@1.00s`` (RU-LSTM's
    model-selection criterion), ``verb_top1@2.00s``, ``noun_mt5r@1.00s``,
    ``action_tta5``. The per-horizon table is also written to the log.

    The time grid, the vocabulary, the class counts and the many-shot
    files come from the dataset (``dataset_meta``, see
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
                 time_to_action: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if many_shot is not None and many_shot not in MANY_SHOT_RULES:
            raise ValueError(f'many_shot must be None or one of '
                             f'{MANY_SHOT_RULES}, got {many_shot!r}')
        if many_shot and not verb_noun:
            raise ValueError('many_shot recall needs verb_noun=True')
        self.topk = tuple(topk)
        self.times = None  # from the dataset's grid, at the first batch
        self.verb_noun = verb_noun
        self.many_shot_rule = many_shot
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
        dataset."""
        self.times = tuple(
            TimeGrid.from_dict(self._meta('grid')).anticipation_times())
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
        ranks = dict(action=label_ranks(scores, labels))
        classes = dict(action=labels)
        flags = degenerate_scores(scores)
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
        for i in range(len(data_samples)):
            self.results.append({
                **{f'{t}_rank': ranks[t][i].numpy() for t in ranks},
                **{f'{t}_label': int(classes[t][i]) for t in classes},
                **{flag: bool(value[i]) for flag, value in flags.items()}
            })

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        self._warn_degenerate(results)
        metrics = {}
        for task in self.tasks:
            ranks = np.stack([r[f'{task}_rank'] for r in results])  # (N, S)
            labels = np.array([r[f'{task}_label'] for r in results])
            for k in self.topk:
                acc = topk_accuracy(ranks, k) * 100
                metrics.update({measure_name(task, f'top{k}', t): float(a)
                                for t, a in zip(self.times, acc)})
            if task in self.many_shot:
                recall = mean_topk_recall(ranks, labels,
                                          self.many_shot[task], 5) * 100
                metrics.update({measure_name(task, 'mt5r', t): float(r)
                                for t, r in zip(self.times, recall)})
            if self.time_to_action:
                metrics[f'{task}_tta5'] = float(
                    time_to_action(ranks, np.array(self.times), 5))
        MMLogger.get_current_instance().info(
            '\n' + self.format_table(metrics, len(results)))
        return metrics

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

    def format_table(self, metrics: Dict[str, float], num: int) -> str:
        """Markdown table: one row per task and measure, one column per
        anticipation time."""
        names = [horizon_name(t) for t in self.times]
        lines = [
            f'Anticipation results (%) on {num} segments',
            '| | ' + ' | '.join(names) + ' |',
            '|---|' + '---|' * len(names),
        ]
        measures = [f'top{k}' for k in self.topk] + ['mt5r']
        for task in self.tasks:
            for measure in measures:
                keys = [measure_name(task, measure, t) for t in self.times]
                if keys[0] in metrics:
                    label = ('mean top-5 recall' if measure == 'mt5r' else
                             f'top-{measure[3:]}')
                    lines.append(f'| {task} {label} | ' + ' | '.join(
                        f'{metrics[k]:.2f}' for k in keys) + ' |')
        tta = [f'{t} {metrics[f"{t}_tta5"]:.2f} s' for t in self.tasks
               if f'{t}_tta5' in metrics]
        if tta:
            lines.append('Mean time to action (top-5): ' + ', '.join(tta))
        return '\n'.join(lines)
