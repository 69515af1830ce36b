"""Any mmaction backbone applied to every step of the time grid."""
from typing import Optional

import torch
from mmengine.model import BaseModule

from mmaction.registry import MODELS


@MODELS.register_module()
class PerStepBackbone(BaseModule):
    """Run a backbone on each step's frame (2D) or clip (3D), pool to a vector.

    Input ``(B, T, C, H, W)`` (2D: one frame per step, ``FormatShape``
    ``'NCHW'``) or ``(B, T, C, L, H, W)`` (3D: a clip of L frames per step,
    ``'NCTHW'``). The B x T frames/clips go through the backbone as one
    batch (in chunks of ``chunk_size`` if given, to bound memory); its
    output (the last one if it returns several) is averaged over every axis
    but channels, giving ``(B, T, D)`` for the anticipation head.

    Args:
        backbone (dict): Any MODELS backbone (``ResNet``, ``ResNetTSM``,
            ``X3D``, ``ResNet3dSlowOnly``...), with its ``init_cfg``/
            ``pretrained`` for pre-trained weights.
        frozen (bool): Keep the backbone fixed: no gradients, BatchNorm in
            eval mode, forward under ``no_grad``. Defaults to False
            (end-to-end training).
        chunk_size (int, optional): Frames/clips per backbone call.
            Defaults to None (all at once).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 frozen: bool = False,
                 chunk_size: Optional[int] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.frozen = frozen
        self.chunk_size = chunk_size
        if frozen:
            self.backbone.requires_grad_(False)

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
