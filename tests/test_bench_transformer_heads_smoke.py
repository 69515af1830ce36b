"""Smoke test of benchmarks/bench_transformer_heads.py at tiny sizes (no
figures checked)."""
import os.path as osp

from .conftest import ROOT, load_tool


def test_transformer_heads_benchmark_smoke(tmp_path, capsys):
    out = tmp_path / 'table.md'
    bench = load_tool(osp.join(ROOT, 'benchmarks',
                               'bench_transformer_heads.py'))
    assert bench.main(['--tiny', '--repeats', '1', '--threads', '1',
                       '--bf16', '--out', str(out)]) == 0
    table = out.read_text()
    assert table == capsys.readouterr().out
    for name, protocol in (('RU-LSTM fusion (MATT, 3 branches)', '14 / 8'),
                           ('AVTHead (rgb+flow+obj concatenated)', '14 / 8'),
                           ('AVTHead, AVT protocol', '10 / 1'),
                           ('AFFTHead (SA-Fuser)', '14 / 8'),
                           ('AFFTHead, AFFT protocol', '18 / 1')):
        assert table.count(f'| {name} | {protocol} | 4 |') == 2
    assert table.count('| fp32 |') == table.count('| bf16 autocast |') == 5
