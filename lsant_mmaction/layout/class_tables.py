"""What a prior may know about the classes of any classification dataset,
beyond the EPIC formats: their names, the groups they belong to, and the
order in which they occur in videos (pure Python/numpy).

Each comes from a file or from a list in the config:

- class names (:func:`read_class_names_list`): a text file, one name a
  line, line 1 naming class 0 (mmaction's label-map files, e.g.
  ``label_map_k400.txt``, are such files);
- class groups (:func:`read_class_groups`): a CSV table with a header
  whose key column (``id``: class ids; ``class``: class names) names each
  class once and whose other columns are groups, e.g.
  ``class,verb,noun`` / ``open fridge,open,fridge``; two classes share a
  group when they have the same value in the same column;
- class sequences (:func:`read_class_sequences`): a segment list, one
  segment a line, ``video start label`` or ``video start end label``
  (whitespace or commas), which is also the layout of mmaction's
  ``RawframeDataset`` lists with offsets (``frame_dir offset total_frames
  label``: the third field is not read).

Every error names the file and the line (or the list and the index).
"""
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple, Union

import numpy as np

from .csv_files import read_rows, read_text

#: The key columns of a group table: class ids, or class names.
GROUP_KEY_COLUMNS = ('id', 'class')
_FIELD_SEPARATORS = re.compile(r'[,\s]+')


@dataclass
class ClassNames:
    """The names of classes ``0 .. C-1``.

    Attributes:
        names (list[str]): Name of each class.
        source (str): The file, or ``'class_names'`` for a list.
        lines (list[int], optional): File line of each class.
    """
    names: List[str]
    source: str
    lines: Optional[List[int]] = None

    def __len__(self) -> int:
        return len(self.names)

    def where(self, class_id: int) -> str:
        """``'classes.txt, line 4'`` or ``'class_names[3]'``."""
        if self.lines is None:
            return f'{self.source}[{class_id}]'
        return f'{self.source}, line {self.lines[class_id]}'


@dataclass
class ClassGroups:
    """The groups of classes ``0 .. C-1``: each a set of ``(column,
    value)`` pairs; classes sharing a pair share a group.

    Attributes:
        groups (list[frozenset]): Groups of each class.
        source (str): The file, or ``'groups'`` for a list.
    """
    groups: List[FrozenSet[Tuple[str, str]]]
    source: str

    def __len__(self) -> int:
        return len(self.groups)


@dataclass
class ClassSequences:
    """Class ids in the order they occur, one array per video.

    Attributes:
        sequences (list[np.ndarray]): int64 class ids of each video.
        source (str): The file, or ``'sequences'`` for a list.
    """
    sequences: List[np.ndarray]
    source: str


def _check_count(found: int, num_classes: Optional[int], source: str,
                 what: str) -> None:
    """``source`` names the file and its lines, or the list."""
    if num_classes is not None and found != num_classes:
        raise ValueError(f'{source}: {found} {what} but num_classes='
                         f'{num_classes}; give one per class, class 0 first')


def read_class_names_list(source: Union[str, Sequence[str]],
                          num_classes: Optional[int] = None) -> ClassNames:
    """Class names from a text file (one a line, line 1 = class 0) or a
    list.

    Args:
        source (str | list[str]): The file, or the names.
        num_classes (int, optional): Expected number of classes.

    Returns:
        ClassNames: the stripped names.

    Raises:
        ValueError: naming the file and line (or the list index) on a blank
            line between names, a name given twice, or a number of names
            other than ``num_classes``.
    """
    if isinstance(source, str):
        text = read_text(source)
        entries = [(no, line.strip()) for no, line in
                   enumerate(text.splitlines(), start=1)]
        while entries and not entries[-1][1]:  # trailing newlines
            entries.pop()
        where = source
        names, lines = [e[1] for e in entries], [e[0] for e in entries]
    else:
        if not all(isinstance(n, str) for n in source):
            bad = next(n for n in source if not isinstance(n, str))
            raise ValueError(f'class_names must be strings, got {bad!r}')
        where, names, lines = 'class_names', [n.strip() for n in source], None
    classes = ClassNames(names, where, lines)
    first: Dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            raise ValueError(
                f'{classes.where(i)}: empty class name (class {i}); every '
                'class needs a name, one a line with no blank lines')
        if first.setdefault(name, i) != i:
            raise ValueError(
                f'{classes.where(i)}: class {i} is named {name!r}, as class '
                f'{first[name]} ({classes.where(first[name])}); two classes '
                'need two names')
    if not names:
        raise ValueError(f'{where}: no class names')
    _check_count(len(names), num_classes,
                 f'{where}, lines 1-{lines[-1]}' if lines else where,
                 'class names')
    return classes


def read_class_groups(source: Union[str, Sequence],
                      num_classes: Optional[int] = None,
                      class_names: Optional[ClassNames] = None
                      ) -> ClassGroups:
    """The groups of every class, from a CSV table or a list.

    Args:
        source (str | list): A CSV file with a header: a key column, ``id``
            (class ids ``0 .. C-1``) or ``class`` (class names, as
            ``class_names`` gives them), and one column per kind of group
            (e.g. ``verb``, ``noun``); an empty cell is no group. Or a list
            with one entry per class, in class order: a list of group ids
            (one namespace), or a dict ``{column: value}`` (as a table row).
        num_classes (int, optional): Number of classes. Defaults to the
            number of class names, else to the number of rows.
        class_names (ClassNames, optional): Needed by a ``class`` key
            column; named in the messages.

    Returns:
        ClassGroups: one set of ``(column, value)`` pairs per class.

    Raises:
        ValueError: naming the file and line on a table with no key column,
            a row of another width, an unknown or repeated class, and a
            class with no row (or a list of another length).
    """
    if num_classes is None and class_names is not None:
        num_classes = len(class_names)
    if not isinstance(source, str):
        return _groups_from_list(source, num_classes)
    rows = read_rows(source)
    header = rows[0] if rows else []
    keys = [c for c in GROUP_KEY_COLUMNS if c in header]
    if len(keys) != 1 or len(header) < 2:
        raise ValueError(
            f'{source}, line 1: expected a header with one key column, '
            f"'id' (class ids) or 'class' (class names), and group "
            f'columns, e.g. id,verb,noun; got {header}')
    key = keys[0]
    if key == 'class' and class_names is None:
        raise ValueError(f"{source}: the 'class' column names classes; give "
                         'class_names= too (or key the table by id)')
    index = header.index(key)
    columns = [(i, c) for i, c in enumerate(header) if i != index]
    by_name = ({n: i for i, n in enumerate(class_names.names)}
               if class_names is not None else {})
    groups: Dict[int, FrozenSet] = {}
    first_line: Dict[int, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f'{source}, line {line}: expected '
                             f'{len(header)} columns {header}, got {row}')
        cell = row[index]
        if key == 'id':
            class_id = int(cell) if re.fullmatch(r'\d+', cell) else None
            known = class_id is not None and (num_classes is None
                                              or class_id < num_classes)
        else:
            class_id = by_name.get(cell)
            known = class_id is not None
        if not known:
            raise ValueError(
                f'{source}, line {line}: unknown class {cell!r} '
                + (f'(class ids are 0..{num_classes - 1})' if key == 'id'
                   and num_classes is not None else
                   '(not a class id)' if key == 'id' else
                   f'(not in {class_names.source})'))
        if class_id in first_line:
            raise ValueError(f'{source}, line {line}: class {cell!r} again '
                             f'(first on line {first_line[class_id]})')
        first_line[class_id] = line
        groups[class_id] = frozenset(
            (column, row[i]) for i, column in columns if row[i])
    count = num_classes if num_classes is not None else len(groups)
    missing = [i for i in range(count) if i not in groups]
    if missing:
        named = [f'{i} ({class_names.names[i]!r})' if class_names else str(i)
                 for i in missing[:10]]
        raise ValueError(
            f'{source}: no row for class{"es" if len(missing) > 1 else ""} '
            f'{", ".join(named)}{" ..." if len(missing) > 10 else ""} '
            f'({len(groups)} rows, lines 2-{len(rows)}, for {count} '
            'classes); every class needs a row')
    return ClassGroups([groups[i] for i in range(count)], source)


def _groups_from_list(source: Sequence,
                      num_classes: Optional[int]) -> ClassGroups:
    groups = []
    for i, entry in enumerate(source):
        if isinstance(entry, dict):
            pairs = [(str(k), str(v)) for k, v in entry.items()
                     if v is not None and v != '']
        elif isinstance(entry, (list, tuple)):
            pairs = [('', str(v)) for v in entry]
        else:
            raise ValueError(
                f'groups[{i}]: expected a list of group ids or a dict '
                f'{{column: value}}, got {entry!r}')
        groups.append(frozenset(pairs))
    _check_count(len(groups), num_classes, 'groups', 'entries')
    return ClassGroups(groups, 'groups')


def read_class_sequences(source: Union[str, Sequence[Sequence[int]]],
                         num_classes: int) -> ClassSequences:
    """Class ids in temporal order, per video.

    Args:
        source (str | list[list[int]]): A segment list, one segment a line:
            ``video start label`` or ``video start end label`` (fields
            separated by whitespace or commas; ``start`` a number, ``label``
            a class id); segments are ordered by start within a video, ties
            in file order. Or a list with one list of class ids per video,
            already in order.
        num_classes (int): Number of classes.

    Returns:
        ClassSequences: one int64 array per video.

    Raises:
        ValueError: naming the file and line (or the list index) on a line
            of another shape, a start that is not a number, a label that is
            not a class id ``0 .. C-1``, or no segment at all.
    """
    def check_label(value, where) -> int:
        label = value if isinstance(value, (int, np.integer)) else (
            int(value) if isinstance(value, str)
            and re.fullmatch(r'\d+', value) else None)
        if label is None or not 0 <= label < num_classes:
            raise ValueError(f'{where}: unknown class {value!r} (class ids '
                             f'are 0..{num_classes - 1})')
        return int(label)

    if not isinstance(source, str):
        sequences = [
            np.asarray([check_label(c, f'sequences[{v}][{j}]')
                        for j, c in enumerate(video)], np.int64)
            for v, video in enumerate(source)
        ]
        if not any(len(s) for s in sequences):
            raise ValueError('sequences: no segment')
        return ClassSequences(sequences, 'sequences')
    segments: Dict[str, List[Tuple[float, int, int]]] = {}
    for line, text in enumerate(read_text(source).splitlines(), start=1):
        fields = [f for f in _FIELD_SEPARATORS.split(text.strip()) if f]
        if not fields:
            continue
        if len(fields) not in (3, 4):
            raise ValueError(
                f'{source}, line {line}: expected "video start label" or '
                f'"video start end label", got {len(fields)} fields: '
                f'{text.strip()!r}')
        try:
            start = float(fields[1])
        except ValueError:
            raise ValueError(f'{source}, line {line}: start {fields[1]!r} '
                             'is not a number') from None
        label = check_label(fields[-1], f'{source}, line {line}')
        segments.setdefault(fields[0], []).append((start, line, label))
    if not segments:
        raise ValueError(f'{source}: no segment')
    return ClassSequences(
        [np.asarray([label for _, _, label in sorted(video)], np.int64)
         for video in segments.values()], source)
