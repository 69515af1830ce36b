"""The LSTM baseline of the paper."""
from typing import Dict, Sequence

import torch
from torch import nn

from mmaction.registry import MODELS

from .base_anticipation_head import BaseAnticipationHead


@MODELS.register_module()
class LSTMAnticipationHead(BaseAnticipationHead):
    """One LSTM over the observed sequence, predicting at its last steps.

    Dropout is applied to the LSTM inputs and before the linear classifier
    (as in RU-LSTM). The logits of the last ``num_anticipation_steps`` steps
    are returned.

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
            num_anticipation_steps=num_anticipation_steps,
            loss_cls=loss_cls,
            init_cfg=init_cfg)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(in_channels, hidden_channels, batch_first=True)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(hidden_channels, num_classes))

    def forward(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits ``(B, S, C)`` from per-modality features ``(B, T, D_m)``."""
        x = self.concat_modalities(feats)  # (B, T, D)
        if x.shape[1] < self.num_anticipation_steps:
            raise ValueError(
                f'{x.shape[1]} input steps, fewer than the '
                f'{self.num_anticipation_steps} anticipation steps')
        hidden, _ = self.lstm(self.dropout(x))  # (B, T, H)
        hidden = hidden[:, -self.num_anticipation_steps:]  # (B, S, H)
        return self.classifier(hidden)  # (B, S, C)
