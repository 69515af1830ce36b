from .anticipation_metric import AnticipationMetric
from .epic_challenge_export import EpicChallengeExport
from .prediction_dump import AnticipationPredictionDump, load_predictions

__all__ = [
    'AnticipationMetric', 'AnticipationPredictionDump', 'EpicChallengeExport',
    'load_predictions'
]
