from .anticipation_metric import AnticipationMetric
from .epic_challenge_export import EpicChallengeExport

__all__ = ['AnticipationMetric', 'EpicChallengeExport']
