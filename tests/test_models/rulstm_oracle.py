"""A plain, sequential implementation of the official RU-LSTM algorithm.

Written from the description of the official code (fpv-iplab/rulstm,
``RULSTM/models.py``): one LSTM call per rolling step, one unrolling call
per time step, over all 14 steps. It is the reference the fast heads are
tested against; parameter names are the official ones.
"""
import torch
import torch.nn.functional as F
from torch import nn


class OracleRULSTM(nn.Module):

    def __init__(self, num_class, feat_in, hidden, dropout=0.8,
                 sequence_completion=False):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.rolling_lstm = nn.Module()
        self.rolling_lstm.lstm = nn.LSTM(feat_in, hidden)
        self.unrolling_lstm = nn.LSTM(feat_in, hidden)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(hidden, num_class))
        self.sequence_completion = sequence_completion

    def forward(self, inputs):
        """``inputs (B, T, D)`` -> scores ``(B, T, C)``, context
        ``(B, T, 2H)``."""
        seq = inputs.permute(1, 0, 2)  # (T, B, D)
        steps, batch, dim = seq.shape
        rolled = self.dropout(seq)
        state, hiddens, cells = None, [], []
        for t in range(steps):  # one rolling step at a time
            _, state = self.rolling_lstm.lstm(rolled[t:t + 1], state)
            hiddens.append(state[0])
            cells.append(state[1])
        finals = []
        for t in range(steps):
            if self.sequence_completion:
                ins = seq[t:]
            else:
                ins = seq[t].unsqueeze(0).expand(steps - t + 1, batch, dim)
            out, _ = self.unrolling_lstm(self.dropout(ins),
                                         (hiddens[t], cells[t]))
            finals.append(out[-1])
        x = torch.stack(finals, 1)  # (B, T, H)
        scores = self.classifier(x)
        context = torch.cat([x, torch.cat(cells, 0).permute(1, 0, 2)], 2)
        return scores, context


class OracleFusion(nn.Module):

    def __init__(self, branches, hidden, dropout=0.8):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        in_size = 2 * len(branches) * hidden
        self.MATT = nn.Sequential(
            nn.Linear(in_size, int(in_size / 4)), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(int(in_size / 4),
                                           int(in_size / 8)), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(int(in_size / 8), len(branches)))

    def forward(self, inputs):
        scores, contexts = zip(*[b(x) for b, x in zip(self.branches, inputs)])
        context = torch.cat(contexts, 2)
        weights = F.softmax(self.MATT(context.view(-1, context.shape[-1])), 1)
        fused = torch.zeros_like(scores[0])
        for i, s in enumerate(scores):
            fused += (s.view(-1, s.shape[-1]) * weights[:, i:i + 1]).view(
                fused.shape)
        return fused, weights.view(*fused.shape[:2], -1)
