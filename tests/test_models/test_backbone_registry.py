"""Every backbone of mmaction's registry that takes frames, inside
``PerStepBackbone`` and the Anticipator (LSTM head), on tiny inputs: built
with ``random_init=True``, run in the mode it gets, checked against the two
rules (DESIGN) and trained one step end to end. The rest of the registry is
listed with the reason it is left out, so that a backbone added by a newer
mmaction fails here until it is placed."""
import mmcv
import pytest
import torch
from mmengine.optim import build_optim_wrapper

import mmaction.models  # noqa: F401  (registers every mmaction model)
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from lsant_mmaction.models.backbones.per_step_backbone import (CLIP, FRAME,
                                                               SHIFT)
from .two_rules import assert_causal, assert_independent, per_step_anticipator

STEPS = 4  # the LSTM head predicts at the last 2
ANTICIPATED = 2
CHUNK = 3  # steps per backbone call: splits a sample

# name: (mode, tiny backbone config, one step's input (C, [L,] H, W),
# feature size). Tiny depth and width, 32x32 frames, clips of 2-4 frames.
CASES = {
    'ResNet': (FRAME, dict(
        type='ResNet', depth=18, pretrained=None, num_stages=1,
        out_indices=(0, ), strides=(1, ), dilations=(1, )), (3, 32, 32), 64),
    'MobileNetV2': (FRAME, dict(type='MobileNetV2', widen_factor=0.25),
                    (3, 32, 32), 1280),
    'C2D': (CLIP, dict(
        type='C2D', depth=18, pretrained=None, num_stages=2,
        out_indices=(1, ), strides=(1, 2), dilations=(1, 1)),
        (3, 4, 32, 32), 128),
    # fc6 takes the flattened pool5: 512 x 1 x 1 x 1 for 16 x 16 x 16 clips
    'C3D': (CLIP, dict(type='C3D', out_dim=512), (3, 16, 16, 16), 4096),
    'X3D': (CLIP, dict(type='X3D', gamma_w=1, gamma_b=2.25, gamma_d=0.5),
            (3, 4, 32, 32), 432),
    'ResNet3d': (CLIP, dict(
        type='ResNet3d', depth=18, pretrained=None, base_channels=16,
        num_stages=1, out_indices=(0, ), spatial_strides=(1, ),
        temporal_strides=(1, ), dilations=(1, )), (3, 2, 32, 32), 16),
    'ResNet3dSlowOnly': (CLIP, dict(
        type='ResNet3dSlowOnly', depth=18, pretrained=None, base_channels=16,
        num_stages=2, out_indices=(1, ), spatial_strides=(1, 2),
        temporal_strides=(1, 1), dilations=(1, 1), inflate=(0, 1)),
        (3, 2, 32, 32), 32),
    # fast 4 x 8 channels, slow 16 x 8: both pathways, concatenated
    'ResNet3dSlowFast': (CLIP, dict(
        type='ResNet3dSlowFast', resample_rate=4, speed_ratio=2,
        channel_ratio=4,
        slow_pathway=dict(
            type='resnet3d', depth=18, pretrained=None, lateral=True,
            base_channels=16, conv1_kernel=(1, 7, 7), conv1_stride_t=1,
            pool1_stride_t=1, inflate=(0, 0, 1, 1)),
        fast_pathway=dict(
            type='resnet3d', depth=18, pretrained=None, lateral=False,
            base_channels=4, conv1_kernel=(5, 7, 7), conv1_stride_t=1,
            pool1_stride_t=1)), (3, 4, 32, 32), 32 + 128),
    'ResNet2Plus1d': (CLIP, dict(
        type='ResNet2Plus1d', depth=18, pretrained=None, pretrained2d=False,
        conv_cfg=dict(type='Conv2plus1d'), base_channels=16, num_stages=1,
        out_indices=(0, ), spatial_strides=(1, ), temporal_strides=(1, ),
        dilations=(1, )), (3, 2, 32, 32), 16),
    'ResNet3dCSN': (CLIP, dict(
        type='ResNet3dCSN', depth=50, pretrained=None, base_channels=8,
        num_stages=1, out_indices=(0, ), spatial_strides=(1, ),
        temporal_strides=(1, ), dilations=(1, )), (3, 2, 32, 32), 32),
    # OmniResNet takes clips and single frames (mode None: the input decides)
    'OmniResNet-clips': (None, dict(type='OmniResNet', layers=[1, 1, 1, 1]),
                         (3, 2, 32, 32), 2048),
    'OmniResNet-frames': (None, dict(type='OmniResNet', layers=[1, 1, 1, 1]),
                          (3, 32, 32), 2048),
    'MViT': (CLIP, dict(
        type='MViT', arch=dict(embed_dims=16, num_layers=2, num_heads=1,
                               downscale_indices=[1]),
        spatial_size=32, temporal_size=2), (3, 2, 32, 32), 32),
    'TimeSformer': (CLIP, dict(
        type='TimeSformer', num_frames=2, img_size=32, patch_size=16,
        embed_dims=16, num_heads=2, num_transformer_layers=1),
        (3, 2, 32, 32), 16),
    'UniFormer': (CLIP, dict(
        type='UniFormer', depth=[1, 1, 1, 1], img_size=32,
        embed_dim=[16, 16, 32, 32], head_dim=16), (3, 2, 32, 32), 32),
    # clip_pretrained=True (its default) is turned off without pretrained
    'UniFormerV2': (CLIP, dict(
        type='UniFormerV2', input_resolution=32, patch_size=16, width=32,
        layers=2, heads=2, t_size=2, return_list=[0, 1], n_layers=2,
        n_dim=32, n_head=2, mlp_dropout=[0.5, 0.5]), (3, 2, 32, 32), 32),
    'VisionTransformer': (CLIP, dict(
        type='VisionTransformer', img_size=32, patch_size=16, embed_dims=16,
        depth=1, num_heads=2, num_frames=2, tubelet_size=2),
        (3, 2, 32, 32), 16),
    'SwinTransformer3D': (CLIP, dict(
        type='SwinTransformer3D', arch=dict(embed_dims=16, depths=[1, 1],
                                            num_heads=[1, 1]),
        patch_size=(2, 4, 4), window_size=(1, 4, 4), out_indices=(1, )),
        (3, 2, 32, 32), 32),
    # pretrained2d=True (the default) is turned off without pretrained
    'MobileNetV2TSM': (SHIFT, dict(
        type='MobileNetV2TSM', widen_factor=0.25, num_segments=2),
        (3, 2, 32, 32), 1280),
    # ResNetTSM shifts in its four stages: all four are built
    'ResNetTSM': (SHIFT, dict(
        type='ResNetTSM', depth=18, num_segments=2, pretrained=None),
        (3, 2, 32, 32), 512),
    # TANet: Bottleneck blocks (depth >= 50) and num_segments >= 3
    'TANet': (SHIFT, dict(
        type='TANet', depth=50, num_segments=3, pretrained=None,
        num_stages=1, out_indices=(0, ), strides=(1, ), dilations=(1, )),
        (3, 3, 32, 32), 256),
}

# mmaction backbones left out, and why
EXCLUDED = {
    'STGCN': 'skeleton GCN: takes (N, M, T, V, C) joint coordinates',
    'AAGCN': 'skeleton GCN: takes (N, M, T, V, C) joint coordinates',
    'ResNetAudio': 'audio: takes 1-channel spectrograms',
    'RGBPoseConv3D': 'takes two inputs, RGB clips and pose heatmaps',
    'ResNet3dLayer': 'one ResNet3d stage (a shared head for detectors): '
                     'takes a feature map of 64 x 2^k channels, not frames',
    'ResNetTIN': 'its tin_shift is an mmcv.ops CUDA op: mmcv-lite has no '
                 'mmcv.ops, full mmcv runs it on GPU only',
    'MobileOneTSM': 'registered only where mmpretrain is installed (not in '
                    'the CPU pin set)',
}
# the rest of mmaction's registry, by module: not backbones
NOT_BACKBONES = {
    'mmaction.models.heads': 'heads: take backbone features',
    'mmaction.models.necks': 'necks (TPN): take backbone features',
    'mmaction.models.localizers': 'temporal localisers (BMN, BSN, '
                                  'TCANet): take feature sequences',
    'mmaction.models.recognizers': 'recognizers: whole models',
    'mmaction.models.losses': 'losses',
    'mmaction.models.data_preprocessors': 'data preprocessors',
    'mmaction.models.common': 'building blocks (Conv2plus1d, ConvAudio, '
                              'SubBatchNorm3D, transformer layers)',
    'mmaction.models.similarity': 'video-text retrieval (CLIPSimilarity, '
                                  'adapters): need the clip package',
    'mmaction.models.utils': 'batch blending (mixup, cutmix)',
    'mmaction.utils.dependency': 'placeholders of models whose packages '
                                 '(mmpretrain, transformers) are missing',
    'mmaction.models.multimodal': 'vision-language models (VindLU)',
}


def registered():
    """``{name: module}`` of every mmaction model in the registry."""
    return {
        name: cls.__module__
        for name, cls in MODELS.module_dict.items()
        if cls.__module__.startswith('mmaction.')
    }


def test_every_registered_backbone_is_tested_or_excluded():
    models = registered()
    backbones = {n for n, m in models.items()
                 if m.startswith('mmaction.models.backbones.')}
    tested = {case.split('-')[0] for case in CASES}
    assert tested & set(EXCLUDED) == set()
    assert backbones - tested - set(EXCLUDED) == set(), \
        'a registered mmaction backbone is neither tested nor excluded'
    # what is tested or excluded is registered (MobileOneTSM: with
    # mmpretrain only)
    assert tested <= backbones
    assert set(EXCLUDED) - backbones <= {'MobileOneTSM'}
    others = {n: m for n, m in models.items() if n not in backbones}
    unplaced = {n: m for n, m in others.items()
                if not m.startswith(tuple(NOT_BACKBONES))}
    assert unplaced == {}


def test_tin_needs_mmcv_ops():
    """The one frame backbone excluded for this environment: its shift is
    an mmcv.ops op, absent from mmcv-lite."""
    try:
        from mmcv.ops import tin_shift  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip(f'mmcv {mmcv.__version__} has tin_shift: run ResNetTIN '
                    'on a GPU')
    model = MODELS.build(dict(
        type='PerStepBackbone', random_init=True,
        backbone=dict(type='ResNetTIN', depth=18, num_segments=2,
                      pretrained=None)))
    assert model.mode == SHIFT
    with pytest.raises(ImportError, match='tin_shift'):
        model(torch.randn(1, 1, 3, 2, 32, 32))


def labelled(batch):
    return [ActionDataSample().set_gt_label(k) for k in range(batch)]


@pytest.mark.parametrize('case', list(CASES))
def test_backbone_in_the_anticipator(case):
    """Forward in eval mode, causality (step 2 does not see step 3),
    sample independence, in chunks of 3 steps; then one SGD step that
    reaches every backbone parameter."""
    mode, backbone, step_shape, dim = CASES[case]
    torch.manual_seed(0)
    model = per_step_anticipator(backbone, dim, chunk_size=CHUNK,
                                 num_anticipation_steps=ANTICIPATED)
    per_step = model.backbones['imgs']
    assert per_step.mode == mode

    def fn(v):
        return model(dict(imgs=v), mode='tensor')  # (B, 2, 5): steps 2, 3

    x = torch.randn((2, STEPS) + step_shape)
    with torch.no_grad():
        logits = fn(x)
    assert logits.shape == (2, ANTICIPATED, 5)
    assert torch.isfinite(logits).all()
    assert_causal(fn, x, t=2, out=logits)
    assert_independent(fn, x, b=1, out=logits)

    # one training step, as mmengine's train_step, checking the gradients
    # before the step (update_params would drop them)
    model.train()
    optim = build_optim_wrapper(
        model, dict(optimizer=dict(type='SGD', lr=0.01)))
    before = {n: p.detach().clone()
              for n, p in per_step.backbone.named_parameters()}
    data = model.data_preprocessor(
        dict(inputs=dict(imgs=x), data_samples=labelled(2)), True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)
    optim.backward(loss)
    untrained = [n for n, p in per_step.backbone.named_parameters()
                 if p.requires_grad and p.grad is None]
    assert untrained == []
    optim.step()
    assert any(not torch.equal(before[n], p)
               for n, p in per_step.backbone.named_parameters())


def built(case):
    """The case's backbone in a PerStepBackbone, in eval mode."""
    return MODELS.build(dict(type='PerStepBackbone', random_init=True,
                             backbone=CASES[case][1])).eval()


@pytest.mark.parametrize('case, setting', [('UniFormerV2', 't_size'),
                                           ('TimeSformer', 'num_frames')])
def test_backbones_built_for_one_clip_length_refuse_others(case, setting):
    """They regroup a batch's frames into clips of the length they were
    built for; clips of another length are refused, naming the setting."""
    model = built(case)
    assert model.clip_length == (setting, 2)
    with pytest.raises(ValueError, match=f'{case} is built for clips of 2 '
                       f'frames \\({setting}=2\\); got clips of 4 frames.*'
                       f'clip_len=2 \\(or {setting} to clip_len\\)'):
        model(torch.randn(1, 2, 3, 4, 32, 32))


def test_uniformerv2_mixes_clips_of_another_length():
    """Why the check: UniFormerV2 (t_size=2) on clips of 4 frames runs
    without an error and mixes the clips of a batch."""
    backbone = built('UniFormerV2').backbone
    clips = torch.randn(3, 3, 4, 32, 32)  # (N, C, L, H, W)
    with pytest.raises(AssertionError):
        assert_independent(backbone, clips, b=1)
    assert_independent(backbone, clips[:, :, :2], b=1)  # t_size frames


def test_slowfast_features_are_both_pathways():
    """``(fast, slow)`` pooled and concatenated, as SlowFastHead."""
    model = built('ResNet3dSlowFast')
    x = torch.randn(1, 2, 3, 4, 32, 32)
    with torch.no_grad():
        slow, fast = model.backbone(x[0])  # (T, C, L, H, W)
        out = model(x)
    ref = torch.cat([fast.mean((2, 3, 4)), slow.mean((2, 3, 4))], 1)
    torch.testing.assert_close(out[0], ref)
