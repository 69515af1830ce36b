"""AFFT's SA-Fuser: self-attention over the modality tokens of each step."""
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmaction.registry import MODELS


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero the residual branch of whole rows of ``x``
    (one row per step of a sample here) with probability ``p``, scaling
    the others by ``1 / (1 - p)``."""
    if p == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0], ) + (1, ) * (x.dim() - 1)).bernoulli_(
        1.0 - p)
    return x * keep / (1.0 - p)


class FuserBlock(nn.Module):
    """A pre-LayerNorm ViT block (timm's ``Block``, as AFFT's
    ``models/transformerblock.py``): ``x + drop_path(attn(norm1(x)))``,
    ``x + drop_path(mlp(norm2(x)))``; attention without query/key/value
    bias, one fused ``F.scaled_dot_product_attention`` call; MLP ``fc1 ->
    GELU -> fc2 -> dropout``.

    Args:
        channels (int): Token size.
        num_heads (int): Attention heads.
        mlp_ratio (float): MLP hidden size / ``channels``.
        dropout (float): Dropout after the attention projection and after
            the MLP (AFFT's ``drop_rate``).
        attn_dropout (float): Dropout on the attention weights.
        drop_path (float): Stochastic depth probability of this block.
        eps (float): LayerNorm epsilon.
    """

    def __init__(self, channels: int, num_heads: int, mlp_ratio: float,
                 dropout: float, attn_dropout: float, drop_path: float,
                 eps: float) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'num_heads={num_heads} does not divide the '
                             f'token size {channels}')
        self.num_heads = num_heads
        self.attn_dropout = attn_dropout
        self.drop_path = drop_path
        self.norm1 = nn.LayerNorm(channels, eps=eps)
        self.qkv = nn.Linear(channels, 3 * channels, bias=False)
        self.proj = nn.Linear(channels, channels)
        self.proj_dropout = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(channels, eps=eps)
        hidden = int(channels * mlp_ratio)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        self.mlp_dropout = nn.Dropout(dropout)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        n, m, d = x.shape
        q, k, v = self.qkv(x).view(n, m, 3, self.num_heads,
                                   d // self.num_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(  # (N, H, M, D/H)
            q, k, v, dropout_p=self.attn_dropout if self.training else 0.0)
        return self.proj_dropout(self.proj(y.transpose(1, 2).reshape(n, m,
                                                                     d)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, M, D) -> (N, M, D)``: N token sets of M tokens each."""
        x = x + drop_path(self.attention(self.norm1(x)), self.drop_path,
                          self.training)
        h = self.fc2(F.gelu(self.fc1(self.norm2(x))))
        return x + drop_path(self.mlp_dropout(h), self.drop_path,
                             self.training)


@MODELS.register_module()
class ModalityTokenFuser(BaseModule):
    """AFFT's SA-Fuser with its modality-agnostic token
    (``models/fusion.py: ModalTokenCMFuser``): at every step, the token and
    the modality features ``[token, m_1, ..., m_n]`` go through ``depth``
    self-attention blocks and a LayerNorm; the token's output is the fused
    feature of the step. Steps and samples never mix (attention runs over
    the ``n + 1`` tokens of one step), so the fuser is causal.

    Follows the official code: a single learned token for all steps
    (``frame_level_token=False``), no modality embedding
    (``modal_encoding=False``: the blocks cannot tell the modalities
    apart, the output does not depend on their order), dropout on the
    tokens before the blocks (``embd_drop_rate``), stochastic depth rising
    linearly from 0 to ``drop_path`` over the blocks, LayerNorm epsilon
    1e-6, timm's initialisation (linear weights truncated normal std 0.02,
    biases 0, the token truncated normal std 0.02). Differs: the attention
    is one fused call, and the official ``cross_attn`` option (each token
    masked from itself) is not offered.

    Args:
        channels (int): Token size (AFFT's ``common_dim``). Defaults to
            1024.
        num_modalities (int): Number of modality tokens per step.
            Defaults to 3.
        depth (int): Blocks. Defaults to 6.
        num_heads (int): Attention heads. Defaults to 4.
        mlp_ratio (float): MLP hidden size / ``channels``. Defaults to 4.
        embed_dropout (float): Dropout on the tokens. Defaults to 0.1.
        dropout (float): Dropout in the blocks. Defaults to 0.1.
        attn_dropout (float): Dropout on attention weights. Defaults to 0.1.
        drop_path (float): Stochastic depth of the last block. Defaults to
            0.1.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 channels: int = 1024,
                 num_modalities: int = 3,
                 depth: int = 6,
                 num_heads: int = 4,
                 mlp_ratio: float = 4.0,
                 embed_dropout: float = 0.1,
                 dropout: float = 0.1,
                 attn_dropout: float = 0.1,
                 drop_path: float = 0.1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.channels = channels
        self.num_modalities = num_modalities
        rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]
        self.token = nn.Parameter(torch.zeros(1, 1, channels))
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.blocks = nn.ModuleList([
            FuserBlock(channels, num_heads, mlp_ratio, dropout, attn_dropout,
                       rate, 1e-6) for rate in rates
        ])
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """timm's ViT initialisation, as the official fuser."""
        nn.init.trunc_normal_(self.token, std=0.02)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Modality tokens ``(B, T, n, D)`` -> fused features ``(B, T, D)``.
        """
        b, t, n, d = x.shape
        if n != self.num_modalities or d != self.channels:
            raise ValueError(
                f'ModalityTokenFuser expects {self.num_modalities} tokens of '
                f'size {self.channels} per step, got {n} of size {d}')
        tokens = torch.cat([self.token.expand(b * t, 1, d),
                            x.reshape(b * t, n, d)], dim=1)  # (B*T, n+1, D)
        tokens = self.embed_dropout(tokens)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens[:, 0]).view(b, t, d)  # the token's output
