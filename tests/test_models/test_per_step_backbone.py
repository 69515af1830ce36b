import logging

import pytest
import torch

from mmaction.registry import MODELS

from ..weights_files import (assert_holds, no_network,
                             write_recognizer_checkpoint,
                             write_torchvision_resnet)
from .two_rules import assert_causal, assert_independent, per_step_anticipator

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


def test_weights_loaded_while_built_are_refused():
    # TANet would load a.pth into its ResNet part before PerStepBackbone
    # could check it, then wrap the blocks in random temporal modules
    with pytest.raises(ValueError, match="TANet loads its pretrained 'a.pth' "
                       "while it is built .* set pretrained=None and name a "
                       "checkpoint of the whole TANet in PerStepBackbone's "
                       'init_cfg'):
        build(dict(type='TANet', depth=50, num_segments=3,
                   pretrained='a.pth'))


# --- the two rules (DESIGN): causality and sample independence, per mode ---

from lsant_mmaction.models.backbones.per_step_backbone import (  # noqa: E402
    CLIP, FRAME, SHIFT, backbone_mode)

TINY_3D = dict(type='ResNet3d', depth=18, pretrained=None, num_stages=1,
               out_indices=(0, ), spatial_strides=(1, ),
               temporal_strides=(1, ), dilations=(1, ), base_channels=16)
TINY_TSM = dict(type='MobileNetV2TSM', widen_factor=0.25, num_segments=2,
                out_indices=(6, ))
# mode: (backbone, one step's input (C, [L,] H, W), feature size)
MODES = {
    FRAME: (TINY_RESNET, (3, 16, 16), 64),
    CLIP: (TINY_3D, (3, 2, 16, 16), 16),
    SHIFT: (TINY_TSM, (3, 2, 16, 16), 80),
}
STEPS = 14


def tiny_anticipator(mode):
    """An Anticipator (PerStepBackbone in ``mode`` + LSTM head), in eval
    mode, with chunks of 9 steps."""
    backbone, _, dim = MODES[mode]
    return per_step_anticipator(backbone, dim, chunk_size=9)


def steps_input(mode, batch=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, STEPS) + MODES[mode][1], generator=gen)


@pytest.mark.parametrize('mode', [FRAME, CLIP, SHIFT])
def test_anticipator_obeys_the_two_rules(mode):
    """Through the whole Anticipator (backbone, LSTM head), in eval mode
    (BatchNorm in train mode mixes the batch through its statistics), with
    chunks of 9 steps, which split a sample."""
    model = tiny_anticipator(mode)
    assert model.backbones['imgs'].mode == mode

    def fn(v):
        return model(dict(imgs=v), mode='tensor')  # (B, 8, 5): steps 6..13

    x = steps_input(mode)
    with torch.no_grad():
        logits = fn(x)
    assert logits.shape == (2, 8, 5)
    # 1.0 s before the action (step 9): outputs 0..3 kept
    assert_causal(fn, x, t=9, out=logits)
    assert_independent(fn, x, b=1, out=logits)


def flattened_tsm(backbone, steps):
    """The old PerStepBackbone on a temporal-shift model: the B x T step
    frames as one flat batch, each num_segments run taken for one clip."""
    def run(x):  # (B, T, C, H, W)
        out = backbone(x.flatten(0, 1))  # (B*T, D, h, w)
        return out.mean((2, 3)).view(len(x), steps, -1)
    return run


def test_the_flattened_temporal_shift_broke_both_rules():
    """What the old flattened path did, and the new one cannot: a
    TSM over the steps lets step t see step t+1 (num_segments=14: one
    shift over the 14 steps), and with num_segments=8 over 4 x 14 frames
    its clips straddle samples. The tests above catch both."""
    x = torch.randn(4, STEPS, 3, 16, 16)
    over_steps = MODELS.build(dict(TINY_TSM, num_segments=STEPS))
    over_steps.eval()
    with pytest.raises(AssertionError):
        assert_causal(flattened_tsm(over_steps, STEPS), x, t=9)
    over_samples = MODELS.build(dict(TINY_TSM, num_segments=8))
    over_samples.eval()
    with pytest.raises(AssertionError):
        assert_independent(flattened_tsm(over_samples, STEPS), x, b=1)
    # the PerStepBackbone refuses that input: one frame per step is no clip
    model = build(dict(TINY_TSM, num_segments=STEPS))
    with pytest.raises(ValueError, match='LoadAnticipationFrames clip_len='
                       "14 and FormatShape input_format='NCTHW'"):
        model(x)


def test_temporal_shift_runs_each_clip_alone():
    """Each step's feature is the TSM of its own clip of num_segments
    frames, averaged over them (TSM's consensus)."""
    model = build(TINY_TSM).eval()
    x = steps_input(SHIFT, batch=2)[:, :3]  # (2, 3, C, 2, H, W)
    with torch.no_grad():
        out = model(x)
        clip = x[1, 2].transpose(0, 1)  # (L, C, H, W): sample 1, step 2
        ref = model.backbone(clip).mean((2, 3)).mean(0)
    assert out.shape == (2, 3, 80)
    torch.testing.assert_close(out[1, 2], ref)


def test_modes_and_the_settings_they_need():
    assert backbone_mode(MODELS.build(TINY_RESNET)) == FRAME
    assert backbone_mode(MODELS.build(TINY_3D)) == CLIP
    assert backbone_mode(MODELS.build(dict(TINY_RESNET, type='C2D'))) == CLIP
    assert backbone_mode(MODELS.build(TINY_TSM)) == SHIFT
    assert backbone_mode(VectorBackbone()) is None  # the input decides
    tsm = build(TINY_TSM)
    with pytest.raises(ValueError, match='MobileNetV2TSM shifts features '
                       'between the 2 frames .*got clips of 3 frames.*Set '
                       'clip_len to num_segments'):
        tsm(torch.randn(1, 2, 3, 3, 32, 32))
    with pytest.raises(ValueError, match="ResNet is a 2d frame backbone.*"
                       'clip_len=1'):
        build()(torch.randn(1, 2, 3, 2, 32, 32))
    with pytest.raises(ValueError, match='ResNet3d is a 3d clip backbone.*'
                       "input_format='NCTHW'"):
        build(TINY_3D)(torch.randn(1, 2, 3, 32, 32))
    with pytest.raises(ValueError, match='chunk_size must be a positive'):
        build(chunk_size=0)
    with pytest.raises(ValueError, match='num_segments must be a positive'):
        build(dict(TINY_TSM, num_segments=0))


@pytest.mark.parametrize('backbone', [
    TINY_TSM,
    dict(type='ResNetTSM', depth=18, num_segments=2, pretrained=None)])
def test_random_init_of_temporal_shift_backbones(backbone):
    """mmaction's pretrained2d=True default would load ``pretrained=None``
    as a 2D checkpoint (TypeError): random_init works."""
    model = build(backbone, random_init=True)
    before = model.backbone.conv1.conv.weight.clone()
    model.init_weights()
    assert not torch.equal(before, model.backbone.conv1.conv.weight)
    model.eval()
    with torch.no_grad():
        assert model(steps_input(SHIFT, batch=1)[:, :2]).shape[:2] == (1, 2)
