r"""Extract per-frame features with a backbone into an RU-LSTM-layout LMDB.

    python tools/extract_features.py configs/rulstm_epic_glvn_tsn_r50_frames.py \
        work_dirs/rulstm_epic_glvn_tsn_r50_frames/best.pth \
        --frames data/ek55/frames --out data/ek55/rgb_r50 \
        --ann-files data/ek55/training.csv data/ek55/validation.csv

The config names the backbone (``model.backbones.imgs``, a
``PerStepBackbone``) and the frame pipeline (its test pipeline, the frames
of one video at a time as the steps of one sample); the pipeline reads
raw frames (``LoadAnticipationFrames``: pass the frame folders with
``--frames``) or video files (``LoadAnticipationVideoFrames``: the video
folder with ``--videos``; frame numbers count frames at the time grid's
rate, as in training). CKPT gives the weights: a checkpoint of the config's
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
LMDBs); ``--all-frames`` extracts every frame found (of a video: every
grid frame it holds). Frames already in the
LMDB are skipped, so an interrupted run resumes where it stopped. A run
that fails before it has written any feature removes the LMDB folder when
it created it (no empty LMDB is left behind to be mistaken for a result).

Every backbone mode of ``PerStepBackbone`` extracts what the model sees in
training for one step: a 2D model the frame's own features; a 3D clip
model and a temporal-shift model (TSM, TIN, TANet: the ``clip_len`` of the
config's ``LoadAnticipationFrames`` equal to the backbone's
``num_segments``) the features of the clip of ``clip_len`` frames ending at
the frame, stored under the frame's key. A config whose frames do not fit
its backbone (e.g. one frame per step for a TSM) is refused with the
setting to change.

The LMDB records what made it, under the reserved key
``__lsant_mmaction_extraction__`` (never a frame key: those end in
``.jpg``; the feature datasets and the feature cache read frame keys by
name, so they never see it). The record's fingerprint holds the weights
(sha256 of the checkpoint file or of a local pre-trained file, else the
pre-trained URL or name, or ``random``), the sha256 of the backbone's
tensors as loaded, the backbone config (less what changes no feature:
where it names its weights, ``frozen``, ``chunk_size``), the
preprocessing (the test pipeline and the data preprocessor: resize, crop,
mean, std) and the precision (``float32``, or with ``--amp``, which runs
the backbone under autocast, ``bfloat16`` on a CPU and ``float16`` on
CUDA: the stored features are float32 either way, but not the same
numbers), as canonical JSON; beside it, for messages only, where the
weights came from. Running into an LMDB with another fingerprint
(resuming with other weights, or re-running a finished LMDB with them) is
an error naming the LMDB and the old and new value of every field that
differs, and so is extending an LMDB that has entries but no record
(written by hand or by an older version of this tool): one LMDB never
holds two networks' features. ``--overwrite`` empties the LMDB, in the
transaction that writes the new record, and the run starts afresh. Random
weights differ on every run, so an ``--allow-random-weights`` extraction
cannot be resumed, only overwritten.
"""
import argparse
import hashlib
import itertools
import json
import os
import os.path as osp
import re
import shutil

import lmdb
import numpy as np
import torch

import lsant_mmaction  # noqa: F401  (environment fixes + registration)
from lsant_mmaction.datasets.feature_cache import file_sha256
from lsant_mmaction.layout import TimeGrid, read_segments
from lsant_mmaction.engine.amp import autocast_dtype, warn_if_bf16_is_slow
from lsant_mmaction.engine.cli import CfgOptionsAction


# The key of the extraction record: never a frame key (those end in .jpg)
RECORD_KEY = b'__lsant_mmaction_extraction__'
RECORD_VERSION = 1
# the frame loaders of a test pipeline, and the option naming their folder
LOADERS = {'LoadAnticipationFrames': '--frames',
           'LoadAnticipationVideoFrames': '--videos'}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Extract per-frame features into an LMDB',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('config', help='config with the backbone')
    parser.add_argument('checkpoint', help="checkpoint, or 'none'")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--frames',
                        help='folder with one frame folder per video (a '
                        'config reading frames: LoadAnticipationFrames)')
    source.add_argument('--videos',
                        help='folder with the video files (a config reading '
                        'videos: LoadAnticipationVideoFrames)')
    parser.add_argument('--out', required=True, help='output LMDB folder')
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument('--ann-files', nargs='+',
                       help='segment CSVs whose time-grid frames to extract')
    which.add_argument('--all-frames', action='store_true',
                       help='extract every frame of every video (folder)')
    parser.add_argument('--modality', default='imgs',
                        help='backbone modality in the config (imgs)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--map-size-gb', type=float, default=64,
                        help='maximum LMDB size (virtual; default 64 GB)')
    parser.add_argument('--allow-random-weights', action='store_true',
                        help="with 'none': extract even if the backbone "
                        'names no pre-trained weights (random features)')
    parser.add_argument('--overwrite', action='store_true',
                        help='empty the output LMDB first: needed when it was '
                        'extracted with other weights or settings, or has '
                        'entries but no extraction record')
    parser.add_argument('--amp', action='store_true',
                        help='run the backbone under autocast (bfloat16 on a '
                        'CPU); features are stored as float32, and the LMDB '
                        'records the precision. Default: float32')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction,
                        help='override config settings (key=value)')
    return parser.parse_args(argv)


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


def all_video_frames(root, loader, grid: TimeGrid):
    """Every grid frame (at the grid's rate) of every video file under
    ``root`` matching the loader's ``filename_tmpl``."""
    pattern = re.compile('^' + re.escape(loader.filename_tmpl).replace(
        r'\{video\}', '(.+)') + '$')
    frames = set()
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            path = osp.join(folder, name)
            match = pattern.match(osp.relpath(path, root))
            if match:
                _, total, fps = loader.open(path)
                count = loader.grid_frame_count(total, fps, grid.fps)
                frames.update((match.group(1), f)
                              for f in range(1, count + 1))
    return frames


def tensors_sha256(module: torch.nn.Module) -> str:
    """sha256 of a module's state dict (names, dtypes, sizes and bytes)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f'{name} {t.dtype} {t.numel()}\n'.encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def weights_identity(source: str) -> str:
    """``sha256:...`` of a local file, else the URL or name as given."""
    return f'sha256:{file_sha256(source)}' if osp.isfile(source) else source


def load_backbone_weights(model, args):
    """Load the backbone's weights; return where they came from and what
    identifies them (the fingerprint's ``weights``).

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
        return (f'checkpoint {args.checkpoint}',
                f'checkpoint {weights_identity(args.checkpoint)}')
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
    if source is None:
        return 'random initialisation (--allow-random-weights)', 'random'
    return (f"the config's pretrained weights {source}",
            f'pretrained {weights_identity(source)}')


# Backbone settings that change no extracted feature: where the weights come
# from (fingerprinted by content), frozen (training only) and chunk_size
# (memory only); a resumed run may change them
_NOT_FEATURES = ('pretrained', 'init_cfg', 'random_init', 'frozen',
                 'chunk_size')


def _feature_settings(cfg):
    """A backbone config less :data:`_NOT_FEATURES`, at every level."""
    if isinstance(cfg, dict):
        return {k: _feature_settings(v) for k, v in cfg.items()
                if k not in _NOT_FEATURES}
    if isinstance(cfg, (list, tuple)):
        return [_feature_settings(v) for v in cfg]
    return cfg


def canonical(obj):
    """``obj`` as plain JSON data (tuples as lists, other objects as str)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def fingerprint(cfg, model, modality: str, weights: str,
                precision: str = 'float32') -> dict:
    """What the features of an extraction depend on (module docstring)."""
    return canonical(dict(
        version=RECORD_VERSION, modality=modality, weights=weights,
        precision=precision,
        backbone_tensors_sha256=tensors_sha256(model.backbones[modality]),
        backbone=_feature_settings(cfg.model.backbones[modality]),
        pipeline=cfg.test_dataloader.dataset.pipeline,
        data_preprocessor=cfg.model.get('data_preprocessor')))


def differences(old, new, where=''):
    """``[(field, old value, new value)]`` of the leaves that differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new))
                for d in differences(old.get(k, '<absent>'),
                                     new.get(k, '<absent>'),
                                     f'{where}.{k}' if where else k)]
    if (isinstance(old, list) and isinstance(new, list)
            and len(old) == len(new)):
        return [d for i, (u, v) in enumerate(zip(old, new))
                for d in differences(u, v, f'{where}[{i}]')]
    return [] if old == new else [(where, old, new)]


def claim_lmdb(env, out: str, record: dict, overwrite: bool) -> str:
    """Check the LMDB's record against this run's; write it when absent.

    One write transaction checks, empties (``overwrite``) and writes, so
    two runs into one LMDB cannot both pass, and an overwrite is never
    half done. Returns what was found, for the log.

    Raises:
        SystemExit: the LMDB has entries and another fingerprint, or no
            readable record, and not ``overwrite``.
    """
    with env.begin(write=True) as txn:
        entries = txn.stat(env.open_db(txn=txn))['entries']
        stored = txn.get(RECORD_KEY)
        if overwrite and entries:
            txn.drop(env.open_db(txn=txn), delete=False)
            txn.put(RECORD_KEY, json.dumps(record, sort_keys=True).encode())
            return f'--overwrite: emptied {out} ({entries} entries)'
        if not entries:
            txn.put(RECORD_KEY, json.dumps(record, sort_keys=True).encode())
            return f'new LMDB {out}'
        if stored is None:
            raise SystemExit(
                f'{out} holds {entries} entries but no extraction record '
                f'({RECORD_KEY.decode()}): written by hand or by an older '
                'version of this tool, so nothing says which weights and '
                'preprocessing made them, and adding features of this run '
                'could mix two networks. Pass --overwrite to empty it and '
                'extract afresh, or choose another --out')
        try:
            old = json.loads(bytes(stored))
            old_fp, old_from = old['fingerprint'], old['made_by']
            if not (isinstance(old_fp, dict) and isinstance(old_from, dict)):
                raise TypeError('fingerprint and made_by must be objects')
        except (ValueError, KeyError, TypeError) as e:
            raise SystemExit(
                f'{out}: its extraction record {RECORD_KEY.decode()} is '
                f'unreadable ({e!r}); pass --overwrite to empty it and '
                'extract afresh, or choose another --out') from None
        diff = differences(old_fp, record['fingerprint'])
        diff.sort(key=lambda d: d[0] != 'weights')  # weights first
        if not diff:
            return f'{out} was extracted with the same fingerprint: resuming'
        lines = '\n'.join(f'  {field}: old {u!r} vs new {v!r}'
                          for field, u, v in diff)
        random = ('\nRandom weights are drawn anew on every run: an '
                  'extraction with --allow-random-weights cannot be '
                  'resumed.' if 'random' in (old_fp.get('weights'),
                                             record['fingerprint']['weights'])
                  else '')
        runs = '\n'.join(
            f'  {which} run: weights from {made.get("weights")}, config '
            f'{made.get("config")}'
            for which, made in (('old', old_from), ('new', record['made_by'])))
        raise SystemExit(
            f'{out} was extracted by another network or preprocessing; '
            'adding this run\'s features would mix two networks in one '
            f'LMDB. Its record differs in:\n{lines}\n{runs}{random}\n'
            'Pass --overwrite to empty it and extract afresh with this '
            'run\'s weights, or choose another --out')


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
    source, weights = load_backbone_weights(model, args)
    print(f'{args.modality} backbone weights: {source}')
    model.eval()
    record = dict(
        fingerprint=fingerprint(cfg, model, args.modality, weights,
                                precision(model, args)),
        made_by=dict(weights=source, config=osp.abspath(args.config)))
    pipeline = cfg.test_dataloader.dataset.pipeline
    loaders = [t for t in pipeline if t['type'] in LOADERS]
    if not loaders:
        raise ValueError(f'{args.config}: the test pipeline loads no frames '
                         f'({" or ".join(LOADERS)})')
    from mmaction.registry import TRANSFORMS
    loader = TRANSFORMS.build(loaders[0])
    wants = LOADERS[loaders[0]['type']]
    given = '--videos' if args.videos else '--frames'
    if wants != given:
        raise ValueError(
            f'{args.config}: the test pipeline reads '
            f'{wants[2:]} ({loaders[0]["type"]}): pass {wants} instead of '
            f'{given}')
    # the grid of the config's dataset (as AnticipationFeatureDataset takes it)
    grid = TimeGrid(**(cfg.test_dataloader.dataset.get('time_grid') or {}))
    return model, Compose(pipeline), loader, grid, record


def amp_dtype(model, args):
    """The autocast dtype of ``--amp`` on the model's device (None
    without ``--amp``)."""
    if not args.amp:
        return None
    return autocast_dtype(next(model.parameters()).device.type)


def precision(model, args) -> str:
    """The fingerprint's ``precision``: ``float32`` or the autocast
    dtype."""
    dtype = amp_dtype(model, args)
    return 'float32' if dtype is None else str(dtype).replace('torch.', '')


@torch.no_grad()
def extract(model, pipeline, modality, root, batch, grid, dtype=None):
    """Features ``(N, D)`` of a batch of ``(video, frame)`` sorted by video,
    float32 (the backbone under autocast to ``dtype`` when given).

    The frames of one video go through the pipeline as the steps of one
    sample (one video read); the backbone runs on every step of the batch
    at once, each step on its own frame or clip (PerStepBackbone's
    contract), so the grouping changes no feature."""
    inputs = []
    for video, group in itertools.groupby(batch, key=lambda f: f[0]):
        frames = np.array([frame for _, frame in group])
        packed = pipeline(dict(
            frames_root=root, videos_root=root, grid_fps=grid.fps,
            video_id=video, frame_inds=frames,
            segment_id=f'{video} frames {frames[0]}-{frames[-1]}'))
        inputs.append(model.data_preprocessor(dict(
            inputs={modality: [packed['inputs'][modality]]},
            data_samples=[packed['data_samples']]))['inputs'][modality])
    inputs = torch.cat(inputs, 1)  # (1, N, C, [L,] H, W)
    with torch.autocast(inputs.device.type, dtype=dtype,
                        enabled=dtype is not None):
        feats = model.backbones[modality](inputs)  # (1, N, D)
    return feats[0].float().cpu().numpy()


def write_features(env, args, model, pipeline, grid, wanted):
    """Extract the frames of ``wanted`` not yet in the LMDB; returns the
    vector size (None when there was nothing to do)."""
    from mmengine.utils import ProgressBar
    key = '{}_frame_{:010d}.jpg'.format
    with env.begin() as txn:
        todo = sorted(f for f in wanted if txn.get(key(*f).encode()) is None)
    print(f'{len(wanted)} frames wanted, {len(wanted) - len(todo)} already '
          f'in {args.out}, extracting {len(todo)}')
    dtype = amp_dtype(model, args)
    if dtype is not None:
        print(f'--amp: the backbone runs under {precision(model, args)} '
              'autocast')
        if next(model.parameters()).device.type == 'cpu':
            warn_if_bf16_is_slow()
    progress = ProgressBar(len(todo))
    dim = None
    for start in range(0, len(todo), args.batch_size):
        batch = todo[start:start + args.batch_size]
        feats = extract(model, pipeline, args.modality,
                        args.videos or args.frames, batch, grid, dtype)
        dim = feats.shape[1]
        with env.begin(write=True) as txn:  # one commit per batch: resumable
            for (video, frame), feat in zip(batch, feats):
                txn.put(key(video, frame).encode(),
                        np.ascontiguousarray(feat, np.float32).tobytes())
        for _ in batch:
            progress.update()
    return dim


def frame_entries(env) -> int:
    """The LMDB's entries other than the extraction record."""
    with env.begin() as txn:
        entries = txn.stat(env.open_db(txn=txn))['entries']
        return entries - (txn.get(RECORD_KEY) is not None)


def main(argv=None):
    args = parse_args(argv)
    model, pipeline, loader, grid, record = build(args)
    root = args.videos or args.frames
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'{"videos" if args.videos else "frames"} folder not found: '
            f'{root}')
    if args.ann_files:
        wanted = grid_frames(args.ann_files, grid)
    elif args.videos:
        wanted = all_video_frames(root, loader, grid)
    else:
        wanted = all_frames(root, loader.filename_tmpl)
    created = not osp.exists(args.out)
    env = lmdb.open(args.out, map_size=int(args.map_size_gb * 2**30))
    try:
        print(claim_lmdb(env, args.out, record, args.overwrite))
        dim = write_features(env, args, model, pipeline, grid, wanted)
    except BaseException:
        features = frame_entries(env)
        env.close()
        if created and not features:
            # this run's LMDB holds nothing but its record: remove it
            shutil.rmtree(args.out, ignore_errors=True)
            print(f'{args.out}: removed (the run failed before writing any '
                  'feature)')
        raise
    env.close()
    print(f'\n{args.out}: {len(wanted)} frames, {dim or "?"}-d float32')


if __name__ == '__main__':
    main()
