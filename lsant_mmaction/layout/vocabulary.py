"""Action vocabularies: which verb and noun each action is made of, and
the names of actions, verbs and nouns."""
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from .csv_files import parse_int, read_columns, read_rows


#: Formats of ``actions.csv`` that :func:`read_vocabulary` reads.
VOCABULARIES = ('epic55', 'egtea', 'epic100')


@dataclass
class ActionVocabulary:
    """Actions as (verb, noun) pairs, indexed by action id ``0 .. A-1``.

    Attributes:
        verbs (np.ndarray): Verb id of each action, int64 ``(A,)``.
        nouns (np.ndarray): Noun id of each action, int64 ``(A,)``.
        verb_names (dict[int, str], optional): Class name of each verb id.
        noun_names (dict[int, str], optional): Class name of each noun id.
        source (str): The file(s) the vocabulary was read from.
        action_names (list[str], optional): Name of each action as
            ``actions.csv`` gives it (``take_pan``, ``Open_fridge``).
    """
    verbs: np.ndarray
    nouns: np.ndarray
    verb_names: Optional[Dict[int, str]]
    noun_names: Optional[Dict[int, str]]
    source: str
    action_names: Optional[List[str]] = None

    def __len__(self) -> int:
        return len(self.verbs)

    @property
    def has_names(self) -> bool:
        return self.verb_names is not None and self.noun_names is not None

    def to_dict(self) -> dict:
        """Plain data (lists, dicts, strings), for a dataset's metainfo:
        it travels in checkpoints, which are read with
        ``weights_only=True``."""
        return dict(
            verbs=self.verbs.tolist(),
            nouns=self.nouns.tolist(),
            verb_names=self.verb_names,
            noun_names=self.noun_names,
            source=self.source,
            action_names=self.action_names)

    @classmethod
    def from_dict(cls, values: dict) -> 'ActionVocabulary':
        """The vocabulary :meth:`to_dict` gave."""
        return cls(**dict(
            values,
            verbs=np.asarray(values['verbs'], np.int64),
            nouns=np.asarray(values['nouns'], np.int64)))


def _ordered_ids(ids: np.ndarray, path: str) -> np.ndarray:
    """Permutation putting rows in id order; ids must be exactly 0..A-1."""
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f'{path}: duplicate action ids '
                         f'{unique[counts > 1][:10].tolist()}')
    if not np.array_equal(unique, np.arange(len(ids))):
        missing = np.setdiff1d(np.arange(len(ids)), unique)[:10].tolist()
        raise ValueError(f'{path}: action ids must be 0..{len(ids) - 1}; '
                         f'missing {missing}')
    return np.argsort(ids)


def _check_unique_pairs(ids: List[int], verbs: List[int], nouns: List[int],
                        lines: List[int], path: str) -> None:
    """Each (verb, noun) pair names one action: two ids for one pair would
    split its segments between two classes (and its prior mass)."""
    first: Dict[tuple, tuple] = {}
    for action, verb, noun, line in zip(ids, verbs, nouns, lines):
        seen = first.setdefault((verb, noun), (action, line))
        if seen[0] != action:
            raise ValueError(
                f'{path}: actions {seen[0]} (line {seen[1]}) and {action} '
                f'(line {line}) are the same (verb, noun) pair ({verb}, '
                f'{noun}); each pair must be one action')


def read_class_names(path: str,
                     kind: str,
                     id_column: Optional[str] = None,
                     key_column: str = 'class_key') -> Dict[int, str]:
    """``{id: class key}`` of a class file with a header.

    Args:
        path (str): ``EPIC_{verb,noun}_classes.csv`` (EK55: columns
            ``{kind}_id, class_key``) or ``EPIC_100_{verb,noun}_classes.csv``
            (EK100: ``id, key``).
        kind (str): ``'verb'`` or ``'noun'``, for messages.
        id_column (str, optional): Defaults to ``f'{kind}_id'`` (EK55).
        key_column (str): Defaults to ``'class_key'`` (EK55).
    """
    id_column = id_column or f'{kind}_id'
    names = {}
    for line, class_id, key in read_columns(path, [id_column, key_column]):
        class_id = parse_int(class_id, path, line, id_column)
        if class_id in names:
            raise ValueError(f'{path}, line {line}: duplicate {kind} id '
                             f'{class_id}')
        names[class_id] = key
    return names


def _check_names(ids: np.ndarray, names: Dict[int, str], kind: str,
                 path: str, actions_csv: str) -> None:
    missing = sorted(set(ids.tolist()) - set(names))
    if missing:
        raise ValueError(f'{actions_csv} uses {kind} ids {missing[:10]} that '
                         f'{path} does not define')


def read_epic55_vocabulary(actions_csv: str,
                           verb_classes_csv: Optional[str] = None,
                           noun_classes_csv: Optional[str] = None
                           ) -> ActionVocabulary:
    """EK55 actions from RU-LSTM's ``actions.csv`` (``id,action,verb,noun``).

    Class names, when wanted (GloVe priors), come from the ``class_key``
    column of the official ``EPIC_verb_classes.csv`` and
    ``EPIC_noun_classes.csv``.

    Args:
        actions_csv (str): RU-LSTM ``actions.csv`` with a header.
        verb_classes_csv (str, optional): ``EPIC_verb_classes.csv``.
        noun_classes_csv (str, optional): ``EPIC_noun_classes.csv``.

    Returns:
        ActionVocabulary: rows in action-id order.

    Raises:
        ValueError: naming the file (and line) on a wrong header, a
            malformed row, ids that are not ``0..A-1``, two actions with
            the same (verb, noun) pair, or class files that miss an id.
    """
    rows = read_rows(actions_csv)
    header = rows[0] if rows else []
    expected = ['id', 'action', 'verb', 'noun']
    if header != expected:
        raise ValueError(f'{actions_csv}: expected the header {expected}, '
                         f'got {header}')
    ids, verbs, nouns, names = [], [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 4:
            raise ValueError(f'{actions_csv}, line {line}: expected 4 '
                             f'columns, got {row}')
        ids.append(parse_int(row[0], actions_csv, line, 'id'))
        names.append(row[1])
        verbs.append(parse_int(row[2], actions_csv, line, 'verb'))
        nouns.append(parse_int(row[3], actions_csv, line, 'noun'))
    order = _ordered_ids(np.asarray(ids, np.int64), actions_csv)
    _check_unique_pairs(ids, verbs, nouns, list(range(2, len(ids) + 2)),
                        actions_csv)
    verbs = np.asarray(verbs, np.int64)[order]
    nouns = np.asarray(nouns, np.int64)[order]
    if (verb_classes_csv is None) != (noun_classes_csv is None):
        raise ValueError('give both verb_classes_csv and noun_classes_csv, '
                         'or neither')
    verb_names = noun_names = None
    source = actions_csv
    if verb_classes_csv is not None:
        verb_names = read_class_names(verb_classes_csv, 'verb')
        noun_names = read_class_names(noun_classes_csv, 'noun')
        _check_names(verbs, verb_names, 'verb', verb_classes_csv, actions_csv)
        _check_names(nouns, noun_names, 'noun', noun_classes_csv, actions_csv)
        source = f'{actions_csv} + {verb_classes_csv} + {noun_classes_csv}'
    return ActionVocabulary(verbs, nouns, verb_names, noun_names, source,
                            [names[i] for i in order])


def read_epic100_vocabulary(actions_csv: str,
                            verb_classes_csv: Optional[str] = None,
                            noun_classes_csv: Optional[str] = None
                            ) -> ActionVocabulary:
    """EPIC-KITCHENS-100 actions from RU-LSTM's ``ek100/actions.csv``
    (header ``id,verb,noun,action``; the action is named ``"verb noun"``
    with the class keys, e.g. ``take tap``).

    Class names, when wanted (GloVe priors), come from the ``key`` column of
    the official ``EPIC_100_verb_classes.csv`` and
    ``EPIC_100_noun_classes.csv``; every action name must then read
    ``"{verb key} {noun key}"``, which catches class files of another
    release or benchmark.

    Args:
        actions_csv (str): RU-LSTM ``actions.csv`` with a header.
        verb_classes_csv (str, optional): ``EPIC_100_verb_classes.csv``.
        noun_classes_csv (str, optional): ``EPIC_100_noun_classes.csv``.

    Returns:
        ActionVocabulary: rows in action-id order.

    Raises:
        ValueError: naming the file (and line) on a wrong header, a
            malformed row, ids that are not ``0..A-1``, two actions with
            the same (verb, noun) pair, or class files that do not match
            ``actions.csv``.
    """
    rows = read_rows(actions_csv)
    header = rows[0] if rows else []
    expected = ['id', 'verb', 'noun', 'action']
    if header != expected:
        raise ValueError(f'{actions_csv}: expected the header {expected}, '
                         f'got {header}')
    ids, verbs, nouns, names, lines = [], [], [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 4:
            raise ValueError(f'{actions_csv}, line {line}: expected 4 '
                             f'columns, got {row}')
        ids.append(parse_int(row[0], actions_csv, line, 'id'))
        verbs.append(parse_int(row[1], actions_csv, line, 'verb'))
        nouns.append(parse_int(row[2], actions_csv, line, 'noun'))
        names.append(row[3])
        lines.append(line)
    order = _ordered_ids(np.asarray(ids, np.int64), actions_csv)
    _check_unique_pairs(ids, verbs, nouns, lines, actions_csv)
    verbs = np.asarray(verbs, np.int64)[order]
    nouns = np.asarray(nouns, np.int64)[order]
    names = [names[i] for i in order]
    lines = [lines[i] for i in order]
    if (verb_classes_csv is None) != (noun_classes_csv is None):
        raise ValueError('give both verb_classes_csv and noun_classes_csv, '
                         'or neither')
    verb_names = noun_names = None
    source = actions_csv
    if verb_classes_csv is not None:
        verb_names = read_class_names(verb_classes_csv, 'verb', 'id', 'key')
        noun_names = read_class_names(noun_classes_csv, 'noun', 'id', 'key')
        _check_names(verbs, verb_names, 'verb', verb_classes_csv, actions_csv)
        _check_names(nouns, noun_names, 'noun', noun_classes_csv, actions_csv)
        for name, verb, noun, line in zip(names, verbs.tolist(),
                                          nouns.tolist(), lines):
            verb_key, noun_key = verb_names[verb], noun_names[noun]
            if name == f'{verb_key} {noun_key}':
                continue
            kind, path, class_id, key = (
                ('noun', noun_classes_csv, noun, noun_key)
                if name.startswith(verb_key + ' ') else
                ('verb', verb_classes_csv, verb, verb_key))
            raise ValueError(
                f'{path} does not match {actions_csv}: line {line} names '
                f'action {name!r} (verb {verb}, noun {noun}) but the class '
                f'file calls {kind} {class_id} {key!r}; are both from the '
                'same EPIC-KITCHENS-100 release?')
        source = f'{actions_csv} + {verb_classes_csv} + {noun_classes_csv}'
    return ActionVocabulary(verbs, nouns, verb_names, noun_names, source,
                            names)


def read_egtea_vocabulary(actions_csv: str) -> ActionVocabulary:
    """EGTEA Gaze+ actions from RU-LSTM's ``egtea/actions.csv``.

    Rows are ``id, verbId_nounId, Verb_noun`` with no header; the name is
    split at its first ``_`` (``Take_eating:utensil`` -> ``Take``,
    ``eating:utensil``).

    Returns:
        ActionVocabulary: rows in action-id order, with class names.

    Raises:
        ValueError: on malformed rows, a verb (noun) id given two
            different names, or two actions with the same (verb, noun)
            pair.
    """
    rows = read_rows(actions_csv)
    ids, verbs, nouns, action_names = [], [], [], []
    verb_names: Dict[int, str] = {}
    noun_names: Dict[int, str] = {}
    for line, row in enumerate(rows, start=1):
        pair = row[1].split('_') if len(row) == 3 else []
        if len(pair) != 2 or '_' not in row[2]:
            raise ValueError(
                f'{actions_csv}, line {line}: expected '
                f"'id, verbId_nounId, Verb_noun', got {row}")
        ids.append(parse_int(row[0], actions_csv, line, 'id'))
        verb = parse_int(pair[0], actions_csv, line, 'verbId')
        noun = parse_int(pair[1], actions_csv, line, 'nounId')
        verb_name, noun_name = row[2].split('_', 1)
        for kind, names, key, name in (('verb', verb_names, verb, verb_name),
                                       ('noun', noun_names, noun, noun_name)):
            if names.setdefault(key, name) != name:
                raise ValueError(
                    f'{actions_csv}, line {line}: {kind} id {key} is named '
                    f'{name!r} here and {names[key]!r} earlier')
        verbs.append(verb)
        nouns.append(noun)
        action_names.append(row[2])
    order = _ordered_ids(np.asarray(ids, np.int64), actions_csv)
    _check_unique_pairs(ids, verbs, nouns, list(range(1, len(ids) + 1)),
                        actions_csv)
    return ActionVocabulary(
        np.asarray(verbs, np.int64)[order],
        np.asarray(nouns, np.int64)[order], verb_names, noun_names,
        actions_csv, [action_names[i] for i in order])


def read_vocabulary(dataset: str,
                    actions: str,
                    verb_classes: Optional[str] = None,
                    noun_classes: Optional[str] = None):
    """The action vocabulary of ``dataset`` (one of :data:`VOCABULARIES`:
    ``'epic55'``, ``'egtea'``, ``'epic100'``); ``verb_classes`` and
    ``noun_classes`` are the EPIC class files (EK55, EK100), for names."""
    if dataset == 'epic55':
        return read_epic55_vocabulary(actions, verb_classes, noun_classes)
    if dataset == 'epic100':
        return read_epic100_vocabulary(actions, verb_classes, noun_classes)
    if dataset == 'egtea':
        if verb_classes or noun_classes:
            raise ValueError('EGTEA class names come from actions.csv; do not '
                             'give verb/noun class files')
        return read_egtea_vocabulary(actions)
    raise ValueError(f'unknown dataset {dataset!r}; expected one of '
                     f'{VOCABULARIES}')
