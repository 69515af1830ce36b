"""AVT's causal transformer head (AVT-h) on per-step features."""
from typing import Dict, Optional, Sequence

import torch

from mmaction.registry import MODELS

from .future_prediction_head import FuturePredictionHead


@MODELS.register_module()
class AVTHead(FuturePredictionHead):
    """AVT-h (Girdhar and Grauman, ICCV 2021): the concatenated modality
    features of each step are the step features ``z``, and a GPT-2-style
    causal transformer predicts the next step's feature at every step,
    whose classification is the anticipated action
    (:class:`FuturePredictionHead` for the outputs and losses).

    Follows the official code (facebookresearch/AVT,
    ``models/future_prediction.py: AVTh``, ``models/base_model.py``,
    ``expts/02_ek100_avt_tsn.txt``): ``encoder`` linear without bias
    (features -> 2048), GPT-2 without token embeddings (6 layers, 4 heads,
    learned positions, dropouts 0.1), ``decoder`` linear without bias back
    to the feature size; dropout (0.2) and a linear classifier on the
    decoded prediction; the feature loss is the mean squared error of each
    step's prediction against the next step's input feature (weight 1 on
    EK100, 2 on EK55); the past-action loss (``classifier_on_past``, weight
    1 on EK100, 0.1 on EGTEA) classifies ``[z_0, z_hat_0 .. z_hat_{T-2}]``.
    The encoder, decoder and classifiers start from normal(0, 0.01) with
    zero biases (``BaseModel._initialize_weights``), the transformer from
    GPT-2's initialisation.

    Differs: the modalities are concatenated into one input (the official
    TSN models read one modality each; its rgb+obj and rgb+flow results
    are late fusions of separate runs); the action is predicted at each of
    the last ``num_anticipation_steps`` steps, so a grid of horizons comes
    from one pass (the official head predicts at the last step only:
    ``num_anticipation_steps=1``); the attention is one fused causal call
    (the official masks with -1e4 before the softmax, which gives the
    same weights in float32); the encoder is the identity when the
    feature size equals the transformer's; the past-action loss averages
    over the labelled steps (the official divides by all steps, unlabelled
    ones counting 0).

    Args:
        num_classes (int): Number of actions.
        in_channels (int): Size of the concatenated input features.
        modalities (Sequence[str]): Input modalities, concatenated in order.
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
        feat_loss_weight (float): Weight of the next-feature regression.
            Defaults to 1.0 (AVT, EK100).
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
                 in_channels: int,
                 modalities: Sequence[str],
                 transformer: dict = dict(type='CausalTransformer'),
                 dropout: float = 0.2,
                 num_anticipation_steps: int = 8,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 num_verbs: Optional[int] = None,
                 num_nouns: Optional[int] = None,
                 loss_verb: Optional[dict] = None,
                 loss_noun: Optional[dict] = None,
                 feat_loss_weight: float = 1.0,
                 past_loss_weight: float = 0.0,
                 loss_past: Optional[dict] = None,
                 topk=(1, 5),
                 init_cfg=None) -> None:
        super().__init__(
            num_classes,
            in_channels,
            modalities,
            feat_channels=in_channels,
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
        self._init_linear(
            (self.encoder, self.decoder, self.classifier) + tuple(
                getattr(self, f'{name}_classifier')
                for name in self.extra_outputs), std=0.01)

    def embed(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The concatenated modalities ``(B, T, in_channels)``."""
        return self.concat_modalities(feats)
