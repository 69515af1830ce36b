"""Cross-entropy against prior-smoothed targets (Camporese et al., 2020)."""
import os
import warnings
from typing import Optional, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger

from mmaction.models.losses import BaseWeightedLoss
from mmaction.registry import MODELS

from ...priors import (PriorWarning, check_prior, load_prior,
                       missing_sources, resolve_prior)

# The lifecycle of the loss's prior, one state at a time:
NO_PRIOR = 'no prior'  # plain cross-entropy (alpha may only be 0)
AWAITING_CHECKPOINT = 'awaiting a checkpoint'  # configured, sources absent
READY = 'ready'  # built from its sources, or filled from a checkpoint


def _load_prior_logged(prior: Union[str, dict], num_classes: int,
                       cache_dir: Optional[str]):
    """:func:`load_prior`, with its :class:`PriorWarning` s (class names
    without word vectors, a rebuilt or unwritable cache entry) written to
    the current MMLogger, i.e. to the training log, instead of stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', PriorWarning)
        matrix = load_prior(prior, num_classes, cache_dir)
    for w in caught:
        if issubclass(w.category, PriorWarning):
            MMLogger.get_current_instance().warning(f'prior: {w.message}')
        else:
            warnings.warn_explicit(w.message, w.category, w.filename,
                                   w.lineno)
    return matrix


@MODELS.register_module()
class PriorSmoothedCrossEntropyLoss(BaseWeightedLoss):
    """``-sum_i y(i) log softmax(z)(i)`` with
    ``y = (1 - alpha) * y_soft + alpha * y_soft @ prior``, averaged over
    samples (and anticipation steps).

    ``y_soft`` is ``onehot(k)`` for a hard label ``k`` (then
    ``y = (1 - alpha) * onehot(k) + alpha * prior[k]``), or the soft label
    itself: mmaction's ``MixupBlending`` / ``CutmixBlending`` give a head
    soft labels ``(N, C)``, which the loss smooths as the mixture of the
    smoothed targets of their classes. With ``alpha = 0`` the loss is
    plain (soft-target) cross-entropy. The head's own ``label_smooth_eps``
    must stay 0 (it would smooth the labels a second time):
    :func:`check_prior_smoothing` says so before training.

    **Distillation** (``beta > 0``): a teacher's probabilities ``p`` per
    sample (and step), shaped like the logits, join the prior:
    ``y = (1 - alpha) * y_soft + alpha * [(1 - beta) * y_soft @ prior +
    beta * p_T]``, ``p_T = p^(1/T)`` renormalised (``temperature`` T).
    ``kd_form='kl'`` takes the teacher term in Hinton's form instead,
    ``alpha * beta * T^2 * KL(p_T || softmax(z / T))`` (the prior and label
    terms unchanged), which for T = 1 differs from the soft-target form by
    a constant (the teacher's entropy), with the same gradients. The
    teacher comes from the data (``teacher='data'``: a teacher store's
    rows, :class:`LoadTeacherScores`, handed in by the heads as
    ``teacher=`` and ``teacher_mask=``; rows without a teacher take the
    prior alone) or from the head itself (``teacher='self'``: horizon
    self-distillation, its own detached prediction at the last
    anticipation step teaches the earlier steps). ``beta = 0`` is the loss
    above exactly; ``alpha = 0`` plain cross-entropy whatever ``beta``.

    The soft target is built here; the prior is a buffer, so it moves with
    the model and is saved in every checkpoint.
    Its lifecycle (``prior_state``) is one of :data:`NO_PRIOR`,
    :data:`AWAITING_CHECKPOINT` and :data:`READY`, and the matrix is
    validated once, where it enters: when built from its sources (or read
    from the cache or a ``.npy``) or when filled from a checkpoint. When the
    source files the prior reads are missing (e.g. testing on another
    machine) the prior awaits a checkpoint; training without it is an
    error, raised when the model is put in training mode (after mmengine's
    ``load_from`` / ``resume``, before the first iteration). When the
    sources are there, the configured prior wins over a checkpoint's (with
    a warning if they differ), so a later stage may change the prior.

    Args:
        alpha (float): Smoothing weight in ``[0, 1]``; 0 is plain
            cross-entropy. Defaults to 0.
        prior (str | dict, optional): ``.npy`` path, ``'uniform'``, or a
            build spec holding exactly what its kind reads (see
            :func:`lsant_mmaction.priors.check_prior_spec`), e.g.
            ``dict(kind='gl', class_names='classes.txt',
            glove='glove-wiki-gigaword-300')`` or ``dict(kind='glvn',
            dataset='epic55', actions=..., ...)``. Required when
            ``alpha > 0``. Defaults to None.
        num_classes (int, optional): Number of classes; required with a
            prior, checked against it and against the head. Defaults to None.
        cache_dir (str, optional): Where built priors are cached. Defaults to
            ``$LSANT_MMACTION_CACHE/priors`` or
            ``~/.cache/lsant_mmaction/priors``. Warnings of the build (class
            names without word vectors) and of the cache (an entry rebuilt,
            a folder that cannot be written) go to the MMLogger.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
        beta (float): Weight of the teacher within the smoothing, in
            ``[0, 1]``; with ``beta = 1`` the prior may be None (the
            teacher alone smooths). Defaults to 0.
        temperature (float): Temperature of the teacher (and, in the KL
            form, of the student), > 0. Defaults to 1.
        kd_form (str): ``'soft_target'`` or ``'kl'``. Defaults to
            ``'soft_target'``.
        teacher (str): ``'data'`` or ``'self'``. Defaults to ``'data'``.
    """

    def __init__(self,
                 alpha: float = 0.0,
                 prior: Optional[Union[str, dict]] = None,
                 num_classes: Optional[int] = None,
                 cache_dir: Optional[str] = None,
                 loss_weight: float = 1.0,
                 beta: float = 0.0,
                 temperature: float = 1.0,
                 kd_form: str = 'soft_target',
                 teacher: str = 'data') -> None:
        super().__init__(loss_weight=loss_weight)
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        if not 0 <= beta <= 1:
            raise ValueError(f'beta must be in [0, 1], got {beta}')
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        if kd_form not in ('soft_target', 'kl'):
            raise ValueError("kd_form must be 'soft_target' or 'kl', got "
                             f'{kd_form!r}')
        if teacher not in ('data', 'self'):
            raise ValueError("teacher must be 'data' (a teacher store) or "
                             f"'self' (horizon self-distillation), got "
                             f'{teacher!r}')
        if alpha > 0 and prior is None and beta < 1:
            raise ValueError(f'alpha={alpha} needs a prior (or beta=1: the '
                             'teacher alone)')
        self.beta = float(beta)
        self.temperature = float(temperature)
        self.kd_form = kd_form
        self.teacher = teacher
        if prior is not None and num_classes is None:
            raise ValueError('num_classes is required with a prior')
        self.alpha = float(alpha)
        self.num_classes = num_classes
        self.prior_source = prior
        self._missing_sources = []
        if prior is None:
            self.prior_state = NO_PRIOR
            self.register_buffer('prior', None)
            return
        prior = resolve_prior(prior)  # a bad spec fails here, at build
        if isinstance(prior, str):
            missing = [] if os.path.isfile(prior) else [prior]
        else:
            missing = missing_sources(prior)
        if missing:
            MMLogger.get_current_instance().warning(
                f'prior sources not found ({missing}): the prior must come '
                'from a checkpoint (load_from / test).')
            self.prior_state = AWAITING_CHECKPOINT
            self.register_buffer(
                'prior', torch.full((num_classes, num_classes), float('nan')))
            self._missing_sources = missing
        else:  # load_prior validates it
            matrix = _load_prior_logged(prior, num_classes, cache_dir)
            self.prior_state = READY
            self.register_buffer('prior', torch.from_numpy(matrix))

    @property
    def needs_prior(self) -> bool:
        """Whether training reads the prior (``alpha > 0``) and it is not
        there yet."""
        return self.alpha > 0 and self.prior_state != READY

    def not_ready_message(self, name: str = 'the loss') -> str:
        """Why ``name`` cannot train, and what to do."""
        return (f'{name}: the prior was not built (its sources '
                f'{self._missing_sources} are missing) and no checkpoint '
                'provided it; give the source files, or load_from a '
                'checkpoint that holds the prior')

    def train(self, mode: bool = True):
        """Training mode; an error while the prior training needs is
        missing (mmengine's train loop sets it after ``load_from`` and
        ``resume``, before the first iteration)."""
        if mode and self.needs_prior:
            raise RuntimeError(self.not_ready_message())
        return super().train(mode)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + 'prior'
        if key in state_dict and self.prior is not None:
            loaded = state_dict[key]
            if loaded.shape != self.prior.shape:
                raise ValueError(
                    f'checkpoint prior {tuple(loaded.shape)} does not match '
                    f'num_classes={self.num_classes}')
            if self.prior_state == READY:
                # built from the configured sources: the config wins (a new
                # stage may change the prior); a checkpoint only fills a
                # prior whose sources are absent (testing elsewhere)
                if not torch.equal(loaded.to(self.prior), self.prior):
                    MMLogger.get_current_instance().warning(
                        'the checkpoint holds another prior than the '
                        'configured one; keeping the configured prior')
                state_dict[key] = self.prior
            else:  # AWAITING_CHECKPOINT: validated once, here
                check_prior(loaded.float().cpu().numpy(), self.num_classes,
                            'the prior stored in the checkpoint')
                self.prior_state = READY
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def distills(self) -> bool:
        """Whether the loss reads a teacher (``alpha > 0`` and
        ``beta > 0``)."""
        return self.alpha > 0 and self.beta > 0

    def _forward(self, cls_score: torch.Tensor,
                 label: torch.Tensor,
                 teacher: Optional[torch.Tensor] = None,
                 teacher_mask: Optional[torch.Tensor] = None
                 ) -> torch.Tensor:
        """Loss of logits ``(N, C)`` or ``(B, S, C)`` with hard labels
        ``(N,)`` / ``(B,)`` or soft labels ``(N, C)`` / ``(B, C)`` (one
        label for all steps of a sample).

        Computed in float32 (at least): under autocast (``--amp``) the
        logits come as bfloat16 or float16; they are cast up and the
        log-softmax and the soft target run with autocast off, so the loss
        of given logit values is the float32 one, bit for bit, with the
        float32 prior as it is."""
        if cls_score.dtype in (torch.float16, torch.bfloat16):
            cls_score = cls_score.float()
        with torch.autocast(cls_score.device.type, enabled=False):
            return self._float32_loss(cls_score, label, teacher,
                                      teacher_mask)

    def _float32_loss(self, cls_score: torch.Tensor, label: torch.Tensor,
                      teacher: Optional[torch.Tensor] = None,
                      teacher_mask: Optional[torch.Tensor] = None
                      ) -> torch.Tensor:
        soft = label.is_floating_point()
        if cls_score.dim() == 3:
            steps = cls_score.shape[1]
            cls_score = cls_score.flatten(0, 1)  # (B*S, C)
            label = (label.repeat_interleave(steps, dim=0) if soft else
                     label.reshape(-1).repeat_interleave(steps))
            if teacher is not None:
                teacher = teacher.flatten(0, 1)
            if teacher_mask is not None:
                teacher_mask = (teacher_mask.flatten() if teacher_mask.dim()
                                == 2 else teacher_mask.repeat_interleave(
                                    steps))
        if cls_score.dim() != 2 or label.shape != (
                cls_score.shape if soft else cls_score.shape[:1]):
            raise ValueError(
                f'expected logits (N, C) or (B, S, C) with hard labels (N,) '
                f'or soft labels (N, C), got {tuple(cls_score.shape)} and '
                f'{tuple(label.shape)} {label.dtype} labels')
        if self.distills:
            return self._distilled_loss(cls_score, label, soft, teacher,
                                        teacher_mask)
        if soft:
            return self._soft_label_loss(cls_score, label.float())
        if self.alpha == 0:
            return F.cross_entropy(cls_score, label)
        self._check_ready()
        log_p = F.log_softmax(cls_score, dim=-1)  # (N, C)
        nll = -log_p.gather(1, label[:, None])[:, 0]  # (N,)
        smooth = -(self.prior[label] * log_p).sum(-1)  # (N,)
        return ((1 - self.alpha) * nll + self.alpha * smooth).mean()

    def _distilled_loss(self, cls_score: torch.Tensor, label: torch.Tensor,
                        soft: bool, teacher: Optional[torch.Tensor],
                        mask: Optional[torch.Tensor]) -> torch.Tensor:
        """The loss with a teacher (``alpha > 0``, ``beta > 0``)."""
        n, c = cls_score.shape
        if teacher is None and mask is not None and not bool(mask.any()):
            # rows known to have no teacher (e.g. the observed steps of a
            # transformer head): the prior alone
            teacher = torch.full_like(cls_score, 1.0 / c)
        if teacher is None:
            raise ValueError(
                f'PriorSmoothedCrossEntropyLoss(beta={self.beta}) needs '
                "teacher probabilities: LoadTeacherScores in the training "
                "pipeline (teacher='data', with teacher_score and "
                "has_teacher in PackActionInputs' meta_keys) or "
                "teacher='self' for horizon self-distillation")
        if teacher.shape != cls_score.shape:
            raise ValueError(f'teacher probabilities {tuple(teacher.shape)} '
                             f'do not match the logits '
                             f'{tuple(cls_score.shape)}')
        mask = (torch.ones(n, dtype=torch.bool, device=cls_score.device)
                if mask is None else mask.to(cls_score.device).bool())
        if self.prior_state == NO_PRIOR and not bool(mask.all()):
            raise ValueError(
                f'{int((~mask).sum())} rows have no teacher and the loss has '
                'no prior to smooth them with; give it a prior, or a '
                'teacher for every sample')
        with torch.no_grad():  # the teacher's side has no gradient
            p = teacher.detach().float()
            if not bool(mask.all()):
                p = torch.where(mask[:, None], p, torch.full_like(p, 1.0 / c))
            self._check_distributions(p, 'teacher probabilities')
            if self.temperature == 1:
                p_t = p / p.sum(-1, keepdim=True)
            else:  # p^(1/T), renormalised; zeros (top-k stores) stay zeros
                # (log of the positive entries only: log(0) is slow on CPUs)
                pos = p > 0
                if bool(pos.all()):
                    log_p = p.log()
                else:
                    log_p = torch.where(pos, p, torch.ones_like(p)).log()
                    log_p = log_p.masked_fill_(~pos, float('-inf'))
                p_t = F.softmax(log_p / self.temperature, dim=-1)
        beta = self.beta * mask.float()  # (N,): no teacher, prior alone
        a = self.alpha
        # the target (1 - a) y + a [(1 - beta) prior_part + beta p_t], as
        # one cross-entropy per part (no dense (N, C) one-hot target)
        log_q = F.log_softmax(cls_score, dim=-1)
        if soft:
            y = label.float()
            self._check_distributions(y, 'soft labels')
            ce_label = -(y * log_q).sum(-1)
        else:
            ce_label = -log_q.gather(1, label[:, None])[:, 0]
        if self.prior_state == NO_PRIOR:
            ce_prior = torch.zeros_like(ce_label)  # beta = 1 on every row
        else:
            self._check_ready()
            prior_part = label.float() @ self.prior if soft else \
                self.prior[label]
            ce_prior = -(prior_part * log_q).sum(-1)
        if self.kd_form == 'soft_target':
            ce_teacher = -(p_t * log_q).sum(-1)
            return ((1 - a) * ce_label + a * (1 - beta) * ce_prior +
                    a * beta * ce_teacher).mean()
        log_q_t = F.log_softmax(cls_score / self.temperature, dim=-1)
        kl = (torch.xlogy(p_t, p_t) - p_t * log_q_t).sum(-1)
        return ((1 - a) * ce_label + a * (1 - beta) * ce_prior +
                a * beta * self.temperature**2 * kl).mean()

    @staticmethod
    def _check_distributions(rows: torch.Tensor, what: str) -> None:
        """Rows non-negative, finite and summing to 1 (one check per
        batch), else an error naming the first bad row."""
        sums = rows.sum(-1)
        # a non-finite entry makes its row's sum non-finite
        bad = ~torch.isfinite(sums) | (rows < 0).any(-1) | (
            (sums - 1).abs() > 1e-3)
        if bool(bad.any()):
            row = int(bad.nonzero()[0, 0])
            raise ValueError(
                f'{what} must be distributions over the classes '
                f'(non-negative, rows summing to 1); row {row} sums to '
                f'{float(sums[row]):.6f} with minimum '
                f'{float(rows[row].min()):.6f}')

    def _soft_label_loss(self, cls_score: torch.Tensor,
                         label: torch.Tensor) -> torch.Tensor:
        """``y = (1 - alpha) * label + alpha * label @ prior``; labels must
        be distributions (mixup, cutmix), which one check per batch
        asserts."""
        self._check_distributions(label, 'soft labels')
        if self.alpha == 0:
            return F.cross_entropy(cls_score, label)
        self._check_ready()
        target = (1 - self.alpha) * label + self.alpha * (
            label @ self.prior)  # (N, C)
        return -(target * F.log_softmax(cls_score, dim=-1)).sum(-1).mean()

    def _check_ready(self) -> None:
        if self.prior_state != READY:
            raise RuntimeError(self.not_ready_message())

    def extra_repr(self) -> str:
        text = (f'alpha={self.alpha}, num_classes={self.num_classes}, '
                f'prior: {self.prior_state}')
        if self.beta:
            text += (f', beta={self.beta}, temperature={self.temperature}, '
                     f'kd_form={self.kd_form!r}, teacher={self.teacher!r}')
        return text



def check_prior_smoothing(model: torch.nn.Module,
                          loads_checkpoint: bool = False) -> None:
    """Before training: every :class:`PriorSmoothedCrossEntropyLoss` of
    ``model`` can train, and no head smooths its labels first.

    Args:
        model (torch.nn.Module): The model (wrappers are walked through).
        loads_checkpoint (bool): A checkpoint will be loaded before the
            first iteration (``load_from``, ``resume``), which may provide
            priors whose sources are missing. Defaults to False.

    Raises:
        RuntimeError: naming the loss whose prior training needs is missing
            (its sources, and no checkpoint to come).
        ValueError: naming the head whose ``label_smooth_eps`` (mmaction's
            ``BaseHead``) would smooth the labels before the loss smooths
            them again.
    """
    for name, module in model.named_modules():
        if (isinstance(module, PriorSmoothedCrossEntropyLoss)
                and module.needs_prior and not loads_checkpoint):
            raise RuntimeError(module.not_ready_message(name))
        loss = getattr(module, 'loss_cls', None)
        eps = getattr(module, 'label_smooth_eps', 0)
        if (eps and isinstance(loss, PriorSmoothedCrossEntropyLoss)
                and loss.alpha > 0):
            raise ValueError(
                f'{name}.label_smooth_eps={eps} smooths the labels before '
                f'{name}.loss_cls (PriorSmoothedCrossEntropyLoss, alpha='
                f'{loss.alpha}) smooths them again; set label_smooth_eps=0 '
                "(the loss with prior='uniform' and alpha=eps is the same "
                'uniform smoothing)')
