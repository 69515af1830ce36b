"""Modality-attention (MATT) fusion of several anticipation branches."""
from functools import partial
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import ModuleList
from torch import nn

from mmaction.registry import MODELS

from ...engine.checkpoint import load_every_tensor, pretrained_checkpoints
from .base_anticipation_head import BaseAnticipationHead


@MODELS.register_module()
class MATTFusionHead(BaseAnticipationHead):
    """One branch per modality, fused with modality attention (RU-LSTM).

    Each branch returns logits and a context (for RU-LSTM: last unrolling
    hidden state and rolling cell state). The concatenated contexts go
    through an MLP ``in -> in/4 -> in/8 -> n_branches`` (ReLU + dropout);
    its softmax gives one weight per branch, sample and step, and the fused
    logits are the weighted sum of the branches' logits. The MLP is
    ``matt`` (official name ``MATT``), the branches ``branches.{i}`` in the
    order of ``modalities``.

    Args:
        num_classes (int): Number of actions.
        modalities (Sequence[str]): Modalities, one branch each.
        branches (dict[str, dict]): Branch config per modality, with its
            ``in_channels`` (e.g. ``dict(type='RollingUnrollingLSTM',
            in_channels=1024)``); ``num_classes`` is filled in. Use a
            branch's ``init_cfg=dict(type='Pretrained', checkpoint=...,
            prefix='cls_head.branch.')`` to start from a trained branch.
        dropout (float): Dropout in the MATT MLP. Defaults to 0.8.
        num_anticipation_steps (int): Output steps. Defaults to 8.
        loss_cls (dict): Loss config. Defaults to
            ``dict(type='CrossEntropyLoss')``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 modalities: Sequence[str],
                 branches: Dict[str, dict],
                 dropout: float = 0.8,
                 num_anticipation_steps: int = 8,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 init_cfg=None) -> None:
        missing = [m for m in modalities if m not in branches]
        extra = [m for m in branches if m not in modalities]
        if missing or extra:
            raise ValueError(f'branches must have one config per modality '
                             f'{tuple(modalities)}; missing {missing}, '
                             f'extra {extra}')
        super().__init__(
            num_classes,
            sum(branches[m]['in_channels'] for m in modalities),
            modalities,
            num_anticipation_steps=num_anticipation_steps,
            loss_cls=loss_cls,
            init_cfg=init_cfg)
        self.branches = ModuleList([
            MODELS.build(dict(branches[m], num_classes=num_classes))
            for m in self.modalities
        ])
        in_size = sum(b.context_channels for b in self.branches)
        self.matt = nn.Sequential(
            nn.Linear(in_size, in_size // 4), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(in_size // 4, in_size // 8), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(in_size // 8, len(self.branches)))

    def init_weights(self) -> None:
        """Initialise, loading each branch's ``Pretrained`` checkpoint (the
        branch's trained stage): a checkpoint that leaves any tensor of its
        branch unset (another modality's branch, other sizes) is an error
        naming it, not a branch silently left random."""
        load = super().init_weights
        for branch in self.branches:  # each check wraps the one before
            for source in pretrained_checkpoints(branch.init_cfg):
                load = partial(load_every_tensor, branch, load, source)
        load()

    def forward_with_weights(self, feats: Dict[str, torch.Tensor]
                             ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Fused logits ``(B, S, C)`` and branch weights ``(B, S, n)``."""
        logits, contexts = [], []
        for modality, branch in zip(self.modalities, self.branches):
            if modality not in feats:
                raise KeyError(f'MATTFusionHead needs modality {modality!r};'
                               f' inputs have {sorted(feats)}')
            x = feats[modality]
            if x.shape[-1] != branch.in_channels:
                raise ValueError(
                    f'{modality} features have {x.shape[-1]} channels, its '
                    f'branch expects {branch.in_channels}')
            branch_logits, context = branch(x, self.num_anticipation_steps)
            logits.append(branch_logits)
            contexts.append(context)
        weights = F.softmax(self.matt(torch.cat(contexts, dim=-1)), dim=-1)
        fused = (torch.stack(logits, dim=-1) * weights.unsqueeze(2)).sum(-1)
        return fused, weights

    def forward(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Fused logits ``(B, S, C)``."""
        return self.forward_with_weights(feats)[0]
