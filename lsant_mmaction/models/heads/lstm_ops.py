"""LSTM steps on top of ``nn.LSTM`` weights, for heads that need every cell
state or run many independent recurrences as one batch."""
from typing import Tuple

import torch
from torch import nn


def input_projection(lstm: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
    """``x W_ih^T + b_ih + b_hh`` of a one-layer ``nn.LSTM``: ``(..., 4H)``."""
    return torch.addmm(lstm.bias_ih_l0 + lstm.bias_hh_l0,
                       x.reshape(-1, x.shape[-1]),
                       lstm.weight_ih_l0.t()).view(*x.shape[:-1], -1)


def lstm_step(lstm: nn.LSTM, projected: torch.Tensor, h: torch.Tensor,
              c: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step (PyTorch's gate order i, f, g, o).

    Args:
        lstm (nn.LSTM): One-layer LSTM whose recurrent weights are used.
        projected (torch.Tensor): Input projection ``(N, 4H)``
            (:func:`input_projection`).
        h, c (torch.Tensor): Previous state ``(N, H)``.

    Returns:
        tuple: the new ``h`` and ``c``, ``(N, H)`` each.
    """
    gates = torch.addmm(projected, h, lstm.weight_hh_l0.t())  # (N, 4H)
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def lstm_scan(lstm: nn.LSTM,
              x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Run a one-layer LSTM over ``x`` ``(B, T, D)`` from a zero state.

    Returns:
        tuple: hidden and cell states after every step, ``(B, T, H)`` each.
    """
    batch, steps = x.shape[:2]
    projected = input_projection(lstm, x)  # (B, T, 4H)
    h = x.new_zeros(batch, lstm.hidden_size)
    c = x.new_zeros(batch, lstm.hidden_size)
    hs, cs = [], []
    for t in range(steps):
        h, c = lstm_step(lstm, projected[:, t], h, c)
        hs.append(h)
        cs.append(c)
    return torch.stack(hs, 1), torch.stack(cs, 1)

