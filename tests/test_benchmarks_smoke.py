"""Smoke tests of the benchmark scripts at tiny sizes (no figures checked):
the GPU check's Python part on CPU, its refusal without CUDA, the loader
benchmark."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from .conftest import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load(name):
    return load_tool(osp.join(ROOT, 'benchmarks', f'{name}.py'))


def test_gpu_check_cpu_smoke(tmp_path, capsys):
    out = tmp_path / 'table.md'
    rc = load('gpu_check').main(
        ['--device', 'cpu', '--tiny', '--repeats', '1', '--out', str(out)])
    assert rc == 0
    table = out.read_text()
    assert table == capsys.readouterr().out
    assert table.count('| PASS |') == 6 and 'FAIL' not in table
    for head in ('LSTM baseline (rgb+flow+obj)', 'RU-LSTM (rgb)',
                 'RU-LSTM fusion (MATT)'):
        assert f'| {head} | bf16 autocast | head |' in table
        assert f'| {head} | fp32 | head |' in table
    assert 'correctness: 6 of 6 checks pass' in table


@pytest.mark.skipif(torch.cuda.is_available(), reason='a CUDA device exists')
def test_gpu_check_fails_clearly_without_cuda(tmp_path):
    with pytest.raises(SystemExit, match='no CUDA device is available'):
        load('gpu_check').main(['--device', 'cuda'])
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'benchmarks', 'gpu_check.sh')],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHON=sys.executable, OUT=str(tmp_path)))
    assert proc.returncode == 2
    assert 'gpu_check: no CUDA device is available' in proc.stderr


def test_loader_benchmark_smoke(capsys):
    load('bench_loader').main([
        '--segments', '300', '--batch', '16', '--batches', '1', '--repeats',
        '1', '--workers', '0', '--dims', '8', '8', '4', '--classes', '10',
        '--hidden', '8'
    ])
    out = capsys.readouterr().out
    for name in ('project, pseudo_collate', 'project, stack_collate',
                 'plain PyTorch reader (RU-LSTM style)'):
        assert f'| {name} | 0 |' in out
    for collate in ('pseudo_collate', 'stack_collate'):
        for pre in ('FeatureDataPreprocessor (default)',
                    'stock MultiModalDataPreprocessor'):
            assert f'| project, {collate} | 0 | {pre} |' in out
