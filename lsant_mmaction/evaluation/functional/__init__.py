from .anticipation_measures import (degenerate_scores, label_ranks,
                                    marginal_matrix, mean_topk_recall,
                                    measure_name, parse_measure_name,
                                    time_to_action, topk_accuracy)

__all__ = [
    'degenerate_scores', 'label_ranks', 'marginal_matrix', 'mean_topk_recall',
    'measure_name', 'parse_measure_name', 'time_to_action', 'topk_accuracy'
]
