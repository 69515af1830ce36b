"""The LSTM baseline branch."""
from typing import Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from mmaction.registry import MODELS

from .float32_classifier import Float32Classifier
from .lstm_ops import lstm_scan


@MODELS.register_module()
class AnticipationLSTM(BaseModule):
    """One LSTM over the observed steps, predicting at the last ones.

    Dropout is applied to the LSTM inputs and before the linear classifier
    (as in RU-LSTM).

    Args:
        in_channels (int): Input feature size.
        num_classes (int): Number of actions.
        hidden_channels (int): LSTM hidden size. Defaults to 1024.
        dropout (float): Dropout probability. Defaults to 0.8.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 hidden_channels: int = 1024,
                 dropout: float = 0.8,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.context_channels = 2 * hidden_channels
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(in_channels, hidden_channels)
        self.classifier = Float32Classifier(
            nn.Dropout(dropout), nn.Linear(hidden_channels, num_classes))

    def forward(self, x: torch.Tensor,
                outputs: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, S, C)`` and context ``(B, S, 2H)`` (hidden and cell
        state) of the last ``outputs`` steps of ``x`` ``(B, T, D)``."""
        if not 0 < outputs <= x.shape[1]:
            raise ValueError(
                f'cannot predict at {outputs} of {x.shape[1]} steps')
        hidden, cell = lstm_scan(self.lstm, self.dropout(x))  # (B, T, H)
        hidden, cell = hidden[:, -outputs:], cell[:, -outputs:]
        return self.classifier(hidden), torch.cat([hidden, cell], dim=-1)
