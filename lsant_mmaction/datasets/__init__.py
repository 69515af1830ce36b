from .anticipation_feature_dataset import (AnticipationFeatureDataset,
                                           EgteaGazeFeatureDataset,
                                           EpicKitchens55FeatureDataset)
from .transforms import LoadAnticipationFrames, LoadLMDBFeatures

__all__ = [
    'AnticipationFeatureDataset', 'EgteaGazeFeatureDataset',
    'EpicKitchens55FeatureDataset', 'LoadAnticipationFrames',
    'LoadLMDBFeatures'
]
