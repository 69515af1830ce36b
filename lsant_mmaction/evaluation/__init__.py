from .metrics import AnticipationMetric, EpicChallengeExport

__all__ = ['AnticipationMetric', 'EpicChallengeExport']
