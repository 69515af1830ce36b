"""Collect test results of several runs into the paper's table and a plot.

Each ROW argument is a folder holding the runs of one table row (one per
seed, e.g. ``work_dirs/lstm_demo_vn/seed0``, ``.../seed1``); every
``tools/test.py`` result found below it (the ``<timestamp>.json`` that
mmengine writes after testing) counts as one run, the newest per run folder.
Rows are named after their folders unless ``NAME=FOLDER`` is given::

    python tools/summarize_results.py onehot=work_dirs/lstm_demo_onehot \
        vn=work_dirs/lstm_demo_vn glvn=work_dirs/lstm_demo_glvn \
        --baseline onehot --out work_dirs/summary

writes ``summary.md`` (mean +- std over seeds at each anticipation time, and
an "Improv." row: best row minus the baseline), ``summary.csv`` and
``summary.png`` (accuracy vs anticipation time).
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
from typing import Dict, List

import numpy as np

from lsant_mmaction.evaluation.functional import parse_measure_name


def parse_args():
    parser = argparse.ArgumentParser(
        description='Summarize anticipation results (mean +- std over seeds)',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 2)[2])
    parser.add_argument('rows', nargs='+', help='[NAME=]FOLDER per row')
    parser.add_argument('--metric', default='action_top5',
                        help='measure to tabulate, e.g. action_top5, '
                        'verb_top1, action_mt5r (default: action_top5)')
    parser.add_argument('--baseline', help='row for the "Improv." row')
    parser.add_argument('--title', default='', help='plot title')
    parser.add_argument('--out', required=True,
                        help='output prefix: writes .md, .csv and .png')
    return parser.parse_args()


def find_runs(folder: str) -> List[Dict[str, float]]:
    """The newest test result of each run folder below ``folder``."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'results folder not found: {folder}')
    newest = {}
    for path in sorted(glob.glob(osp.join(folder, '**', '*.json'),
                                 recursive=True)):
        with open(path) as f:
            try:
                result = json.load(f)
            except json.JSONDecodeError:  # a training log (one dict a line)
                continue
        if not isinstance(result, dict) or not any(
                parse_measure_name(k) for k in result):
            continue
        # <run>/<timestamp>/<timestamp>.json: one entry per run folder
        run = osp.dirname(osp.dirname(path))
        newest[run] = (path, result)  # sorted paths: the last is the newest
    if not newest:
        raise ValueError(
            f'{folder}: no test results (the <timestamp>.json written by '
            'tools/test.py) found below it')
    return [result for _, result in newest.values()]


def horizons(result: Dict[str, float], metric: str, source: str) -> Dict:
    """``{seconds: value}`` of one measure in one result."""
    values = {}
    for key, value in result.items():
        parsed = parse_measure_name(key)
        if parsed and parsed[0] == metric:
            values[parsed[1]] = float(value)
    if not values:
        names = sorted({p[0] for p in map(parse_measure_name, result) if p})
        raise ValueError(f'{source}: no {metric!r} results (has {names})')
    return values


def collect(rows: List[str], metric: str):
    """Per row: runs x horizons array, with the common horizons."""
    table, times = {}, None
    for spec in rows:
        name, _, folder = spec.rpartition('=')
        name = name or osp.basename(osp.normpath(folder))
        if name in table:
            raise ValueError(f'row {name!r} given twice')
        runs = [horizons(r, metric, folder) for r in find_runs(folder)]
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
    return table, times


def write_outputs(table, times, metric, baseline, out, title):
    header = [f'{t:.2f}s' for t in times]
    lines = [f'| {metric} (%) | ' + ' | '.join(header) + ' |',
             '|---|' + '---|' * len(times)]
    rows_csv = [['row', 'runs'] + [f'{h}_{s}' for h in header
                                   for s in ('mean', 'std')]]
    for name, runs in table.items():
        mean, std = runs.mean(0), runs.std(0)
        lines.append(f'| {name} ({len(runs)} runs) | ' + ' | '.join(
            f'{m:.2f} ± {s:.2f}' for m, s in zip(mean, std)) + ' |')
        rows_csv.append([name, len(runs)] + [
            f'{v:.4f}' for pair in zip(mean, std) for v in pair])
    if baseline is not None:
        if baseline not in table:
            raise ValueError(f'baseline {baseline!r} is not a row: '
                             f'{sorted(table)}')
        others = [n for n in table if n != baseline]
        if others:
            means = np.stack([table[n].mean(0) for n in others])
            gain = means.max(0) - table[baseline].mean(0)
            lines.append('| Improv. | ' + ' | '.join(
                f'{g:+.2f}' for g in gain) + ' |')
            rows_csv.append(['Improv.', ''] + [
                f'{v:.4f}' for g in gain for v in (g, 0.0)])
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out + '.md', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    with open(out + '.csv', 'w', newline='') as f:
        csv.writer(f).writerows(rows_csv)
    plot(table, times, metric, out + '.png', title)
    print('\n'.join(lines))
    print(f'\nwrote {out}.md, {out}.csv, {out}.png')


def plot(table, times, metric, path, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, runs in table.items():
        mean, std = runs.mean(0), runs.std(0)
        ax.errorbar(times, mean, yerr=std, marker='o', capsize=3,
                    label=name)
    ax.set_xlabel('anticipation time (s)')
    ax.set_ylabel(f'{metric} (%)')
    ax.invert_xaxis()  # from 2.0 s down to 0.25 s, as in the paper
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    args = parse_args()
    table, times = collect(args.rows, args.metric)
    write_outputs(table, times, args.metric, args.baseline, args.out,
                  args.title)


if __name__ == '__main__':
    main()
