import pytest
import torch

from mmaction.registry import MODELS

TINY_RESNET = dict(type='ResNet', depth=18, num_stages=1, out_indices=(0, ),
                   strides=(1, ), dilations=(1, ), pretrained=None)


def build(backbone=TINY_RESNET, **kwargs):
    return MODELS.build(dict(type='PerStepBackbone', backbone=backbone,
                             **kwargs))


def test_2d_backbone_per_step():
    model = build()
    out = model(torch.randn(2, 14, 3, 32, 32))
    assert out.shape == (2, 14, 64)
    # each step is the pooled backbone output of its own frame
    x = torch.randn(1, 3, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        ref = model.backbone(x[0]).mean((2, 3))
        torch.testing.assert_close(model(x)[0], ref)


def test_3d_backbone_on_clips_and_chunks():
    model = build(dict(type='X3D', gamma_w=1, gamma_b=2.25, gamma_d=0.5),
                  chunk_size=3).eval()
    x = torch.randn(2, 4, 3, 4, 32, 32)  # (B, T, C, L, H, W)
    with torch.no_grad():
        out = model(x)
        whole = build(dict(type='X3D', gamma_w=1, gamma_b=2.25,
                           gamma_d=0.5)).eval()
        whole.load_state_dict(model.state_dict())
        torch.testing.assert_close(out, whole(x), atol=1e-5, rtol=1e-4)
    assert out.shape == (2, 4, 432)


def test_frozen_backbone():
    model = build(frozen=True)
    model.train()
    assert not model.backbone.training  # BatchNorm statistics frozen too
    out = model(torch.randn(1, 2, 3, 32, 32))
    assert not out.requires_grad
    assert all(not p.requires_grad for p in model.parameters())


def test_end_to_end_gradients():
    model = build()
    model(torch.randn(1, 2, 3, 32, 32)).sum().backward()
    assert model.backbone.conv1.conv.weight.grad is not None


class VectorBackbone(torch.nn.Module):
    """Returns one number per input: nothing to pool."""

    def forward(self, x):
        return x.flatten(1).sum(1)


def test_unpoolable_output_is_an_error():
    model = MODELS.build(dict(type='PerStepBackbone',
                              backbone=dict(type=VectorBackbone)))
    with pytest.raises(ValueError, match='cannot pool'):
        model(torch.randn(1, 2, 3, 8, 8))
    with pytest.raises(ValueError, match='expects \\(B, T, C, H, W\\)'):
        model(torch.randn(2, 3, 8, 8))


def test_anticipator_with_backbone_and_head():
    model = MODELS.build(dict(
        type='Anticipator', modalities=('imgs', ),
        backbones=dict(imgs=dict(type='PerStepBackbone',
                                 backbone=TINY_RESNET)),
        cls_head=dict(type='RULSTMHead', num_classes=5, in_channels=64,
                      modalities=('imgs', ), hidden_channels=16)))
    logits = model(dict(imgs=torch.randn(2, 14, 3, 32, 32)), mode='tensor')
    assert logits.shape == (2, 8, 5)
