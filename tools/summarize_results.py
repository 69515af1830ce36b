r"""Collect test results of several runs into the paper's table and a plot.

Each ROW argument is a folder holding the runs of one table row (one per
seed, e.g. ``work_dirs/lstm_demo_vn/seed0``, ``.../seed1``), or several
such folders joined by ``:`` (``os.pathsep``). Below it, each run
counts once, with one result:

- a run folder with a ``done.json`` (``tools/sweep.py``'s record of a
  finished run): the test result it names, never another one beside it;
- otherwise each ``tools/test.py`` result, the ``<timestamp>/<timestamp>
  .json`` that mmengine writes after testing (``<work_dir>/<timestamp>/``):
  the newest of each work_dir.

Files are recognised by their place: training logs (``vis_data/*.json``)
and other JSON files are not results. A result file that does not parse
(cut short by a full disk or a kill) is an error naming it, as is a
``done.json`` that does not parse or names a missing result.
Rows are named after their folders unless ``NAME=FOLDER`` is given::

    python tools/summarize_results.py onehot=work_dirs/lstm_demo_onehot \
        vn=work_dirs/lstm_demo_vn glvn=work_dirs/lstm_demo_glvn \
        --baseline onehot --out work_dirs/summary

writes ``summary.md`` (mean +- std over seeds at each anticipation time,
each row with its number of runs, and an "Improv." row: best row minus the
baseline, with the run counts compared), ``summary.csv`` and ``summary.png``
(accuracy vs anticipation time). With ``--expect-runs N`` a row with
another number of runs is flagged (``2 runs, 3 expected``) wherever it is
shown, and the exit status is 1.

A measure without an anticipation time (a recognizer's ``acc/top1`` from
mmaction's AccMetric, a fraction; ``--metric top1 --select top1``) is one
column, shown in percent, and the plot shows it per row.

With ``--choose alpha`` the rows are named as ``tools/sweep.py`` names them
(``prior=vn alpha=0.1``): rows that differ only in ``alpha=`` form one
group, and in each group the alpha with the best mean ``--select`` measure
(default ``action_top5@1.00s``, RU-LSTM's checkpoint choice) is chosen.
The outputs add the ``--select`` measure by alpha (each cell with its
number of runs), and the "Improv." row and the plot use the chosen row of
each group.
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np

from lsant_mmaction.evaluation.functional import parse_measure_name


def parse_args():
    parser = argparse.ArgumentParser(
        description='Summarize test results (mean +- std over seeds)',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('rows', nargs='+', help='[NAME=]FOLDER per row')
    parser.add_argument('--metric', default='action_top5',
                        help='measure to tabulate, e.g. action_top5, '
                        'verb_top1, action_mt5r (default: action_top5)')
    parser.add_argument('--baseline', help='row for the "Improv." row')
    parser.add_argument('--choose', metavar='KEY',
                        help='group rows named "... KEY=V ..." by the rest '
                        'of their name and choose the best V of each group '
                        'on --select')
    parser.add_argument('--select', default='action_top5@1.00s',
                        help='the measure --choose maximises (default: '
                        '%(default)s)')
    parser.add_argument('--expect-runs', type=int, metavar='N',
                        help='the runs each row should have (e.g. its '
                        'seeds): a row with another count is flagged and '
                        'the exit status is 1')
    parser.add_argument('--title', default='', help='plot title')
    parser.add_argument('--out', required=True,
                        help='output prefix: writes .md, .csv and .png')
    return parser.parse_args()


#: tools/sweep.py's record of a finished run, in the run's folder
SWEEP_RECORD = 'done.json'


#: mmengine's entries of a test result that are not measures
NOT_MEASURES = ('data_time', 'time', 'step')


def plain_measure(key: str) -> Optional[str]:
    """``'top1'`` for a measure without an anticipation time (``acc/top1``);
    None for anticipation measures and mmengine's timings."""
    if parse_measure_name(key) is not None:
        return None
    name = key.split('/')[-1]
    return None if name in NOT_MEASURES else name


def is_test_result(path: str) -> bool:
    """Whether ``path`` has the place of a test result:
    ``<work_dir>/<timestamp>/<timestamp>.json``, as mmengine's LoggerHook
    writes it after testing (training logs are ``<timestamp>/vis_data/
    scalars.json`` and ``<timestamp>/vis_data/<timestamp>.json``)."""
    stem, ext = osp.splitext(osp.basename(path))
    return ext == '.json' and osp.basename(osp.dirname(path)) == stem


def read_result(path: str) -> Dict[str, float]:
    """The measures of the test result file ``path``; an error naming the
    file when it does not parse or holds no measure."""
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, ValueError) as e:  # ValueError: JSON and UTF-8 errors
        raise ValueError(
            f'{path}: unreadable test result ({type(e).__name__}: {e}); a '
            'file cut short (disk full, process killed while writing)? '
            'Test the run again, or delete the file') from e
    if not isinstance(result, dict) or not any(
            parse_measure_name(k) or plain_measure(k) for k in result):
        keys = sorted(result)[:8] if isinstance(result, dict) else \
            type(result).__name__
        raise ValueError(f'{path}: a test result file (<timestamp>/'
                         '<timestamp>.json) without measures '
                         f'({keys})')
    return result


def recorded_result(record: str) -> str:
    """The result file that the sweep record ``record`` (a ``done.json``)
    names; an error naming the record when it does not parse or the file
    is missing."""
    try:
        with open(record) as f:
            result = json.load(f)['result']
        if not isinstance(result, str):
            raise TypeError(f'result is {result!r}, not a path')
    except (OSError, ValueError, KeyError, TypeError) as e:
        what = type(e).__name__
        raise ValueError(
            f'{record}: unreadable record of a finished run ({what}: {e}); '
            'delete it and run the sweep again (the run is tested '
            'again)') from e
    run = osp.dirname(record)
    path = osp.join(run, result)  # relative to the run folder
    if not osp.isfile(path) and osp.isfile(result) and osp.realpath(
            result).startswith(osp.realpath(run) + os.sep):
        path = result  # older sweeps: relative to where the sweep ran
    if not osp.isfile(path):
        raise ValueError(f'{record} names the test result {result}, which '
                         f'does not exist ({path})')
    return path


def find_runs(folder: str) -> List[Tuple[str, Dict[str, float]]]:
    """``(result file, measures)`` of each run below ``folder`` (several
    folders joined by ``os.pathsep``): the result its ``done.json`` names,
    or the newest test result of each work_dir without one."""
    runs = {}  # run folder -> its result file
    for part in folder.split(os.pathsep):
        if not osp.isdir(part):
            raise FileNotFoundError(f'results folder not found: {part}')
        recorded = {}
        for record in sorted(glob.glob(osp.join(part, '**', SWEEP_RECORD),
                                       recursive=True)):
            recorded[osp.dirname(record)] = recorded_result(record)
        found = {}
        for path in sorted(glob.glob(osp.join(part, '**', '*.json'),
                                     recursive=True)):
            if not is_test_result(path) or any(
                    path.startswith(run + os.sep) for run in recorded):
                continue  # not a result, or its run's record names one
            # <run>/<timestamp>/<timestamp>.json; sorted: newest last
            found[osp.dirname(osp.dirname(path))] = path
        for run, path in {**recorded, **found}.items():
            key = osp.realpath(run)
            if key in runs:
                raise ValueError(f'{run}: one run in two folders of the same '
                                 f'row ({folder})')
            runs[key] = path
    if not runs:
        raise ValueError(
            f'{folder}: no test results (the <timestamp>/<timestamp>.json '
            'written by tools/test.py) found below it')
    return [(path, read_result(path)) for path in runs.values()]


def _finite(key: str, value, source: str) -> float:
    """A result value as a float; anything else (NaN, inf, text) is an
    error naming the run folder and the key, not a "nan" in the table."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float('nan')
    if not np.isfinite(number):
        raise ValueError(f'{source}: {key} is {value!r}, not a finite '
                         'number (a damaged result file?)')
    return number


def horizons(result: Dict[str, float], metric: str, source: str) -> Dict:
    """``{seconds: value}`` of one measure in one result; ``{None: value}``
    (in percent) for a measure without a time."""
    values = {}
    for key, value in result.items():
        parsed = parse_measure_name(key)
        if parsed and parsed[0] == metric:
            values[parsed[1]] = _finite(key, value, source)
        elif plain_measure(key) == metric:
            values[None] = 100 * _finite(key, value, source)
    if not values:
        names = sorted({p[0] for p in map(parse_measure_name, result) if p}
                       | {plain_measure(k) for k in result} - {None})
        raise ValueError(f'{source}: no {metric!r} results (has {names})')
    return values


def selected(result: Dict[str, float], select: str, source: str) -> float:
    """The value of measure ``select`` (``action_top5@1.00s``, or ``top1``
    in percent)."""
    wanted = parse_measure_name(select)
    for key, value in result.items():
        if wanted is not None and parse_measure_name(key) == wanted:
            return _finite(key, value, source)
        if wanted is None and plain_measure(key) == select:
            return 100 * _finite(key, value, source)
    raise ValueError(f'{source}: no {select!r} result')


def collect(rows: List[str], metric: str, select: Optional[str] = None):
    """Per row: runs x horizons array, with the common horizons, and (with
    ``select``) the runs' values of that measure."""
    table, times, chosen_by = {}, None, {}
    for spec in rows:
        name, _, folder = spec.rpartition('=')
        first = folder.split(os.pathsep)[0]
        name = name or osp.basename(osp.normpath(first))
        if name in table:
            raise ValueError(f'row {name!r} given twice')
        results = find_runs(folder)
        runs = [horizons(r, metric, path) for path, r in results]
        if select:
            chosen_by[name] = np.array(
                [selected(r, select, path) for path, r in results])
        row_times = sorted(runs[0], reverse=True)
        for run in runs:
            if sorted(run, reverse=True) != row_times:
                raise ValueError(f'{folder}: runs with different '
                                 'anticipation times')
        if times is None:
            times = row_times
        elif row_times != times:
            raise ValueError(
                f'{folder}: anticipation times {row_times} differ from the '
                f'other rows\' {times} (results of another setting?)')
        table[name] = np.array([[run[t] for t in times] for run in runs])
    return table, times, chosen_by


def split_name(name: str, key: str) -> Tuple[str, Optional[str]]:
    """``('prior=vn', '0.1')`` for ``('prior=vn alpha=0.1', 'alpha')``."""
    tokens = name.split(' ')
    value = next((t.split('=', 1)[1] for t in tokens
                  if t.startswith(key + '=')), None)
    return ' '.join(t for t in tokens if not t.startswith(key + '=')), value


def choose(table, chosen_by, key):
    """``{group: chosen row}``: per group of rows that differ only in
    ``key``, the row with the best mean of the selection measure (the
    first of equals, in the order given)."""
    groups = {}
    for name in table:
        groups.setdefault(split_name(name, key)[0], []).append(name)
    return {group: max(names, key=lambda n: chosen_by[n].mean())
            for group, names in groups.items()}


def _number(text):
    """``text`` as a float when it is one (alpha values), else as is."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


def _order(text):
    """Sort key: numbers by value, then other values by name."""
    value = _number(text)
    return (0, value, '') if isinstance(value, float) else (1, 0.0, text)


def runs_label(count: int, expect: Optional[int] = None) -> str:
    """``'3 runs'``, or ``'2 runs, 3 expected'`` when ``expect`` differs."""
    if expect is None or count == expect:
        return f'{count} runs'
    return f'{count} runs, {expect} expected'


def _mean_std(values: np.ndarray) -> str:
    return f'{values.mean():.2f} ± {values.std():.2f}'


def column(seconds: Optional[float]) -> str:
    """``'1.00s'``; ``'test'`` for a measure without a time."""
    return 'test' if seconds is None else f'{seconds:.2f}s'


def table_lines(table, times, metric, names, expect=None):
    header = [column(t) for t in times]
    lines = [f'| {metric} (%) | ' + ' | '.join(header) + ' |',
             '|---|' + '---|' * len(times)]
    for name in names:
        runs = table[name]
        mean, std = runs.mean(0), runs.std(0)
        lines.append(f'| {name} ({runs_label(len(runs), expect)}) | ' +
                     ' | '.join(f'{m:.2f} ± {s:.2f}'
                                for m, s in zip(mean, std)) + ' |')
    return lines


def by_key_lines(table, chosen_by, chosen, key, select, baseline,
                 expect=None):
    """The selection measure of every row, one line per group, one column
    per value of ``key``; each cell with its number of runs."""
    values = sorted({split_name(n, key)[1] for n in table} - {None},
                    key=_order)
    lines = [f'| {select} (%) by {key} | ' + ' | '.join(values) + ' |',
             '|---|' + '---|' * len(values)]
    for group, best in chosen.items():
        if split_name(best, key)[1] is None:
            continue  # a group without the key (one-hot)
        cells = []
        for value in values:
            name = next((n for n in table if split_name(n, key) ==
                         (group, value)), None)
            if name is None:
                cells.append('')
                continue
            runs = chosen_by[name]
            cell = _mean_std(runs)
            cell = f'**{cell}**' if name == best else cell
            cells.append(f'{cell} ({runs_label(len(runs), expect)})')
        lines.append(f'| {group} | ' + ' | '.join(cells) + ' |')
    if baseline is not None:
        runs = chosen_by[baseline]
        lines.append(f'\n{baseline}: {_mean_std(runs)} '
                     f'({runs_label(len(runs), expect)})')
    return lines


def _counts(table, names) -> str:
    """``'3'``, or ``'2-3'`` when the rows have different run counts."""
    counts = sorted({len(table[n]) for n in names})
    return str(counts[0]) if len(counts) == 1 else \
        f'{counts[0]}-{counts[-1]}'


def write_outputs(table, times, metric, baseline, out, title,
                  chosen_by=None, key=None, select=None, expect=None) -> int:
    """Write the .md, .csv and .png outputs and print the tables; 1 when a
    row has another number of runs than ``expect`` (flagged), else 0."""
    if baseline is not None and baseline not in table:
        raise ValueError(f'baseline {baseline!r} is not a row: '
                         f'{sorted(table)}')
    header = [column(t) for t in times]
    lines = table_lines(table, times, metric, list(table), expect)
    rows_csv = [['row', 'runs'] + [f'{h}_{s}' for h in header
                                   for s in ('mean', 'std')]]
    for name, runs in table.items():
        rows_csv.append([name, len(runs)] + [
            f'{v:.4f}' for pair in zip(runs.mean(0), runs.std(0))
            for v in pair])
    compared = list(table)  # the rows of the "Improv." row
    chosen = None
    if key is not None:
        chosen = choose(table, chosen_by, key)
        compared = list(chosen.values())
        lines += ['', f'Best {key} of each row on {select} (mean over '
                  'seeds; chosen in bold), from these same runs:', '']
        lines += by_key_lines(table, chosen_by, chosen, key, select,
                              baseline, expect)
        lines += ['', f'With the chosen {key}:', '']
        lines += table_lines(table, times, metric, compared, expect)
    if baseline is not None:
        others = [n for n in compared if n != baseline]
        if others:
            means = np.stack([table[n].mean(0) for n in others])
            gain = means.max(0) - table[baseline].mean(0)
            # the run counts of the rows compared and of the baseline
            counts = f'{_counts(table, others)} vs {len(table[baseline])}'
            lines.append(f'| Improv. ({counts} runs) | ' + ' | '.join(
                f'{g:+.2f}' for g in gain) + ' |')
            rows_csv.append(['Improv.', counts] + [
                f'{v:.4f}' for g in gain for v in (g, 0.0)])
    flagged = [n for n in table
               if expect is not None and len(table[n]) != expect]
    if flagged:
        lines += ['', f'WARNING: {len(flagged)} of {len(table)} rows have '
                  f'another number of runs than the {expect} expected '
                  '(failed or missing runs), so their means are not '
                  'comparable with the others\': ' + ', '.join(
                      f'{n} ({len(table[n])} runs)' for n in flagged)]
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out + '.md', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(out + '.csv', 'w', newline='') as f:
        csv.writer(f).writerows(rows_csv)
    plot(table, times, metric, out + '.png', title, compared, chosen,
         chosen_by, key, select, baseline)
    print('\n'.join(lines))
    print(f'\nwrote {out}.md, {out}.csv, {out}.png')
    if flagged:
        print(lines[-1], file=sys.stderr)
        return 1
    return 0


def plot(table, times, metric, path, title, shown, chosen=None,
         chosen_by=None, key=None, select=None, baseline=None):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = 2 if chosen else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), dpi=120,
                             squeeze=False)
    # one colour per row (per group with --choose) in both panels
    cycle = plt.rcParams['axes.prop_cycle'].by_key()['color']
    group_of = {n: split_name(n, key)[0] if key else n for n in table}
    colour = {g: cycle[i % len(cycle)] for i, g in enumerate(
        dict.fromkeys(group_of[n] for n in shown))}
    ax = axes[0, 0]
    if times == [None]:  # no anticipation times: one bar per row
        for i, name in enumerate(shown):
            runs = table[name]
            ax.bar(i, runs.mean(), yerr=runs.std(), capsize=3,
                   label=f'{name} ({len(runs)} runs)',
                   color=colour[group_of[name]])
        ax.set_xticks(range(len(shown)), [''] * len(shown))
    else:
        for name in shown:
            runs = table[name]
            ax.errorbar(times, runs.mean(0), yerr=runs.std(0), marker='o',
                        capsize=3, label=f'{name} ({len(runs)} runs)',
                        color=colour[group_of[name]])
        ax.set_xlabel('anticipation time (s)')
        ax.invert_xaxis()  # from 2.0 s down to 0.25 s, as in the paper
    ax.set_ylabel(f'{metric} (%)')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    if chosen:  # the selection measure against the key, per group
        ax = axes[0, 1]
        numeric, ticks = True, set()
        for group in chosen:
            names = [n for n in table if split_name(n, key)[0] == group
                     and split_name(n, key)[1] is not None]
            if not names:
                continue
            xs = [_number(split_name(n, key)[1]) for n in names]
            numeric &= all(isinstance(x, float) for x in xs)
            order = sorted(range(len(xs)), key=lambda i: _order(xs[i]))
            ax.errorbar([xs[i] for i in order],
                        [chosen_by[names[i]].mean() for i in order],
                        yerr=[chosen_by[names[i]].std() for i in order],
                        marker='o', capsize=3, label=group,
                        color=colour.get(group))
            ticks.update(xs)
        if baseline is not None:
            ax.axhline(chosen_by[baseline].mean(), color='k', ls='--',
                       label=baseline)
        if numeric:
            ax.set_xscale('log')
            ax.set_xticks(sorted(ticks), [f'{t:g}' for t in sorted(ticks)])
            ax.minorticks_off()
        ax.set_xlabel(key)
        ax.set_ylabel(f'{select} (%)')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f'{select} by {key}')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    args = parse_args()
    table, times, chosen_by = collect(
        args.rows, args.metric, args.select if args.choose else None)
    return write_outputs(table, times, args.metric, args.baseline,
                         args.out, args.title, chosen_by, args.choose,
                         args.select, args.expect_runs)


if __name__ == '__main__':
    sys.exit(main())
