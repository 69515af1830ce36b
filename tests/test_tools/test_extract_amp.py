"""tools/extract_features.py --amp: the backbone under bfloat16 autocast on
the CPU, float32 features, and a precision in the LMDB's record, so that a
float32 LMDB is never extended with bfloat16 features (or back)."""
import json

import numpy as np

from .test_extract_provenance import (contents, frame_keys, refused, run,
                                      tool, work)
from .test_amp import needs_bf16

__all__ = ['tool', 'work']  # fixtures
RECORD = b'__lsant_mmaction_extraction__'


@needs_bf16
def test_amp_features_are_float32_close_to_float32_ones(tool, work,
                                                        tmp_path, capsys):
    run(tool, work, tmp_path / 'fp32', 'A')
    capsys.readouterr()
    run(tool, work, tmp_path / 'amp', 'A', '--amp')
    assert '--amp: the backbone runs under bfloat16 autocast' in \
        capsys.readouterr().out
    fp32, amp = contents(tmp_path / 'fp32'), contents(tmp_path / 'amp')
    assert json.loads(fp32[RECORD])['fingerprint']['precision'] == 'float32'
    assert json.loads(amp[RECORD])['fingerprint']['precision'] == 'bfloat16'
    assert frame_keys(amp) == frame_keys(fp32)
    for key in frame_keys(fp32):
        a = np.frombuffer(amp[key], np.float32)  # raw float32, same size
        b = np.frombuffer(fp32[key], np.float32)
        assert a.shape == b.shape and np.isfinite(a).all()
        assert np.abs(a - b).max() <= 0.05 * np.abs(b).max()
    assert any(amp[k] != fp32[k] for k in frame_keys(fp32))  # bf16 ran


@needs_bf16
def test_an_lmdb_is_never_extended_across_precisions(tool, work, tmp_path):
    out = tmp_path / 'imgs'
    run(tool, work, out, 'A')
    before = contents(out)
    msg = refused(tool, work, out, 'A', '--amp')
    assert "  precision: old 'float32' vs new 'bfloat16'" in msg
    assert '  weights: old' not in msg  # the same weights
    assert contents(out) == before
    amp = tmp_path / 'amp'
    run(tool, work, amp, 'A', '--amp')
    msg = refused(tool, work, amp, 'A')
    assert "  precision: old 'bfloat16' vs new 'float32'" in msg
    run(tool, work, amp, 'A', '--amp')  # same precision: resumes
