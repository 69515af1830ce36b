"""Segment CSVs of the RU-LSTM layout (pure Python/numpy).

Segment CSVs have no header and the columns
``id, video, start_frame, end_frame, verb, noun, action`` (labelled splits) or
``id, video, start_frame, end_frame`` (test splits, no labels). Values may be
zero-padded and followed by spaces, as in RU-LSTM's EK55 files.

Segment ids are integers in EK55 and EGTEA (``1924``) and strings in
EPIC-KITCHENS-100 (``P01_01_12``, video id and a running number).
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from .csv_files import parse_int, read_rows

SEGMENT_COLUMNS = ('id', 'video', 'start_frame', 'end_frame', 'verb', 'noun',
                   'action')
UNLABELLED_COLUMNS = SEGMENT_COLUMNS[:4]
#: How :func:`read_segments` reads the ``id`` column.
ID_TYPES = ('auto', 'int', 'str')
#: The segment ids of each benchmark format (the names of
#: :data:`~lsant_mmaction.layout.vocabulary.VOCABULARIES`).
SEGMENT_ID_TYPES = dict(epic55='int', egtea='int', epic100='str')
_TRAILING_NUMBER = re.compile(r'(\d+)$')
_INTEGER = re.compile(r'[+-]?\d+')


@dataclass
class Segments:
    """The segments of one annotation CSV, as parallel arrays.

    Attributes:
        ids (np.ndarray): Segment ids, int64 ``(N,)``, or strings
            (``<U``, e.g. EK100's ``P01_01_12``).
        videos (list[str]): Video id of each segment.
        start_frames (np.ndarray): First frame of each action, int64 ``(N,)``.
        end_frames (np.ndarray): Last frame of each action, int64 ``(N,)``.
        verbs, nouns, actions (np.ndarray, optional): Labels, int64 ``(N,)``;
            ``None`` for unlabelled (test) CSVs.
        path (str): The file they were read from.
    """
    ids: np.ndarray
    videos: List[str]
    start_frames: np.ndarray
    end_frames: np.ndarray
    verbs: Optional[np.ndarray]
    nouns: Optional[np.ndarray]
    actions: Optional[np.ndarray]
    path: str
    _rows: Optional[Dict[str, np.ndarray]] = field(
        default=None, init=False, repr=False, compare=False)

    @property
    def labelled(self) -> bool:
        return self.actions is not None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def string_ids(self) -> bool:
        return self.ids.dtype.kind == 'U'

    def covering(self, video: str, frames: np.ndarray) -> np.ndarray:
        """int64 ``(T,)``: for each frame number, the index of the segment
        of ``video`` whose ``[start_frame, end_frame]`` holds it, -1 where
        none does. Where several do (EK100's segments often overlap), the
        one whose centre is nearest the frame, then the one listed first.

        (AFFT's labels of observed frames follow the same rule in intent;
        its code compares the frame's time with half of each segment's
        length instead of its centre.)
        """
        frames = np.asarray(frames, np.int64)
        if self._rows is None:  # segment indices of each video, once
            order = np.argsort(np.asarray(self.videos), kind='stable')
            videos = np.asarray(self.videos)[order]
            cuts = np.nonzero(videos[1:] != videos[:-1])[0] + 1
            self._rows = {str(group[0]): rows for group, rows in zip(
                np.split(videos, cuts), np.split(order, cuts))} \
                if len(order) else {}
        rows = self._rows.get(video)
        if rows is None:
            return np.full(len(frames), -1, np.int64)
        start = self.start_frames[rows][None]  # (1, K)
        end = self.end_frames[rows][None]
        at = frames[:, None]  # (T, 1)
        inside = (start <= at) & (at <= end)  # (T, K)
        # twice the distance to the centre: integers, no rounding
        distance = np.where(inside, np.abs(2 * at - start - end),
                            np.iinfo(np.int64).max)
        return np.where(inside.any(1), rows[distance.argmin(1)],
                        -1).astype(np.int64)

    def tie_breaks(self) -> np.ndarray:
        """int64 ``(N,)`` order of segments that start on the same frame of
        a video: the id itself for integer ids (EK55, EGTEA), the trailing
        number of a string id (``P01_01_12`` -> 12; EK100).

        Raises:
            ValueError: naming the file and the id when a string id does not
                end with a number.
        """
        if not self.string_ids:
            return self.ids.astype(np.int64)
        numbers = []
        for segment_id in self.ids.tolist():
            match = _TRAILING_NUMBER.search(segment_id)
            if match is None:
                raise ValueError(
                    f'{self.path}: segment id {segment_id!r} does not end '
                    'with a number, which orders segments that start on the '
                    'same frame')
            numbers.append(int(match.group(1)))
        return np.asarray(numbers, np.int64)


def read_segments(path: str, id_type: str = 'auto') -> Segments:
    """Read an RU-LSTM segment CSV (labelled or test split).

    Args:
        path (str): CSV with 7 columns (labelled) or 4 columns (test).
        id_type (str): ``'int'``: every id must be an integer (EK55,
            EGTEA); ``'str'``: ids are kept as strings (EK100); ``'auto'``:
            int64 when every id is an integer, else strings. Defaults to
            ``'auto'``; :data:`SEGMENT_ID_TYPES` gives each benchmark's.

    Returns:
        Segments: the parsed segments, in file order.

    Raises:
        ValueError: on a header row, a wrong number of columns, a non-integer
            value (or id, for ``id_type='int'``), an empty id or a duplicate
            segment id; the message names the file and the line.
    """
    if id_type not in ID_TYPES:
        raise ValueError(f'id_type must be one of {ID_TYPES}, got '
                         f'{id_type!r}')
    rows = read_rows(path)
    if not rows:
        raise ValueError(f'{path}: no segments')
    width = len(rows[0])
    if width == len(SEGMENT_COLUMNS):
        columns = SEGMENT_COLUMNS
    elif width == len(UNLABELLED_COLUMNS):
        columns = UNLABELLED_COLUMNS
    else:
        raise ValueError(
            f'{path}, line 1: expected {len(SEGMENT_COLUMNS)} columns '
            f'{SEGMENT_COLUMNS} (or the first 4 for a test split), got '
            f'{width}: {rows[0]}')
    int_columns = [c for c in columns if c not in ('id', 'video')]
    values = {c: [] for c in int_columns}
    videos, ids = [], []
    first_line = {}
    for line, row in enumerate(rows, start=1):
        if len(row) != width:
            raise ValueError(f'{path}, line {line}: expected {width} columns, '
                             f'got {len(row)}: {row}')
        for column, cell in zip(columns, row):
            if column == 'video':
                videos.append(cell)
            elif column == 'id':
                if id_type == 'int':
                    cell = str(parse_int(cell, path, line, column))
                elif not cell:
                    raise ValueError(f'{path}, line {line}: empty segment id')
                ids.append(cell)
            else:
                values[column].append(parse_int(cell, path, line, column))
    arrays = {c: np.asarray(v, dtype=np.int64) for c, v in values.items()}
    arrays['id'] = _id_array(ids, id_type)
    for line, segment_id in enumerate(arrays['id'].tolist(), start=1):
        earlier = first_line.setdefault(segment_id, line)
        if earlier != line:
            raise ValueError(f'{path}, line {line}: duplicate segment id '
                             f'{segment_id!r} (first on line {earlier})')
    return Segments(
        ids=arrays['id'],
        videos=videos,
        start_frames=arrays['start_frame'],
        end_frames=arrays['end_frame'],
        verbs=arrays.get('verb'),
        nouns=arrays.get('noun'),
        actions=arrays.get('action'),
        path=path)


def _id_array(ids: List[str], id_type: str) -> np.ndarray:
    """int64 ids (``'int'``, or ``'auto'`` when all are integers), else
    strings. ``ids`` are already checked to be integers for ``'int'``."""
    if id_type == 'int' or (id_type == 'auto' and all(
            _INTEGER.fullmatch(i) for i in ids)):
        return np.asarray([int(i) for i in ids], np.int64)
    return np.asarray(ids, dtype=str)
