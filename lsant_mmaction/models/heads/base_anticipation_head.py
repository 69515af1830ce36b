"""Shared loss and prediction logic of the per-step anticipation heads."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F

from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from mmaction.utils import SampleList


class BaseAnticipationHead(BaseHead):
    """A head that outputs logits ``(B, S, C)``, one row per anticipation step.

    ``feats`` maps each modality to its per-step features ``(B, T, D_m)``.
    A single-branch head (``branch`` given) concatenates the modalities in
    the order of ``modalities`` (early fusion) and runs its branch, a module
    ``branch(x, outputs) -> (logits, context)`` such as
    :class:`AnticipationLSTM` or :class:`RollingUnrollingLSTM`; multi-branch
    heads override :meth:`forward`.

    The loss is computed over every anticipation step of every sample: the
    logits are flattened to ``(B * S, C)`` and each sample's hard action label
    is repeated ``S`` times, so any mmaction classification loss applies.
    Predictions are softmax scores ``(S, C)`` per sample, ordered by
    decreasing anticipation time (2.0 s ... 0.25 s).

    Args:
        num_classes (int): Number of actions.
        in_channels (int): Size of the (concatenated) input features.
        modalities (Sequence[str]): Input modalities, in concatenation order.
        branch (dict, optional): Branch config; ``in_channels`` and
            ``num_classes`` are filled in. Defaults to None.
        num_anticipation_steps (int): Output steps (the last ones of the
            sequence). Defaults to 8.
        loss_cls (dict): Loss config. Defaults to
            ``dict(type='CrossEntropyLoss')``.
        topk (tuple[int]): Top-k accuracies logged during training.
            Defaults to ``(1, 5)``.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 modalities: Sequence[str],
                 branch: Optional[dict] = None,
                 num_anticipation_steps: int = 8,
                 loss_cls: Dict = dict(type='CrossEntropyLoss'),
                 topk=(1, 5),
                 init_cfg=None) -> None:
        super().__init__(
            num_classes,
            in_channels,
            loss_cls=loss_cls,
            topk=topk,
            init_cfg=init_cfg)
        self.modalities = tuple(modalities)
        self.num_anticipation_steps = num_anticipation_steps
        loss_classes = getattr(self.loss_cls, 'num_classes', None)
        if loss_classes is not None and loss_classes != num_classes:
            raise ValueError(
                f'{type(self.loss_cls).__name__} has num_classes='
                f'{loss_classes} (its prior is {loss_classes}x{loss_classes})'
                f' but the head has num_classes={num_classes}')
        if branch is not None:
            self.branch = MODELS.build(
                dict(branch, in_channels=in_channels,
                     num_classes=num_classes))

    def forward(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits ``(B, S, C)`` from per-modality features ``(B, T, D_m)``."""
        logits, _ = self.branch(
            self.concat_modalities(feats), self.num_anticipation_steps)
        return logits

    def concat_modalities(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Concatenate ``feats[m]`` ``(B, T, D_m)`` over ``self.modalities``."""
        missing = [m for m in self.modalities if m not in feats]
        if missing:
            raise KeyError(f'{type(self).__name__} needs modalities '
                           f'{missing}; inputs have {sorted(feats)}')
        x = torch.cat([feats[m] for m in self.modalities], dim=-1)
        if x.shape[-1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__}: in_channels={self.in_channels} but '
                f'the modalities {self.modalities} give '
                f'{[tuple(feats[m].shape) for m in self.modalities]}')
        return x

    def loss_by_feat(self, cls_scores: torch.Tensor,
                     data_samples: SampleList) -> Dict:
        """Loss over every anticipation step.

        Args:
            cls_scores (torch.Tensor): Logits ``(B, S, C)``.
            data_samples (list[ActionDataSample]): with ``gt_label``.

        Returns:
            dict: ``loss_cls`` and the training ``top{k}_acc`` over all steps.
        """
        labels = torch.cat([x.gt_label for x in data_samples])
        labels = labels.to(cls_scores.device)  # (B,)
        steps = cls_scores.shape[1]
        flat_scores = cls_scores.flatten(0, 1)  # (B*S, C)
        flat_labels = labels.repeat_interleave(steps)  # (B*S,)
        losses = dict()
        with torch.no_grad():  # on the device: no (B*S, C) copy to numpy
            top = flat_scores.topk(max(self.topk), dim=1).indices
            hits = top == flat_labels[:, None]  # (B*S, maxk)
            for k in self.topk:
                losses[f'top{k}_acc'] = hits[:, :k].any(1).float().mean()
        loss_cls = self.loss_cls(
            flat_scores, flat_labels,
            **self.distillation_inputs(cls_scores, data_samples))
        if isinstance(loss_cls, dict):
            losses.update(loss_cls)
        else:
            losses['loss_cls'] = loss_cls
        return losses

    def distillation_inputs(self, cls_scores: torch.Tensor,
                            data_samples: SampleList) -> Dict:
        """``teacher`` ``(B*S, C)`` and ``teacher_mask`` ``(B*S,)`` for a
        distilling ``loss_cls`` (``PriorSmoothedCrossEntropyLoss`` with
        ``alpha, beta > 0``), flattened as the logits; nothing otherwise.

        ``teacher='data'``: each sample's ``teacher_score`` ``(S, C)`` and
        ``has_teacher`` (:class:`LoadTeacherScores`, through
        ``PackActionInputs``' ``meta_keys``). ``teacher='self'`` (horizon
        self-distillation): the head's own prediction at its last
        anticipation step, detached (no gradient reaches the teacher
        through this term), teaches every earlier step; the last step has
        no teacher (the prior alone).

        Raises:
            KeyError: a sample without ``teacher_score``, naming the key
                and the transform.
            ValueError: teacher rows of another shape than the logits.
        """
        loss = self.loss_cls
        if not getattr(loss, 'distills', False):
            return {}
        batch, steps, classes = cls_scores.shape
        device = cls_scores.device
        if loss.teacher == 'self':
            if steps < 2:
                raise ValueError(
                    'horizon self-distillation (teacher=\'self\') needs at '
                    f'least 2 anticipation steps; the head has {steps}')
            teacher = F.softmax(cls_scores[:, -1].detach().float(), dim=-1)
            teacher = teacher[:, None].expand(batch, steps, classes)
            mask = (torch.arange(steps, device=device) < steps - 1)
            mask = mask[None].expand(batch, steps)
        else:
            missing = [i for i, x in enumerate(data_samples)
                       if 'teacher_score' not in x.metainfo]
            if missing:
                raise KeyError(
                    f'{type(self).__name__}: loss_cls distils (beta='
                    f'{loss.beta}) but samples {missing[:5]} have no '
                    "teacher_score: add LoadTeacherScores to the training "
                    "pipeline and 'teacher_score', 'has_teacher' to "
                    "PackActionInputs' meta_keys")
            teacher = torch.stack([
                torch.as_tensor(x.metainfo['teacher_score'])
                for x in data_samples]).to(device)
            if tuple(teacher.shape) != (batch, steps, classes):
                raise ValueError(
                    f'teacher scores {tuple(teacher.shape)} do not match the '
                    f'logits {(batch, steps, classes)} (samples, steps, '
                    'actions)')
            mask = torch.tensor(
                [bool(x.metainfo.get('has_teacher', True))
                 for x in data_samples], device=device)
            mask = mask[:, None].expand(batch, steps)
        return dict(teacher=teacher.flatten(0, 1),
                    teacher_mask=mask.flatten())

    def predict_by_feat(self, cls_scores: torch.Tensor,
                        data_samples: SampleList) -> SampleList:
        """Store softmax scores ``(S, C)`` (float32, also under autocast)
        and per-step argmax ``(S,)``."""
        scores = F.softmax(cls_scores.float(), dim=-1).detach()  # (B, S, C)
        for data_sample, score in zip(data_samples, scores):
            data_sample.set_pred_score(score)
            data_sample.set_pred_label(score.argmax(dim=-1))
        return data_samples
