"""Figures the docs present as program output are that output.

The README's demo table is what command 1 prints: ``bash tools/demo.sh``
is run as the README says (seeded, deterministic on the CPU) and its
table compared with the README's, character for character. The sweep
tables of docs/priors.md (hours of CPU) are checked to be one consistent
summary each, the front page's results table to repeat them, and every
table of results (mean ± std) on a page to follow, in its section, the
command that made it."""
import glob
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from ..conftest import ROOT

README = osp.join(ROOT, 'README.md')
PRIORS_PAGE = osp.join(ROOT, 'docs', 'priors.md')
BEGIN = '<!-- demo-table: begin -->'
END = '<!-- demo-table: end -->'


def readme_table() -> str:
    """The table between the README's demo-table markers."""
    text = open(README, encoding='utf-8').read()
    match = re.search(re.escape(BEGIN) + r'\n```\n(.*?)```\n' + re.escape(END),
                      text, re.S)
    assert match, f'{README}: no demo table between {BEGIN} and {END}'
    return match.group(1)


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    """Command 1's demo part, in a folder of its own (DEMO_DIR), with the
    thread count of the machine the README's table was made on."""
    folder = tmp_path_factory.mktemp('demo_sh')
    env = dict(os.environ, DEMO_DIR=str(folder), PYTHON=sys.executable,
               OMP_NUM_THREADS='2')
    env.pop('MKL_NUM_THREADS', None)
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', 'demo.sh')],
                          env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return folder, proc.stdout


def test_readme_demo_table_is_what_the_demo_prints(demo_run):
    folder, stdout = demo_run
    written = open(osp.join(folder, 'work_dirs', 'lstm_demo_glvn', 'test',
                            'results.md')).read()
    assert written in stdout  # the file holds exactly what was printed
    assert written.startswith('Anticipation results (%) on 318 segments\n')
    assert written == readme_table(), (
        'README.md\'s demo table differs from what `bash tools/demo.sh` '
        f'printed; paste the new table:\n{written}')


def _cells(line: str) -> list:
    return [c.strip() for c in line.strip().strip('|').split('|')]


def _mean(cell: str) -> float:
    return float(cell.replace('*', '').split('±')[0])


def readme_sweep_tables():
    """The demo sweep tables of docs/priors.md: ``(by_alpha, onehot, times,
    by_time)`` per sweep, as ``tools/sweep.py`` printed them
    (``summary.md``)."""
    lines = open(PRIORS_PAGE, encoding='utf-8').read().splitlines()
    sweeps = []
    for i, line in enumerate(lines):
        if not line.startswith('| action_top5@1.00s (%) by alpha |'):
            continue
        by_alpha = {}
        j = i + 2
        while lines[j].startswith('| prior='):
            name, *cells = _cells(lines[j])
            by_alpha[name] = cells
            j += 1
        onehot = next(float(l.split(':')[1].split('±')[0])
                      for l in lines[j:j + 4] if l.startswith('prior=onehot:'))
        k = next(n for n in range(j, len(lines))
                 if lines[n].startswith('| action_top5 (%) |'))
        times = _cells(lines[k])[1:]
        by_time = {}
        for row in lines[k + 2:]:
            if not row.startswith('|'):
                break
            name, *cells = _cells(row)
            by_time[name] = cells
        sweeps.append((by_alpha, onehot, times, by_time))
    return sweeps


def test_priors_page_sweep_tables_are_consistent():
    """The sweep tables cannot be re-run here (hours of CPU): check that
    they are one summary, as the sweep prints it: the bold alpha is each
    prior's best, the chosen rows are those alphas with the bold figure at
    1 s, one-hot's figure is its row's, and "Improv." is the best chosen
    row minus one-hot at every time (2-decimal rounding of both)."""
    sweeps = readme_sweep_tables()
    assert len(sweeps) == 4  # LSTM (two sweeps), AVT-h, AFFT
    for by_alpha, onehot, times, by_time in sweeps:
        at_1s = times.index('1.00s')
        assert _mean(by_time['prior=onehot (3 runs)'][at_1s]) == onehot
        chosen = []
        for prior, cells in by_alpha.items():
            bold = [c for c in cells if c.startswith('**')]
            assert len(bold) == 1, prior
            assert _mean(bold[0]) == max(_mean(c) for c in cells), prior
            matches = [n for n in by_time if n.startswith(prior + ' alpha=')]
            assert len(matches) == 1, prior
            assert _mean(by_time[matches[0]][at_1s]) == _mean(bold[0])
            chosen.append(by_time[matches[0]])
        base = [_mean(c) for c in by_time['prior=onehot (3 runs)']]
        # 'Improv.', or 'Improv. (3 vs 3 runs)' since the run counts
        improv = next(v for k, v in by_time.items()
                      if k.split(' (')[0] == 'Improv.')
        for t, cell in enumerate(improv):
            best = max(_mean(row[t]) for row in chosen)
            assert abs(float(cell) - (best - base[t])) <= 0.011, times[t]


def test_readme_results_summary_is_the_sweeps_chosen_rows():
    """The front page's results table repeats, for each demo sweep of
    docs/priors.md in order, one-hot's figure at 1 s and the best chosen
    row's (prior, alpha and figure), so it cannot drift from them."""
    text = open(README, encoding='utf-8').read()
    match = re.search(r'<!-- results-summary: begin -->\n(.*?)'
                      r'<!-- results-summary: end -->', text, re.S)
    assert match, f'{README}: no results-summary markers'
    rows = [_cells(line) for line in match.group(1).splitlines()[2:]]
    sweeps = readme_sweep_tables()
    assert len(rows) == len(sweeps)
    for row, (by_alpha, onehot, times, by_time) in zip(rows, sweeps):
        at_1s = times.index('1.00s')
        assert row[1] == by_time['prior=onehot (3 runs)'][at_1s], row
        chosen = {n: cells[at_1s] for n, cells in by_time.items()
                  if ' alpha=' in n}
        best = max(chosen, key=lambda n: _mean(chosen[n]))
        prior, alpha = re.match(r'prior=(\w+) alpha=([\d.]+)', best).groups()
        assert row[2] == f'{prior}, alpha {alpha}: {chosen[best]}', row


def test_readme_example_is_the_custom_base():
    """The front page's "Use it with your features" lines are lines of
    configs/_base_/datasets/custom_features.py, as they are there."""
    text = open(README, encoding='utf-8').read()
    section = text.split('## Use it with your features')[1].split('\n## ')[0]
    block = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    base = open(osp.join(ROOT, 'configs', '_base_', 'datasets',
                         'custom_features.py'), encoding='utf-8').read()
    lines = block.strip().splitlines()
    assert len(lines) >= 5
    missing = [line for line in lines if line not in base.splitlines()]
    assert not missing, missing


COMMANDS = ('tools/sweep.py', 'tools/summarize_results.py', 'tools/demo.sh')


def test_every_results_table_names_its_command():
    """A table of mean ± std figures on README.md or a docs/ page follows,
    in its section (since the last heading), the tool that printed it."""
    pages = [README] + sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))
    tables, orphans = 0, []
    for page in pages:
        section, fence = [], False
        for line in open(page, encoding='utf-8').read().splitlines():
            fence = fence != line.startswith('```')
            if line.startswith('#') and not fence:
                section = []
            elif line.startswith('|') and re.search(r'\d ± \d', line):
                tables += 1
                if not any(c in '\n'.join(section) for c in COMMANDS):
                    orphans.append((osp.relpath(page, ROOT), line[:60]))
                section.append(line)
                continue
            section.append(line)
    assert tables > 30  # the sweeps' tables are read
    assert not orphans, orphans
