"""Priors never degrade silently: malformed word vectors, word vectors that
cover few or no class names, bad prior files and bad cache entries all end
with a message naming the culprit (file, line, word or cache path)."""
import os
import re
import warnings

import numpy as np
import pytest

from lsant_mmaction.priors import (PriorWarning, build_prior, check_prior,
                                   load_prior, load_word_vectors)

# EGTEA layout (id, verbId_nounId, Verb_noun; no header):
# 0 take cup, 1 take knife, 2 wash cup, 3 cut onion
ACTIONS = ('0, 0_0, Take_cup\n1, 0_1, Take_knife\n2, 1_0, Wash_cup\n'
           '3, 2_2, Cut_onion\n')
# no 'cut', no 'onion': action 3 has no embedding at all
PARTIAL_GLOVE = 'take 1 0\nwash 0 1\ncup 2 0\nknife 0 1\n'


def write(path, text, mode='w'):
    with open(path, mode) as f:
        f.write(text)
    return str(path)


def open_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture
def actions(tmp_path):
    return write(tmp_path / 'actions.csv', ACTIONS)


# ---- malformed word-vector files -----------------------------------------

@pytest.mark.parametrize('content, message', [
    (b'cup 1 0\ncaf\xe9 0 1\n', r'line 2: not UTF-8'),
    (b'', r'no word vectors \(the file is empty'),
    (b'3 2\ncup 1 0\nknife 0 1\n',
     r'line 1: the word2vec header says 3 vectors but the file has 2'),
    (b'1 2\ncup 1 0\nknife 0 1\n',
     r'line 1: the word2vec header says 1 vectors but the file has 2'),
    (b'cup 1 0\nknife 0 1 2\n', r'line 2: vector of 3 values, expected 2 '
     r'\(mixed dimensions\)'),
    (b'cup 1 0\n\nknife 0 1\n', r'line 2: blank line'),
    (b'cup 1 0\nknife nan 1\n', r"line 2: the vector of 'knife' has NaN"),
    (b'2 2\ncup 1 0\nknife 0 inf\n',
     r"line 3: the vector of 'knife' has NaN or infinite"),
])
def test_malformed_word_vectors_name_file_and_line(tmp_path, content,
                                                   message):
    path = write(tmp_path / 'vectors.txt', content, 'wb')
    with pytest.raises(ValueError) as error:
        load_word_vectors(path)
    assert str(error.value).startswith(path)
    assert re.search(message, str(error.value)), str(error.value)


def test_binary_word2vec_with_wrong_count_names_file(tmp_path):
    path = str(tmp_path / 'vectors.bin')
    # header promises 3 vectors, the body holds 1
    write(path, b'3 2\ncup ' + np.float32([1, 0]).tobytes() + b'\n', 'wb')
    with pytest.raises(ValueError, match=re.escape(path) + ': not a GloVe/'
                       'word2vec file: EOFError'):
        load_word_vectors(path)


def test_trailing_spaces_and_crlf_are_valid(tmp_path):
    for name, text in (('glove.txt', 'cup 1 0 \nknife 0 1  \n'),
                       ('w2v.txt', '2 2 \ncup 1 0 \nknife 0 1 \n'),
                       ('crlf.txt', 'cup 1 0\r\nknife 0 1\r\n')):
        vectors = load_word_vectors(write(tmp_path / name, text))
        assert vectors.vector_size == 2
        np.testing.assert_array_equal(vectors['knife'], [0, 1])


# ---- coverage of the class names ----------------------------------------

def test_vectors_covering_no_class_name_are_an_error(tmp_path, actions):
    glove = write(tmp_path / 'zoo.txt', 'zebra 1 0\ngiraffe 0 1\n')
    with pytest.raises(ValueError, match=re.escape(glove) +
                       ' has a vector for none of the class names.*identity'):
        build_prior('gl', 'egtea', actions, glove=glove)


def test_vectors_covering_some_names_warn_with_count_and_names(
        tmp_path, actions):
    glove = write(tmp_path / 'partial.txt', PARTIAL_GLOVE)
    with pytest.warns(PriorWarning) as record:
        prior, notes = build_prior('glvn', 'egtea', actions, glove=glove)
    [message] = [str(w.message) for w in record
                 if issubclass(w.category, PriorWarning)]
    assert message.startswith(f'{glove} has no vector for 2 of the 6 class '
                              f'names of {actions}')
    assert 'Cut, onion' in message and '1 actions have no embedding' in message
    assert notes['missing_vectors'] == ['Cut', 'onion']
    assert prior.shape == (4, 4)


# ---- prior files --------------------------------------------------------

def test_check_prior_reports_nan_apart_from_row_sums():
    prior = np.full((3, 3), 1 / 3)
    prior[1, 2] = np.nan
    with pytest.raises(ValueError, match=r'p.npy: prior has 1 NaN or '
                       r'infinite entries, e.g. \[1, 2\] = nan'):
        check_prior(prior, source='p.npy')


def test_bad_npy_prior_files_are_named(tmp_path):
    nan = np.full((3, 3), 1 / 3, np.float32)
    nan[0, 0] = np.nan
    path = str(tmp_path / 'nan.npy')
    np.save(path, nan)
    with pytest.raises(ValueError, match=re.escape(path) + ': prior has 1 '
                       'NaN'):
        load_prior(path, 3)
    truncated = write(tmp_path / 'cut.npy', open_bytes(path)[:100], 'wb')
    with pytest.raises(ValueError, match=re.escape(truncated) +
                       ': not a readable .npy prior'):
        load_prior(truncated, 3)


# ---- the cache ----------------------------------------------------------

def vn_spec(actions):
    return dict(kind='vn', dataset='egtea', actions=actions)


def only_entry(cache):
    entries = list(cache.glob('vn-*.npz'))
    assert len(entries) == 1 and not list(cache.glob('*.npy'))
    return str(entries[0])


def test_tampered_cache_entry_is_rebuilt(tmp_path, actions):
    cache = tmp_path / 'cache'
    fresh, _ = build_prior(**vn_spec(actions))
    load_prior(vn_spec(actions), 4, str(cache))
    path = only_entry(cache)
    with np.load(path) as entry:
        saved = dict(entry)
    # a valid prior of the right shape, with the old checksum
    np.savez(path, **dict(saved, prior=np.full((4, 4), 0.25, np.float32)))
    with pytest.warns(PriorWarning, match=re.escape(path) +
                      r': bad prior cache entry \(checksum mismatch'):
        matrix = load_prior(vn_spec(actions), 4, str(cache))
    np.testing.assert_array_equal(matrix, fresh)
    with warnings.catch_warnings():  # the entry was rewritten: no warning
        warnings.simplefilter('error')
        np.testing.assert_array_equal(
            load_prior(vn_spec(actions), 4, str(cache)), fresh)


def test_truncated_cache_entry_is_rebuilt(tmp_path, actions):
    cache = tmp_path / 'cache'
    fresh = load_prior(vn_spec(actions), 4, str(cache))
    path = only_entry(cache)
    write(path, open_bytes(path)[:60], 'wb')
    with pytest.warns(PriorWarning, match=re.escape(path) +
                      r': bad prior cache entry \(unreadable'):
        matrix = load_prior(vn_spec(actions), 4, str(cache))
    np.testing.assert_array_equal(matrix, fresh)
    assert os.path.getsize(path) > 60


def test_unwritable_cache_folder_builds_in_memory(tmp_path, actions):
    # tests run as root, so permissions do not block writing: a cache folder
    # below a regular file cannot be created by anyone
    blocker = write(tmp_path / 'not-a-folder', 'x')
    cache = os.path.join(blocker, 'cache')
    with pytest.warns(PriorWarning, match='could not write the prior cache '
                      'entry ' + re.escape(cache) + '.*built in memory'):
        matrix = load_prior(vn_spec(actions), 4, cache)
    np.testing.assert_array_equal(matrix, build_prior(**vn_spec(actions))[0])


def test_cache_hit_repeats_the_missing_vector_warning(tmp_path, actions):
    glove = write(tmp_path / 'partial.txt', PARTIAL_GLOVE)
    spec = dict(kind='gl', dataset='egtea', actions=actions, glove=glove)
    cache = str(tmp_path / 'cache')
    for _ in range(2):  # build, then cache hit
        with pytest.warns(PriorWarning, match='no vector for 2 of the 6'):
            load_prior(spec, 4, cache)
    # dropping the stored warning breaks the checksum too: rebuilt, reported
    path = str(next((tmp_path / 'cache').glob('gl-*.npz')))
    with np.load(path) as entry:
        saved = dict(entry)
    np.savez(path, **dict(saved, warnings=np.array([], dtype=str)))
    with pytest.warns(PriorWarning) as record:
        load_prior(spec, 4, cache)
    messages = [str(w.message) for w in record]
    assert any(m.startswith(f'{path}: bad prior cache entry (checksum')
               for m in messages)
    assert any('no vector for 2 of the 6' in m for m in messages)
