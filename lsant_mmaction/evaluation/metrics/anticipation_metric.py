"""Top-k accuracy at each anticipation time."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmaction.registry import METRICS

from ...datasets.time_grid import anticipation_times, horizon_name


@METRICS.register_module()
class AnticipationMetric(BaseMetric):
    """Action top-k accuracy at each anticipation time.

    Reads ``pred_score`` ``(S, C)`` (scores of the S anticipation steps,
    ordered 2.0 s ... 0.25 s) and ``gt_label`` of each data sample. Metric
    names carry the horizon, e.g. ``anticipation/action_top5@1.00s``; that
    one is RU-LSTM's model-selection criterion. The per-horizon table is
    also written to the log.

    Args:
        topk (Sequence[int]): k values. Defaults to ``(1, 5)``.
        times (Sequence[float], optional): Anticipation time of each step.
            Defaults to the RU-LSTM grid ``2.0, 1.75, ..., 0.25``.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'anticipation'``.
    """
    default_prefix = 'anticipation'

    def __init__(self,
                 topk: Sequence[int] = (1, 5),
                 times: Optional[Sequence[float]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(topk)
        self.times = (tuple(float(t) for t in times) if times is not None
                      else tuple(anticipation_times().tolist()))

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            scores = sample['pred_score'].cpu().numpy()  # (S, C)
            if scores.ndim != 2 or scores.shape[0] != len(self.times):
                raise ValueError(
                    f'pred_score of segment {sample.get("segment_id")} has '
                    f'shape {scores.shape}, expected ({len(self.times)}, C)')
            label = int(sample['gt_label'].item())
            if not 0 <= label < scores.shape[1]:
                raise ValueError(
                    f'segment {sample.get("segment_id")}: label {label} '
                    f'outside [0, {scores.shape[1]}) (unlabelled split?)')
            # rank of the label at each step: classes scoring strictly
            # higher (ties count in the label's favour); top-k <=> rank < k
            rank = (scores > scores[:, label:label + 1]).sum(axis=1)  # (S,)
            self.results.append(dict(rank=rank, label=label))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        ranks = np.stack([r['rank'] for r in results])  # (N, S)
        metrics = {}
        for k in self.topk:
            acc = (ranks < k).mean(axis=0) * 100
            for t, a in zip(self.times, acc):
                metrics[f'action_top{k}@{horizon_name(t)}'] = float(a)
        MMLogger.get_current_instance().info(
            '\n' + self.format_table(metrics, len(results)))
        return metrics

    def format_table(self, metrics: Dict[str, float], num: int) -> str:
        """Markdown table: one row per k, one column per anticipation time."""
        names = [horizon_name(t) for t in self.times]
        lines = [
            f'Action anticipation accuracy (%) on {num} segments',
            '| | ' + ' | '.join(names) + ' |',
            '|---|' + '---|' * len(names),
        ]
        for k in self.topk:
            values = [metrics[f'action_top{k}@{n}'] for n in names]
            lines.append(f'| top-{k} | ' +
                         ' | '.join(f'{v:.2f}' for v in values) + ' |')
        return '\n'.join(lines)
