from .load_anticipation_frames import (LoadAnticipationFrames,
                                       LoadAnticipationVideoFrames)
from .load_lmdb_features import LoadLMDBFeatures

__all__ = [
    'LoadAnticipationFrames', 'LoadAnticipationVideoFrames',
    'LoadLMDBFeatures'
]
