"""tools/visualize_predictions.py --segments: ids as the dataset has them
(EK100 strings such as ``P01_01_12``, EK55/EGTEA integers), and an id that
is not in the dump is an error naming it."""
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest

from ..conftest import ROOT, load_tool

CONFIG = osp.join(ROOT, 'configs', 'lstm_demo_glvn.py')
VISUALIZE = osp.join(ROOT, 'tools', 'visualize_predictions.py')
FAST = [
    f'test_dataloader.{key}'
    for key in ('num_workers=0', 'persistent_workers=False')
]

vis = load_tool(VISUALIZE)


def entries(ids, num_actions=4, seed=0):
    """Dump entries as tools/test.py --dump writes them."""
    rng = np.random.default_rng(seed)
    return [
        dict(segment_id=seg,
             pred_score=rng.dirichlet(np.ones(num_actions),
                                      8).astype(np.float32),
             gt_label=i % num_actions, verb_label=-1, noun_label=-1)
        for i, seg in enumerate(ids)
    ]


def test_string_ids_are_selected_as_given():
    results = entries(['P01_01_10', 'P01_01_12', 'P02_03_7'])
    chosen = vis.select_segments(results, ['P02_03_7', 'P01_01_12'], 'd.pkl')
    assert [seg for seg, _ in chosen] == ['P02_03_7', 'P01_01_12']
    assert chosen[0][1] is results[2] and chosen[1][1] is results[1]


def test_integer_ids_match_by_value():
    results = entries([np.int64(7), 42, 1280])
    chosen = vis.select_segments(results, ['1280', '0042', '7'], 'd.pkl')
    assert [seg for seg, _ in chosen] == [1280, 42, 7]
    assert [r is e for (_, r), e in zip(chosen, results[::-1])] == [True] * 3


@pytest.mark.parametrize('ids,wanted,missing', [
    (['P01_01_10', 'P01_01_12'], ['P01_01_12', 'P01_01_99'], "'P01_01_99'"),
    (['P01_01_10'], ['10'], "'10'"),  # no integer match for string ids
    ([1, 2, 3], ['2', 'P01_01_2', '4'], "'P01_01_2', '4'"),
])
def test_ids_not_in_the_dump_are_named(ids, wanted, missing):
    with pytest.raises(SystemExit) as error:
        vis.select_segments(entries(ids), wanted, 'preds.pkl')
    message = str(error.value)
    assert f'segment(s) {missing} not in preds.pkl' in message
    assert f'it holds {len(ids)} segments: {ids[0]!r}' in message


def test_an_id_twice_in_the_dump_is_an_error():
    with pytest.raises(SystemExit, match="preds.pkl holds segment 'P1' twice"):
        vis.select_segments(entries(['P1', 'P2', 'P1']), ['P2'], 'preds.pkl')


def run(args, cwd):
    e = dict(os.environ, OMP_NUM_THREADS='1')
    e['PYTHONPATH'] = ROOT + os.pathsep + e.get('PYTHONPATH', '')
    return subprocess.run([sys.executable, VISUALIZE] + args, cwd=cwd, env=e,
                          capture_output=True, text=True, timeout=600)


def test_tool_draws_string_ids_and_names_a_missing_one(demo_root, tmp_path):
    """A dump with EK100-style ids over the demo's actions (no checkpoint:
    predictions only)."""
    with open(osp.join(demo_root, 'data', 'demo', 'actions.csv')) as f:
        num_actions = len(f.read().splitlines()) - 1
    dump = tmp_path / 'preds.pkl'
    ids = ['P01_01_10', 'P01_01_12', 'P02_03_7']
    dump.write_bytes(pickle.dumps(entries(ids, num_actions)))
    out = tmp_path / 'vis'
    proc = run([CONFIG, str(dump), '--segments', 'P01_01_12', 'P02_03_7',
                '--out', str(out), '--cfg-options'] + FAST, demo_root)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    for seg in ('P01_01_12', 'P02_03_7'):
        assert f'segment {seg}: ground truth' in proc.stdout
        png = out / f'segment_{seg}.png'
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'

    proc = run([CONFIG, str(dump), '--segments', 'P01_01_12', 'P01_01_99',
                '--out', str(tmp_path / 'vis2'), '--cfg-options'] + FAST,
               demo_root)
    assert proc.returncode == 1
    assert (f"visualize_predictions.py: error: segment(s) 'P01_01_99' not in "
            f'{dump}') in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'vis2').exists()  # checked before drawing
