from .backbones import PerStepBackbone
from .heads import (AnticipationLSTM, BaseAnticipationHead,
                    LSTMAnticipationHead, MATTFusionHead,
                    RollingUnrollingLSTM, RULSTMHead)
from .losses import PriorSmoothedCrossEntropyLoss
from .recognizers import Anticipator

__all__ = [
    'AnticipationLSTM', 'Anticipator', 'BaseAnticipationHead',
    'LSTMAnticipationHead', 'MATTFusionHead', 'PerStepBackbone',
    'PriorSmoothedCrossEntropyLoss',
    'RollingUnrollingLSTM', 'RULSTMHead'
]
