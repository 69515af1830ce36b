"""Priors of any classification dataset: GL from a plain class-name list, VN
from a group table, TE from a segment list, uniform from nothing; bad input
is an error naming the file and line; a spec holds exactly what its kind
reads."""
import re

import numpy as np
import pytest

from lsant_mmaction.layout import read_class_sequences
from lsant_mmaction.priors import (SHIPPED_GLOVE, build_prior,
                                   check_prior_spec, load_prior,
                                   missing_sources, resolve_prior)

NAMES = ['open fridge', 'close fridge', 'cut tomato', 'Wash-cup']
# hand-picked 3-d vectors; 'tomato' has none (cut tomato = cut alone)
VECTORS = {'open': [1, 0, 0], 'close': [0, 1, 0], 'fridge': [1, 1, 2],
           'cut': [0, -2, 1], 'wash': [2, 0, -1], 'cup': [0, 0, 3]}


def write(path, text):
    path.write_text(text)
    return str(path)


@pytest.fixture
def glove(tmp_path):
    return write(tmp_path / 'glove.txt', ''.join(
        f'{w} {" ".join(map(str, v))}\n' for w, v in VECTORS.items()))


def expected_gl(names, table):
    """The paper's formula, computed here: mean token vector, absolute dot
    products, rows normalised."""
    phi = []
    for name in names:
        tokens = [t for t in re.split(r'[\s\-]+', name.lower())
                  if t in table]
        phi.append(np.mean([table[t] for t in tokens], axis=0))
    sim = np.abs(np.asarray(phi, float) @ np.asarray(phi, float).T)
    return sim / sim.sum(1, keepdims=True)


def test_gl_from_a_class_list_file_and_list(tmp_path, glove):
    classes = write(tmp_path / 'classes.txt', '\n'.join(NAMES) + '\n')
    expected = expected_gl(NAMES, {k: np.array(v, float)
                                   for k, v in VECTORS.items()})
    for source in (classes, NAMES):
        spec = dict(kind='gl', class_names=source, glove=glove)
        prior = load_prior(spec, 4, cache_dir=str(tmp_path / 'cache'))
        assert prior.dtype == np.float32
        np.testing.assert_allclose(prior, expected, rtol=1e-6)


def test_gl_from_the_shipped_real_vectors(tmp_path):
    names = ['take cup', 'wash cup', 'open fridge', 'cut onion']
    table = {}
    with open(SHIPPED_GLOVE['glove-6b-50d-classes']) as f:  # read it here
        for line in f:
            word, *values = line.split(' ')
            table[word] = np.array(values, float)
    prior, _ = build_prior('gl', class_names=names,
                           glove='glove-6b-50d-classes')
    np.testing.assert_allclose(prior, expected_gl(names, table), rtol=1e-5)
    assert prior[0, 1] > prior[0, 3]  # take cup is nearer wash cup


def test_uniform_needs_nothing_but_num_classes(tmp_path):
    for prior in ('uniform', dict(kind='uniform')):
        np.testing.assert_array_equal(load_prior(prior, 5),
                                      np.full((5, 5), 0.2, np.float32))
    with pytest.raises(ValueError, match='needs num_classes'):
        load_prior('uniform')
    with pytest.raises(ValueError, match="'unifrom' is neither a prior kind"):
        resolve_prior('unifrom')


def test_vn_from_a_group_table_is_the_epic_vn(tmp_path):
    # an EK55 actions.csv read as a group table (key id; groups action,
    # verb, noun): the VN prior of the EPIC spec, generalised
    actions = write(tmp_path / 'actions.csv', 'id,action,verb,noun\n'
                    '0,take_cup,0,0\n1,take_knife,0,1\n2,wash_cup,1,0\n'
                    '3,cut_onion,2,2\n')
    epic, _ = build_prior('vn', 'epic55', actions)
    table, _ = build_prior('vn', groups=actions)
    np.testing.assert_array_equal(table, epic)
    # a table keyed by class name, and the same groups as a config list
    names = write(tmp_path / 'classes.txt', 'take cup\ntake knife\nwash cup\n'
                  'cut onion\n')
    by_name = write(tmp_path / 'groups.csv', 'class,verb,noun\n'
                    'wash cup,wash,cup\ntake cup,take,cup\n'
                    'cut onion,cut,onion\ntake knife,take,knife\n')
    named, _ = build_prior('vn', groups=by_name, class_names=names)
    listed, _ = build_prior('vn', groups=[
        dict(verb='take', noun='cup'), dict(verb='take', noun='knife'),
        dict(verb='wash', noun='cup'), dict(verb='cut', noun='onion')])
    np.testing.assert_array_equal(named, epic)
    np.testing.assert_array_equal(listed, epic)
    # plain group ids: one namespace, any number per class
    shared, _ = build_prior('vn', groups=[['a'], ['a', 'b'], ['b'], []])
    np.testing.assert_allclose(shared, [[.5, .5, 0, 0], [1 / 3] * 3 + [0],
                                        [0, .5, .5, 0], [0, 0, 0, 1]])


def test_glvn_from_class_lists_is_the_average(tmp_path, glove):
    groups = [['fridge'], ['fridge'], ['tomato'], ['cup']]
    gl, _ = build_prior('gl', class_names=NAMES, glove=glove)
    vn, _ = build_prior('vn', groups=groups)
    glvn, _ = build_prior('glvn', class_names=NAMES, groups=groups,
                          glove=glove)
    np.testing.assert_allclose(glvn, 0.5 * gl + 0.5 * vn, rtol=1e-6)


def test_te_from_a_segment_list(tmp_path):
    # video A: 0 -> 2 -> 1 -> 2 (lines out of order); video B: 1 -> 2;
    # a RawframeDataset list with offsets (dir offset total label) reads
    # the same
    lines = ['A 3.5 1', 'A 1.0 0', 'B 0 1', 'A 2.0 2', 'A 7 2', 'B 4 2']
    plain = write(tmp_path / 'seq.txt', '\n'.join(lines) + '\n')
    offsets = write(tmp_path / 'rawframes.txt', '\n'.join(
        f'{v} {s} 30 {c}' for v, s, c in map(str.split, lines)) + '\n')
    expected = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [1 / 3, 2 / 3, 0, 0],
                         [0, 0, 0, 1]])
    for source in (plain, offsets, [[0, 2, 1, 2], [1, 2]]):
        prior, notes = build_prior('te', sequences=source, num_classes=4)
        np.testing.assert_allclose(prior, expected, rtol=1e-6)
        assert notes['no_predecessor'] == [0, 3]
    # ties on the start keep the file order
    ties = write(tmp_path / 'ties.txt', 'A 1 2\nA 1 0\nA 1 1\n')
    assert [s.tolist() for s in read_class_sequences(ties, 3).sequences] \
        == [[2, 0, 1]]


def test_te_without_any_transition_is_an_error(tmp_path):
    # a VideoDataset-like list: every clip its own video
    clips = write(tmp_path / 'clips.txt', 'a.mp4 0 1\nb.mp4 0 0\n')
    with pytest.raises(ValueError, match='clips.txt: no class follows '
                       'another in any video'):
        build_prior('te', sequences=clips, num_classes=2)


# ---- bad input: the file and the line ------------------------------------

def test_class_list_of_another_size(tmp_path, glove):
    classes = write(tmp_path / 'classes.txt', '\n'.join(NAMES[:3]) + '\n')
    with pytest.raises(ValueError, match=re.escape(
            f'{classes}, lines 1-3: 3 class names but num_classes=4')):
        load_prior(dict(kind='gl', class_names=classes, glove=glove), 4)
    with pytest.raises(ValueError, match=re.escape(
            'class_names: 4 class names but num_classes=5')):
        load_prior(dict(kind='gl', class_names=NAMES, glove=glove), 5)
    blank = write(tmp_path / 'blank.txt', 'open fridge\n\ncut tomato\n')
    with pytest.raises(ValueError, match=re.escape(
            f'{blank}, line 2: empty class name (class 1)')):
        build_prior('gl', class_names=blank, glove=glove)
    twice = write(tmp_path / 'twice.txt', 'open fridge\ncut\nopen fridge\n')
    with pytest.raises(ValueError, match=re.escape(
            f'{twice}, line 3: class 2 is named \'open fridge\', as class 0 '
            f'({twice}, line 1)')):
        build_prior('gl', class_names=twice, glove=glove)


def test_class_names_without_a_vector_are_listed(tmp_path, glove):
    classes = write(tmp_path / 'classes.txt', 'open fridge\nplay guitar\n'
                    'cut tomato\nstrum ukulele\n')
    with pytest.raises(ValueError) as error:
        build_prior('gl', class_names=classes, glove=glove)
    message = str(error.value)
    assert message.startswith(f'{glove} has no vector for any word of 2 of '
                              'the 4 class names: ')
    assert (f"{classes}, line 2: 'play guitar'; {classes}, line 4: "
            "'strum ukulele'. Rename") in message


def test_group_table_with_a_class_missing(tmp_path):
    table = write(tmp_path / 'groups.csv', 'id,verb,noun\n0,take,cup\n'
                  '2,wash,cup\n')
    with pytest.raises(ValueError, match=re.escape(
            f'{table}: no row for class 1 (2 rows, lines 2-3, for 3 '
            'classes)')):
        load_prior(dict(kind='vn', groups=table), 3)
    unknown = write(tmp_path / 'unknown.csv', 'id,verb\n0,take\n5,wash\n')
    with pytest.raises(ValueError, match=re.escape(
            f"{unknown}, line 3: unknown class '5' (class ids are 0..2)")):
        build_prior('vn', groups=unknown, num_classes=3)
    names = write(tmp_path / 'classes.txt', 'take cup\nwash cup\n')
    misnamed = write(tmp_path / 'named.csv', 'class,noun\ntake cup,cup\n'
                     'wash cups,cup\n')
    with pytest.raises(ValueError, match=re.escape(
            f"{misnamed}, line 3: unknown class 'wash cups' (not in "
            f'{names})')):
        build_prior('vn', groups=misnamed, class_names=names)
    with pytest.raises(ValueError, match=re.escape(
            'groups: 2 entries but num_classes=3')):
        build_prior('vn', groups=[['a'], ['b']], num_classes=3)


def test_sequence_file_naming_an_unknown_class(tmp_path):
    seq = write(tmp_path / 'seq.txt', 'A 1 0\nA 2 1\nA 3 7\n')
    with pytest.raises(ValueError, match=re.escape(
            f"{seq}, line 3: unknown class '7' (class ids are 0..2)")):
        load_prior(dict(kind='te', sequences=seq), 3)
    with pytest.raises(ValueError, match=re.escape(
            "sequences[1][0]: unknown class 3")):
        build_prior('te', sequences=[[0, 1], [3]], num_classes=3)
    bad = write(tmp_path / 'bad.txt', 'A 1 0\nA x 1\n')
    with pytest.raises(ValueError, match=re.escape(
            f"{bad}, line 2: start 'x' is not a number")):
        build_prior('te', sequences=bad, num_classes=3)


# ---- a spec holds what its kind reads ------------------------------------

def test_keys_the_kind_does_not_read_are_errors(tmp_path):
    # a gl spec merged over a base's te spec keeps the base's train=
    merged = dict(kind='gl', class_names=['a b'], glove='g.txt',
                  train='data/training.csv')
    with pytest.raises(ValueError, match=re.escape(
            "does not read ['train'] (it reads class_names, glove, "
            'similarity)')) as error:
        check_prior_spec(merged)
    assert 'prior=dict(_delete_=True, kind=..., ...)' in str(error.value)
    with pytest.raises(ValueError, match=re.escape(
            "the uniform prior does not read ['dataset', 'actions'] (it "
            "reads nothing but the loss's num_classes)")):
        check_prior_spec(dict(kind='uniform', dataset='epic55',
                              actions='a.csv'))
    with pytest.raises(ValueError, match='mixes the EPIC form'):
        check_prior_spec(dict(kind='vn', dataset='epic55', actions='a.csv',
                              groups='g.csv'))
    with pytest.raises(ValueError, match=re.escape(
            "unknown key(s) ['class_name']")):
        check_prior_spec(dict(kind='gl', class_name=['a'], glove='g.txt'))
    with pytest.raises(ValueError, match=re.escape(
            "the gl prior needs ['glove']")):
        check_prior_spec(dict(kind='gl', class_names=['a']))
    # mmengine leaves _delete_ in when there was nothing to replace
    assert check_prior_spec(dict(_delete_=True, kind='uniform')) == dict(
        kind='uniform')


def test_only_the_files_the_kind_reads_are_sources(tmp_path):
    assert missing_sources(dict(kind='gl', class_names=['open fridge'],
                                glove='glove-6b-50d-classes')) == []
    assert missing_sources(dict(kind='vn', groups=str(tmp_path / 'g.csv'))
                           ) == [str(tmp_path / 'g.csv')]
    assert missing_sources(dict(kind='te', sequences=[[0, 1]])) == []
