from .load_anticipation_frames import (LoadAnticipationFrames,
                                       LoadAnticipationVideoFrames)
from .load_lmdb_features import LoadLMDBFeatures
from .load_teacher_scores import LoadTeacherScores

__all__ = [
    'LoadAnticipationFrames', 'LoadAnticipationVideoFrames',
    'LoadLMDBFeatures', 'LoadTeacherScores'
]
