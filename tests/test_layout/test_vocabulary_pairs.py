"""An action is one (verb, noun) pair: every actions.csv reader refuses two
actions with the same pair, naming the file, both ids and the pair."""
import os.path as osp

import pytest

from lsant_mmaction.layout import read_vocabulary

# (reader, hostile actions.csv text, the two ids, their lines, the pair):
# ids 1 and 3 are both (verb 0, noun 1)
HOSTILE = {
    'epic55': ('id,action,verb,noun\n0,take_tap,0,0\n1,take_board,0,1\n'
               '2,put_board,1,1\n3,grab_board,0,1\n', (1, 3), (3, 5)),
    'epic100': ('id,verb,noun,action\n0,0,0,take tap\n1,0,1,take board\n'
                '2,1,1,put board\n3,0,1,take board\n', (1, 3), (3, 5)),
    'egtea': ('0, 0_0, Take_tap\n1, 0_1, Take_board\n2, 1_1, Put_board\n'
              '3, 0_1, Take_board\n', (1, 3), (2, 4)),
}


@pytest.mark.parametrize('dataset', sorted(HOSTILE))
def test_two_actions_with_one_pair_are_refused(tmp_path, dataset):
    text, (first, second), (line1, line2) = HOSTILE[dataset]
    path = tmp_path / 'actions.csv'
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        read_vocabulary(dataset, str(path))
    message = str(error.value)
    assert message.startswith(f'{path}: ')
    assert (f'actions {first} (line {line1}) and {second} (line {line2})'
            in message)
    assert '(verb, noun) pair (0, 1)' in message


@pytest.mark.parametrize('dataset', sorted(HOSTILE))
def test_distinct_pairs_are_read(tmp_path, dataset):
    text = HOSTILE[dataset][0]
    lines = text.splitlines()[:-1]  # without the duplicate
    path = tmp_path / 'actions.csv'
    path.write_text('\n'.join(lines) + '\n')
    vocab = read_vocabulary(dataset, str(path))
    assert len(vocab) == 3
    assert vocab.verbs.tolist() == [0, 0, 1]
    assert vocab.nouns.tolist() == [0, 1, 1]


@pytest.mark.parametrize('dataset,folder,count', [
    ('epic55', 'ek55', 2513), ('epic100', 'ek100', 3806),
    ('egtea', 'egtea', 106)])
def test_real_actions_files_have_one_action_per_pair(shared_data, dataset,
                                                     folder, count):
    vocab = read_vocabulary(
        dataset, osp.join(shared_data, 'rulstm', folder, 'actions.csv'))
    assert len(vocab) == count
    assert len(set(zip(vocab.verbs.tolist(), vocab.nouns.tolist()))) == count
