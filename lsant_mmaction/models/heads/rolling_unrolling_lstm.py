"""The rolling-unrolling LSTM of RU-LSTM (Furnari and Farinella, 2019)."""
from typing import List, Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from mmaction.registry import MODELS

from .float32_classifier import Float32Classifier
from .lstm_ops import input_projection, lstm_scan, lstm_step


@MODELS.register_module()
class RollingUnrollingLSTM(BaseModule):
    """One RU-LSTM branch: rolling LSTM + unrolling LSTM + classifier.

    The rolling LSTM encodes the observed steps; at step ``t`` an unrolling
    LSTM starts from the rolling state ``(h_t, c_t)`` and is fed the current
    input repeated ``T - t + 1`` times (or, for sequence-completion
    pre-training, the true inputs ``x[t:]``); a dropout + linear classifier
    reads its last hidden state. Parameter names follow the official code
    (``rolling_lstm.lstm.*``, ``unrolling_lstm.*``, ``classifier.1.*``).

    Faster than the official loop, with the same result (equal in eval mode
    up to float rounding):

    - only the unrollings of the returned steps are run (RU-LSTM discards
      the first 6 of its 14 outputs in training and testing);
    - all unrollings run together: unrolling lengths decrease with ``t``,
      so at each unrolling step the active unrollings are a prefix of one
      batch, and each step is a single matrix product;
    - without dropout on the unrolling inputs (eval mode, or
      ``unroll_dropout='shared'``), the input projection of each distinct
      input is computed once instead of once per replicated copy.

    Args:
        in_channels (int): Input feature size.
        num_classes (int): Number of actions.
        hidden_channels (int): LSTM hidden size. Defaults to 1024.
        dropout (float): Dropout on the inputs of both LSTMs and before the
            classifier. Defaults to 0.8.
        sequence_completion (bool): Feed the true future inputs to the
            unrolling LSTM (pre-training). Defaults to False.
        unroll_dropout (str): ``'independent'`` (official: every replicated
            unrolling input gets its own dropout mask) or ``'shared'`` (one
            mask per input vector, reused by every copy; about twice as fast
            in training, a slightly different regulariser). Defaults to
            ``'independent'``.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint=..., prefix='cls_head.branch.')``. Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 hidden_channels: int = 1024,
                 dropout: float = 0.8,
                 sequence_completion: bool = False,
                 unroll_dropout: str = 'independent',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if unroll_dropout not in ('independent', 'shared'):
            raise ValueError("unroll_dropout must be 'independent' or "
                             f"'shared', got {unroll_dropout!r}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.context_channels = 2 * hidden_channels
        self.sequence_completion = sequence_completion
        self.unroll_dropout = unroll_dropout
        self.dropout = nn.Dropout(dropout)
        self.rolling_lstm = nn.Module()
        self.rolling_lstm.lstm = nn.LSTM(in_channels, hidden_channels)
        self.unrolling_lstm = nn.LSTM(in_channels, hidden_channels)
        self.classifier = Float32Classifier(
            nn.Dropout(dropout), nn.Linear(hidden_channels, num_classes))

    def unrolling_plan(self, steps: int, outputs: int) -> List[List[int]]:
        """Input time index of every active unrolling at every step.

        ``plan[s][u]`` is the input of unrolling ``u`` (started at time
        ``steps - outputs + u``) at its step ``s``; the active unrollings of
        a step are a prefix, since lengths decrease with ``u``.
        """
        starts = range(steps - outputs, steps)
        if self.sequence_completion:
            lengths = [steps - t for t in starts]
        else:
            lengths = [steps - t + 1 for t in starts]
        plan = []
        for s in range(lengths[0]):
            active = [t for t, n in zip(starts, lengths) if n > s]
            plan.append([t + s if self.sequence_completion else t
                         for t in active])
        return plan

    def forward(self, x: torch.Tensor,
                outputs: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Logits and context of the last ``outputs`` steps.

        Args:
            x (torch.Tensor): Features ``(B, T, D)``.
            outputs (int): Number of final steps to predict at.

        Returns:
            tuple: logits ``(B, S, C)`` and context ``(B, S, 2H)``
            (last unrolling hidden state, rolling cell state), ``S = outputs``.
        """
        batch, steps, _ = x.shape
        if not 0 < outputs <= steps:
            raise ValueError(f'cannot predict at {outputs} of {steps} steps')
        h_roll, c_roll = lstm_scan(self.rolling_lstm.lstm, self.dropout(x))
        first = steps - outputs
        # unrolling state: u-major rows (unrolling u = rows u*B .. u*B+B-1)
        h = h_roll[:, first:].transpose(0, 1).reshape(outputs * batch, -1)
        c = c_roll[:, first:].transpose(0, 1).reshape(outputs * batch, -1)
        plan = self.unrolling_plan(steps, outputs)
        projections = self._unrolling_projections(x, plan)
        finals = [None] * outputs
        for s, (active, projected) in enumerate(zip(plan, projections)):
            rows = len(active) * batch
            h, c = lstm_step(self.unrolling_lstm, projected, h[:rows],
                             c[:rows])
            still_active = len(plan[s + 1]) if s + 1 < len(plan) else 0
            for u in range(still_active, len(active)):  # they end here
                finals[u] = h[u * batch:(u + 1) * batch]
        h_final = torch.stack(finals, 1)  # (B, S, H)
        logits = self.classifier(h_final)  # (B, S, C)
        context = torch.cat([h_final, c_roll[:, first:]], dim=-1)
        return logits, context

    def _unrolling_projections(self, x: torch.Tensor,
                               plan: List[List[int]]) -> List[torch.Tensor]:
        """Input projections ``(rows_s, 4H)`` of every unrolling step."""
        lstm = self.unrolling_lstm
        independent = (self.training and self.dropout.p > 0
                       and self.unroll_dropout == 'independent')
        if not independent:
            # one projection per time index read (the first unrolling's
            # onwards), shared by every copy of it
            first = plan[0][0]
            projected = input_projection(lstm, self.dropout(x[:, first:]))
            return [
                projected[:, [t - first for t in idx]].transpose(0, 1).reshape(
                    -1, projected.shape[-1]) for idx in plan
            ]
        # official semantics: every copy gets its own dropout mask, so each
        # (unrolling, step) input is dropped and projected on its own; all of
        # them in one matrix product
        flat = [t for idx in plan for t in idx]
        inputs = x[:, flat].transpose(0, 1).reshape(-1, x.shape[-1])
        projected = input_projection(lstm, self.dropout(inputs))
        return list(projected.split([len(idx) * x.shape[0] for idx in plan]))
