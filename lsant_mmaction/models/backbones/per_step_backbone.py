"""Any mmaction backbone applied to every step of the time grid."""
import logging
from functools import partial
from typing import List, Optional

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule, initialize

from mmaction.registry import MODELS

from ...engine.checkpoint import load_every_tensor, pretrained_checkpoints


@MODELS.register_module()
class PerStepBackbone(BaseModule):
    """Run a backbone on each step's frame (2D) or clip (3D), pool to a vector.

    Input ``(B, T, C, H, W)`` (2D: one frame per step, ``FormatShape``
    ``'NCHW'``) or ``(B, T, C, L, H, W)`` (3D: a clip of L frames per step,
    ``'NCTHW'``). The B x T frames/clips go through the backbone as one
    batch (in chunks of ``chunk_size`` if given, to bound memory); its
    output (the last one if it returns several) is averaged over every axis
    but channels, giving ``(B, T, D)`` for the anticipation head.

    Pre-trained weights are named in one place: the backbone's own
    ``pretrained`` (e.g. a torchvision ResNet file or URL) or ``Pretrained``
    ``init_cfg``, exactly as in an mmaction recognizer, or this module's
    ``init_cfg=dict(type='Pretrained', checkpoint=...)``, whose keys are
    ``backbone.*`` as in an mmaction recognizer checkpoint (its head is
    ignored). :meth:`init_weights` loads them and fails, naming the source,
    when they cannot be read or leave any backbone tensor unset. A backbone
    without named weights is an error there unless ``random_init=True``.

    Args:
        backbone (dict): Any MODELS backbone (``ResNet``, ``ResNetTSM``,
            ``X3D``, ``ResNet3dSlowOnly``...), with its ``init_cfg``/
            ``pretrained`` for pre-trained weights.
        frozen (bool): Keep the backbone fixed: no gradients, BatchNorm in
            eval mode, forward under ``no_grad``. Defaults to False
            (end-to-end training).
        chunk_size (int, optional): Frames/clips per backbone call.
            Defaults to None (all at once).
        random_init (bool): No pre-trained weights, on purpose: the backbone
            starts from its own random initialisation and
            :meth:`init_weights` logs one warning saying so. Defaults to
            False.
        init_cfg (dict, optional): Initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint='recognizer.pth')``.
            Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 frozen: bool = False,
                 chunk_size: Optional[int] = None,
                 random_init: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.frozen = frozen
        self.chunk_size = chunk_size
        self.random_init = random_init
        sources = self._named_weights()
        if len(sources) > 1:
            raise ValueError(
                'PerStepBackbone: pretrained weights named in more than one '
                f'place: {sources}; keep one')
        if sources and random_init:
            raise ValueError(
                f'PerStepBackbone: random_init=True, but {sources[0][0]} '
                f'names the pretrained weights {sources[0][1]!r}; drop one')
        if frozen:
            self.backbone.requires_grad_(False)

    def _named_weights(self) -> List[tuple]:
        """``[(where, checkpoint)]`` of every place that names weights."""
        kind = type(self.backbone).__name__
        sources = []
        pretrained = getattr(self.backbone, 'pretrained', None)
        if pretrained:
            sources.append((f'{kind} pretrained', str(pretrained)))
        for ckpt in pretrained_checkpoints(
                getattr(self.backbone, 'init_cfg', None)):
            sources.append((f'{kind} init_cfg', ckpt))
        for ckpt in pretrained_checkpoints(self.init_cfg):
            sources.append(('PerStepBackbone init_cfg', ckpt))
        return sources

    @property
    def pretrained_source(self) -> Optional[str]:
        """The file or URL of the pre-trained weights, None if none named."""
        sources = self._named_weights()
        return sources[0][1] if sources else None

    def init_weights(self) -> None:
        """Load the named pre-trained weights, or initialise at random.

        Raises:
            RuntimeError: The named weights cannot be loaded or leave some
                backbone tensor unset (see :func:`load_every_tensor`).
            ValueError: No weights are named and ``random_init`` is False.
        """
        if self._is_init:  # BaseModule warns about the second call
            return super().init_weights()
        kind = type(self.backbone).__name__
        sources = self._named_weights()
        if not sources:
            if not self.random_init:
                raise ValueError(
                    f'PerStepBackbone: its {kind} names no pretrained '
                    'weights; set the backbone\'s pretrained (or '
                    "init_cfg=dict(type='Pretrained', checkpoint=...)), or "
                    'random_init=True to start from random weights on '
                    'purpose')
            print_log(
                f'PerStepBackbone: {kind} starts from random weights '
                '(random_init=True, no pretrained weights)' +
                (' and is frozen' if self.frozen else ''),
                logger='current', level=logging.WARNING)
            return super().init_weights()
        where, source = sources[0]
        print_log(f'PerStepBackbone: {kind} weights from {source} ({where})',
                  logger='current')
        if where.startswith('PerStepBackbone'):
            # the backbone's own random init would be overwritten entirely
            load = partial(initialize, self, self.init_cfg)
        else:
            load = super().init_weights
        load_every_tensor(self.backbone, load, source)
        self._is_init = True

    def train(self, mode: bool = True) -> 'PerStepBackbone':
        super().train(mode)
        if self.frozen:
            self.backbone.eval()  # frozen BatchNorm statistics too
        return self

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        out = self.backbone(x)
        if isinstance(out, (tuple, list)):
            out = out[-1]
        if not torch.is_tensor(out) or out.dim() < 2:
            raise ValueError(
                f'{type(self.backbone).__name__} returned '
                f'{getattr(out, "shape", type(out).__name__)}: cannot pool '
                'it to one vector per step (expected (N, C, ...))')
        return out.flatten(2).mean(-1) if out.dim() > 2 else out  # (N, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step features ``(B, T, D)``."""
        if x.dim() not in (5, 6):
            raise ValueError(
                'PerStepBackbone expects (B, T, C, H, W) or '
                f'(B, T, C, L, H, W) inputs, got {tuple(x.shape)}')
        batch, steps = x.shape[:2]
        flat = x.flatten(0, 1)  # (B*T, C, [L,] H, W)
        chunks = flat.split(self.chunk_size or len(flat))
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            feats = torch.cat([self._run(c) for c in chunks])
        return feats.view(batch, steps, -1)
