"""Reading the CSV files of the layout, with errors that name the file and
line (pure Python)."""
import csv
import io
import os
from typing import List


def read_text(path: str) -> str:
    """The UTF-8 text of an annotation file.

    Raises:
        FileNotFoundError: naming ``path`` when it does not exist.
        ValueError: naming the file and line when it is not UTF-8.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b'\n') + 1
        raise ValueError(
            f'{path}, line {line}: not UTF-8 text (byte '
            f'{raw[e.start:e.start + 1]!r} at offset {e.start}); save the '
            'file as UTF-8') from None


def read_rows(path: str) -> List[List[str]]:
    """Read a CSV into rows of stripped strings, skipping blank lines.

    Raises:
        FileNotFoundError: naming ``path`` when it does not exist.
        ValueError: naming the file and line when it is not UTF-8.
    """
    text = read_text(path)
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
