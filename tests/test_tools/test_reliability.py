"""Through the tools: broken models score nothing, checkpoints that do not
fit are refused, dumps are plain data and read back without running code."""
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from lsant_mmaction.engine.checkpoint import (check_checkpoint_fits,
                                              read_checkpoint)
from lsant_mmaction.evaluation import load_predictions

from ..conftest import ROOT, run_tool
from .test_end_to_end import FAST, env

CONFIG = osp.join(ROOT, 'configs', 'lstm_demo_glvn.py')
RULSTM_CONFIG = osp.join(ROOT, 'configs', 'rulstm_demo_glvn_rgb.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
VISUALIZE = osp.join(ROOT, 'tools', 'visualize_predictions.py')
EXPORT = osp.join(ROOT, 'tools', 'export_challenge.py')


def run_failing(args, cwd):
    """Run a tool that must fail; return its output."""
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def trained(demo_root):
    """One epoch of the LSTM baseline on the tiny demo data."""
    run_tool([TRAIN, CONFIG, '--work-dir', 'rel', '--seed', '0',
              '--cfg-options', 'train_cfg.max_epochs=1'] + FAST,
             cwd=demo_root, env=env())
    return demo_root, osp.join(demo_root, 'rel', 'epoch_1.pth')


@pytest.fixture(scope='module')
def dumped(trained):
    """``tools/test.py --dump`` of that checkpoint, batches of 4."""
    root, ckpt = trained
    dump = osp.join(root, 'rel', 'preds.pkl')
    run_tool([TEST, CONFIG, ckpt, '--work-dir', osp.join(root, 'rel', 't'),
              '--dump', dump, '--cfg-options', 'test_dataloader.batch_size=4']
             + FAST, cwd=root, env=env())
    return dump


def test_nan_checkpoint_scores_zero_and_is_reported(trained, tmp_path):
    root, ckpt = trained
    checkpoint = read_checkpoint(ckpt)
    for name, value in checkpoint['state_dict'].items():
        if value.is_floating_point() and not name.endswith('.prior'):
            value.fill_(float('nan'))
    broken = str(tmp_path / 'nan.pth')
    torch.save(checkpoint, broken)
    dump = str(tmp_path / 'nan.pkl')
    proc = run_tool([TEST, CONFIG, broken, '--work-dir', str(tmp_path / 'w'),
                     '--dump', dump, '--cfg-options'] + FAST,
                    cwd=root, env=env())
    out = proc.stdout + proc.stderr
    results = load_predictions(dump)
    assert np.isnan(results[0]['pred_score']).all()
    assert f'{len(results)} of {len(results)} segments have non-finite' in out
    table = out[out.index('Anticipation results'):]
    rows = [line for line in table.splitlines()[3:] if line.startswith('|')]
    assert len(rows) >= 6  # verb, noun, action x top-1, top-5 (+ recall)
    for row in rows:  # every measure at every anticipation time
        values = [float(v) for v in row.strip('|').split('|')[1:]]
        assert values == [0.0] * 8, row


def test_checkpoint_of_another_model_is_refused(trained, tmp_path):
    root, ckpt = trained
    out = run_failing([TEST, RULSTM_CONFIG, ckpt, '--work-dir',
                       str(tmp_path / 'w'), '--cfg-options'] + FAST, root)
    assert f'checkpoint {ckpt} does not fit the model' in out
    assert 'missing from the checkpoint' in out
    assert 'cls_head.branch.rolling_lstm' in out  # names what differs
    # same model, other size: shape mismatch named
    out = run_failing([TEST, CONFIG, ckpt, '--work-dir', str(tmp_path / 'w'),
                       '--cfg-options'] + FAST
                      + ['model.cls_head.hidden_channels=32'], root)
    assert 'shape mismatch' in out
    assert 'weight_hh_l0: checkpoint (256, 64), model (128, 32)' in out
    out = run_failing([EXPORT, RULSTM_CONFIG, ckpt, '--split',
                       'validation.csv', '--out', str(tmp_path / 'x.json'),
                       '--work-dir', str(tmp_path / 'w'), '--cfg-options']
                      + FAST, root)
    assert f'checkpoint {ckpt} does not fit the model' in out
    assert not osp.exists(tmp_path / 'x.json')


@pytest.mark.parametrize('damage', ['empty', 'truncated', 'crafted'])
def test_unreadable_checkpoint_names_the_file(trained, tmp_path, damage):
    _, ckpt = trained
    bad = tmp_path / f'{damage}.pth'
    data = open(ckpt, 'rb').read()
    marker = tmp_path / 'executed'
    if damage == 'empty':
        bad.write_bytes(b'')
        match = 'is empty'
    elif damage == 'truncated':
        bad.write_bytes(data[:len(data) // 2])
        match = 'cannot be read: it is truncated'
    else:
        class Crafted:

            def __reduce__(self):
                return (os.system, (f'touch {marker}', ))

        torch.save({'state_dict': {}, 'x': Crafted()}, str(bad))
        match = 'not a PyTorch checkpoint of plain weights'
    with pytest.raises(ValueError, match=match) as error:
        read_checkpoint(str(bad))
    assert str(bad) in str(error.value)
    assert 'weights_only=False' not in str(error.value)
    assert not marker.exists()


def test_check_checkpoint_fits_lists_unexpected_keys(trained, tmp_path):
    from mmengine.config import Config

    from mmaction.registry import MODELS
    _, ckpt = trained
    cfg = Config.fromfile(CONFIG)
    cfg.model.cls_head.hidden_channels = 64
    model = MODELS.build(cfg.model)
    check_checkpoint_fits(model, ckpt)  # its own checkpoint fits
    checkpoint = read_checkpoint(ckpt)
    checkpoint['state_dict']['cls_head.extra.weight'] = torch.zeros(2)
    path = str(tmp_path / 'extra.pth')
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match='not in the model: 1 '
                       r'\(cls_head.extra.weight\)'):
        check_checkpoint_fits(model, path)


def test_dump_is_compact_plain_data(dumped):
    dump = dumped
    results = load_predictions(dump)
    first = results[0]
    assert first['pred_score'].dtype == np.float32
    assert first['pred_score'].shape == (8, 65)
    # each segment's own scores, not a view of its batch: N x 8 x C x 4
    # bytes plus a small overhead per segment
    scores = len(results) * 8 * 65 * 4
    assert os.path.getsize(dump) < scores + 400 * len(results)


def test_crafted_dump_is_refused_without_running_it(trained, dumped,
                                                   tmp_path):
    root, _ = trained
    marker = tmp_path / 'executed'

    class Crafted:

        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    dump = tmp_path / 'crafted.pkl'
    dump.write_bytes(pickle.dumps([dict(segment_id=1, x=Crafted())]))
    out = run_failing([VISUALIZE, CONFIG, str(dump), '--segments', '1',
                       '--out', str(tmp_path / 'vis')], root)
    assert f'{dump} refers to posix.system' in out
    assert not marker.exists()
    truncated = tmp_path / 'truncated.pkl'
    truncated.write_bytes(open(dumped, 'rb').read()[:1000])
    with pytest.raises(ValueError, match=f'{truncated} is not a readable'):
        load_predictions(str(truncated))


def test_visualize_refuses_a_checkpoint_of_another_model(trained, dumped,
                                                         tmp_path):
    root, ckpt = trained
    dump = dumped
    first = load_predictions(dump)[0]['segment_id']
    out = run_failing([VISUALIZE, RULSTM_CONFIG, dump, '--checkpoint', ckpt,
                       '--segments', str(first), '--out',
                       str(tmp_path / 'vis')], root)
    assert f'checkpoint {ckpt} does not fit the model' in out


def test_unreadable_load_from_names_the_file(demo_root, tmp_path):
    empty = tmp_path / 'stage1' / 'best.pth'
    empty.parent.mkdir()
    empty.write_bytes(b'')
    out = run_failing([TRAIN, CONFIG, '--work-dir', str(tmp_path / 'w'),
                       '--cfg-options', f'load_from={empty}'] + FAST,
                      demo_root)
    assert f'checkpoint {empty} is empty' in out


def test_converter_names_an_unreadable_checkpoint(tmp_path):
    bad = tmp_path / 'official.pth.tar'
    bad.write_bytes(b'\x80\x02garbage')
    out = run_failing([osp.join(ROOT, 'tools', 'convert_rulstm_checkpoint.py'),
                       str(bad), str(tmp_path / 'out.pth')], str(tmp_path))
    assert f'checkpoint {bad}' in out and 'was not loaded' in out
    assert 'weights_only=False' not in out
