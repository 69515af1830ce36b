import json
import os.path as osp
import subprocess
import sys

import numpy as np

from ..conftest import ROOT, run_tool

TOOL = osp.join(ROOT, 'tools', 'summarize_results.py')
TIMES = ['2.00', '1.75', '1.50', '1.25', '1.00', '0.75', '0.50', '0.25']


def fabricate(root, row, seed, values, stamp='20260101_000000'):
    """A run folder as tools/test.py leaves it: <ts>/<ts>.json."""
    run = root / row / f'seed{seed}' / stamp
    run.mkdir(parents=True)
    result = {f'anticipation/action_top5@{t}s': v
              for t, v in zip(TIMES, values)}
    result.update({f'anticipation/action_top1@{t}s': v / 2
                   for t, v in zip(TIMES, values)})
    (run / f'{stamp}.json').write_text(json.dumps(result))
    # a training log next to it (JSON lines) must be ignored
    (run / 'scalars.json').write_text('{"loss": 1}\n{"loss": 0.5}\n')


def test_table_csv_and_plot(tmp_path):
    base = np.linspace(20, 40, 8)
    for seed, shift in enumerate((0, 1, 2)):
        fabricate(tmp_path, 'onehot', seed, base + shift)
        fabricate(tmp_path, 'glvn', seed, base + 3 + shift)
    # a re-test of seed 0 of glvn: only the newest counts
    fabricate(tmp_path, 'glvn', 0, base + 100, stamp='20250101_000000')
    out = str(tmp_path / 'summary')
    proc = run_tool([TOOL, f'onehot={tmp_path}/onehot',
                     f'glvn={tmp_path}/glvn', '--baseline', 'onehot',
                     '--out', out])
    table = open(out + '.md').read()
    # mean over seeds 21, std sqrt(2/3) at 2.00 s for onehot
    assert '| onehot (3 runs) | 21.00 ± 0.82 |' in table
    assert '| glvn (3 runs) | 24.00 ± 0.82 |' in table
    assert '| Improv. | +3.00 |' in table
    assert proc.stdout.startswith('| action_top5 (%) | 2.00s |')
    rows = open(out + '.csv').read().splitlines()
    assert rows[0].startswith('row,runs,2.00s_mean,2.00s_std')
    assert rows[1].startswith('onehot,3,21.0000,0.8165')
    assert open(out + '.png', 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    # another measure from the same results
    run_tool([TOOL, f'{tmp_path}/onehot', '--metric', 'action_top1',
              '--out', str(tmp_path / 'top1')])
    assert '| onehot (3 runs) | 10.50 ±' in open(tmp_path / 'top1.md').read()


def fails(args):
    proc = subprocess.run([sys.executable, TOOL] + args, capture_output=True,
                          text=True)
    assert proc.returncode != 0
    return proc.stderr


def test_bad_inputs(tmp_path):
    (tmp_path / 'empty' / 'seed0').mkdir(parents=True)
    assert 'no test results' in fails([str(tmp_path / 'empty'), '--out',
                                       str(tmp_path / 'o')])
    assert 'results folder not found' in fails([str(tmp_path / 'nope'),
                                                '--out', str(tmp_path / 'o')])
    fabricate(tmp_path, 'a', 0, np.arange(8.0))
    assert "no 'verb_top5' results" in fails([
        str(tmp_path / 'a'), '--metric', 'verb_top5', '--out',
        str(tmp_path / 'o')])
    # a result with other anticipation times (another setting)
    run = tmp_path / 'b' / 'seed0' / 'x'
    run.mkdir(parents=True)
    (run / 'x.json').write_text(json.dumps(
        {'anticipation/action_top5@1.00s': 1.0}))
    assert 'differ from the other rows' in fails([
        str(tmp_path / 'a'), str(tmp_path / 'b'), '--out',
        str(tmp_path / 'o')])
    assert "baseline 'zzz' is not a row" in fails([
        str(tmp_path / 'a'), '--baseline', 'zzz', '--out',
        str(tmp_path / 'o')])


def test_choose_alpha(tmp_path):
    """--choose alpha: per prior, the alpha with the best mean action top-5
    at 1 s (not at the other times), and the Improv. row from those."""
    base = np.linspace(20, 40, 8)
    at_1s = np.eye(8)[4]  # moves only the 1.00 s value
    rows = {
        'prior=onehot': base,
        'prior=vn alpha=0.1': base + 5 - 4 * at_1s,  # better, but not at 1 s
        'prior=vn alpha=0.5': base + 1 + 1 * at_1s,
        'prior=gl alpha=0.1': base - 1,
        'prior=gl alpha=0.5': base - 3,
    }
    specs = []
    for i, (name, values) in enumerate(rows.items()):
        folder = f'row{i}'
        for seed, shift in enumerate((-1, 0, 1)):
            fabricate(tmp_path, folder, seed, values + shift)
        specs.append(f'{name}={tmp_path}/{folder}')
    out = str(tmp_path / 'summary')
    run_tool([TOOL] + specs + ['--baseline', 'prior=onehot', '--choose',
                               'alpha', '--out', out])
    table = open(out + '.md').read()
    # at 1 s: onehot 31.43, vn 0.1 32.43, vn 0.5 33.43, gl 30.43 and 28.43
    assert '| action_top5@1.00s (%) by alpha | 0.1 | 0.5 |' in table
    assert '| prior=vn | 32.43 ± 0.82 | **33.43 ± 0.82** |' in table
    assert '| prior=gl | **30.43 ± 0.82** | 28.43 ± 0.82 |' in table
    assert 'prior=onehot: 31.43 ± 0.82' in table
    chosen = table.split('With the chosen alpha:')[1]
    assert '| prior=vn alpha=0.5 (3 runs) |' in chosen
    assert '| prior=gl alpha=0.1 (3 runs) |' in chosen
    assert 'prior=vn alpha=0.1' not in chosen
    # Improv.: best chosen row (vn 0.5: base + 1, +2 at 1 s) minus onehot
    assert '| Improv. | +1.00 | +1.00 | +1.00 | +1.00 | +2.00 | +1.00 |' \
        in chosen
    assert open(out + '.png', 'rb').read(4) == b'\x89PNG'


def test_non_finite_result_is_an_error(tmp_path):
    fabricate(tmp_path, 'a', 0, np.arange(8.0))
    fabricate(tmp_path, 'b', 0, np.full(8, np.nan))  # a damaged result
    err = fails([f'{tmp_path}/a', f'{tmp_path}/b', '--out',
                 str(tmp_path / 'o')])
    assert 'action_top5@2.00s is nan, not a finite number' in err
    assert str(tmp_path / 'b') in err

