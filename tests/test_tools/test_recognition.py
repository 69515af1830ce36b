"""The loss in mmaction's own recognizers: the shipped recognition configs
build, and on a tiny generated video dataset (mmaction's VideoDataset
layout, a class-name list) TSN trains 2 epochs with mixup and a GloVe prior
from the class names through tools/train.py, and tests through tools/test.py
from its checkpoint, which carries the prior."""
import glob
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmaction.registry import MODELS
from lsant_mmaction.priors import load_prior

from ..conftest import ROOT, load_tool, run_tool
from .test_end_to_end import env

# mmengine reads mmaction:: bases through pkg_resources (deprecated)
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*pkg_resources is deprecated")
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'recognition', '*.py')))
SWEEP = osp.join(ROOT, 'tools', 'sweep.py')
CLASSES = ['open fridge', 'cut tomato', 'wash cup']

# the shipped TSN config with a tiny ResNet, small frames and mixup
TINY_TSN = '''
_base_ = ['{root}/configs/recognition/tsn_r50_1x1x3_100e_videos_gl.py']
model = dict(
    backbone=dict(depth=18, num_stages=1, out_indices=(0, ), strides=(1, ),
                  dilations=(1, ), pretrained=None),
    cls_head=dict(num_classes=3, in_channels=64, loss_cls=dict(
        num_classes=3, prior=dict(glove='glove-6b-50d-classes'))),
    data_preprocessor=dict(blending=dict(
        type='MixupBlending', num_classes=3, alpha=0.4)))
train_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=2),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 28)),
    dict(type='RandomCrop', size=24),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='DecordInit'),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=2,
         test_mode=True),
    dict(type='DecordDecode'),
    dict(type='Resize', scale=(-1, 28)),
    dict(type='CenterCrop', crop_size=24),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=1)
default_hooks = dict(checkpoint=dict(interval=1), logger=dict(interval=1))
'''


def write_videos(root, per_class=3, seed=0):
    """``root/videos/*.mp4`` (12 frames of 32 x 40), the class list and the
    train and val lists; each class has its own mean colour."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'videos'))
    lines = []
    for label in range(len(CLASSES)):
        for i in range(per_class):
            name = f'c{label}_{i}.mp4'
            out = cv2.VideoWriter(osp.join(root, 'videos', name),
                                  cv2.VideoWriter_fourcc(*'mp4v'), 30,
                                  (40, 32))
            for _ in range(12):
                frame = rng.integers(0, 60, (32, 40, 3)) + 90 * label
                out.write(frame.astype(np.uint8))
            out.release()
            lines.append(f'{name} {label}')
    with open(osp.join(root, 'classes.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    for split in ('train', 'val'):
        with open(osp.join(root, f'{split}_list.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_recognition_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['lsant_mmaction']
    model = MODELS.build(cfg.model)
    loss = model.cls_head.loss_cls
    assert loss.num_classes == model.cls_head.num_classes == cfg.num_classes
    assert loss.alpha > 0 and loss.prior_source == cfg.priors.gl
    # the class list is absent here: the prior waits for a checkpoint
    assert loss.prior_state == 'awaiting a checkpoint'
    assert cfg.train_dataloader.dataset.type == 'VideoDataset'
    assert cfg.train_dataloader.dataset.ann_file.startswith(cfg.data_root)


def test_tsn_trains_with_mixup_and_tests_from_its_checkpoint(tmp_path):
    work = str(tmp_path)
    data = osp.join(work, 'data', 'my_videos')
    write_videos(data)
    with open(osp.join(work, 'tiny.py'), 'w') as f:
        f.write(TINY_TSN.format(root=ROOT))
    run_tool([osp.join(ROOT, 'tools', 'train.py'), 'tiny.py', '--work-dir',
              'w', '--seed', '0'], cwd=work, env=env())
    ckpt = osp.join(work, 'w', 'epoch_2.pth')
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    expected = load_prior(dict(kind='gl', class_names=CLASSES,
                               glove='glove-6b-50d-classes'), 3)
    np.testing.assert_array_equal(state['cls_head.loss_cls.prior'].numpy(),
                                  expected)
    # mixup's soft labels reached the loss: the head logs no training
    # accuracy then (it does for hard labels)
    scalars = glob.glob(osp.join(work, 'w', '*', 'vis_data', 'scalars.json'))
    with open(scalars[0]) as f:
        logged = [json.loads(line) for line in f]
    assert any('loss_cls' in r for r in logged)
    assert not any('top1_acc' in r for r in logged)
    # another machine: the videos but no class list; the prior comes from
    # the checkpoint
    os.remove(osp.join(data, 'classes.txt'))
    proc = run_tool([osp.join(ROOT, 'tools', 'test.py'), 'tiny.py', ckpt,
                     '--work-dir', 'tw'], cwd=work, env=env())
    assert 'acc/top1' in proc.stdout + proc.stderr
    # training there stops at once, naming the missing class list
    proc = run_tool_fails([osp.join(ROOT, 'tools', 'train.py'), 'tiny.py',
                           '--work-dir', 'w2'], cwd=work)
    assert ('cls_head.loss_cls: the prior was not built (its sources '
            "['data/my_videos/classes.txt'] are missing)") in proc.stderr
    assert not osp.exists(osp.join(work, 'w2', 'epoch_1.pth'))


def run_tool_fails(args, cwd):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    return proc


def test_sweep_expands_a_recognition_config(tmp_path, capsys):
    """tools/sweep.py on a recognizer: the priors of its dict, alpha, and
    its save_best (acc/top1) as the measure; checked in a dry run."""
    sweep = load_tool(SWEEP)
    config = osp.join(ROOT, 'configs', 'recognition',
                      'tsn_r50_1x1x3_100e_videos_gl.py')
    cfg = Config.fromfile(config)
    assert sweep.selection_measure(cfg, None) == 'top1'
    args = sweep.parse_args([config, '--priors', 'onehot', 'uniform', 'gl',
                             '--alphas', '0.1', '0.2'])
    settings = sweep.expand(args, cfg)
    assert [s['name'] for s in settings] == [
        'prior=onehot', 'prior=uniform alpha=0.1', 'prior=uniform alpha=0.2',
        'prior=gl alpha=0.1', 'prior=gl alpha=0.2']
    loss = sweep.run_config(cfg, settings[4]['values'],
                            args.loss_key).model.cls_head.loss_cls
    assert (loss.alpha, loss.prior) == (0.2, cfg.priors.gl)
    assert sweep.main([config, '--priors', 'onehot', 'gl', '--alphas', '0.2',
                       '--work-dir', str(tmp_path / 's'), '--dry-run']) == 0
    assert 'prior=gl alpha=0.2 seed 0' in capsys.readouterr().out


def test_sweep_summary_of_recognition_runs(tmp_path):
    """The summary of runs whose results have no anticipation time: one
    column of acc/top1 in percent, the best alpha per prior, a bar plot."""
    sweep = load_tool(SWEEP)
    config = osp.join(ROOT, 'configs', 'recognition',
                      'tsn_r50_1x1x3_100e_videos_gl.py')
    cfg = Config.fromfile(config)
    args = sweep.parse_args([config, '--priors', 'onehot', 'gl', '--alphas',
                             '0.1', '0.2'])
    settings = sweep.expand(args, cfg)
    root = str(tmp_path / 'sweep')
    values = [0.5, 0.55, 0.625]  # onehot, gl 0.1, gl 0.2
    runs = [sweep.Run(s, 0, root, cfg.dump()) for s in settings]
    for run, value in zip(runs, values):
        stamp = '20260101_000000'
        os.makedirs(osp.join(run.dir, 'test', stamp))
        with open(osp.join(run.dir, 'test', stamp, f'{stamp}.json'),
                  'w') as f:
            json.dump({'acc/top1': value, 'acc/top5': 1.0, 'time': 0.1}, f)
        with open(run.done, 'w') as f:
            json.dump(dict(result=f'test/{stamp}/{stamp}.json'), f)
    # what sweep.summarize runs, in this process
    summary = load_tool(osp.join(ROOT, 'tools', 'summarize_results.py'))
    rows = [f'{s["name"]}={r.dir}' for s, r in zip(settings, runs)]
    table, times, chosen_by = summary.collect(rows, 'top1', 'top1')
    assert times == [None]
    out = osp.join(root, 'summary')
    assert summary.write_outputs(table, times, 'top1', 'prior=onehot', out,
                                 't', chosen_by, 'alpha', 'top1', 1) == 0
    assert osp.isfile(out + '.png')
    table = open(out + '.md').read()
    assert '| top1 (%) | test |' in table
    assert '| prior=gl | 55.00 ± 0.00 (1 runs) | **62.50 ± 0.00** (1 runs) ' \
        '|' in table
    assert '| Improv. (1 vs 1 runs) | +12.50 |' in table


def test_slowonly_takes_a_cutmix_step_on_the_videos(tmp_path, monkeypatch):
    """The shipped 3D config, made tiny: its VideoDataset reads the
    generated videos, CutmixBlending mixes the clips (NCTHW) and the loss
    gets soft labels; one optimizer step."""
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper

    from mmaction.registry import DATASETS
    data = tmp_path / 'data' / 'my_videos'
    write_videos(str(data), per_class=1)
    monkeypatch.chdir(tmp_path)  # the config's data_root is relative
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'recognition',
                                   'slowonly_r50_8x8x1_150e_videos_gl.py'))
    cfg.merge_from_dict({
        'model.backbone': dict(depth=18, num_stages=1, out_indices=(0, ),
                               spatial_strides=(1, ), temporal_strides=(1, ),
                               dilations=(1, ), inflate=(1, ),
                               pretrained=None, pretrained2d=False),
        'model.cls_head.num_classes': 3, 'model.cls_head.in_channels': 64,
        'model.cls_head.loss_cls.num_classes': 3,
        'model.cls_head.loss_cls.prior.glove': 'glove-6b-50d-classes',
        'model.data_preprocessor.blending': dict(
            type='CutmixBlending', num_classes=3, alpha=0.4)})
    model = MODELS.build(cfg.model)
    assert model.cls_head.loss_cls.prior_state == 'ready'
    pipeline = [
        dict(type='DecordInit'),
        dict(type='SampleFrames', clip_len=4, frame_interval=2, num_clips=1),
        dict(type='DecordDecode'),
        dict(type='Resize', scale=(-1, 24)),
        dict(type='CenterCrop', crop_size=24),
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='PackActionInputs')
    ]
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset,
                                  pipeline=pipeline))
    assert len(dataset) == 3
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    torch.manual_seed(0)
    batch = pseudo_collate([dataset[i] for i in range(3)])
    before = model.cls_head.fc_cls.weight.clone()
    losses = model.train_step(batch, optim)
    assert torch.isfinite(losses['loss_cls'])
    assert 'top1_acc' not in losses  # soft labels: no training accuracy
    assert not torch.equal(before, model.cls_head.fc_cls.weight)
