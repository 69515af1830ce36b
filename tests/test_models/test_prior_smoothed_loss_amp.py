"""PriorSmoothedCrossEntropyLoss under autocast (--amp): computed in
float32, so the loss of given logit values is the float32 loss exactly.

Tolerance: none. The logits below hold bfloat16 values; the same values as
bfloat16 under autocast or as float32 without it give bit-identical losses
and gradients (the gradient rounded to bfloat16, the logits' dtype).
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmaction.registry import MODELS

C = 50


def loss_fn(tmp_path, alpha):
    rng = np.random.default_rng(0)
    prior = rng.random((C, C)).astype(np.float32)
    np.save(tmp_path / 'prior.npy', prior / prior.sum(1, keepdims=True))
    return MODELS.build(
        dict(type='PriorSmoothedCrossEntropyLoss', alpha=alpha,
             prior=str(tmp_path / 'prior.npy'), num_classes=C))


def bf16_logits(*shape, seed=0):
    """Logits whose values bfloat16 holds exactly, as float32."""
    g = torch.Generator().manual_seed(seed)
    return (4 * torch.randn(*shape, generator=g)).bfloat16().float()


def autocast():
    return torch.autocast('cpu', dtype=torch.bfloat16)


@pytest.mark.parametrize('alpha', [0.0, 0.5, 1.0])
@pytest.mark.parametrize('shape', [(24, C), (3, 8, C)])
def test_bf16_logits_under_autocast_give_the_fp32_loss(tmp_path, alpha,
                                                       shape):
    loss = loss_fn(tmp_path, alpha)
    logits = bf16_logits(*shape)
    labels = torch.randint(0, C, shape[:1], generator=torch.Generator()
                           .manual_seed(1))
    expected = loss(logits, labels)
    with autocast():
        ours = loss(logits.bfloat16(), labels)
        fp32_input = loss(logits, labels)  # fp32 logits under autocast
    assert ours.dtype == torch.float32
    assert torch.equal(ours, expected)
    assert torch.equal(fp32_input, expected)


def test_gradients_are_the_fp32_ones(tmp_path):
    loss = loss_fn(tmp_path, 0.5)
    labels = torch.randint(0, C, (24, ))
    ref = bf16_logits(24, C).requires_grad_()
    loss(ref, labels).backward()
    low = bf16_logits(24, C).bfloat16().requires_grad_()
    with autocast():
        value = loss(low, labels)
    value.backward()
    assert low.grad.dtype == torch.bfloat16
    assert torch.isfinite(low.grad.float()).all()
    assert torch.equal(low.grad, ref.grad.bfloat16())


def test_logits_of_a_linear_layer_under_autocast(tmp_path):
    """The head's case: bf16 logits from an autocast Linear; the loss is
    the fp32 loss of those logits."""
    torch.manual_seed(0)
    loss = loss_fn(tmp_path, 0.5)
    linear = torch.nn.Linear(32, C)
    x, labels = torch.randn(16, 32), torch.randint(0, C, (16, ))
    with autocast():
        logits = linear(x)
        ours = loss(logits, labels)
    assert logits.dtype == torch.bfloat16
    assert torch.equal(ours, loss(logits.float(), labels))


def test_a_bf16_log_softmax_would_not_be_the_fp32_loss(tmp_path):
    """Why the cast matters: autocast leaves log_softmax in bfloat16, and
    the loss computed from it differs from the float32 one."""
    loss = loss_fn(tmp_path, 0.5)
    logits, labels = bf16_logits(24, C), torch.randint(0, C, (24, ))
    with autocast():
        log_p = F.log_softmax(logits.bfloat16(), dim=-1)
    assert log_p.dtype == torch.bfloat16
    soft = 0.5 * F.one_hot(labels, C) + 0.5 * loss.prior[labels]
    naive = -(soft.bfloat16() * log_p).sum(-1).mean()
    assert not torch.equal(naive.float(), loss(logits, labels))


def test_float64_logits_stay_float64(tmp_path):
    loss = loss_fn(tmp_path, 0.5)
    logits = bf16_logits(6, C).double()
    assert loss(logits, torch.zeros(6, dtype=torch.long)).dtype == \
        torch.float64
