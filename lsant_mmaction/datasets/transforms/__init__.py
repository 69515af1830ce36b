from .load_anticipation_frames import LoadAnticipationFrames
from .load_lmdb_features import LoadLMDBFeatures

__all__ = ['LoadAnticipationFrames', 'LoadLMDBFeatures']
