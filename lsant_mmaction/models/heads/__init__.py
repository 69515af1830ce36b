from .afft_head import AFFTHead
from .anticipation_lstm import AnticipationLSTM
from .avt_head import AVTHead
from .base_anticipation_head import BaseAnticipationHead
from .causal_transformer import CausalTransformer
from .future_prediction_head import FuturePredictionHead
from .lstm_anticipation_head import LSTMAnticipationHead
from .matt_fusion_head import MATTFusionHead
from .modality_token_fuser import ModalityTokenFuser
from .rolling_unrolling_lstm import RollingUnrollingLSTM
from .rulstm_head import RULSTMHead

__all__ = [
    'AFFTHead', 'AnticipationLSTM', 'AVTHead', 'BaseAnticipationHead',
    'CausalTransformer', 'FuturePredictionHead', 'LSTMAnticipationHead',
    'MATTFusionHead', 'ModalityTokenFuser', 'RollingUnrollingLSTM',
    'RULSTMHead'
]
