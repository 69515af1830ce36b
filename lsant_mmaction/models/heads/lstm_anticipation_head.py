"""The LSTM baseline of the paper."""
from typing import Dict, Sequence

from mmaction.registry import MODELS

from .base_anticipation_head import BaseAnticipationHead


@MODELS.register_module()
class LSTMAnticipationHead(BaseAnticipationHead):
    """One LSTM over the 14 observed steps, predicting at the last 8
    (:class:`AnticipationLSTM`); modalities are concatenated.

    Args:
        num_classes (int): Number of actions.
        in_channels (int): Size of the (concatenated) input features.
        modalities (Sequence[str]): Input modalities, concatenated in order.
        hidden_channels (int): LSTM hidden size. Defaults to 1024.
        dropout (float): Dropout probability. Defaults to 0.8.
        num_anticipation_steps (int): Output steps. Defaults to 8.
        loss_cls (dict): Loss config. Defaults to
            ``dict(type='CrossEntropyLoss')``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 modalities: Sequence[str],
                 hidden_channels: int = 1024,
                 dropout: float = 0.8,
                 num_anticipation_steps: int = 8,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 init_cfg=None) -> None:
        super().__init__(
            num_classes,
            in_channels,
            modalities,
            branch=dict(
                type='AnticipationLSTM',
                hidden_channels=hidden_channels,
                dropout=dropout),
            num_anticipation_steps=num_anticipation_steps,
            loss_cls=loss_cls,
            init_cfg=init_cfg)
