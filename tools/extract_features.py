"""Extract per-frame features with a backbone into an RU-LSTM-layout LMDB.

    python tools/extract_features.py configs/rulstm_epic_glvn_tsn_r50_frames.py \
        work_dirs/rulstm_epic_glvn_tsn_r50_frames/best.pth \
        --frames data/ek55/frames --out data/ek55/rgb_r50 \
        --ann-files data/ek55/training.csv data/ek55/validation.csv

The config names the backbone (``model.backbones.imgs``, a
``PerStepBackbone``) and the frame pipeline (its test pipeline, applied to
one step at a time); CKPT gives the weights: a checkpoint of the config's
model, or ``none`` for the pre-trained weights the config names (the
backbone's ``pretrained``/``init_cfg``, e.g. ImageNet). The tool prints
where the weights came from; weights that do not load (missing file, no
network, keys that do not match) are an error, and ``none`` with a backbone
that names no weights is refused unless ``--allow-random-weights`` (random
features are rarely what one wants). ``--cfg-options`` overrides the config,
e.g. a local copy of the weights on a machine without network:
``--cfg-options model.backbones.imgs.backbone.pretrained=resnet50.pth``.
Keys are ``{video}_frame_{frame:010d}.jpg``, values raw float32: the feature
datasets read the result unchanged. By default only the frames of the time
grid of the segments in ``--ann-files`` are extracted (as RU-LSTM's reduced
LMDBs); ``--all-frames`` extracts every frame found. Frames already in the
LMDB are skipped, so an interrupted run resumes where it stopped.
"""
import argparse
import os
import os.path as osp
import re

import lmdb
import numpy as np
import torch

import lsant_mmaction  # noqa: F401  (environment fixes + registration)
from lsant_mmaction.layout import TimeGrid, read_segments
from lsant_mmaction.engine.cli import CfgOptionsAction


def parse_args():
    parser = argparse.ArgumentParser(
        description='Extract per-frame features into an LMDB',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config', help='config with the backbone')
    parser.add_argument('checkpoint', help="checkpoint, or 'none'")
    parser.add_argument('--frames', required=True,
                        help='folder with one frame folder per video')
    parser.add_argument('--out', required=True, help='output LMDB folder')
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument('--ann-files', nargs='+',
                       help='segment CSVs whose time-grid frames to extract')
    which.add_argument('--all-frames', action='store_true',
                       help='extract every frame of every video folder')
    parser.add_argument('--modality', default='imgs',
                        help='backbone modality in the config (imgs)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--map-size-gb', type=float, default=64,
                        help='maximum LMDB size (virtual; default 64 GB)')
    parser.add_argument('--allow-random-weights', action='store_true',
                        help="with 'none': extract even if the backbone "
                        'names no pre-trained weights (random features)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings (key=value)')
    return parser.parse_args()


def grid_frames(ann_files, grid: TimeGrid):
    """``{(video, frame)}`` of the time grid of every segment."""
    frames = set()
    for path in ann_files:
        segments = read_segments(path)
        for video, start in zip(segments.videos, segments.start_frames):
            inds = grid.frame_indices(int(start))
            if inds is not None:
                frames.update((video, int(f)) for f in inds)
    return frames


def all_frames(root, filename_tmpl):
    """Every frame file matching the template in every video folder."""
    pattern = re.compile('^' + re.escape(filename_tmpl).replace(
        r'\{:010d\}', r'(\d+)') + '$')
    frames = set()
    for video in sorted(os.listdir(root)):
        if osp.isdir(osp.join(root, video)):
            for name in os.listdir(osp.join(root, video)):
                match = pattern.match(name)
                if match:
                    frames.add((video, int(match.group(1))))
    return frames


def load_backbone_weights(model, args):
    """Load the backbone's weights; return where they came from.

    Raises:
        SystemExit: ``none`` for a backbone that names no weights, without
            ``--allow-random-weights``.
        RuntimeError: the weights did not load (names the source).
    """
    from mmengine.runner import load_checkpoint

    from lsant_mmaction.engine.checkpoint import load_every_tensor
    backbone = model.backbones[args.modality]
    if args.checkpoint.lower() != 'none':
        load_every_tensor(
            backbone, lambda: load_checkpoint(
                model, args.checkpoint, map_location='cpu'), args.checkpoint)
        return f'checkpoint {args.checkpoint}'
    source = getattr(backbone, 'pretrained_source', None)
    if source is None:
        if not args.allow_random_weights:
            raise SystemExit(
                f'{args.config}: the {args.modality!r} backbone names no '
                "pre-trained weights, so 'none' would extract features of a "
                'random network: give a checkpoint, name the weights (e.g. '
                '--cfg-options model.backbones.'
                f'{args.modality}.backbone.pretrained=FILE), or pass '
                '--allow-random-weights')
        backbone.random_init = True  # logs its warning
    backbone.init_weights()
    return (f"the config's pretrained weights {source}" if source else
            'random initialisation (--allow-random-weights)')


def build(args):
    from mmengine.config import Config
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = MODELS.build(cfg.model)
    if args.modality not in model.backbones:
        raise KeyError(f'{args.config} has no backbone for modality '
                       f'{args.modality!r} (has {sorted(model.backbones)})')
    print(f'{args.modality} backbone weights: '
          f'{load_backbone_weights(model, args)}')
    model.eval()
    pipeline = cfg.test_dataloader.dataset.pipeline
    template = next((t.get('filename_tmpl', 'frame_{:010d}.jpg')
                     for t in pipeline
                     if t['type'] == 'LoadAnticipationFrames'), None)
    if template is None:
        raise ValueError(f'{args.config}: the test pipeline does not load '
                         'frames (LoadAnticipationFrames)')
    # the grid of the config's dataset (as AnticipationFeatureDataset takes it)
    grid = TimeGrid(**(cfg.test_dataloader.dataset.get('time_grid') or {}))
    return model, Compose(pipeline), template, grid


@torch.no_grad()
def extract(model, pipeline, modality, frames_root, batch):
    """Features ``(N, D)`` of a batch of ``(video, frame)``."""
    samples = [
        pipeline(
            dict(frames_root=frames_root, video_id=video,
                 frame_inds=np.array([frame]), segment_id=f'{video}:{frame}'))
        for video, frame in batch
    ]
    data = model.data_preprocessor(
        dict(inputs={modality: [s['inputs'][modality] for s in samples]},
             data_samples=[s['data_samples'] for s in samples]))
    feats = model.backbones[modality](data['inputs'][modality])  # (N, 1, D)
    return feats[:, 0].float().cpu().numpy()


def main():
    args = parse_args()
    from mmengine.utils import ProgressBar
    model, pipeline, template, grid = build(args)
    if not osp.isdir(args.frames):
        raise FileNotFoundError(f'frames folder not found: {args.frames}')
    wanted = (all_frames(args.frames, template) if args.all_frames else
              grid_frames(args.ann_files, grid))
    env = lmdb.open(args.out, map_size=int(args.map_size_gb * 2**30))
    key = '{}_frame_{:010d}.jpg'.format
    with env.begin() as txn:
        todo = sorted(f for f in wanted if txn.get(key(*f).encode()) is None)
    print(f'{len(wanted)} frames wanted, {len(wanted) - len(todo)} already '
          f'in {args.out}, extracting {len(todo)}')
    progress = ProgressBar(len(todo))
    for start in range(0, len(todo), args.batch_size):
        batch = todo[start:start + args.batch_size]
        feats = extract(model, pipeline, args.modality, args.frames, batch)
        with env.begin(write=True) as txn:  # one commit per batch: resumable
            for (video, frame), feat in zip(batch, feats):
                txn.put(key(video, frame).encode(),
                        np.ascontiguousarray(feat, np.float32).tobytes())
        for _ in batch:
            progress.update()
    env.close()
    print(f'\n{args.out}: {len(wanted)} frames, '
          f'{feats.shape[1] if todo else "?"}-d float32')


if __name__ == '__main__':
    main()
