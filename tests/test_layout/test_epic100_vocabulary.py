"""EK100 vocabulary (actions.csv + EPIC_100 class keys) and id lists."""
import pytest

from lsant_mmaction.layout import (VOCABULARIES, read_epic100_vocabulary,
                                   read_id_list, read_vocabulary)

ACTIONS = 'id,verb,noun,action\n0,0,0,take tap\n2,1,1,put board:chopping\n' \
    '1,0,1,take board:chopping\n'
VERBS = 'id,key,instances,category\n0,take,"[\'take\', \'get\']",retrieve\n' \
    '1,put,"[\'put\']",leave\n'
NOUNS = 'id,key,instances,category\n0,tap,"[\'tap\']",appliances\n' \
    '1,board:chopping,"[\'board\']",utensils\n'


def write(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return [str(tmp_path / name) for name in files]


def test_actions_and_class_keys(tmp_path):
    actions, verbs, nouns = write(tmp_path, **{
        'actions.csv': ACTIONS, 'verbs.csv': VERBS, 'nouns.csv': NOUNS})
    assert 'epic100' in VOCABULARIES
    vocab = read_vocabulary('epic100', actions, verbs, nouns)
    assert vocab.verbs.tolist() == [0, 0, 1] and vocab.nouns.tolist() == [
        0, 1, 1]
    assert vocab.action_names == ['take tap', 'take board:chopping',
                                  'put board:chopping']
    assert vocab.verb_names == {0: 'take', 1: 'put'}
    assert vocab.noun_names == {0: 'tap', 1: 'board:chopping'}
    bare = read_epic100_vocabulary(actions)
    assert not bare.has_names and bare.verbs.tolist() == [0, 0, 1]


@pytest.mark.parametrize('kind', ['verb', 'noun'])
def test_class_file_that_does_not_match_actions(tmp_path, kind):
    verbs_text = VERBS.replace('1,put,', '1,put-down,') if kind == 'verb' \
        else VERBS
    nouns_text = NOUNS.replace('0,tap,', '0,sink,') if kind == 'noun' \
        else NOUNS
    actions, verbs, nouns = write(tmp_path, **{
        'actions.csv': ACTIONS, 'verbs.csv': verbs_text,
        'nouns.csv': nouns_text})
    wrong = verbs if kind == 'verb' else nouns
    line = 3 if kind == 'verb' else 2
    with pytest.raises(ValueError, match=f'{wrong} does not match .*'
                       f'actions.csv: line {line} names action'):
        read_vocabulary('epic100', actions, verbs, nouns)


def test_ek55_class_file_is_rejected(tmp_path):
    actions, verbs, nouns = write(tmp_path, **{
        'actions.csv': ACTIONS, 'verbs.csv': 'verb_id,class_key\n0,take\n',
        'nouns.csv': NOUNS})
    with pytest.raises(ValueError, match=r"verbs.csv: expected columns "
                       r"\['id', 'key'\]"):
        read_vocabulary('epic100', actions, verbs, nouns)


def test_ek55_actions_csv_is_rejected(tmp_path):
    actions, = write(tmp_path, **{
        'actions.csv': 'id,action,verb,noun\n0,take_tap,0,0\n'})
    with pytest.raises(ValueError, match="actions.csv: expected the header"):
        read_vocabulary('epic100', actions)


def test_id_list(tmp_path):
    path, = write(tmp_path, **{'ids.csv': 'P01_11_102\n\nP01_11_106\n'})
    assert read_id_list(path) == ['P01_11_102', 'P01_11_106']
    assert read_id_list(path, with_lines=True) == [(1, 'P01_11_102'),
                                                   (2, 'P01_11_106')]


@pytest.mark.parametrize('text,message', [
    ('', 'no ids'),
    ('P01_11_1\nP01_11_2,P01_11\n', r'line 2: expected one id per line'),
    ('P01_11_1\nP01_11_1\n', r"line 2: duplicate id 'P01_11_1' \(first on "
     'line 1'),
])
def test_bad_id_list(tmp_path, text, message):
    path, = write(tmp_path, **{'ids.csv': text})
    with pytest.raises(ValueError, match=f'ids.csv.*{message}'):
        read_id_list(path)


def test_real_ek100_vocabulary(shared_data):
    vocab = read_vocabulary(
        'epic100', f'{shared_data}/rulstm/ek100/actions.csv',
        f'{shared_data}/epic-kitchens-100/EPIC_100_verb_classes.csv',
        f'{shared_data}/epic-kitchens-100/EPIC_100_noun_classes.csv')
    assert len(vocab) == 3806
    assert len(vocab.verb_names) == 97 and len(vocab.noun_names) == 300
    assert vocab.verbs.max() == 96 and vocab.nouns.max() == 299
    assert vocab.action_names[0] == 'take tap'
    assert vocab.verb_names[0] == 'take' and vocab.noun_names[0] == 'tap'


def test_real_ek100_id_lists(shared_data):
    root = f'{shared_data}/rulstm/ek100'
    sizes = {name: len(read_id_list(f'{root}/validation_{name}_ids.csv'))
             for name in ('unseen_participants', 'tail_verbs', 'tail_nouns',
                          'tail_actions')}
    assert sizes == dict(unseen_participants=1065, tail_verbs=1760,
                         tail_nouns=1900, tail_actions=3105)
