from .anticipation_feature_dataset import (AnticipationFeatureDataset,
                                           EpicKitchens55FeatureDataset)
from .transforms import LoadLMDBFeatures

__all__ = [
    'AnticipationFeatureDataset', 'EpicKitchens55FeatureDataset',
    'LoadLMDBFeatures'
]
