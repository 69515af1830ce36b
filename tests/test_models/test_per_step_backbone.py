import logging

import pytest
import torch

from mmaction.registry import MODELS

from ..weights_files import (assert_holds, no_network,
                             write_recognizer_checkpoint,
                             write_torchvision_resnet)

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


# --- pre-trained weights: loaded, or an error naming them, never silent ---

SMALL_X3D = dict(type='X3D', gamma_w=1, gamma_b=2.25, gamma_d=0.5)


def test_backbone_pretrained_file_is_loaded(tmp_path):
    values = write_torchvision_resnet(MODELS.build(TINY_RESNET),
                                      tmp_path / 'r18.pth')
    model = build(dict(TINY_RESNET, pretrained=str(tmp_path / 'r18.pth')))
    assert model.pretrained_source == str(tmp_path / 'r18.pth')
    model.init_weights()
    assert_holds(model.backbone, values)


def test_anticipator_init_reaches_backbones_and_keeps_keys(tmp_path):
    ckpt = str(tmp_path / 'x3d_recognizer.pth')
    values = write_recognizer_checkpoint(MODELS.build(SMALL_X3D), ckpt)
    model = MODELS.build(dict(
        type='Anticipator', modalities=('imgs', ),
        backbones=dict(imgs=dict(
            type='PerStepBackbone', backbone=SMALL_X3D,
            init_cfg=dict(type='Pretrained', checkpoint=ckpt))),
        cls_head=dict(type='LSTMAnticipationHead', num_classes=5,
                      in_channels=432, modalities=('imgs', ))))
    model.init_weights()
    assert_holds(model.backbones['imgs'].backbone, values)
    # checkpoints keep their key names
    assert 'backbones.imgs.backbone.conv1_s.conv.weight' in model.state_dict()


@pytest.mark.parametrize('where', ['pretrained', 'init_cfg'])
@pytest.mark.parametrize('source', ['/nowhere/resnet18.pth',
                                    'https://example.com/resnet18.pth'])
def test_unavailable_weights_name_the_source(where, source, monkeypatch,
                                             tmp_path):
    no_network(monkeypatch, tmp_path)
    if where == 'pretrained':
        model = build(dict(TINY_RESNET, pretrained=source))
    else:
        model = build(init_cfg=dict(type='Pretrained', checkpoint=source))
    with pytest.raises(RuntimeError, match=f'cannot load the pretrained '
                       f'weights {source!r} into ResNet: '
                       '(FileNotFoundError|URLError)'):
        model.init_weights()


def test_weights_that_do_not_fit_name_the_source(tmp_path):
    ckpt = str(tmp_path / 'x3d_recognizer.pth')
    write_recognizer_checkpoint(MODELS.build(SMALL_X3D), ckpt)
    # a recognizer checkpoint ('backbone.*') given to the backbone itself
    model = build(dict(SMALL_X3D, pretrained=ckpt))
    with pytest.raises(RuntimeError, match=f'{ckpt!r} did not set 156 of '
                       'the 156 tensors of X3D .*none of its keys matched'):
        model.init_weights()
    with pytest.raises(RuntimeError, match=f'{ckpt!r} into ResNet: '
                       "KeyError: 'conv1.weight'"):
        build(dict(TINY_RESNET, pretrained=ckpt)).init_weights()
    # torchvision's 3-channel conv1 does not fit a 2-channel ResNet
    tv = str(tmp_path / 'r18.pth')
    write_torchvision_resnet(MODELS.build(TINY_RESNET), tv)
    model = build(dict(TINY_RESNET, pretrained=tv, in_channels=2))
    with pytest.raises(RuntimeError, match=f'{tv!r} did not set 1 of the '
                       ".*first unset: \\['conv1.conv.weight'\\]"):
        model.init_weights()


def test_random_weights_only_on_purpose(monkeypatch):
    with pytest.raises(ValueError, match='ResNet names no pretrained '
                       'weights.*random_init=True'):
        build().init_weights()
    logged = []
    monkeypatch.setattr(
        'lsant_mmaction.models.backbones.per_step_backbone.print_log',
        lambda msg, logger=None, level=None: logged.append((msg, level)))
    model = build(random_init=True, frozen=True)
    before = model.backbone.conv1.conv.weight.clone()
    model.init_weights()
    assert model.backbone.is_init
    assert not torch.equal(before, model.backbone.conv1.conv.weight)
    assert logged == [('PerStepBackbone: ResNet starts from random weights '
                       '(random_init=True, no pretrained weights) and is '
                       'frozen', logging.WARNING)]


def test_weights_named_once():
    with pytest.raises(ValueError, match='random_init=True, but ResNet '
                       "pretrained names the pretrained weights 'a.pth'"):
        build(dict(TINY_RESNET, pretrained='a.pth'), random_init=True)
    with pytest.raises(ValueError, match='named in more than one place'):
        build(dict(TINY_RESNET, pretrained='a.pth'),
              init_cfg=dict(type='Pretrained', checkpoint='b.pth'))
