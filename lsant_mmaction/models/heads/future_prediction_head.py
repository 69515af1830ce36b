"""Shared part of the transformer heads: a causal future-feature predictor
with classifiers and the losses of AVT and AFFT."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmaction.registry import MODELS
from mmaction.utils import SampleList

from .base_anticipation_head import BaseAnticipationHead
from .float32_classifier import Float32Classifier

#: metainfo key of the past labels of each classification output
PAST_KEYS = dict(action='past_label', verb='past_verb_label',
                 noun='past_noun_label')
#: metainfo key of the (future) label of the verb and noun outputs
LABEL_KEYS = dict(verb='verb_label', noun='noun_label')


def _projection(in_channels: int, out_channels: int) -> nn.Module:
    """A linear map without bias, or the identity between equal sizes (as
    AFFT's ``dim_encoder`` / ``dim_decoder``)."""
    if in_channels == out_channels:
        return nn.Identity()
    return nn.Linear(in_channels, out_channels, bias=False)


class FuturePredictionHead(BaseAnticipationHead):
    """Step features ``z`` ``(B, T, F)`` -> ``encoder`` (F -> channels of
    the transformer) -> :class:`CausalTransformer` -> ``decoder`` (back to
    F) -> ``z_hat`` ``(B, T, F)``, where ``z_hat[:, t]`` is the prediction
    of ``z[:, t + 1]`` from the steps ``<= t``. Subclasses say what ``z``
    is (:meth:`embed`).

    Outputs and losses (each named so that mmengine logs and sums it):

    - ``loss_cls``: the action at each of the last ``S =
      num_anticipation_steps`` steps, ``classifier(z_hat[:, -S:])``
      ``(B, S, C)``, against the sample's action label repeated ``S``
      times (the anticipation times of the dataset's grid, from one
      forward pass; ``S = 1`` is the official one-horizon protocol);
    - ``loss_verb``, ``loss_noun`` (when ``num_verbs`` / ``num_nouns`` are
      given): the same from the verb and noun classifiers, against the
      data samples' ``verb_label`` / ``noun_label``;
    - ``loss_feat`` (``feat_loss_weight > 0``): mean squared error of
      ``z_hat[:, :T-1]`` against ``z[:, 1:]`` (the next step's feature,
      teacher forced; the target is not detached, as in both official
      codes);
    - ``loss_past`` (and ``loss_past_verb``, ``loss_past_noun``;
      ``past_loss_weight > 0``): the action of each observed step, from
      ``[z[:, 0], z_hat[:, :T-1]]`` (step 0's own feature, then each
      step's prediction from the steps before it), against the data
      samples' metainfo ``past_label`` (``past_verb_label``,
      ``past_noun_label``): an int array ``(T,)``, the action of the
      segment covering each observed step's frame, ``-1`` where none does;
      ``-1`` entries are left out of the mean.

    Every classification loss is a loss config, so any of them may be a
    :class:`PriorSmoothedCrossEntropyLoss` with its prior (over actions,
    verbs or nouns). The past-action loss is ``loss_past`` when given,
    else the action loss ``loss_cls`` itself (same prior and alpha: a sweep
    over ``loss_cls`` smooths both); the past verb and noun losses are
    ``loss_verb`` and ``loss_noun``. Soft action labels (mixup, cutmix)
    reach ``loss_cls`` as they are; with them the verb, noun and past
    losses are refused (their labels were not mixed).

    Predictions are the softmax of the action logits, ``(S, C)`` per
    sample (:class:`BaseAnticipationHead`); the verb and noun classifiers
    only train (verb and noun scores come from the action scores, as for
    every head of the project).

    Args:
        num_classes (int): Number of actions.
        in_channels (int): Size of the (concatenated) input features.
        modalities (Sequence[str]): Input modalities.
        feat_channels (int): Size F of the step features ``z``.
        transformer (dict): :class:`CausalTransformer` config. Defaults to
            ``dict(type='CausalTransformer')`` (2048 channels, 6 layers,
            4 heads, dropouts 0.1: AVT-h and AFFT on EK100).
        dropout (float): Dropout before the classifiers. Defaults to 0.2.
        num_anticipation_steps (int): Output steps (the last ones).
            Defaults to 8.
        loss_cls (dict): Action loss. Defaults to
            ``dict(type='CrossEntropyLoss')``.
        num_verbs (int, optional): Adds a verb classifier. Defaults to None.
        num_nouns (int, optional): Adds a noun classifier. Defaults to None.
        loss_verb (dict, optional): Verb loss; None is
            ``dict(type='CrossEntropyLoss')``. Defaults to None.
        loss_noun (dict, optional): Noun loss, likewise. Defaults to None.
        feat_loss_weight (float): Weight of ``loss_feat``; 0 is off.
            Defaults to 0.
        past_loss_weight (float): Weight of the past-step classification
            losses; 0 is off. Defaults to 0.
        loss_past (dict, optional): Past-action loss; None uses
            ``loss_cls``. Defaults to None.
        topk (tuple[int]): Training top-k accuracies (action, all steps).
            Defaults to ``(1, 5)``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 modalities: Sequence[str],
                 feat_channels: int,
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
        super().__init__(
            num_classes,
            in_channels,
            modalities,
            num_anticipation_steps=num_anticipation_steps,
            loss_cls=loss_cls,
            topk=topk,
            init_cfg=init_cfg)
        if feat_loss_weight < 0 or past_loss_weight < 0:
            raise ValueError('feat_loss_weight and past_loss_weight must be '
                             f'>= 0, got {feat_loss_weight} and '
                             f'{past_loss_weight}')
        self.feat_channels = feat_channels
        self.feat_loss_weight = float(feat_loss_weight)
        self.past_loss_weight = float(past_loss_weight)
        self.transformer = MODELS.build(dict(transformer))
        channels = self.transformer.channels
        self.encoder = _projection(feat_channels, channels)
        self.decoder = _projection(channels, feat_channels)
        self.classifier = Float32Classifier(
            nn.Dropout(dropout), nn.Linear(feat_channels, num_classes))
        # the extra outputs: name -> number of classes
        self.extra_outputs = {
            name: size
            for name, size in (('verb', num_verbs), ('noun', num_nouns))
            if size is not None
        }
        given = dict(verb=loss_verb, noun=loss_noun)
        for name, size in self.extra_outputs.items():
            setattr(self, f'{name}_classifier', Float32Classifier(
                nn.Dropout(dropout), nn.Linear(feat_channels, size)))
            setattr(self, f'loss_{name}', self._build_loss(
                given[name] or dict(type='CrossEntropyLoss'), size,
                f'loss_{name}', f'num_{name}s'))
        if loss_verb is not None and 'verb' not in self.extra_outputs:
            raise ValueError('loss_verb is given but num_verbs is not (no '
                             'verb classifier)')
        if loss_noun is not None and 'noun' not in self.extra_outputs:
            raise ValueError('loss_noun is given but num_nouns is not (no '
                             'noun classifier)')
        if loss_past is not None and not self.past_loss_weight:
            raise ValueError('loss_past is given but past_loss_weight=0 (the '
                             'past-action loss is off)')
        if loss_past is not None:
            self.loss_past = self._build_loss(loss_past, num_classes,
                                              'loss_past', 'num_classes')

    @staticmethod
    def _build_loss(cfg: dict, size: int, name: str, what: str) -> nn.Module:
        loss = MODELS.build(cfg)
        classes = getattr(loss, 'num_classes', None)
        if classes is not None and classes != size:
            raise ValueError(
                f'{name} ({type(loss).__name__}) has num_classes={classes} '
                f'(its prior is {classes}x{classes}) but the head has '
                f'{what}={size}')
        return loss

    def embed(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Step features ``z`` ``(B, T, F)`` from the modalities."""
        raise NotImplementedError

    def predict_features(self, z: torch.Tensor,
                         last: Optional[int] = None) -> torch.Tensor:
        """``z_hat`` ``(B, T, F)`` (or its last ``last`` steps) from ``z``."""
        hidden = self.transformer(self.encoder(z))  # (B, T, channels)
        return self.decoder(hidden if last is None else hidden[:, -last:])

    def _steps(self, z: torch.Tensor) -> int:
        steps = self.num_anticipation_steps
        if not 0 < steps <= z.shape[1]:
            raise ValueError(f'{type(self).__name__}: cannot predict at '
                             f'{steps} of {z.shape[1]} steps')
        return steps

    def forward(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Action logits ``(B, S, C)`` at the last ``S`` steps."""
        z = self.embed(feats)
        steps = self._steps(z)
        return self.classifier(self.predict_features(z, last=steps))

    def forward_outputs(self, feats: Dict[str, torch.Tensor],
                        past: bool = True) -> Dict[str, torch.Tensor]:
        """Every output, for the losses: ``action`` ``(B, S, C)`` (and
        ``verb``, ``noun``), ``z`` and ``z_hat`` ``(B, T, F)``, and with
        ``past`` the past logits ``past_action`` ``(B, T, C)`` (and
        ``past_verb``, ``past_noun``)."""
        z = self.embed(feats)
        steps = self._steps(z)
        z_hat = self.predict_features(z)
        out = dict(z=z, z_hat=z_hat,
                   action=self.classifier(z_hat[:, -steps:]))
        for name in self.extra_outputs:
            out[name] = getattr(self, f'{name}_classifier')(z_hat[:, -steps:])
        if past:
            updated_past = torch.cat([z[:, :1], z_hat[:, :-1]], dim=1)
            out['past_action'] = self.classifier(updated_past)
            for name in self.extra_outputs:
                out[f'past_{name}'] = getattr(
                    self, f'{name}_classifier')(updated_past)
        return out

    def loss(self, feats: Dict[str, torch.Tensor],
             data_samples: SampleList, **kwargs) -> Dict:
        """Every configured loss, and the training top-k accuracies of the
        action over all steps."""
        past = self.past_loss_weight > 0
        out = self.forward_outputs(feats, past=past)
        device = out['action'].device
        labels = self._action_labels(data_samples, device)
        soft = labels.is_floating_point()
        if soft and (self.extra_outputs or past):
            raise ValueError(
                f'{type(self).__name__}: soft action labels (mixup, cutmix) '
                'with the verb, noun or past-action losses, whose labels '
                'were not mixed; turn those losses off (num_verbs, '
                'num_nouns, past_loss_weight) or the blending off')
        steps = out['action'].shape[1]
        flat = out['action'].flatten(0, 1)  # (B*S, C)
        flat_labels = labels.repeat_interleave(steps, dim=0)
        losses = dict()
        with torch.no_grad():
            hard = flat_labels.argmax(-1) if soft else flat_labels
            top = flat.topk(max(self.topk), dim=1).indices
            hits = top == hard[:, None]  # (B*S, maxk)
            for k in self.topk:
                losses[f'top{k}_acc'] = hits[:, :k].any(1).float().mean()
        losses['loss_cls'] = self.loss_cls(
            flat, flat_labels,
            **self.distillation_inputs(out['action'], data_samples))
        for name in self.extra_outputs:
            target = self._meta_labels(data_samples, LABEL_KEYS[name],
                                       device)  # (B,)
            losses[f'loss_{name}'] = self._masked_loss(
                out[name], target[:, None].expand(-1, steps),
                getattr(self, f'loss_{name}'))
        if self.feat_loss_weight > 0:
            z, z_hat = out['z'], out['z_hat']
            losses['loss_feat'] = self.feat_loss_weight * F.mse_loss(
                z_hat[:, :-1].float(), z[:, 1:].float())
        if past:
            num_steps = out['z'].shape[1]
            past_losses = dict(action=getattr(self, 'loss_past',
                                              self.loss_cls))
            past_losses.update({
                name: getattr(self, f'loss_{name}')
                for name in self.extra_outputs
            })
            for name, loss in past_losses.items():
                target = self._past_labels(data_samples, PAST_KEYS[name],
                                           num_steps, device)  # (B, T)
                key = 'loss_past' if name == 'action' else f'loss_past_{name}'
                losses[key] = self.past_loss_weight * self._masked_loss(
                    out[f'past_{name}'], target, loss)
        return losses

    @staticmethod
    def _masked_loss(logits: torch.Tensor, labels: torch.Tensor,
                     loss: nn.Module) -> torch.Tensor:
        """``loss`` over the entries of ``logits`` ``(B, S, C)`` whose label
        ``(B, S)`` is not -1 (zero, in the graph, when all are -1)."""
        flat, flat_labels = logits.flatten(0, 1), labels.reshape(-1)
        keep = flat_labels >= 0
        if not bool(keep.any()):
            return flat.sum() * 0.0
        # a distilling loss has no teacher for these outputs: prior alone
        extra = (dict(teacher_mask=torch.zeros(
            int(keep.sum()), dtype=torch.bool, device=flat.device))
            if getattr(loss, 'distills', False) else {})
        return loss(flat[keep], flat_labels[keep], **extra)

    @staticmethod
    def _action_labels(data_samples: SampleList,
                       device: torch.device) -> torch.Tensor:
        """Hard labels ``(B,)`` or soft ones ``(B, C)``."""
        labels = [x.gt_label for x in data_samples]
        if labels[0].is_floating_point():
            return torch.stack(labels).to(device)
        return torch.cat(labels).to(device)

    def _meta(self, data_samples: SampleList, key: str) -> List:
        missing = [i for i, x in enumerate(data_samples)
                   if key not in x.metainfo]
        if missing:
            raise KeyError(
                f'{type(self).__name__}: the data samples have no {key!r} '
                f'(sample {missing[0]} of {len(data_samples)}), which its '
                'loss needs: add it to the meta_keys of PackActionInputs '
                '(the dataset publishes it), or turn the loss off')
        return [x.metainfo[key] for x in data_samples]

    def _meta_labels(self, data_samples: SampleList, key: str,
                     device: torch.device) -> torch.Tensor:
        values = self._meta(data_samples, key)
        return torch.as_tensor([int(v) for v in values], dtype=torch.long,
                               device=device)

    def _past_labels(self, data_samples: SampleList, key: str, steps: int,
                     device: torch.device) -> torch.Tensor:
        values = self._meta(data_samples, key)
        rows = [np.asarray(v.cpu() if torch.is_tensor(v) else v)
                for v in values]
        wrong = [(i, r.shape) for i, r in enumerate(rows)
                 if r.shape != (steps, )]
        if wrong:
            raise ValueError(
                f'{type(self).__name__}: {key!r} of sample {wrong[0][0]} has '
                f'shape {wrong[0][1]}, expected ({steps},): one label per '
                'observed step')
        return torch.as_tensor(np.stack(rows).astype(np.int64),
                               device=device)

    def _init_linear(self, modules: Tuple[nn.Module, ...],
                     std: float) -> None:
        """Normal(0, std) weights and zero biases for the linear layers
        among ``modules`` (and their children)."""
        for module in modules:
            for m in module.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0.0, std)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
