"""Class and segment lists of a benchmark: many-shot verbs, nouns and
actions; segment-id lists of evaluation subsets (pure numpy)."""
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from .csv_files import parse_int, read_columns, read_rows
from .vocabulary import ActionVocabulary

MANY_SHOT_RULES = ('rulstm', 'official')


def read_class_list(path: str, column: str) -> np.ndarray:
    """Integer column of a CSV with a header, e.g. ``verb_class`` of
    ``EPIC_many_shot_verbs.csv``."""
    return np.array([parse_int(value, path, line, column)
                     for line, value in read_columns(path, [column])],
                    np.int64)


def read_many_shot_actions(path: str,
                           vocab: ActionVocabulary) -> np.ndarray:
    """Action ids of the official ``EPIC_many_shot_actions.csv``, whose
    ``action_class`` is ``"(verb, noun)"``; pairs absent from the action
    vocabulary are skipped."""
    index = {(int(v), int(n)): a
             for a, (v, n) in enumerate(zip(vocab.verbs, vocab.nouns))}
    actions = []
    for line, value in read_columns(path, ['action_class']):
        pair = tuple(
            parse_int(x.strip(' ()'), path, line, 'action_class')
            for x in value.split(','))
        if pair in index:
            actions.append(index[pair])
    return np.array(sorted(actions), np.int64)


def many_shot_classes(vocab: ActionVocabulary,
                      verbs_file: str,
                      nouns_file: str,
                      actions_file: Optional[str] = None,
                      rule: str = 'rulstm') -> Dict[str, np.ndarray]:
    """Many-shot verb, noun and action ids.

    Args:
        vocab (ActionVocabulary): The actions.
        verbs_file (str): ``EPIC_many_shot_verbs.csv`` (``verb_class``).
        nouns_file (str): ``EPIC_many_shot_nouns.csv`` (``noun_class``).
        actions_file (str, optional): ``EPIC_many_shot_actions.csv``, for
            ``rule='official'``.
        rule (str): ``'rulstm'``: an action is many-shot when its verb or
            its noun is, as RU-LSTM does; ``'official'``: the actions of
            ``actions_file``.

    Returns:
        dict: ``verb``, ``noun``, ``action``: sorted int64 ids.
    """
    if rule not in MANY_SHOT_RULES:
        raise ValueError(f'many-shot rule must be one of {MANY_SHOT_RULES}, '
                         f'got {rule!r}')
    verbs = read_class_list(verbs_file, 'verb_class')
    nouns = read_class_list(nouns_file, 'noun_class')
    if rule == 'rulstm':
        actions = np.nonzero(
            np.isin(vocab.verbs, verbs) | np.isin(vocab.nouns, nouns))[0]
    else:
        if actions_file is None:
            raise ValueError("rule='official' needs the many-shot actions "
                             'file')
        actions = read_many_shot_actions(actions_file, vocab)
    return dict(verb=verbs, noun=nouns, action=actions)


def read_id_list(path: str, with_lines: bool = False
                 ) -> Union[List[str], List[Tuple[int, str]]]:
    """Ids of a list file: one id per line, no header, e.g. RU-LSTM's
    ``validation_unseen_participants_ids.csv`` (EK100 segment ids such as
    ``P01_11_102``). Blank lines are skipped.

    Args:
        path (str): The list file.
        with_lines (bool): Return ``(line number, id)`` pairs instead of the
            ids, for messages that name the line. Defaults to False.

    Returns:
        list: The ids as strings, in file order.

    Raises:
        FileNotFoundError: naming ``path`` when it does not exist.
        ValueError: naming the file (and line) when it is empty, a line has
            more than one column, or an id repeats.
    """
    rows = read_rows(path)
    if not rows:
        raise ValueError(f'{path}: no ids (expected one id per line)')
    seen: Dict[str, int] = {}
    out = []
    for line, row in enumerate(rows, start=1):
        if len([c for c in row if c]) != 1 or not row[0]:
            raise ValueError(f'{path}, line {line}: expected one id per line,'
                             f' got {row}')
        earlier = seen.setdefault(row[0], line)
        if earlier != line:
            raise ValueError(f'{path}, line {line}: duplicate id {row[0]!r} '
                             f'(first on line {earlier})')
        out.append((line, row[0]) if with_lines else row[0])
    return out
