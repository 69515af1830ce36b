"""The two rules of DESIGN ("Two rules every model obeys") as assertions,
and the tiny Anticipator the backbone tests run them through."""
from typing import Optional

import torch

from mmaction.registry import MODELS


def per_step_anticipator(backbone: dict, in_channels: int,
                         chunk_size: Optional[int] = None,
                         num_anticipation_steps: int = 8):
    """An Anticipator of ``PerStepBackbone(backbone, random_init=True)``
    and an LSTM head over 5 classes, initialised, in eval mode: BatchNorm
    with its running statistics, no dropout. ``in_channels``: the
    backbone's feature size."""
    model = MODELS.build(dict(
        type='Anticipator', modalities=('imgs', ),
        backbones=dict(imgs=dict(type='PerStepBackbone', backbone=backbone,
                                 random_init=True, chunk_size=chunk_size)),
        cls_head=dict(type='LSTMAnticipationHead', num_classes=5,
                      in_channels=in_channels, hidden_channels=8,
                      num_anticipation_steps=num_anticipation_steps,
                      modalities=('imgs', ))))
    model.init_weights()
    return model.eval()


@torch.no_grad()
def assert_causal(fn, x, t, out=None):
    """``fn``'s outputs (B, S, ...) for the last S steps of ``x`` (B, T,
    ...): those at steps <= t are bit-identical when every input of the
    steps after t changes (and some later output does change). ``out``:
    ``fn(x)`` if already known."""
    out = fn(x) if out is None else out
    later = x.clone()
    later[:, t + 1:] = torch.randn_like(later[:, t + 1:])
    changed = fn(later)
    first = x.shape[1] - out.shape[1]  # the step of output 0
    assert torch.equal(out[:, :t + 1 - first], changed[:, :t + 1 - first])
    assert not torch.equal(out[:, t + 1 - first:],
                           changed[:, t + 1 - first:])


@torch.no_grad()
def assert_independent(fn, x, b, out=None):
    """Changing sample ``b`` changes its outputs and no other's."""
    out = fn(x) if out is None else out
    other = x.clone()
    other[b] = torch.randn_like(other[b])
    changed = fn(other)
    keep = [i for i in range(len(x)) if i != b]
    assert torch.equal(out[keep], changed[keep])
    assert not torch.equal(out[b], changed[b])
