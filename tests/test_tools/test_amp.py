"""--amp through tools/train.py and tools/test.py on a CPU (bfloat16
autocast): the demo trained and tested for 1 epoch, float32 checkpoints,
--resume from float32 to --amp and back; float32 stays the default."""
import glob
import os.path as osp
import pickle
import re
import shutil
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from lsant_mmaction.engine.amp import cpu_bf16_units

from ..conftest import ROOT, load_tool, run_tool
from .test_end_to_end import CONFIG, FAST, TEST, TRAIN, env

WARNING = 'this CPU has no bf16 matrix instructions'


def _cpu_runs_bf16() -> bool:
    try:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = torch.nn.Linear(4, 4)(torch.ones(2, 4))
    except RuntimeError:
        return False
    return out.dtype == torch.bfloat16


needs_bf16 = pytest.mark.skipif(
    not _cpu_runs_bf16(),
    reason='this CPU (or torch build) has no bfloat16 autocast, which '
    '--amp on a CPU uses')


def cpu_env():
    """The tools on the CPU even where CUDA exists (--amp's CPU path)."""
    return dict(env(), CUDA_VISIBLE_DEVICES='')


def train(cwd, work, flags=(), epochs=1):
    proc = run_tool([TRAIN, CONFIG, '--work-dir', work, '--seed', '0',
                     '--deterministic', *flags, '--cfg-options',
                     f'train_cfg.max_epochs={epochs}'] + FAST,
                    cwd=cwd, env=cpu_env())
    return proc.stdout + proc.stderr


def load(path):
    return torch.load(path, map_location='cpu', weights_only=True)


@pytest.fixture(scope='module')
def one_epoch(demo_root):
    """1 epoch of the demo in float32 and with --amp (same seed)."""
    logs = {}
    for name, options in (('fp32', ()), ('amp', ('--amp', ))):
        logs[name] = train(demo_root, f'amp_test_{name}', options)
    return dict(cwd=demo_root, logs=logs,
                work={name: osp.join(demo_root, f'amp_test_{name}')
                      for name in logs})


@needs_bf16
def test_train_amp_one_epoch_on_the_cpu(one_epoch):
    work, log = one_epoch['work']['amp'], one_epoch['logs']['amp']
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    assert glob.glob(osp.join(work, 'best_anticipation_action_top5@1.00s_*'))
    assert 'anticipation/action_top5@1.00s' in log  # validated
    checkpoint = load(osp.join(work, 'epoch_1.pth'))
    cfg = Config.fromstring(checkpoint['meta']['cfg'], '.py')
    assert cfg.optim_wrapper.type == 'CPUAmpOptimWrapper'
    assert cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.val_cfg == dict(type='ValLoop')  # validated in float32
    # the bf16 warning where (and only where) the CPU lacks the units
    assert log.count(WARNING) == (0 if cpu_bf16_units() else 1)
    assert WARNING not in one_epoch['logs']['fp32']


@needs_bf16
def test_amp_checkpoints_hold_float32(one_epoch):
    checkpoint = load(osp.join(one_epoch['work']['amp'], 'epoch_1.pth'))
    state = checkpoint['state_dict']
    assert state['cls_head.loss_cls.prior'].dtype == torch.float32
    for name, tensor in state.items():
        assert tensor.dtype == torch.float32, name
        assert torch.isfinite(tensor).all(), name
    optimizer = checkpoint['optimizer']
    assert 'loss_scaler' not in optimizer
    assert optimizer['state']
    for buffers in optimizer['state'].values():
        assert buffers['momentum_buffer'].dtype == torch.float32
    # autocast was on: the same seed's float32 run ends elsewhere
    fp32 = load(osp.join(one_epoch['work']['fp32'], 'epoch_1.pth'))
    assert state.keys() == fp32['state_dict'].keys()
    weight = 'cls_head.branch.lstm.weight_ih_l0'
    assert not torch.equal(state[weight], fp32['state_dict'][weight])


def dump(cwd, checkpoint, name, *options):
    path = osp.join(cwd, f'amp_test_{name}.pkl')
    proc = run_tool([TEST, CONFIG, checkpoint, '--work-dir',
                     f'amp_test_tests_{name}', '--dump', path, *options,
                     '--cfg-options'] + FAST, cwd=cwd, env=cpu_env())
    with open(path, 'rb') as f:
        return proc.stdout + proc.stderr, pickle.load(f)


@needs_bf16
def test_test_amp_scores_close_to_float32(one_epoch):
    """tools/test.py --amp: inference under autocast, scores within 1 % of
    the largest float32 score of their row (measured: ~0.4 %)."""
    cwd = one_epoch['cwd']
    checkpoint = osp.join(one_epoch['work']['amp'], 'epoch_1.pth')
    log, amp = dump(cwd, checkpoint, 'amp', '--amp')
    _, fp32 = dump(cwd, checkpoint, 'fp32')
    assert "fp16=True" in log and 'action_top5@1.00s' in log
    assert log.count(WARNING) == (0 if cpu_bf16_units() else 1)
    assert len(amp) == len(fp32) > 0
    a = np.stack([r['pred_score'] for r in amp])  # (N, 8, 65)
    b = np.stack([r['pred_score'] for r in fp32])
    assert a.dtype == np.float32 and a.shape == b.shape
    assert not np.array_equal(a, b)  # autocast was on
    assert np.all(np.abs(a - b) <= 0.01 * b.max(-1, keepdims=True))
    np.testing.assert_allclose(a.sum(-1), 1, atol=1e-5)  # float32 softmax


def resumed(one_epoch, source, *flags):
    """Epoch 2 resumed in a copy of ``source``'s 1-epoch work dir."""
    cwd = one_epoch['cwd']
    work = osp.join(cwd, f'amp_test_resume_{source}_{len(flags)}')
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(one_epoch['work'][source], work)
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'epoch_1.pth'))
    log = train(cwd, work, ('--resume', *flags), epochs=2)
    assert re.search(r'resumed epoch: 1, iter: \d+', log), log[-3000:]
    checkpoint = load(osp.join(work, 'epoch_2.pth'))
    assert checkpoint['meta']['epoch'] == 2
    assert all(t.dtype == torch.float32
               for t in checkpoint['state_dict'].values())
    return log, Config.fromstring(checkpoint['meta']['cfg'], '.py')


@needs_bf16
def test_resume_float32_run_with_amp(one_epoch):
    _, cfg = resumed(one_epoch, 'fp32', '--amp')
    assert cfg.optim_wrapper.type == 'CPUAmpOptimWrapper'


@needs_bf16
def test_resume_amp_run_in_float32(one_epoch):
    log, cfg = resumed(one_epoch, 'amp')
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    assert WARNING not in log


def merged(tool_path, monkeypatch, *argv):
    tool = load_tool(tool_path)
    monkeypatch.setattr(sys, 'argv', [tool_path, *argv])
    monkeypatch.setenv('LOCAL_RANK', '0')
    args = tool.parse_args()
    return tool.merge_args(Config.fromfile(args.config), args)


def test_float32_stays_the_default(monkeypatch, tmp_path):
    """Without --amp the config's wrapper and loops are left as they are
    (the demo and every test stay bit-reproducible)."""
    cfg = Config.fromfile(CONFIG)
    trained = merged(TRAIN, monkeypatch, CONFIG, '--work-dir', str(tmp_path))
    assert trained.optim_wrapper == cfg.optim_wrapper
    assert 'type' not in trained.optim_wrapper  # mmengine's OptimWrapper
    assert trained.val_cfg == cfg.val_cfg == dict(type='ValLoop')
    tested = merged(TEST, monkeypatch, CONFIG, 'x.pth', '--work-dir',
                    str(tmp_path))
    assert tested.test_cfg == dict(type='TestLoop')


def test_amp_options_fold_into_the_config(monkeypatch, tmp_path):
    from lsant_mmaction.engine import amp
    monkeypatch.setattr(amp, 'get_device', lambda: 'cpu')
    trained = merged(TRAIN, monkeypatch, CONFIG, '--amp', '--work-dir',
                     str(tmp_path))
    assert trained.optim_wrapper.type == 'CPUAmpOptimWrapper'
    assert trained.val_cfg == dict(type='ValLoop')
    # --cfg-options come after --amp and may still change it
    trained = merged(TRAIN, monkeypatch, CONFIG, '--amp', '--no-validate',
                     '--work-dir', str(tmp_path), '--cfg-options',
                     'optim_wrapper.clip_grad.max_norm=5.0')
    assert trained.optim_wrapper.clip_grad == dict(max_norm=5.0)
    assert trained.val_cfg is None
    tested = merged(TEST, monkeypatch, CONFIG, 'x.pth', '--amp',
                    '--work-dir', str(tmp_path))
    assert tested.test_cfg == dict(type='TestLoop', fp16=True)
