from .metrics import AnticipationMetric

__all__ = ['AnticipationMetric']
