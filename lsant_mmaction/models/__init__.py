from .heads import (AnticipationLSTM, BaseAnticipationHead,
                    LSTMAnticipationHead, MATTFusionHead,
                    RollingUnrollingLSTM, RULSTMHead)
from .losses import PriorSmoothedCrossEntropyLoss
from .recognizers import Anticipator

__all__ = [
    'AnticipationLSTM', 'Anticipator', 'BaseAnticipationHead',
    'LSTMAnticipationHead', 'MATTFusionHead', 'PriorSmoothedCrossEntropyLoss',
    'RollingUnrollingLSTM', 'RULSTMHead'
]
