"""A user's own dataset as videos, end to end through the tools, as the
docs/datasets.md says (copy the custom_frames base, set its facts, load videos):
train 2 epochs on the videos, test, extract the features of the time grid
into an LMDB, and train the feature model on that LMDB."""
import argparse
import os.path as osp

import lmdb
import numpy as np
import pytest
import torch

from lsant_mmaction.engine.cli import CfgOptionsAction
from lsant_mmaction.layout import TimeGrid, read_segments

from ..conftest import ROOT, run_tool
from ..videos import write_index_video
from .test_end_to_end import env
from .test_own_dataset import FACTS, FAST, copy_configs, write_toy_dataset

# a ResNet-18 stem and first stage (64-d), random weights, 32x32 crops
TINY_BACKBONE = [
    'model.backbones.imgs.random_init=True',
    'model.backbones.imgs.backbone.pretrained=None',
    'model.backbones.imgs.backbone.depth=18',
    'model.backbones.imgs.backbone.num_stages=1',
    'model.backbones.imgs.backbone.out_indices=(0,)',
    'model.backbones.imgs.backbone.strides=(1,)',
    'model.backbones.imgs.backbone.dilations=(1,)',
    'model.cls_head.in_channels=64',
] + FAST + [f'{split}_dataloader.batch_size=4'
            for split in ('train', 'val', 'test')]
FRAMES_CONFIG = osp.join('configs', 'lstm_custom_glvn_frames.py')
FEATURES_CONFIG = osp.join('configs', 'lstm_custom_glvn.py')


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    """The toy dataset's first segments, one index video per video id (30
    fps, the grid's), and the custom bases edited as docs/datasets.md says: the
    dataset's facts in custom_features.py, videos in custom_frames.py."""
    work = tmp_path_factory.mktemp('own_videos')
    data = work / 'data' / 'workshop'
    write_toy_dataset(str(data), np.random.default_rng(0))
    for split in ('training', 'validation'):
        # the first 4 segments of each video: short videos, quick epochs
        csv = data / f'{split}.csv'
        csv.write_text(''.join(
            row for row in csv.read_text().splitlines(keepends=True)
            if int(row.split(',')[0].split('_')[1]) < 4))
        segments = read_segments(str(csv))
        for video in sorted(set(segments.videos)):
            last = int(segments.start_frames[
                np.asarray(segments.videos) == video].max())
            write_index_video(data / 'videos' / f'{video}.mp4', last + 5)
    copy_configs(work, 'custom_features.py',
                 FACTS + (('dict(rgb=1024)', 'dict(rgb=64)'), ),
                 'lstm_custom_glvn.py')
    copy_configs(work, 'custom_frames.py', (
        ('load = frame_load', 'load = video_load'),
        ('scale=(-1, 256)', 'scale=(-1, 40)'),
        ('size=224', 'size=32')), 'lstm_custom_glvn_frames.py')
    return work


def test_train_test_extract_and_train_on_the_features(videos):
    work = str(videos)
    train = [osp.join(ROOT, 'tools', 'train.py')]
    out = run_tool(train + [FRAMES_CONFIG, '--work-dir', 'frames', '--seed',
                            '0', '--cfg-options', 'train_cfg.max_epochs=2']
                   + TINY_BACKBONE, cwd=work, env=env())
    log = out.stdout + out.stderr
    assert 'Epoch(train) [2]' in log and 'dropped 1 of' in log
    ckpt = osp.join('frames', 'best.pth')
    out = run_tool([osp.join(ROOT, 'tools', 'test.py'), FRAMES_CONFIG, ckpt,
                    '--work-dir', 'frames_test', '--cfg-options']
                   + TINY_BACKBONE, cwd=work, env=env())
    assert 'action_mt5r@1.00s' in out.stdout + out.stderr

    # the features of every grid frame of both splits, from the videos
    data = osp.join(work, 'data', 'workshop')
    out = run_tool([osp.join(ROOT, 'tools', 'extract_features.py'),
                    FRAMES_CONFIG, ckpt, '--videos', 'data/workshop/videos',
                    '--out', 'data/workshop/rgb_r18', '--batch-size', '64',
                    '--ann-files', 'data/workshop/training.csv',
                    'data/workshop/validation.csv', '--cfg-options']
                   + TINY_BACKBONE, cwd=work, env=env())
    grid = TimeGrid()
    wanted = set()
    for split in ('training', 'validation'):
        seg = read_segments(osp.join(data, f'{split}.csv'))
        for video, start in zip(seg.videos, seg.start_frames):
            frames = grid.frame_indices(int(start))
            if frames is not None:
                wanted.update((video, int(f)) for f in frames)
    assert f'{len(wanted)} frames wanted, 0 already' in out.stdout
    # one validation segment's features are the trained backbone's on
    # the frames its pipeline reads from the video
    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    from mmaction.registry import DATASETS, MODELS
    cfg = Config.fromfile(osp.join(work, FRAMES_CONFIG))
    parser = argparse.ArgumentParser()  # as the tools read --cfg-options
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    cfg.merge_from_dict(parser.parse_args(
        ['--cfg-options'] + TINY_BACKBONE).cfg_options)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, osp.join(work, ckpt), map_location='cpu')
    model.eval()
    dataset = DATASETS.build(dict(cfg.val_dataloader.dataset,
                                  data_root=data))
    packed = dataset[0]
    batch = model.data_preprocessor(dict(
        inputs=dict(imgs=[packed['inputs']['imgs']]),
        data_samples=[packed['data_samples']]))
    with torch.no_grad():
        expected = model.backbones['imgs'](batch['inputs']['imgs'])[0]
    info = dataset.get_data_info(0)
    env_ = lmdb.open(osp.join(data, 'rgb_r18'), readonly=True, lock=False)
    with env_.begin() as txn:
        assert txn.stat()['entries'] == len(wanted) + 1  # and the record
        got = np.stack([np.frombuffer(txn.get(
            f'{info["video_id"]}_frame_{f:010d}.jpg'.encode()), np.float32)
            for f in info['frame_inds'].tolist()])
    env_.close()
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-5)

    # the feature model trains on the extracted LMDB (docs/datasets.md: lmdb_dirs is
    # an argument of LoadLMDBFeatures)
    lmdb_dirs = [f'{split}_dataloader.dataset.pipeline.0.lmdb_dirs.rgb='
                 'rgb_r18' for split in ('train', 'val')]
    out = run_tool(train + [FEATURES_CONFIG, '--work-dir', 'features',
                            '--cfg-options', 'train_cfg.max_epochs=1',
                            'model.cls_head.in_channels=64'] + FAST
                   + lmdb_dirs, cwd=work, env=env())
    assert osp.isfile(osp.join(work, 'features', 'best.pth'))
    assert 'Epoch(val) [1]' in out.stdout + out.stderr
