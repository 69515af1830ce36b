"""A GPT-2-style causal transformer over a sequence of step embeddings."""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmaction.registry import MODELS


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where step ``t`` attends to steps ``<= t``,
    in one fused call (``F.scaled_dot_product_attention(is_causal=True)``).

    ``qkv`` projects to queries, keys and values laid out as GPT-2's
    ``c_attn`` (``[q | k | v]``, each split into heads in order); ``proj``
    is GPT-2's ``c_proj``.

    Args:
        channels (int): Embedding size.
        num_heads (int): Number of heads (must divide ``channels``).
        attn_dropout (float): Dropout on the attention weights.
        resid_dropout (float): Dropout on the output projection.
    """

    def __init__(self, channels: int, num_heads: int, attn_dropout: float,
                 resid_dropout: float) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'num_heads={num_heads} does not divide the '
                             f'embedding size {channels}')
        self.num_heads = num_heads
        self.attn_dropout = attn_dropout
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.resid_dropout = nn.Dropout(resid_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, D) -> (B, T, D)``."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.num_heads,
                                   d // self.num_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(  # (B, H, T, D/H)
            q, k, v, dropout_p=self.attn_dropout if self.training else 0.0,
            is_causal=True)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(b, t,
                                                                      d)))


class CausalTransformerBlock(nn.Module):
    """GPT-2's block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``, the
    MLP ``fc1 -> GELU (tanh approximation, GPT-2's gelu_new) -> fc2 ->
    dropout``.

    Args:
        channels (int): Embedding size.
        num_heads (int): Attention heads.
        inner_channels (int): MLP hidden size.
        attn_dropout (float): Dropout on the attention weights.
        resid_dropout (float): Dropout on each residual branch.
        eps (float): LayerNorm epsilon.
    """

    def __init__(self, channels: int, num_heads: int, inner_channels: int,
                 attn_dropout: float, resid_dropout: float,
                 eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels, eps=eps)
        self.attn = CausalSelfAttention(channels, num_heads, attn_dropout,
                                        resid_dropout)
        self.norm2 = nn.LayerNorm(channels, eps=eps)
        self.fc1 = nn.Linear(channels, inner_channels)
        self.fc2 = nn.Linear(inner_channels, channels)
        self.mlp_dropout = nn.Dropout(resid_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        h = F.gelu(self.fc1(self.norm2(x)), approximate='tanh')
        return x + self.mlp_dropout(self.fc2(h))


@MODELS.register_module()
class CausalTransformer(BaseModule):
    """GPT-2 without token embeddings, as AVT's AVT-h head and AFFT's future
    predictor use it (``transformers.GPT2Model`` with ``wte`` deleted, fed
    ``inputs_embeds``): learned position embeddings ``wpe`` are added to
    the step embeddings, then dropout, ``num_layers`` pre-LayerNorm causal
    blocks and a final LayerNorm. Output ``t`` depends on inputs ``<= t``
    only; there is no loop over steps (the official heads' loop runs once
    with their ``output_len=1``).

    Initialised as GPT-2 (``initializer_range=0.02``): linear weights and
    position embeddings normal(0, 0.02), biases 0, LayerNorms 1 and 0, the
    residual output projections normal(0, 0.02 / sqrt(2 * num_layers)).

    Args:
        channels (int): Embedding size (GPT-2's ``n_embd``). Defaults to
            2048 (AVT-h and AFFT on EK100).
        num_layers (int): Blocks (``n_layer``). Defaults to 6.
        num_heads (int): Attention heads (``n_head``). Defaults to 4.
        inner_channels (int, optional): MLP hidden size (``n_inner``);
            None is ``4 * channels``, GPT-2's default. Defaults to None.
        max_steps (int): Rows of the position embedding (``n_positions``);
            sequences may not be longer. Defaults to 1024 (GPT-2's, the
            official checkpoints' size).
        embed_dropout (float): ``embd_pdrop``. Defaults to 0.1.
        attn_dropout (float): ``attn_pdrop``. Defaults to 0.1.
        resid_dropout (float): ``resid_pdrop``. Defaults to 0.1.
        eps (float): LayerNorm epsilon. Defaults to 1e-5 (GPT-2's).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 channels: int = 2048,
                 num_layers: int = 6,
                 num_heads: int = 4,
                 inner_channels: Optional[int] = None,
                 max_steps: int = 1024,
                 embed_dropout: float = 0.1,
                 attn_dropout: float = 0.1,
                 resid_dropout: float = 0.1,
                 eps: float = 1e-5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.channels = channels
        self.max_steps = max_steps
        self.position_embedding = nn.Embedding(max_steps, channels)
        self.embed_dropout = nn.Dropout(embed_dropout)
        self.blocks = nn.ModuleList([
            CausalTransformerBlock(channels, num_heads,
                                   inner_channels or 4 * channels,
                                   attn_dropout, resid_dropout, eps)
            for _ in range(num_layers)
        ])
        self.norm = nn.LayerNorm(channels, eps=eps)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, 0.0, 0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        std = 0.02 / math.sqrt(2 * len(self.blocks))
        for block in self.blocks:
            nn.init.normal_(block.attn.proj.weight, 0.0, std)
            nn.init.normal_(block.fc2.weight, 0.0, std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, channels) -> (B, T, channels)``, causal over T."""
        steps = x.shape[1]
        if steps > self.max_steps:
            raise ValueError(f'{steps} steps, but the position embedding has '
                             f'max_steps={self.max_steps}')
        x = self.embed_dropout(x + self.position_embedding.weight[:steps])
        for block in self.blocks:
            x = block(x)
        return self.norm(x)
