"""Raw frames -> backbone per step -> head, through the real tools; feature
extraction into an LMDB that the feature dataset reads back."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import lmdb
import numpy as np
import pytest
import torch

from mmaction.registry import DATASETS, MODELS, TRANSFORMS

from ..conftest import ROOT, run_tool
from ..weights_files import write_torchvision_resnet
from .test_end_to_end import env

TEST_CONFIG = '''
_base_ = ['{root}/configs/rulstm_epic_glvn_tsn_r50_frames.py']
data_root = 'data/demo/'
pipeline = [
    dict(type='LoadAnticipationFrames', clip_len=1),
    dict(type='Resize', scale=(-1, 40)),
    dict(type='CenterCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys=('segment_id', 'video_id'))
]
loader = dict(batch_size=4, num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, dataset=dict(
    data_root=data_root, pipeline=pipeline, num_classes=65, num_verbs=12,
    num_nouns=20))
val_dataloader = dict(loader, dataset=dict(
    data_root=data_root, pipeline=pipeline, num_classes=65, num_verbs=12,
    num_nouns=20))
test_dataloader = val_dataloader
model = dict(
    backbones=dict(imgs=dict(random_init=True, backbone=dict(
        depth=18, num_stages=1, out_indices=(0, ), strides=(1, ),
        dilations=(1, ), pretrained=None))),
    cls_head=dict(
        num_classes=65, in_channels=64, hidden_channels=32,
        loss_cls=dict(num_classes=65, prior=dict(
            _delete_=True, kind='vn', dataset='epic55',
            actions=data_root + 'actions.csv'))))
train_cfg = dict(max_epochs=1)
'''


def write_grid_frames(root, csv_names):
    """A JPEG for every frame the time grid of these CSVs needs."""
    from lsant_mmaction.layout import TimeGrid, read_segments
    rng = np.random.default_rng(0)
    for name in csv_names:
        seg = read_segments(osp.join(root, name))
        for video, start in zip(seg.videos, seg.start_frames):
            frames = TimeGrid().frame_indices(int(start))
            if frames is None:
                continue
            os.makedirs(osp.join(root, 'frames', video), exist_ok=True)
            for f in frames.tolist():
                path = osp.join(root, 'frames', video,
                                f'frame_{f:010d}.jpg')
                if not osp.exists(path):
                    img = rng.integers(0, 255, (40, 54, 3), np.uint8)
                    cv2.imwrite(path, img)


@pytest.fixture(scope='module')
def frames_root(tmp_path_factory):
    work = tmp_path_factory.mktemp('frames')
    run_tool([osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out',
              'data/demo', '--train-videos', '1', '--val-videos', '1',
              '--segments-per-video', '6'], cwd=work)
    write_grid_frames(str(work / 'data' / 'demo'), ['training.csv',
                                                   'validation.csv'])
    (work / 'frames_cfg.py').write_text(TEST_CONFIG.format(root=ROOT))
    return work


def test_train_test_and_extract(frames_root, tmp_path):
    work = str(frames_root)
    cfg = 'frames_cfg.py'
    run_tool([osp.join(ROOT, 'tools', 'train.py'), cfg, '--work-dir', 'w'],
             cwd=work, env=env())
    ckpt = osp.join(work, 'w', 'epoch_1.pth')
    assert osp.isfile(ckpt)
    proc = run_tool([osp.join(ROOT, 'tools', 'test.py'), cfg, ckpt,
                     '--work-dir', 'tw'], cwd=work, env=env())
    assert 'action_top5@1.00s' in proc.stdout + proc.stderr
    # extract the validation frames' features, in two goes (resume)
    out = str(tmp_path / 'imgs')
    extract = [osp.join(ROOT, 'tools', 'extract_features.py'), cfg, ckpt,
               '--frames', 'data/demo/frames', '--out', out,
               '--batch-size', '5', '--ann-files']
    first = run_tool(extract + ['data/demo/training.csv'], cwd=work,
                     env=env()).stdout
    second = run_tool(extract + ['data/demo/training.csv',
                                 'data/demo/validation.csv'], cwd=work,
                      env=env()).stdout
    assert f'imgs backbone weights: checkpoint {ckpt}' in first
    done = int(first.split(' frames wanted')[0].split()[-1])
    assert f'{done} already in' in second
    assert 'with the same fingerprint: resuming' in second
    # the feature dataset reads them back: equal to the backbone's output
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from mmaction.registry import MODELS
    config = Config.fromfile(osp.join(work, cfg))
    model = MODELS.build(config.model)
    load_checkpoint(model, ckpt, map_location='cpu')
    model.eval()
    data = osp.join(work, 'data', 'demo')
    features = DATASETS.build(dict(
        type='EpicKitchens55FeatureDataset', ann_file='validation.csv',
        data_root=data, data_prefix=dict(features=str(tmp_path)),
        num_classes=65, num_verbs=12, num_nouns=20, pipeline=[
            dict(type='LoadLMDBFeatures', modalities=('imgs', ),
                 feature_dims=dict(imgs=64))]))
    frames = DATASETS.build(dict(config.val_dataloader.dataset,
                                 data_root=data))
    assert len(features) == len(frames) > 0
    # the record beside the frame keys confuses neither the dataset nor
    # the feature cache: same samples through the cache
    cached = DATASETS.build(dict(
        type='EpicKitchens55FeatureDataset', ann_file='validation.csv',
        data_root=data, data_prefix=dict(features=str(tmp_path)),
        num_classes=65, num_verbs=12, num_nouns=20, pipeline=[
            dict(type='LoadLMDBFeatures', modalities=('imgs', ),
                 feature_dims=dict(imgs=64), cache=True,
                 cache_dir=str(tmp_path / 'cache'))]))
    assert len(cached) == len(features)
    assert [e.split('-')[0] for e in os.listdir(tmp_path / 'cache')
            if not e.endswith('.lock')] == ['imgs']
    for i in range(len(features)):
        assert features[i]['imgs'].tobytes() == cached[i]['imgs'].tobytes()
    for i in range(len(frames)):
        packed = frames[i]
        batch = model.data_preprocessor(dict(
            inputs=dict(imgs=[packed['inputs']['imgs']]),
            data_samples=[packed['data_samples']]))
        with torch.no_grad():
            expected = model.backbones['imgs'](batch['inputs']['imgs'])[0]
        np.testing.assert_allclose(features[i]['imgs'], expected.numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_missing_and_unreadable_frames(frames_root, tmp_path):
    load = TRANSFORMS.build(dict(type='LoadAnticipationFrames', clip_len=2))
    root = str(tmp_path)
    os.makedirs(osp.join(root, 'V1'))
    results = dict(frames_root=root, video_id='V1',
                   frame_inds=np.array([5, 6]), segment_id=7)
    with pytest.raises(FileNotFoundError,
                       match='V1/frame_0000000004.jpg \\(segment 7\\)'):
        load(dict(results))
    for f in (4, 5, 6):
        cv2.imwrite(osp.join(root, 'V1', f'frame_{f:010d}.jpg'),
                    np.zeros((8, 8, 3), np.uint8))
    out = load(dict(results))
    assert len(out['imgs']) == 4 and out['num_clips'] == 2
    assert out['clip_len'] == 2 and out['img_shape'] == (8, 8)
    with open(osp.join(root, 'V1', 'frame_0000000006.jpg'), 'wb') as f:
        f.write(b'not an image')
    with pytest.raises(ValueError, match='unreadable image: .*06.jpg'):
        load(dict(results))


def test_clip_indices_clamp_at_the_first_frame():
    load = TRANSFORMS.build(dict(type='LoadAnticipationFrames', clip_len=3,
                                 frame_interval=2))
    assert load.clip_indices(np.array([2, 10])).tolist() == [1, 1, 2, 6, 8,
                                                             10]


# the ResNet-50 config as it is, on 32x32 crops of a few small frames
R50_CONFIG = '''
_base_ = ['{root}/configs/rulstm_epic_glvn_tsn_r50_frames.py']
pipeline = [
    dict(type='LoadAnticipationFrames', clip_len=1),
    dict(type='Resize', scale=(-1, 40)),
    dict(type='CenterCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys=('segment_id', 'video_id'))
]
test_dataloader = dict(dataset=dict(pipeline=pipeline))
'''
FRAMES = [('V1', 1), ('V1', 2), ('V2', 7)]


def write_frames(root, frames, seed: int) -> None:
    """Random 40 x 54 JPEG frames ``root/<video>/frame_<n>.jpg``."""
    rng = np.random.default_rng(seed)
    for video, frame in frames:
        os.makedirs(root / video, exist_ok=True)
        cv2.imwrite(str(root / video / f'frame_{frame:010d}.jpg'),
                    rng.integers(0, 255, (40, 54, 3), np.uint8))


@pytest.fixture(scope='module')
def r50_work(tmp_path_factory):
    """Three frames, the config and a ResNet-50 file with known values."""
    work = tmp_path_factory.mktemp('r50')
    write_frames(work / 'frames', FRAMES, seed=1)
    (work / 'r50_cfg.py').write_text(R50_CONFIG.format(root=ROOT))
    from mmengine.config import Config
    cfg = Config.fromfile(str(work / 'r50_cfg.py'))
    write_torchvision_resnet(MODELS.build(cfg.model.backbones.imgs.backbone),
                             work / 'resnet50.pth')
    return work


def extract_cmd(work, *extra):
    return [osp.join(ROOT, 'tools', 'extract_features.py'), 'r50_cfg.py',
            'none', '--frames', 'frames', '--all-frames', '--out',
            str(work / f'out{len(extra)}')] + list(extra)


def test_extract_none_uses_the_configs_pretrained_weights(r50_work):
    weights = str(r50_work / 'resnet50.pth')
    out = run_tool(extract_cmd(
        r50_work, '--cfg-options',
        f'model.backbones.imgs.backbone.pretrained={weights}'),
        cwd=str(r50_work), env=env()).stdout
    assert f"imgs backbone weights: the config's pretrained weights " \
        f'{weights}' in out
    # a plain mmaction ResNet-50 from the same config and weights, on the
    # same preprocessed frame, gives the same features
    from mmengine.config import Config
    from mmengine.dataset import Compose
    cfg = Config.fromfile(str(r50_work / 'r50_cfg.py'))
    cfg.merge_from_dict({'model.backbones.imgs.backbone.pretrained':
                         weights})
    plain = MODELS.build(cfg.model.backbones.imgs.backbone)
    plain.init_weights()
    plain.eval()
    preprocess = MODELS.build(cfg.model.data_preprocessor)
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    env_ = lmdb.open(str(r50_work / 'out2'), readonly=True, lock=False)
    with env_.begin() as txn:
        # the frames and the extraction record
        assert txn.stat()['entries'] == len(FRAMES) + 1
        assert txn.get(b'__lsant_mmaction_extraction__') is not None
        for video, frame in FRAMES:
            packed = pipeline(dict(
                frames_root=str(r50_work / 'frames'), video_id=video,
                frame_inds=np.array([frame]), segment_id='s'))
            imgs = preprocess(dict(
                inputs=dict(imgs=[packed['inputs']['imgs']]),
                data_samples=[packed['data_samples']]))['inputs']['imgs']
            with torch.no_grad():
                expected = plain(imgs[:, 0]).mean((2, 3))[0]  # (2048, )
            got = np.frombuffer(
                txn.get(f'{video}_frame_{frame:010d}.jpg'.encode()),
                np.float32)
            np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4,
                                       atol=1e-5)
    env_.close()


def test_extract_none_refuses_random_weights_unless_asked(r50_work):
    # (weights named but unavailable: tests/test_frame_configs.py)
    def fails(*extra):
        proc = subprocess.run([sys.executable] + extract_cmd(r50_work,
                                                             *extra),
                              cwd=str(r50_work), env=env(),
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode != 0
        return proc.stderr
    no_weights = ('--cfg-options', 'model.backbones.imgs.backbone.'
                  'pretrained=None')
    assert "names no pre-trained weights, so 'none' would extract " \
        'features of a random network' in fails(*no_weights)
    out = run_tool(extract_cmd(r50_work, *no_weights,
                               '--allow-random-weights'),
                   cwd=str(r50_work), env=env())
    assert 'imgs backbone weights: random initialisation ' \
        '(--allow-random-weights)' in out.stdout
    assert 'ResNet starts from random weights' in out.stdout + out.stderr
