from .anticipation_lstm import AnticipationLSTM
from .base_anticipation_head import BaseAnticipationHead
from .lstm_anticipation_head import LSTMAnticipationHead
from .matt_fusion_head import MATTFusionHead
from .rolling_unrolling_lstm import RollingUnrollingLSTM
from .rulstm_head import RULSTMHead

__all__ = [
    'AnticipationLSTM', 'BaseAnticipationHead', 'LSTMAnticipationHead',
    'MATTFusionHead', 'RollingUnrollingLSTM', 'RULSTMHead'
]
