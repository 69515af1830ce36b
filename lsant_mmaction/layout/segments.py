"""Segment CSVs of the RU-LSTM layout (pure Python/numpy).

Segment CSVs have no header and the columns
``id, video, start_frame, end_frame, verb, noun, action`` (labelled splits) or
``id, video, start_frame, end_frame`` (test splits, no labels). Values may be
zero-padded and followed by spaces, as in RU-LSTM's EK55 files.
"""
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .csv_files import parse_int, read_rows

SEGMENT_COLUMNS = ('id', 'video', 'start_frame', 'end_frame', 'verb', 'noun',
                   'action')
UNLABELLED_COLUMNS = SEGMENT_COLUMNS[:4]


@dataclass
class Segments:
    """The segments of one annotation CSV, as parallel arrays.

    Attributes:
        ids (np.ndarray): Segment ids, int64 ``(N,)``.
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

    @property
    def labelled(self) -> bool:
        return self.actions is not None

    def __len__(self) -> int:
        return len(self.ids)


def read_segments(path: str) -> Segments:
    """Read an RU-LSTM segment CSV (labelled or test split).

    Args:
        path (str): CSV with 7 columns (labelled) or 4 columns (test).

    Returns:
        Segments: the parsed segments, in file order.

    Raises:
        ValueError: on a header row, a wrong number of columns, a non-integer
            value or a duplicate segment id; the message names the file and
            the line.
    """
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
    int_columns = [c for c in columns if c != 'video']
    values = {c: [] for c in int_columns}
    videos = []
    for line, row in enumerate(rows, start=1):
        if len(row) != width:
            raise ValueError(f'{path}, line {line}: expected {width} columns, '
                             f'got {len(row)}: {row}')
        for column, cell in zip(columns, row):
            if column == 'video':
                videos.append(cell)
            else:
                values[column].append(parse_int(cell, path, line, column))
    arrays = {c: np.asarray(v, dtype=np.int64) for c, v in values.items()}
    unique, counts = np.unique(arrays['id'], return_counts=True)
    if (counts > 1).any():
        raise ValueError(f'{path}: duplicate segment ids '
                         f'{unique[counts > 1][:10].tolist()}')
    return Segments(
        ids=arrays['id'],
        videos=videos,
        start_frames=arrays['start_frame'],
        end_frames=arrays['end_frame'],
        verbs=arrays.get('verb'),
        nouns=arrays.get('noun'),
        actions=arrays.get('action'),
        path=path)
