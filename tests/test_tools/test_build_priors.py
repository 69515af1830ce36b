import os.path as osp
import subprocess
import sys

import numpy as np

from lsant_mmaction.priors import build_prior

from ..conftest import ROOT, run_tool

TOOL = osp.join(ROOT, 'tools', 'build_priors.py')


def test_build_priors_tool_on_demo(demo_root, tmp_path):
    data = osp.join(demo_root, 'data', 'demo')
    args = dict(actions=f'{data}/actions.csv',
                verb_classes=f'{data}/EPIC_verb_classes.csv',
                noun_classes=f'{data}/EPIC_noun_classes.csv',
                train=f'{data}/training.csv', glove='glove-6b-50d-classes')
    for kind in ('te', 'glvn'):  # the others: tests/test_priors
        out = str(tmp_path / f'{kind}.npy')
        proc = run_tool([
            TOOL, kind, '--dataset', 'epic55', '--actions', args['actions'],
            '--verb-classes', args['verb_classes'], '--noun-classes',
            args['noun_classes'], '--train', args['train'], '--glove',
            args['glove'], '--out', out
        ])
        assert f'{kind} prior: 65x65 float32' in proc.stdout
        prior = np.load(out)
        expected, _ = build_prior(kind, 'epic55', **args)
        np.testing.assert_array_equal(prior, expected)


def test_build_priors_tool_reports_what_it_did(tmp_path):
    actions = tmp_path / 'actions.csv'
    actions.write_text('0, 0_0, Take_cup\n1, 1_0, Wash_cup\n2, 2_1, '
                       'Cut_onion\n')
    glove = tmp_path / 'glove.txt'
    glove.write_text('take 1 0\nwash 0 1\ncup 2 0\n')  # no cut, no onion
    out = tmp_path / 'prior'
    proc = run_tool([TOOL, 'gl', '--dataset', 'egtea', '--actions',
                     str(actions), '--glove', str(glove), '--out', str(out)])
    # numpy appends .npy: the tool says so
    assert f'gl prior: 3x3 float32 -> {out}.npy\n' in proc.stdout
    assert osp.isfile(f'{out}.npy') and not osp.exists(out)
    assert (f'{glove} has no vector for 2 of the 5 class names'
            in proc.stderr)
    assert "class names without a word vector (2): ['Cut', 'onion']" in \
        proc.stdout


def test_build_priors_tool_te_needs_train(tmp_path):
    actions = tmp_path / 'actions.csv'
    actions.write_text('0, 0_0, Take_cup\n')
    proc = subprocess.run([
        sys.executable, TOOL, 'te', '--dataset', 'egtea', '--actions',
        str(actions), '--out', str(tmp_path / 'te.npy')
    ], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ('build_priors.py: error: the te prior '
                                   'needs train=<training CSV>')
