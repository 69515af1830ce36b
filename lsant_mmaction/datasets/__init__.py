from .anticipation_feature_dataset import (AnticipationFeatureDataset,
                                           EgteaGazeFeatureDataset,
                                           EpicKitchens55FeatureDataset)
from .transforms import LoadLMDBFeatures

__all__ = [
    'AnticipationFeatureDataset', 'EgteaGazeFeatureDataset',
    'EpicKitchens55FeatureDataset',
    'LoadLMDBFeatures'
]
