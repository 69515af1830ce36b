from .base_anticipation_head import BaseAnticipationHead
from .lstm_anticipation_head import LSTMAnticipationHead

__all__ = ['BaseAnticipationHead', 'LSTMAnticipationHead']
