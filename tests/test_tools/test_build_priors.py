import os.path as osp

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
