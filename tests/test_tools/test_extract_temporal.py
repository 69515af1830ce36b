"""tools/extract_features.py on a temporal-shift backbone: the features of
the clip ending at each frame, as the model sees them in training; a config
that does not fit its backbone is refused and leaves no LMDB behind."""
import os
import os.path as osp

import lmdb
import numpy as np
import pytest
import torch

from mmaction.registry import MODELS

from ..conftest import ROOT, load_tool
from .test_frames import write_frames

TOOL = osp.join(ROOT, 'tools', 'extract_features.py')
# a small MobileNetV2TSM on clips of num_segments=2 frames, 16x16 crops
CONFIG = '''
_base_ = ['{root}/configs/rulstm_epic_glvn_tsn_r50_frames.py']
pipeline = [
    dict(type='LoadAnticipationFrames', clip_len={clip_len}),
    dict(type='Resize', scale=(-1, 20)),
    dict(type='CenterCrop', crop_size=16),
    dict(type='FormatShape', input_format='{layout}'),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys=('segment_id', 'video_id'))
]
test_dataloader = dict(dataset=dict(pipeline=pipeline))
model = dict(
    backbones=dict(imgs=dict(backbone=dict(
        _delete_=True, type='MobileNetV2TSM', widen_factor=0.25,
        num_segments=2, out_indices=(6, )))),
    data_preprocessor=dict(preprocessors=dict(imgs=dict(
        format_shape='{layout}'))),
    cls_head=dict(in_channels=80))
'''
FRAMES = [('V1', 1), ('V1', 2), ('V1', 3), ('V1', 4)]


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    """Four frames, the TSM config (and one with one frame per step), a
    checkpoint of the TSM backbone."""
    work = tmp_path_factory.mktemp('temporal')
    write_frames(work / 'frames', FRAMES, seed=3)
    (work / 'tsm.py').write_text(
        CONFIG.format(root=ROOT, clip_len=2, layout='NCTHW'))
    (work / 'tsm_frames.py').write_text(
        CONFIG.format(root=ROOT, clip_len=1, layout='NCHW'))
    from mmengine.config import Config
    cfg = Config.fromfile(str(work / 'tsm.py'))
    # its own random initialisation: features that vary with the frames
    backbone = MODELS.build(dict(cfg.model.backbones.imgs, random_init=True))
    backbone.init_weights()
    torch.save({'state_dict': {
        f'backbones.imgs.{k}': v for k, v in backbone.state_dict().items()}},
        str(work / 'tsm.pth'))
    return work


def run(work, config, out):
    tool = load_tool(TOOL)
    cwd = os.getcwd()
    os.chdir(str(work))
    try:
        tool.main([config, str(work / 'tsm.pth'), '--frames', 'frames',
                   '--all-frames', '--out', str(out), '--batch-size', '3'])
    finally:
        os.chdir(cwd)


def test_temporal_shift_features_are_the_clip_ending_at_each_frame(
        work, tmp_path):
    out = tmp_path / 'tsm'
    run(work, 'tsm.py', out)
    # the model of the config, on a segment's steps as in training
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.runner import load_checkpoint
    cfg = Config.fromfile(str(work / 'tsm.py'))
    model = MODELS.build(cfg.model)
    load_checkpoint(model, str(work / 'tsm.pth'), map_location='cpu')
    model.eval()
    packed = Compose(cfg.test_dataloader.dataset.pipeline)(dict(
        frames_root=str(work / 'frames'), video_id='V1',
        frame_inds=np.array([1, 2, 3, 4]), segment_id='s'))
    batch = model.data_preprocessor(dict(
        inputs=dict(imgs=[packed['inputs']['imgs']]),
        data_samples=[packed['data_samples']]))['inputs']['imgs']
    assert batch.shape == (1, 4, 3, 2, 16, 16)  # a clip of 2 per step
    with torch.no_grad():
        steps = model.backbones['imgs'](batch)[0]  # (4, 80)
    env_ = lmdb.open(str(out), readonly=True, lock=False)
    with env_.begin() as txn:
        got = [np.frombuffer(txn.get(f'V1_frame_{f:010d}.jpg'.encode()),
                             np.float32) for _, f in FRAMES]
    env_.close()
    scale = np.abs(steps.numpy()).max()  # a random init's features: small
    assert scale > 0
    np.testing.assert_allclose(np.stack(got), steps.numpy(), rtol=1e-4,
                               atol=1e-5 * scale)
    # clips: frame 1's is (1, 1) (clamped), frame 2's (1, 2)
    assert np.abs(got[0] - got[1]).max() > 1e-2 * scale


def test_a_config_that_does_not_fit_leaves_no_lmdb(work, tmp_path):
    out = tmp_path / 'frames_for_tsm'
    with pytest.raises(ValueError, match='MobileNetV2TSM shifts features '
                       '.*LoadAnticipationFrames clip_len=2'):
        run(work, 'tsm_frames.py', out)
    assert not osp.exists(out)  # created by the run, removed on failure
    # a folder that was there before the run stays
    out.mkdir()
    with pytest.raises(ValueError, match='MobileNetV2TSM shifts features'):
        run(work, 'tsm_frames.py', out)
    assert osp.isdir(out)
