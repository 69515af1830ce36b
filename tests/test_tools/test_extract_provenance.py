"""tools/extract_features.py: an LMDB records the weights and preprocessing
that made it and refuses features of any other network."""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys

import lmdb
import numpy as np
import pytest
import torch

from mmaction.registry import MODELS

from ..conftest import ROOT, load_tool
from ..weights_files import known_values
from .test_end_to_end import env
from .test_frames import R50_CONFIG, write_frames

TOOL = osp.join(ROOT, 'tools', 'extract_features.py')
# a one-stage ResNet-18 on 32x32 crops: the model of the ResNet-50 config
CONFIG = R50_CONFIG + '''
model = dict(backbones=dict(imgs=dict(backbone=dict(
    depth=18, num_stages=1, out_indices=(0, ), strides=(1, ),
    dilations=(1, ), pretrained=None))))
'''
FRAMES = [('V1', 1), ('V1', 2), ('V1', 3), ('V1', 4), ('V2', 1), ('V2', 2)]


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    """Six frames, the config, and checkpoints A and B of its backbone."""
    work = tmp_path_factory.mktemp('provenance')
    write_frames(work / 'frames', FRAMES, seed=2)
    (work / 'cfg.py').write_text(CONFIG.format(root=ROOT))
    from mmengine.config import Config
    cfg = Config.fromfile(str(work / 'cfg.py'))
    backbone = MODELS.build(cfg.model.backbones.imgs.backbone)
    for name, seed in (('A', 0), ('B', 1)):
        torch.save({'state_dict': {
            f'backbones.imgs.backbone.{k}': v
            for k, v in known_values(backbone, seed).items()}},
                   str(work / f'{name}.pth'))
    return work


@pytest.fixture(scope='module')
def tool():
    return load_tool(TOOL)


def argv(work, out, ckpt, *extra):
    return ['cfg.py', str(work / f'{ckpt}.pth') if ckpt != 'none' else ckpt,
            '--frames', 'frames', '--all-frames', '--out', str(out),
            '--batch-size', '2'] + list(extra)


def run(tool, work, out, ckpt, *extra):
    """The tool in this process (its import costs more than the run)."""
    cwd = os.getcwd()
    os.chdir(str(work))
    try:
        tool.main(argv(work, out, ckpt, *extra))
    finally:
        os.chdir(cwd)


def refused(tool, work, out, ckpt, *extra):
    with pytest.raises(SystemExit) as exc:
        run(tool, work, out, ckpt, *extra)
    assert isinstance(exc.value.code, str)  # printed, exit status 1
    return exc.value.code


def interrupted(tool, work, out, ckpt, monkeypatch):
    """A run killed after its first batch (2 frames) was committed."""
    extract = tool.extract
    calls = []

    def once(*args):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return extract(*args)

    monkeypatch.setattr(tool, 'extract', once)
    with pytest.raises(KeyboardInterrupt):
        run(tool, work, out, ckpt)
    monkeypatch.setattr(tool, 'extract', extract)


def contents(out):
    env_ = lmdb.open(str(out), readonly=True, lock=False)
    with env_.begin() as txn:
        items = dict(txn.cursor())
    env_.close()
    return items


def frame_keys(items):
    return {k for k in items if k != b'__lsant_mmaction_extraction__'}


@pytest.fixture(scope='module')
def clean(tool, work, tmp_path_factory):
    """Uninterrupted extractions with A and with B, for comparisons."""
    out = {}
    for ckpt in ('A', 'B'):
        path = tmp_path_factory.mktemp('clean') / ckpt
        run(tool, work, path, ckpt)
        out[ckpt] = contents(path)
        assert len(frame_keys(out[ckpt])) == len(FRAMES)
    assert all(out['A'][k] != out['B'][k] for k in frame_keys(out['A']))
    return out


def test_record_names_weights_and_preprocessing(work, clean):
    record = json.loads(clean['A'][b'__lsant_mmaction_extraction__'])
    fp = record['fingerprint']
    sha = hashlib.sha256((work / 'A.pth').read_bytes()).hexdigest()
    assert fp['weights'] == f'checkpoint sha256:{sha}'
    assert record['made_by']['weights'] == f'checkpoint {work / "A.pth"}'
    assert fp['backbone']['backbone']['depth'] == 18
    assert 'pretrained' not in fp['backbone']['backbone']
    assert fp['data_preprocessor']['preprocessors']['imgs']['mean'] == [
        123.675, 116.28, 103.53]
    assert fp['pipeline'][2] == dict(type='CenterCrop', crop_size=32)
    assert len(fp['backbone_tensors_sha256']) == 64


def test_interrupted_run_resumed_with_other_weights_fails(
        tool, work, tmp_path, monkeypatch):
    """(a) killed with A, resumed with B: exit status 1, both named."""
    out = tmp_path / 'imgs'
    interrupted(tool, work, out, 'A', monkeypatch)
    before = contents(out)
    assert len(frame_keys(before)) == 2
    proc = subprocess.run([sys.executable, TOOL] + argv(work, out, 'B'),
                          cwd=str(work), env=env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f'{out} was extracted by another network' in proc.stderr
    assert "  weights: old 'checkpoint sha256:" in proc.stderr
    config = work / 'cfg.py'
    assert f'  old run: weights from checkpoint {work / "A.pth"}, config ' \
        f'{config}\n  new run: weights from checkpoint {work / "B.pth"}, ' \
        f'config {config}' in proc.stderr
    assert 'backbone_tensors_sha256: old' in proc.stderr
    assert '--overwrite' in proc.stderr
    assert 'extracting' not in proc.stdout
    assert contents(out) == before  # untouched


def test_finished_lmdb_rerun_with_other_weights_fails(tool, work, tmp_path,
                                                      clean):
    """(b) a finished LMDB of A, run again with B: refused, unchanged."""
    out = tmp_path / 'imgs'
    run(tool, work, out, 'A')
    msg = refused(tool, work, out, 'B')
    assert f'{out} was extracted by another network' in msg
    assert str(work / 'A.pth') in msg and str(work / 'B.pth') in msg
    assert contents(out) == clean['A']


def test_overwrite_starts_afresh_with_the_new_weights(tool, work, tmp_path,
                                                      monkeypatch, clean):
    """(c) --overwrite: only B's features (and B's record) remain."""
    out = tmp_path / 'imgs'
    interrupted(tool, work, out, 'A', monkeypatch)
    # one frame of A that B will not extract (the frame is gone)
    env_ = lmdb.open(str(out), map_size=1 << 24)
    with env_.begin(write=True) as txn:
        txn.put(b'V9_frame_0000000001.jpg', np.zeros(64, np.float32))
    env_.close()
    run(tool, work, out, 'B', '--overwrite')
    assert contents(out) == clean['B']


def test_resume_with_the_same_weights(tool, work, tmp_path, monkeypatch,
                                      clean, capsys):
    """(d) killed with A, resumed with A: resumes, same LMDB as one run."""
    out = tmp_path / 'imgs'
    interrupted(tool, work, out, 'A', monkeypatch)
    capsys.readouterr()
    run(tool, work, out, 'A')
    printed = capsys.readouterr().out
    assert 'with the same fingerprint: resuming' in printed
    assert f'6 frames wanted, 2 already in {out}, extracting 4' in printed
    assert contents(out) == clean['A']
    # finished: a run with the same weights changes nothing
    stat = os.stat(out / 'data.mdb')
    run(tool, work, out, 'A')
    assert 'extracting 0' in capsys.readouterr().out
    assert os.stat(out / 'data.mdb').st_mtime_ns == stat.st_mtime_ns


def test_other_preprocessing_fails_naming_the_field(tool, work, tmp_path):
    out = tmp_path / 'imgs'
    run(tool, work, out, 'A')
    msg = refused(tool, work, out, 'A', '--cfg-options',
                  'model.data_preprocessor.preprocessors.imgs.mean='
                  '[0,0,0]')
    assert ('data_preprocessor.preprocessors.imgs.mean[0]: old 123.675 vs '
            'new 0') in msg
    assert '  weights: old' not in msg  # same weights: not a difference


def test_lmdb_without_a_record_is_refused(tool, work, tmp_path, clean):
    """Written by hand (or by an older version): refused unless
    --overwrite, which then holds only this run's features; so is one
    whose record is unreadable."""
    out = tmp_path / 'imgs'
    env_ = lmdb.open(str(out), map_size=1 << 24)
    with env_.begin(write=True) as txn:
        txn.put(b'V1_frame_0000000001.jpg', np.ones(64, np.float32))
    env_.close()
    msg = refused(tool, work, out, 'A')
    assert f'{out} holds 1 entries but no extraction record' in msg
    assert '--overwrite' in msg
    run(tool, work, out, 'A', '--overwrite')
    assert contents(out) == clean['A']
    # a record that is not one
    env_ = lmdb.open(str(out), map_size=1 << 24)
    with env_.begin(write=True) as txn:
        txn.put(b'__lsant_mmaction_extraction__', b'{"fingerprint": 1}')
    env_.close()
    msg = refused(tool, work, out, 'A')
    assert (f'{out}: its extraction record __lsant_mmaction_extraction__ '
            "is unreadable (KeyError('made_by'))") in msg


def test_random_weights_cannot_be_resumed(tool, work, tmp_path):
    out = tmp_path / 'imgs'
    run(tool, work, out, 'none', '--allow-random-weights')
    msg = refused(tool, work, out, 'none', '--allow-random-weights')
    assert 'backbone_tensors_sha256: old' in msg
    assert 'Random weights are drawn anew on every run' in msg
