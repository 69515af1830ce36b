"""The RU-LSTM anticipation head (one branch)."""
from typing import Dict, Sequence

from mmaction.registry import MODELS

from .base_anticipation_head import BaseAnticipationHead


@MODELS.register_module()
class RULSTMHead(BaseAnticipationHead):
    """A rolling-unrolling LSTM (:class:`RollingUnrollingLSTM`) over the
    observed steps; modalities are concatenated (one modality per head in
    the RU-LSTM recipe, fused by :class:`MATTFusionHead`).

    Args:
        num_classes (int): Number of actions.
        in_channels (int): Size of the (concatenated) input features.
        modalities (Sequence[str]): Input modalities, concatenated in order.
        hidden_channels (int): LSTM hidden size. Defaults to 1024.
        dropout (float): Dropout probability. Defaults to 0.8.
        sequence_completion (bool): Sequence-completion pre-training: the
            unrolling LSTM reads the true future inputs. Defaults to False.
        unroll_dropout (str): ``'independent'`` (official) or ``'shared'``
            dropout masks for the replicated unrolling inputs, see
            :class:`RollingUnrollingLSTM`. Defaults to ``'independent'``.
        num_anticipation_steps (int): Output steps; 14 gives every step.
            Defaults to 8.
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
                 sequence_completion: bool = False,
                 unroll_dropout: str = 'independent',
                 num_anticipation_steps: int = 8,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 init_cfg=None) -> None:
        super().__init__(
            num_classes,
            in_channels,
            modalities,
            branch=dict(
                type='RollingUnrollingLSTM',
                hidden_channels=hidden_channels,
                dropout=dropout,
                sequence_completion=sequence_completion,
                unroll_dropout=unroll_dropout),
            num_anticipation_steps=num_anticipation_steps,
            loss_cls=loss_cls,
            init_cfg=init_cfg)
