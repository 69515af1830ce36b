"""A user's own dataset, end to end: a toy workshop dataset whose vocabulary
is not EPIC's, in the RU-LSTM layout, used as docs/datasets.md says (copy the
custom base, set its facts): every prior builds, training and testing run
through the tools."""
import os
import os.path as osp
import shutil

import lmdb
import numpy as np
import pytest

from lsant_mmaction.layout import TimeGrid
from lsant_mmaction.priors import PRIOR_KINDS, build_prior

from ..conftest import ROOT, run_tool
from .test_end_to_end import env

VERBS = ['grab', 'drill', 'sand', 'paint', 'measure']
NOUNS = ['board', 'screw', 'wall', 'ladder', 'tape', 'hammer']
ACTIONS = [(0, 0), (0, 1), (0, 5), (1, 0), (1, 2), (2, 0), (2, 2), (3, 2),
           (3, 3), (4, 0), (4, 4), (0, 3)]
DIM = 16
GRID = TimeGrid()


def write_toy_dataset(root: str, rng: np.random.Generator) -> None:
    """CSV, vocabulary, word vectors and one rgb LMDB whose features
    announce the next action."""
    os.makedirs(root)
    with open(osp.join(root, 'actions.csv'), 'w') as f:
        f.write('id,verb,noun,action\n' + ''.join(
            f'{a},{v},{n},{VERBS[v]} {NOUNS[n]}\n'
            for a, (v, n) in enumerate(ACTIONS)))
    for kind, names in (('verb', VERBS), ('noun', NOUNS)):
        with open(osp.join(root, f'{kind}_classes.csv'), 'w') as f:
            f.write('id,key\n' + ''.join(f'{i},{k}\n'
                                          for i, k in enumerate(names)))
    with open(osp.join(root, 'vectors.txt'), 'w') as f:  # a GloVe text file
        for word in VERBS + NOUNS:
            f.write(word + ' ' + ' '.join(
                f'{x:.4f}' for x in rng.normal(size=8)) + '\n')
    codes = rng.normal(size=(len(ACTIONS), DIM)).astype(np.float32)
    env = lmdb.open(osp.join(root, 'rgb'), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for split, videos in (('training', 6), ('validation', 2)):
            rows = []
            for v in range(videos):
                video = f'{split[:3]}{v}'
                starts = 150 + np.cumsum(rng.integers(40, 90, size=14))
                starts[0] = 5 if v == 0 else starts[0]  # dropped: no frame
                labels = rng.integers(0, len(ACTIONS), size=len(starts))
                for i, (start, action) in enumerate(zip(starts, labels)):
                    verb, noun = ACTIONS[action]
                    rows.append(f'{video}_{i},{video},{start},{start + 30},'
                                f'{verb},{noun},{action}\n')
                    frames = GRID.frame_indices(int(start))
                    for frame in [] if frames is None else frames.tolist():
                        value = codes[action] + 0.3 * rng.normal(size=DIM)
                        txn.put(f'{video}_frame_{frame:010d}.jpg'.encode(),
                                value.astype(np.float32).tobytes())
            with open(osp.join(root, f'{split}.csv'), 'w') as f:
                f.writelines(rows)
    env.close()


def copy_configs(work, base: str, edits, experiment: str) -> None:
    """configs/_base_ and one experiment copied into ``work/configs``, the
    base's facts set as docs/datasets.md says: each ``(old, new)`` of ``edits``
    replaces text that must be there."""
    if not osp.isdir(work / 'configs' / '_base_'):
        shutil.copytree(osp.join(ROOT, 'configs', '_base_'),
                        work / 'configs' / '_base_')
    shutil.copy(osp.join(ROOT, 'configs', experiment), work / 'configs')
    path = work / 'configs' / '_base_' / 'datasets' / base
    text = path.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)


# the facts of the toy dataset, in both custom bases
FACTS = (("'data/my_dataset/'", "'data/workshop/'"),
         ('num_classes = 100', f'num_classes = {len(ACTIONS)}'),
         ('num_verbs = 20', f'num_verbs = {len(VERBS)}'),
         ('num_nouns = 40', f'num_nouns = {len(NOUNS)}'),
         ("glove='glove-wiki-gigaword-300'",
          "glove=data_root + 'vectors.txt'"))


# a small head, data loaded in the test's process
FAST = ['model.cls_head.hidden_channels=32'] + [
    f'{split}_dataloader.{key}' for split in ('train', 'val', 'test')
    for key in ('num_workers=0', 'persistent_workers=False')
]


@pytest.fixture(scope='module')
def workshop(tmp_path_factory):
    """The toy dataset and a copy of configs/ edited as docs/datasets.md says."""
    work = tmp_path_factory.mktemp('own')
    data = str(work / 'data' / 'workshop')
    write_toy_dataset(data, np.random.default_rng(0))
    copy_configs(work, 'custom_features.py',
                 FACTS + (('dict(rgb=1024)', f'dict(rgb={DIM})'), ),
                 'lstm_custom_glvn.py')
    experiment = work / 'configs' / 'lstm_custom_glvn.py'
    experiment.write_text(experiment.read_text().replace(
        'in_channels=1024', f'in_channels={DIM}'))
    return str(work), data


def test_every_prior_builds_from_the_own_files(workshop):
    _, data = workshop
    for kind in PRIOR_KINDS:
        prior, _ = build_prior(
            kind, 'epic100', osp.join(data, 'actions.csv'),
            osp.join(data, 'verb_classes.csv'),
            osp.join(data, 'noun_classes.csv'),
            train=osp.join(data, 'training.csv'),
            glove=osp.join(data, 'vectors.txt'))
        assert prior.shape == (len(ACTIONS), len(ACTIONS))
        np.testing.assert_allclose(prior.sum(1), 1, rtol=1e-5)
    vn, _ = build_prior('vn', 'epic100', osp.join(data, 'actions.csv'))
    # 'grab board' shares its verb with actions 0, 1, 2, 11 and its noun
    # with 0, 3, 5, 9: 7 actions, itself included
    assert np.nonzero(vn[0])[0].tolist() == [0, 1, 2, 3, 5, 9, 11]


def test_train_and_test_on_the_own_dataset(workshop):
    work, _ = workshop
    config = osp.join('configs', 'lstm_custom_glvn.py')
    fast = FAST + ['train_cfg.max_epochs=2']
    out = run_tool([osp.join(ROOT, 'tools', 'train.py'), config,
                    '--work-dir', 'work', '--seed', '0', '--cfg-options']
                   + fast, cwd=work, env=env())
    log = out.stdout + out.stderr
    assert 'dropped 1 of' in log  # the segment with no frame before it
    assert osp.isfile(osp.join(work, 'work', 'best.pth'))
    out = run_tool([osp.join(ROOT, 'tools', 'test.py'), config,
                    osp.join('work', 'best.pth'), '--work-dir', 'test',
                    '--cfg-options'] + fast, cwd=work, env=env())
    log = out.stdout + out.stderr
    assert 'action_mt5r@1.00s' in log
    table = log[log.index('Anticipation results'):]
    assert '| action top-5 |' in table and 'mean top-5 recall' in table
