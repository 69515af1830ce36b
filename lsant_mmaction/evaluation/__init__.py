from .metrics import (AnticipationMetric, AnticipationPredictionDump,
                      EpicChallengeExport, load_predictions)

__all__ = [
    'AnticipationMetric', 'AnticipationPredictionDump', 'EpicChallengeExport',
    'load_predictions'
]
