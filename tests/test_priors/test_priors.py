import os.path as osp
import warnings

import numpy as np
import pytest

from lsant_mmaction.layout import (ActionVocabulary, read_egtea_vocabulary,
                                   read_epic55_vocabulary, read_segments)
from lsant_mmaction.priors import (PriorWarning, build_from_vocabulary,
                                   build_prior, check_prior, glove_prior,
                                   load_prior, load_word_vectors, tokenize)

# actions: 0 take cup, 1 take knife, 2 wash cup, 3 cut onion
VOCAB = ActionVocabulary(
    verbs=np.array([0, 0, 1, 2]),
    nouns=np.array([0, 1, 0, 2]),
    verb_names={0: 'take', 1: 'wash', 2: 'cut'},
    noun_names={0: 'cup', 1: 'knife', 2: 'onion'},
    source='hand-made')


class FakeVectors:
    """A gensim-like KeyedVectors with hand-picked 2-d vectors."""
    vector_size = 2

    def __init__(self, table):
        self.table = {k: np.asarray(v, np.float32) for k, v in table.items()}
        self.key_to_index = {k: i for i, k in enumerate(self.table)}

    def __getitem__(self, word):
        return self.table[word]


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def test_uniform():
    prior, _ = build_from_vocabulary('uniform', VOCAB)
    assert prior.dtype == np.float32 and np.allclose(prior, 0.25)


def test_verb_noun_known_answer():
    prior, _ = build_from_vocabulary('vn', VOCAB)
    expected = np.array([
        [1 / 3, 1 / 3, 1 / 3, 0],  # take cup: take knife, wash cup, itself
        [1 / 2, 1 / 2, 0, 0],
        [1 / 2, 0, 1 / 2, 0],
        [0, 0, 0, 1],  # cut onion shares nothing: only itself
    ])
    np.testing.assert_allclose(prior, expected, rtol=1e-6)


def test_temporal_known_answer(tmp_path):
    # video A: 0 -> 2 -> 1 -> 2 ; video B: 1 -> 2 (listed out of order)
    csv = write(tmp_path / 'train.csv', '\n'.join([
        '1, A, 100, 110, 0, 0, 0', '2, A, 200, 210, 1, 0, 2',
        '3, A, 300, 310, 0, 1, 1', '4, A, 400, 410, 1, 0, 2',
        '6, B, 50, 60, 1, 0, 2', '5, B, 10, 20, 0, 1, 1']))
    prior, notes = build_from_vocabulary('te', VOCAB, read_segments(csv))
    # predecessors of 2: 0 once, 1 twice; of 1: 2 once; 0 and 3: none
    expected = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [1 / 3, 2 / 3, 0, 0],
                         [0, 0, 0, 1]])
    np.testing.assert_allclose(prior, expected, rtol=1e-6)
    assert notes['no_predecessor'] == [0, 3]


def test_temporal_orders_by_start_then_id(tmp_path):
    # same start frame: id decides (3 before 4), so 0 -> 1 -> 2 -> 3
    csv = write(tmp_path / 'train.csv', '\n'.join([
        '4, A, 100, 110, 0, 0, 2', '3, A, 100, 110, 0, 0, 1',
        '1, A, 50, 60, 0, 0, 0', '9, A, 500, 510, 0, 0, 3']))
    prior, _ = build_from_vocabulary('te', VOCAB, read_segments(csv))
    assert prior[1, 0] == 1 and prior[2, 1] == 1 and prior[3, 2] == 1


def test_glove_known_answer():
    vectors = FakeVectors({'take': [1, 0], 'wash': [0, 1], 'cut': [1, 1],
                           'cup': [2, 0], 'knife': [0, 1]})  # no 'onion'
    with pytest.warns(PriorWarning, match='no vector for 1 of the 6 class '
                      'names of hand-made.*: onion$'):
        prior, notes = build_from_vocabulary('gl', VOCAB, vectors=vectors)
    phi = np.array([[1, 0, 2, 0], [1, 0, 0, 1], [0, 1, 2, 0], [1, 1, 0, 0]],
                   float)
    sim = np.abs(phi @ phi.T)
    np.testing.assert_allclose(prior, sim / sim.sum(1, keepdims=True),
                               rtol=1e-6)
    assert notes['missing_vectors'] == ['onion']


def test_glove_zero_embedding_gives_onehot():
    phi = np.array([[1.0, 0], [0, 0], [-1, 2]])
    prior = glove_prior(phi)
    np.testing.assert_allclose(prior[1], [0, 1, 0])
    np.testing.assert_allclose(prior[0], [0.5, 0, 0.5])  # |dot| with -1


def test_glvn_is_the_average():
    vectors = FakeVectors({'take': [1, 0], 'wash': [0, 1], 'cut': [1, 1],
                           'cup': [2, 0], 'knife': [0, 1], 'onion': [1, 2]})
    gl, _ = build_from_vocabulary('gl', VOCAB, vectors=vectors)
    vn, _ = build_from_vocabulary('vn', VOCAB)
    glvn, _ = build_from_vocabulary('glvn', VOCAB, vectors=vectors)
    np.testing.assert_allclose(glvn, 0.5 * gl + 0.5 * vn, rtol=1e-6)


def test_tokenize():
    assert tokenize('board:chopping') == ['board', 'chopping']
    assert tokenize('turn-on') == ['turn', 'on']
    assert tokenize('Inspect/Read') == ['inspect', 'read']
    assert tokenize('Take_eating:utensil') == ['take', 'eating', 'utensil']


def test_shipped_glove_is_real():
    vectors = load_word_vectors('glove-6b-50d-classes')
    assert vectors.vector_size == 50 and len(vectors.key_to_index) > 400
    # real GloVe geometry: a knife is closer to a fork than to a fridge
    assert vectors.similarity('knife', 'fork') > vectors.similarity(
        'knife', 'fridge')


def test_glove_text_and_word2vec_files(tmp_path):
    glove = write(tmp_path / 'g.txt', 'cup 1 0\nknife 0 1\n')
    w2v = write(tmp_path / 'w.txt', '2 2\ncup 1 0\nknife 0 1\n')
    for path in (glove, w2v):
        kv = load_word_vectors(path)
        np.testing.assert_array_equal(kv['knife'], [0, 1])
    from gensim.models import KeyedVectors
    binary = str(tmp_path / 'w.bin')
    KeyedVectors.load_word2vec_format(w2v).save_word2vec_format(
        binary, binary=True)
    np.testing.assert_array_equal(load_word_vectors(binary)['cup'], [1, 0])


def test_glove_mixed_dimensions(tmp_path):
    bad = write(tmp_path / 'g.txt', 'cup 1 0\nknife 0 1 2\n')
    with pytest.raises(ValueError, match='line 2: vector of 3 values'):
        load_word_vectors(bad)


def test_bad_vocabularies(tmp_path):
    dup = write(tmp_path / 'a.csv', 'id,action,verb,noun\n0, a,0,0\n0, b,1,1\n')
    with pytest.raises(ValueError, match='duplicate action ids \\[0\\]'):
        read_epic55_vocabulary(dup)
    actions = write(tmp_path / 'b.csv',
                    'id,action,verb,noun\n0, take_cup,0,0\n1, wash_cup,5,0\n')
    verbs = write(tmp_path / 'v.csv', 'verb_id,class_key,verbs\n0,take,[]\n')
    nouns = write(tmp_path / 'n.csv', 'noun_id,class_key,nouns\n0,cup,[]\n')
    with pytest.raises(ValueError, match='verb ids \\[5\\].*v.csv'):
        read_epic55_vocabulary(actions, verbs, nouns)
    no_header = write(tmp_path / 'c.csv', '0, take_cup,0,0\n')
    with pytest.raises(ValueError, match='expected the header'):
        read_epic55_vocabulary(no_header)


def test_training_csv_with_unknown_action(tmp_path):
    csv = write(tmp_path / 't.csv', '1, A, 10, 20, 0, 0, 0\n2, A, 30, 40, 0, '
                '0, 9\n')
    with pytest.raises(ValueError, match='segment 2 names action 9'):
        build_from_vocabulary('te', VOCAB, read_segments(csv))


def test_check_prior_errors():
    with pytest.raises(ValueError, match='square'):
        check_prior(np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match=r'1 negative entries, e.g. \[0, 1\]'):
        check_prior(np.array([[1.5, -0.5], [0, 1]]))


def test_load_prior_caches_by_content(tmp_path):
    cache = tmp_path / 'cache'
    actions = write(tmp_path / 'a.csv', 'id,action,verb,noun\n0, a,0,0\n'
                    '1, b,0,1\n2, c,1,1\n')
    spec = dict(kind='vn', dataset='epic55', actions=actions)
    first = load_prior(spec, 3, str(cache))
    cached = list(cache.glob('vn-*.npz'))
    assert len(cached) == 1
    with np.load(cached[0]) as entry:
        np.testing.assert_array_equal(entry['prior'], first)
    write(tmp_path / 'a.csv', 'id,action,verb,noun\n0, a,0,0\n1, b,1,1\n'
          '2, c,2,2\n')  # new content -> new key, new prior
    second = load_prior(spec, 3, str(cache))
    assert len(list(cache.glob('vn-*.npz'))) == 2
    np.testing.assert_array_equal(second, np.eye(3))


# ---- the real EK55 and EGTEA files --------------------------------------

def ek55_spec(data, kind):
    return dict(
        kind=kind, dataset='epic55',
        actions=f'{data}/rulstm/ek55/actions.csv',
        verb_classes=f'{data}/epic-kitchens-55/EPIC_verb_classes.csv',
        noun_classes=f'{data}/epic-kitchens-55/EPIC_noun_classes.csv',
        train=f'{data}/rulstm/ek55/training.csv',
        glove='glove-6b-50d-classes')


@pytest.mark.parametrize('kind', ['uniform', 'vn', 'te', 'gl', 'glvn'])
def test_real_ek55_priors(shared_data, kind):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', PriorWarning)
        prior, notes = build_prior(**ek55_spec(shared_data, kind))
    reported = [str(w.message) for w in caught
                if issubclass(w.category, PriorWarning)]
    assert len(reported) == (kind in ('gl', 'glvn'))
    assert prior.shape == (2513, 2513) and prior.dtype == np.float32
    np.testing.assert_allclose(prior.sum(1), 1, atol=1e-5)
    vocab = read_epic55_vocabulary(f'{shared_data}/rulstm/ek55/actions.csv')
    if kind == 'vn':
        share = ((vocab.verbs[:, None] == vocab.verbs) |
                 (vocab.nouns[:, None] == vocab.nouns))
        np.testing.assert_array_equal(prior > 0, share)
    if kind == 'te':
        assert len(notes['no_predecessor']) > 0
        for k in notes['no_predecessor']:
            assert prior[k, k] == 1
    if kind in ('gl', 'glvn'):
        # 3 class words have no glove.6B vector; a real similarity structure
        assert notes['missing_vectors'] == ['courgette', 'deseed',
                                            'fishcakes']
        assert reported[0].endswith(': courgette, deseed, fishcakes')
        # real GloVe geometry: for 'take cup' (action 117) the most similar
        # actions are other cup actions, and 'put cup' (783) beats
        # 'turn-on tap' (445)
        top10 = np.argsort(-prior[117])[:10]
        assert set(vocab.nouns[top10]) == {vocab.nouns[117]}
        assert prior[117, 783] > prior[117, 445]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', PriorWarning)
        again, _ = build_prior(**ek55_spec(shared_data, kind))
    np.testing.assert_array_equal(prior, again)  # deterministic


def test_real_egtea_vocabulary_and_priors(shared_data):
    actions = f'{shared_data}/rulstm/egtea/actions.csv'
    vocab = read_egtea_vocabulary(actions)
    assert len(vocab) == 106
    assert len(set(vocab.verbs)) == 19 and len(set(vocab.nouns)) == 51
    assert vocab.verb_names[0] == 'Inspect/Read'
    for split in (1, 2, 3):
        seg = read_segments(f'{shared_data}/rulstm/egtea/training{split}.csv')
        # the CSVs' verb/noun columns agree with the vocabulary
        np.testing.assert_array_equal(vocab.verbs[seg.actions], seg.verbs)
        np.testing.assert_array_equal(vocab.nouns[seg.actions], seg.nouns)
        te, _ = build_prior('te', 'egtea', actions, train=osp.join(
            shared_data, f'rulstm/egtea/training{split}.csv'))
        np.testing.assert_allclose(te.sum(1), 1, atol=1e-5)
    for kind in ('uniform', 'vn', 'gl', 'glvn'):
        prior, notes = build_prior(kind, 'egtea', actions,
                                   glove='glove-6b-50d-classes')
        assert prior.shape == (106, 106)
        np.testing.assert_allclose(prior.sum(1), 1, atol=1e-5)
