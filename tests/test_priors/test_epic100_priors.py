"""Priors over the EPIC-KITCHENS-100 actions (string segment ids)."""
import warnings

import numpy as np
import pytest

from lsant_mmaction.layout import (ActionVocabulary, read_segments,
                                   read_vocabulary)
from lsant_mmaction.priors import (PriorWarning, build_from_vocabulary,
                                   build_prior, load_prior,
                                   transition_counts)

VOCAB = ActionVocabulary(verbs=np.array([0, 0, 1]),
                         nouns=np.array([0, 1, 1]), verb_names=None,
                         noun_names=None, source='hand-made')


def test_te_ties_broken_by_the_id_s_trailing_number(tmp_path):
    """P01_01_9 and P01_01_10 start on the same frame: 9 comes first (as
    text, '10' < '9' would reverse them)."""
    csv = tmp_path / 'train.csv'
    csv.write_text('P01_01_10,P01_01,300,350,0,1,1\n'
                   'P01_01_9,P01_01,300,320,1,1,2\n'
                   'P01_01_2,P01_01,100,150,0,0,0\n'
                   'P01_02_0,P01_02,300,350,0,1,1\n')
    counts = transition_counts(read_segments(str(csv)), 3)
    # P01_01: 0 (frame 100) -> 2 (300, id 9) -> 1 (300, id 10)
    expected = np.zeros((3, 3), np.int64)
    expected[0, 2] = expected[2, 1] = 1
    np.testing.assert_array_equal(counts, expected)
    prior, notes = build_from_vocabulary('te', VOCAB, read_segments(str(csv)))
    assert notes['no_predecessor'] == [0]  # one-hot row
    np.testing.assert_array_equal(prior, np.eye(3, dtype=np.float32)[[0, 2, 0]])


def test_te_with_string_ids_from_files(tmp_path):
    actions = tmp_path / 'actions.csv'
    actions.write_text('id,verb,noun,action\n0,0,0,a b\n1,0,1,a c\n'
                       '2,1,1,d c\n')
    train = tmp_path / 'train.csv'
    train.write_text('P01_01_1,P01_01,300,350,0,1,1\n'
                     'P01_01_0,P01_01,100,150,0,0,0\n')
    prior, _ = build_prior('te', 'epic100', str(actions), train=str(train))
    assert prior[1, 0] == 1  # 1 follows 0


def ek100_spec(shared_data, kind):
    return dict(
        kind=kind, dataset='epic100',
        actions=f'{shared_data}/rulstm/ek100/actions.csv',
        verb_classes=f'{shared_data}/epic-kitchens-100/'
        'EPIC_100_verb_classes.csv',
        noun_classes=f'{shared_data}/epic-kitchens-100/'
        'EPIC_100_noun_classes.csv',
        train=f'{shared_data}/rulstm/ek100/training.csv',
        glove='glove-6b-50d-classes')


@pytest.mark.parametrize('kind', ['uniform', 'vn', 'te', 'gl', 'glvn'])
def test_real_ek100_priors(shared_data, kind):
    spec = ek100_spec(shared_data, kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', PriorWarning)
        prior, notes = build_prior(**spec)
    assert prior.shape == (3806, 3806) and prior.dtype == np.float32
    np.testing.assert_allclose(prior.sum(1, dtype=np.float64), 1, atol=1e-5)
    assert (prior >= 0).all()
    vocab = read_vocabulary('epic100', spec['actions'])
    share = ((vocab.verbs[:, None] == vocab.verbs[None]) |
             (vocab.nouns[:, None] == vocab.nouns[None]))
    if kind == 'vn':  # support: the actions sharing the verb or the noun
        np.testing.assert_array_equal(prior > 0, share)
    if kind == 'te':
        # 245 actions never follow another in training: one-hot rows
        assert len(notes['no_predecessor']) == 245
        one_hot = np.nonzero(prior[np.arange(3806), np.arange(3806)] == 1)[0]
        assert set(notes['no_predecessor']) <= set(one_hot.tolist())
    if kind in ('gl', 'glvn'):
        # glove.6B has no vector for three EK100 class keys
        assert notes['missing_vectors'] == ['airer', 'courgette', 'fishcakes']
        assert any('3 of the 397 class names' in str(w.message)
                   for w in caught)
        assert (prior > 0).all()
    if kind == 'glvn':  # GL+VN puts at least half its mass on VN's support
        assert (np.where(share, prior, 0).sum(1) >= 0.5 - 1e-5).all()
    if kind in ('te', 'glvn'):  # deterministic
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', PriorWarning)
            again, _ = build_prior(**spec)
        np.testing.assert_array_equal(prior, again)


def test_real_ek100_prior_through_the_cache(shared_data, tmp_path):
    spec = ek100_spec(shared_data, 'te')
    # a spec given to the loss holds only what its kind reads
    spec = {k: spec[k] for k in ('kind', 'dataset', 'actions', 'train')}
    first = load_prior(spec, 3806, cache_dir=str(tmp_path))
    cached = load_prior(spec, 3806, cache_dir=str(tmp_path))
    np.testing.assert_array_equal(first, cached)
    with pytest.raises(ValueError, match='num_classes=2513'):
        load_prior(spec, 2513, cache_dir=str(tmp_path))
