from .anticipation_feature_dataset import (AnticipationFeatureDataset,
                                           EgteaGazeFeatureDataset,
                                           EpicKitchens55FeatureDataset)
from .epic_kitchens100_feature_dataset import EpicKitchens100FeatureDataset
from .rulstm_layout_feature_dataset import RULSTMLayoutFeatureDataset
from .stack_collate import PickledSamples, StackedTensors, stack_collate
from .teacher_store import TeacherStore
from .transforms import (LoadAnticipationFrames, LoadAnticipationVideoFrames,
                         LoadLMDBFeatures, LoadTeacherScores)

__all__ = [
    'AnticipationFeatureDataset', 'EgteaGazeFeatureDataset',
    'EpicKitchens55FeatureDataset', 'EpicKitchens100FeatureDataset',
    'LoadAnticipationFrames', 'LoadAnticipationVideoFrames',
    'LoadLMDBFeatures', 'LoadTeacherScores', 'PickledSamples',
    'RULSTMLayoutFeatureDataset', 'StackedTensors', 'TeacherStore',
    'stack_collate'
]
