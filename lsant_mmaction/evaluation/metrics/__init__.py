from .anticipation_metric import AnticipationMetric

__all__ = ['AnticipationMetric']
