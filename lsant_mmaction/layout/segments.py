"""Readers for the annotation CSVs of the RU-LSTM layout (pure Python/numpy).

Segment CSVs have no header and the columns
``id, video, start_frame, end_frame, verb, noun, action`` (labelled splits) or
``id, video, start_frame, end_frame`` (test splits, no labels). Values may be
zero-padded and followed by spaces, as in RU-LSTM's EK55 files.
"""
import csv
import io
import os
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

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


def read_rows(path: str) -> List[List[str]]:
    """Read a CSV into rows of stripped strings, skipping blank lines.

    Raises:
        FileNotFoundError: naming ``path`` when it does not exist.
        ValueError: naming the file and line when it is not UTF-8.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b'\n') + 1
        raise ValueError(
            f'{path}, line {line}: not UTF-8 text (byte '
            f'{raw[e.start:e.start + 1]!r} at offset {e.start}); save the '
            'file as UTF-8') from None
    return [[cell.strip() for cell in row]
            for row in csv.reader(io.StringIO(text, newline=''))
            if row and any(cell.strip() for cell in row)]


def read_columns(path: str, columns: List[str]) -> List[tuple]:
    """Rows ``(line number, value of each column)`` of a CSV with a header.

    Raises:
        ValueError: naming the file when a column is missing from the header.
    """
    rows = read_rows(path)
    header = rows[0] if rows else []
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f'{path}: expected columns {columns} in the header,'
                         f' got {header}')
    index = [header.index(c) for c in columns]
    return [(line, *(row[i] for i in index))
            for line, row in enumerate(rows[1:], start=2)]


def parse_int(value: str, path: str, line: int, column: str) -> int:
    """``int(value)`` with an error that names the file, line and column."""
    try:
        return int(value)
    except ValueError:
        raise ValueError(f'{path}, line {line}: column {column!r} must be an '
                         f'integer, got {value!r}') from None


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
