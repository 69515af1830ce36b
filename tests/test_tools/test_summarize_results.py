import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from ..conftest import ROOT, load_tool, run_tool

TOOL = osp.join(ROOT, 'tools', 'summarize_results.py')
TIMES = ['2.00', '1.75', '1.50', '1.25', '1.00', '0.75', '0.50', '0.25']


def write_result(work_dir, values, stamp='20260101_000000'):
    """tools/test.py's result in ``work_dir``: <ts>/<ts>.json."""
    run = work_dir / stamp
    run.mkdir(parents=True)
    result = {f'anticipation/action_top5@{t}s': v
              for t, v in zip(TIMES, values)}
    result.update({f'anticipation/action_top1@{t}s': v / 2
                   for t, v in zip(TIMES, values)})
    (run / f'{stamp}.json').write_text(json.dumps(result))
    return run


def fabricate(root, row, seed, values, stamp='20260101_000000'):
    """A run folder as tools/train.py and tools/test.py leave it."""
    run = write_result(root / row / f'seed{seed}', values, stamp)
    # a training log next to it (JSON lines) must be ignored
    (run / 'scalars.json').write_text('{"loss": 1}\n{"loss": 0.5}\n')
    # and the training's own logs, in mmengine's places: one line of
    # validation measures parses as a dict of measures, yet it is no result
    logs = root / row / f'seed{seed}' / '20240101_000000' / 'vis_data'
    logs.mkdir(parents=True, exist_ok=True)
    val = json.dumps({f'anticipation/action_top5@{t}s': 999.0
                      for t in TIMES})
    (logs / 'scalars.json').write_text(val + '\n')
    (logs / '20240101_000000.json').write_text(val + '\n')
    return run / f'{stamp}.json'


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
    assert '| Improv. (3 vs 3 runs) | +3.00 |' in table
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
    assert ('| prior=vn | 32.43 ± 0.82 (3 runs) | **33.43 ± 0.82** '
            '(3 runs) |') in table
    assert ('| prior=gl | **30.43 ± 0.82** (3 runs) | 28.43 ± 0.82 '
            '(3 runs) |') in table
    assert 'prior=onehot: 31.43 ± 0.82 (3 runs)' in table
    chosen = table.split('With the chosen alpha:')[1]
    assert '| prior=vn alpha=0.5 (3 runs) |' in chosen
    assert '| prior=gl alpha=0.1 (3 runs) |' in chosen
    assert 'prior=vn alpha=0.1' not in chosen
    # Improv.: best chosen row (vn 0.5: base + 1, +2 at 1 s) minus onehot
    assert ('| Improv. (3 vs 3 runs) | +1.00 | +1.00 | +1.00 | +1.00 | +2.00 |'
            ' +1.00 |') in chosen
    assert open(out + '.png', 'rb').read(4) == b'\x89PNG'


def test_non_finite_result_is_an_error(tmp_path):
    fabricate(tmp_path, 'a', 0, np.arange(8.0))
    fabricate(tmp_path, 'b', 0, np.full(8, np.nan))  # a damaged result
    err = fails([f'{tmp_path}/a', f'{tmp_path}/b', '--out',
                 str(tmp_path / 'o')])
    assert 'action_top5@2.00s is nan, not a finite number' in err
    assert str(tmp_path / 'b') in err



def test_damaged_result_is_an_error(tmp_path):
    """A result file cut short is refused with its path, not taken for a
    training log while an older result of the run stands in for it."""
    fabricate(tmp_path, 'a', 0, np.full(8, 11.45), stamp='20250101_000000')
    newest = fabricate(tmp_path, 'a', 0, np.full(8, 31.45))
    text = newest.read_text()
    newest.write_text(text[:len(text) // 2])  # killed while writing
    err = fails([f'{tmp_path}/a', '--out', str(tmp_path / 'o')])
    assert f'{newest}: unreadable test result' in err
    assert not (tmp_path / 'o.md').exists()
    # a file in a result's place that holds no measures
    summarize = load_tool(TOOL)
    newest.write_text('[1, 2]')
    with pytest.raises(ValueError, match=f'{newest}: a test result file'):
        summarize.find_runs(str(tmp_path / 'a'))


def record(run, result, **extra):
    """tools/sweep.py's done.json of a finished run."""
    (run / 'done.json').write_text(json.dumps(dict(result=result, **extra)))


def test_the_sweep_record_names_the_result(tmp_path):
    """A run with a done.json counts with the result it names (the sweep's
    finished test), never with another result beside it."""
    summarize = load_tool(TOOL)
    # seed0/: the training (its logs), test/<ts>/<ts>.json, done.json
    run = fabricate(tmp_path, 'a', 0, np.full(8, 1.0)).parent.parent
    done = write_result(run / 'test', np.full(8, 31.45)) / \
        '20260101_000000.json'
    # a later result in the same test folder (a manual re-test of another
    # checkpoint) and the older one in the run itself: neither counts
    write_result(run / 'test', np.full(8, 11.45), stamp='20270101_000000')
    record(run, 'test/20260101_000000/20260101_000000.json')
    [(path, result)] = summarize.find_runs(str(tmp_path / 'a'))
    assert path == str(done)
    assert result['anticipation/action_top5@1.00s'] == 31.45
    # the named result cut short: an error naming it, no older stand-in
    done.write_text(done.read_text()[:40])
    with pytest.raises(ValueError, match=f'{done}: unreadable test result'):
        summarize.find_runs(str(tmp_path / 'a'))
    # a record naming a missing file, a damaged record
    record(run, 'test/nothing/nothing.json')
    with pytest.raises(ValueError, match=f'{run}/done.json names the test '
                       'result test/nothing/nothing.json, which does not'):
        summarize.find_runs(str(tmp_path / 'a'))
    (run / 'done.json').write_text('{"result": "te')
    err = fails([f'{tmp_path}/a', '--out', str(tmp_path / 'o')])
    assert f'{run}/done.json: unreadable record of a finished run' in err


def test_rows_of_given_run_folders(tmp_path):
    """A row of several folders joined by os.pathsep: those runs only (a
    seed left from another call is not averaged in); a run given twice is
    an error."""
    summarize = load_tool(TOOL)
    for seed, value in ((0, 10.0), (1, 20.0), (5, 90.0)):
        fabricate(tmp_path, 'a', seed, np.full(8, value))
    row = os.pathsep.join(str(tmp_path / 'a' / f'seed{s}') for s in (0, 1))
    table, _, _ = summarize.collect([f'vn={row}'], 'action_top5')
    assert table['vn'].shape == (2, 8) and table['vn'].mean() == 15.0
    twice = os.pathsep.join([str(tmp_path / 'a'), row])
    with pytest.raises(ValueError, match='one run in two folders'):
        summarize.collect([f'vn={twice}'], 'action_top5')
    missing = os.pathsep.join([row, str(tmp_path / 'a' / 'seed2')])
    with pytest.raises(FileNotFoundError, match=f'{tmp_path}/a/seed2'):
        summarize.collect([f'vn={missing}'], 'action_top5')


def test_rows_with_other_run_counts_are_flagged(tmp_path):
    """--expect-runs 3: a row of 2 runs says so in the table, the by-alpha
    cell and the warning, and the exit status is 1; every cell states its
    runs."""
    base = np.linspace(20, 40, 8)
    specs = []
    for i, (name, seeds) in enumerate((('prior=onehot', 3),
                                       ('prior=vn alpha=0.1', 3),
                                       ('prior=vn alpha=0.5', 2))):
        for seed in range(seeds):
            fabricate(tmp_path, f'row{i}', seed, base + i + seed)
        specs.append(f'{name}={tmp_path}/row{i}')
    out = str(tmp_path / 'summary')
    proc = subprocess.run(
        [sys.executable, TOOL] + specs + [
            '--baseline', 'prior=onehot', '--choose', 'alpha',
            '--expect-runs', '3', '--out', out], capture_output=True,
        text=True)
    assert proc.returncode == 1, proc.stderr
    table = open(out + '.md').read()
    assert '| prior=vn alpha=0.5 (2 runs, 3 expected) |' in table
    assert '| prior=vn alpha=0.1 (3 runs) |' in table
    # vn at 1 s: alpha 0.1 32.43 + 1 = 33.43 (3 runs), 0.5 33.93 (2 runs)
    assert ('| prior=vn | 33.43 ± 0.82 (3 runs) | **33.93 ± 0.50** (2 runs, '
            '3 expected) |') in table
    assert 'prior=onehot: 32.43 ± 0.82 (3 runs)' in table
    assert '| Improv. (2 vs 3 runs) |' in table
    assert ('WARNING: 1 of 3 rows have another number of runs than the 3 '
            'expected') in proc.stderr
    assert 'prior=vn alpha=0.5 (2 runs)' in proc.stderr
