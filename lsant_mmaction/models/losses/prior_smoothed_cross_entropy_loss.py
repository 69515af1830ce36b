"""Cross-entropy against prior-smoothed targets (Camporese et al., 2020)."""
import os
import warnings
from typing import Optional, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger

from mmaction.models.losses import BaseWeightedLoss
from mmaction.registry import MODELS

from ...priors import PriorWarning, check_prior, load_prior, missing_sources

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
    ``y = (1 - alpha) * onehot(k) + alpha * prior[k]``, averaged over samples
    (and anticipation steps).

    The soft target is built here from the hard label ``k``; the prior is a
    buffer, so it moves with the model and is saved in every checkpoint.
    Its lifecycle (``prior_state``) is one of :data:`NO_PRIOR`,
    :data:`AWAITING_CHECKPOINT` and :data:`READY`, and the matrix is
    validated once, where it enters: when built from its sources (or read
    from the cache or a ``.npy``) or when filled from a checkpoint. When a
    build spec's source files are missing (e.g. testing on another machine)
    the prior awaits a checkpoint; training without it is an error. When
    the sources are there, the configured prior wins over a checkpoint's
    (with a warning if they differ), so a later stage may change the
    prior.

    Args:
        alpha (float): Smoothing weight in ``[0, 1]``; 0 is plain
            cross-entropy. Defaults to 0.
        prior (str | dict, optional): ``.npy`` path or build spec (the
            arguments of :func:`lsant_mmaction.priors.build_prior`, e.g.
            ``dict(kind='glvn', dataset='epic55', actions=..., ...)``).
            Required when ``alpha > 0``. Defaults to None.
        num_classes (int, optional): Number of actions; required with a
            prior, checked against it and against the head. Defaults to None.
        cache_dir (str, optional): Where built priors are cached. Defaults to
            ``$LSANT_MMACTION_CACHE/priors`` or
            ``~/.cache/lsant_mmaction/priors``. Warnings of the build (class
            names without word vectors) and of the cache (an entry rebuilt,
            a folder that cannot be written) go to the MMLogger.
        loss_weight (float): Factor on the loss. Defaults to 1.0.
    """

    def __init__(self,
                 alpha: float = 0.0,
                 prior: Optional[Union[str, dict]] = None,
                 num_classes: Optional[int] = None,
                 cache_dir: Optional[str] = None,
                 loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight=loss_weight)
        if not 0 <= alpha <= 1:
            raise ValueError(f'alpha must be in [0, 1], got {alpha}')
        if alpha > 0 and prior is None:
            raise ValueError(f'alpha={alpha} needs a prior')
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

    def _forward(self, cls_score: torch.Tensor,
                 label: torch.Tensor) -> torch.Tensor:
        """Loss of logits ``(N, C)`` or ``(B, S, C)`` with hard labels
        ``(N,)`` or ``(B,)`` (one label for all steps of a sample).

        Computed in float32 (at least): under autocast (``--amp``) the
        logits come as bfloat16 or float16; they are cast up and the
        log-softmax and the soft target run with autocast off, so the loss
        of given logit values is the float32 one, bit for bit, with the
        float32 prior as it is."""
        if cls_score.dtype in (torch.float16, torch.bfloat16):
            cls_score = cls_score.float()
        with torch.autocast(cls_score.device.type, enabled=False):
            return self._float32_loss(cls_score, label)

    def _float32_loss(self, cls_score: torch.Tensor,
                      label: torch.Tensor) -> torch.Tensor:
        if cls_score.dim() == 3:
            steps = cls_score.shape[1]
            cls_score = cls_score.flatten(0, 1)  # (B*S, C)
            label = label.reshape(-1).repeat_interleave(steps)  # (B*S,)
        if cls_score.dim() != 2 or label.shape != cls_score.shape[:1]:
            raise ValueError(
                f'expected logits (N, C) or (B, S, C) with hard labels, got '
                f'{tuple(cls_score.shape)} and {tuple(label.shape)}')
        if self.alpha == 0:
            return F.cross_entropy(cls_score, label)
        if self.prior_state != READY:
            raise RuntimeError(
                f'the prior was not built (missing sources '
                f'{self._missing_sources}) and no checkpoint provided it')
        log_p = F.log_softmax(cls_score, dim=-1)  # (N, C)
        nll = -log_p.gather(1, label[:, None])[:, 0]  # (N,)
        smooth = -(self.prior[label] * log_p).sum(-1)  # (N,)
        return ((1 - self.alpha) * nll + self.alpha * smooth).mean()

    def extra_repr(self) -> str:
        return (f'alpha={self.alpha}, num_classes={self.num_classes}, '
                f'prior: {self.prior_state}')

