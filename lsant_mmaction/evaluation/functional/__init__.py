from .anticipation_measures import (SUBSET_LISTS, degenerate_scores,
                                    in_subset, label_ranks, marginal_matrix,
                                    mean_topk_recall, measure_name,
                                    parse_measure_name, time_to_action,
                                    topk_accuracy)

__all__ = [
    'SUBSET_LISTS', 'degenerate_scores', 'in_subset', 'label_ranks',
    'marginal_matrix', 'mean_topk_recall', 'measure_name',
    'parse_measure_name', 'time_to_action', 'topk_accuracy'
]
