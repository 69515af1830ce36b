"""AFFT's multimodal fusion transformer head on per-step features."""
from typing import Dict, Optional, Sequence

import torch
from torch import nn

from mmaction.registry import MODELS

from .future_prediction_head import FuturePredictionHead


@MODELS.register_module()
class AFFTHead(FuturePredictionHead):
    """AFFT (Zhong et al., WACV 2023): each modality is mapped to a common
    size, a self-attention fuser with a fusion token (SA-Fuser,
    :class:`ModalityTokenFuser`) fuses the modality tokens of each step
    into the step features ``z``, and the causal future predictor of
    :class:`FuturePredictionHead` predicts the next fused feature at every
    step, whose classification is the anticipated action.

    Follows the official code (zeyun-zhong/AFFT, ``models/
    future_prediction.py: CMFPEarly``, ``BaseFuturePredictor``,
    ``models/fusion.py: ModalTokenCMFuser``, ``models/feature_mapping.py:
    Linear``; the EK100 TSN setting of ``expts/01_SA-Fuser_ek100_val_TSN_
    wo_audio.txt``): linear mappings without bias to 1024, the identity for
    a modality already of that size (``sparse_mapping=True``: rgb and flow
    of the TSN features); SA-Fuser of depth 6, 4 heads, dropouts and
    stochastic depth 0.1; ``dim_encoder`` 1024 -> 2048 without bias, GPT-2
    without token embeddings (6 layers, 4 heads, dropouts 0.1),
    ``dim_decoder`` back to 1024; one shared dropout (0.2) + linear
    classifier on the decoded predictions (``share_classifiers``,
    ``fusion_cls``); the auxiliary losses of ``common/runner.py``: the
    regression of each step's prediction on the next step's fused feature
    (``past_reg``, the target not detached) and the classification of the
    observed steps from ``[z_0, z_hat_0 .. z_hat_{T-2}]`` (``past_cls``),
    averaged over the labelled steps as in the official mixup path.
    Mapping, encoder, decoder and classifiers keep PyTorch's default
    initialisation, as in the official code.

    Differs: both auxiliary losses are off by default here (official
    weights 1.0; the past labels must come from the dataset); the action
    is predicted at each of the last ``num_anticipation_steps`` steps (the
    official head predicts at the last step: ``num_anticipation_steps=1``);
    the attentions are fused calls; the official EK100 TSN model has an
    action classifier only (``label_type=action``, verb and noun scores
    by marginalisation), and its verb and noun classifiers (``label_type``
    a list) are ``num_verbs`` / ``num_nouns`` here; mapping LayerNorms
    (``use_layernorm``), the fuser's ``cross_attn`` and modality embedding
    and the per-modality (score fusion) variants are not offered; label
    smoothing and mixup are the loss's and the data preprocessor's
    business (AFFT: uniform 0.4 on actions, mixup 0.1).

    Args:
        num_classes (int): Number of actions.
        modalities (Sequence[str]): Input modalities; their tokens go to
            the fuser in this order.
        modality_channels (dict[str, int]): Feature size of each modality,
            e.g. ``dict(rgb=1024, flow=1024, obj=352)``.
        fusion_channels (int): Common size of the modality tokens (AFFT's
            ``common_dim``). Defaults to 1024.
        fuser (dict): :class:`ModalityTokenFuser` config; ``channels`` and
            ``num_modalities`` are filled in. Defaults to
            ``dict(type='ModalityTokenFuser')`` (depth 6, 4 heads, 0.1).
        transformer (dict): :class:`CausalTransformer` config. Defaults to
            ``dict(type='CausalTransformer')`` (2048, 6 layers, 4 heads).
        dropout (float): Dropout before the classifiers. Defaults to 0.2.
        num_anticipation_steps (int): Output steps. Defaults to 8.
        loss_cls (dict): Action loss. Defaults to
            ``dict(type='CrossEntropyLoss')``.
        num_verbs (int, optional): Adds a verb classifier. Defaults to None.
        num_nouns (int, optional): Adds a noun classifier. Defaults to None.
        loss_verb (dict, optional): Verb loss. Defaults to None
            (cross-entropy).
        loss_noun (dict, optional): Noun loss. Defaults to None
            (cross-entropy).
        feat_loss_weight (float): Weight of the fused-feature regression.
            Defaults to 0 (off).
        past_loss_weight (float): Weight of the past-action losses; they
            need ``past_label`` in the data samples. Defaults to 0 (off).
        loss_past (dict, optional): Past-action loss; None uses
            ``loss_cls``. Defaults to None.
        topk (tuple[int]): Training top-k accuracies. Defaults to
            ``(1, 5)``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 modalities: Sequence[str],
                 modality_channels: Dict[str, int],
                 fusion_channels: int = 1024,
                 fuser: dict = dict(type='ModalityTokenFuser'),
                 transformer: dict = dict(type='CausalTransformer'),
                 dropout: float = 0.2,
                 num_anticipation_steps: int = 8,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 num_verbs: Optional[int] = None,
                 num_nouns: Optional[int] = None,
                 loss_verb: Optional[dict] = None,
                 loss_noun: Optional[dict] = None,
                 feat_loss_weight: float = 0.0,
                 past_loss_weight: float = 0.0,
                 loss_past: Optional[dict] = None,
                 topk=(1, 5),
                 init_cfg=None) -> None:
        missing = [m for m in modalities if m not in modality_channels]
        extra = [m for m in modality_channels if m not in modalities]
        if missing or extra:
            raise ValueError(
                f'modality_channels must give one size per modality '
                f'{tuple(modalities)}; missing {missing}, extra {extra}')
        super().__init__(
            num_classes,
            sum(modality_channels[m] for m in modalities),
            modalities,
            feat_channels=fusion_channels,
            transformer=transformer,
            dropout=dropout,
            num_anticipation_steps=num_anticipation_steps,
            loss_cls=loss_cls,
            num_verbs=num_verbs,
            num_nouns=num_nouns,
            loss_verb=loss_verb,
            loss_noun=loss_noun,
            feat_loss_weight=feat_loss_weight,
            past_loss_weight=past_loss_weight,
            loss_past=loss_past,
            topk=topk,
            init_cfg=init_cfg)
        self.modality_channels = {m: modality_channels[m] for m in modalities}
        self.mapping = nn.ModuleDict({
            m: nn.Identity() if size == fusion_channels else nn.Linear(
                size, fusion_channels, bias=False)
            for m, size in self.modality_channels.items()
        })
        self.fuser = MODELS.build(
            dict(fuser, channels=fusion_channels,
                 num_modalities=len(self.modalities)))

    def embed(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Fused step features ``(B, T, fusion_channels)``."""
        tokens = []
        for m in self.modalities:
            if m not in feats:
                raise KeyError(f'AFFTHead needs modality {m!r}; inputs have '
                               f'{sorted(feats)}')
            if feats[m].shape[-1] != self.modality_channels[m]:
                raise ValueError(
                    f'{m} features have {feats[m].shape[-1]} channels, '
                    f'modality_channels says {self.modality_channels[m]}')
            tokens.append(self.mapping[m](feats[m]))
        return self.fuser(torch.stack(tokens, dim=2))  # (B, T, n, D) -> ...
