from .heads import BaseAnticipationHead, LSTMAnticipationHead
from .losses import PriorSmoothedCrossEntropyLoss
from .recognizers import Anticipator

__all__ = [
    'Anticipator', 'BaseAnticipationHead', 'LSTMAnticipationHead',
    'PriorSmoothedCrossEntropyLoss'
]
