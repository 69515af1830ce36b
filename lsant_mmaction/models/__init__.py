from .backbones import PerStepBackbone
from .data_preprocessors import FeatureDataPreprocessor
from .heads import (AnticipationLSTM, BaseAnticipationHead,
                    LSTMAnticipationHead, MATTFusionHead,
                    RollingUnrollingLSTM, RULSTMHead)
from .losses import PriorSmoothedCrossEntropyLoss
from .recognizers import Anticipator

__all__ = [
    'AnticipationLSTM', 'Anticipator', 'BaseAnticipationHead',
    'FeatureDataPreprocessor',
    'LSTMAnticipationHead', 'MATTFusionHead', 'PerStepBackbone',
    'PriorSmoothedCrossEntropyLoss',
    'RollingUnrollingLSTM', 'RULSTMHead'
]
