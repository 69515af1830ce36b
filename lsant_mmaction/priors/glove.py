"""Word vectors through gensim, and embeddings of class names."""
import os
import re
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np


#: Real glove.6B 50d vectors of every EK55, EGTEA and EK100 class word, shipped
#: with the package (extracted by ``tools/extract_glove_subset.py``).
SHIPPED_GLOVE = {
    'glove-6b-50d-classes':
    os.path.join(os.path.dirname(__file__), 'data', 'glove_6b_50d_classes.txt'),
}


def _is_header(fields: List[str]) -> bool:
    """A word2vec header is two integers: count and size."""
    return len(fields) == 2 and all(t.isdigit() for t in fields)


def _check_text_file(path: str) -> Optional[int]:
    """Fail, naming ``path`` and the line, on a word-vector text file that
    gensim would misread or reject with an unclear error.

    Lines are split as gensim does (trailing whitespace stripped, values
    separated by single spaces), so trailing spaces are accepted.

    Returns:
        int, optional: the vector count of a word2vec header, or None for a
        GloVe file (no header).

    Raises:
        ValueError: on a file that is not UTF-8, is empty, has a blank line,
            vectors of different sizes, or a word2vec header whose count
            differs from the number of vectors.
    """
    dims = header_count = None
    vectors = 0
    with open(path, 'rb') as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode('utf-8')
            except UnicodeDecodeError as e:
                raise ValueError(
                    f'{path}, line {line_no}: not UTF-8 ({e.reason} at byte '
                    f'{e.start} of the line); word-vector text files must be '
                    'UTF-8') from None
            fields = line.rstrip().split(' ')
            if line_no == 1 and _is_header(fields):
                header_count, dims = int(fields[0]), int(fields[1])
                continue
            if not line.strip():
                raise ValueError(f'{path}, line {line_no}: blank line')
            size = len(fields) - 1
            if dims is None:
                if size == 0:
                    raise ValueError(
                        f'{path}, line {line_no}: no vector values; expected '
                        "'word v1 ... vd' separated by single spaces")
                dims = size
            elif size != dims:
                raise ValueError(
                    f'{path}, line {line_no}: vector of {size} values, '
                    f'expected {dims} (mixed dimensions)')
            vectors += 1
    if vectors == 0:
        raise ValueError(f'{path}: no word vectors (the file is empty or '
                         'holds only a header)')
    if header_count is not None and header_count != vectors:
        raise ValueError(
            f'{path}, line 1: the word2vec header says {header_count} '
            f'vectors but the file has {vectors}')
    return header_count


def _line_of(path: str, word: str, has_header: bool) -> str:
    """``', line N'`` of ``word`` in a text file, or ``''`` if not found."""
    prefix = (word + ' ').encode('utf-8')
    with open(path, 'rb') as f:
        for line_no, raw in enumerate(f, start=1):
            if raw.startswith(prefix) and not (has_header and line_no == 1):
                return f', line {line_no}'
    return ''


def _check_finite(vectors, source: str, path: Optional[str] = None,
                  has_header: bool = False) -> None:
    """Fail, naming the source, the word and the line, on a NaN or infinite
    vector value."""
    bad = ~np.isfinite(vectors.vectors).all(axis=1)
    if bad.any():
        word = vectors.index_to_key[int(bad.nonzero()[0][0])]
        where = _line_of(path, word, has_header) if path else ''
        raise ValueError(
            f'{source}{where}: the vector of {word!r} has NaN or infinite '
            f'values ({int(bad.sum())} of {len(bad)} words do)')


def load_word_vectors(source: str):
    """Load word vectors as a gensim ``KeyedVectors``.

    Args:
        source (str): One of

            - a shipped name (``'glove-6b-50d-classes'``, see
              :data:`SHIPPED_GLOVE`);
            - a GloVe text file (no header, ``word v1 ... vd`` per line);
            - a word2vec file: text (first line ``count size``) or binary
              (``.bin``);
            - a gensim-data model name such as
              ``'glove-wiki-gigaword-300'`` (downloads; needs network).

    Returns:
        gensim.models.KeyedVectors: The vectors, all finite.

    Raises:
        ValueError: naming the file (and line) when it is malformed: not
            UTF-8, empty, blank lines, mixed dimensions, a wrong word2vec
            header count, NaN or infinite values.
    """
    from gensim.models import KeyedVectors
    path = SHIPPED_GLOVE.get(source, source)
    if os.path.isfile(path):
        binary = path.endswith('.bin')
        header_count = None if binary else _check_text_file(path)
        try:
            with warnings.catch_warnings():
                # gensim 4.4 reopens a no-header file without closing it
                # (CPython closes it on return); silence only that warning
                warnings.simplefilter('ignore', ResourceWarning)
                vectors = KeyedVectors.load_word2vec_format(
                    path, binary=binary,
                    no_header=not binary and header_count is None)
        except (ValueError, EOFError, UnicodeDecodeError, TypeError) as e:
            raise ValueError(f'{path}: not a GloVe/word2vec file: '
                             f'{type(e).__name__}: {e}') from e
        _check_finite(vectors, path, None if binary else path,
                      header_count is not None)
        return vectors
    if os.sep in source or source.endswith(('.txt', '.bin', '.gz')):  # path
        raise FileNotFoundError(f'word-vector file not found: {source}')
    import gensim.downloader
    try:
        vectors = gensim.downloader.load(source)
    except Exception as e:  # network or unknown name
        raise RuntimeError(
            f'could not load word vectors {source!r}: not a file, not a '
            f'shipped name ({sorted(SHIPPED_GLOVE)}), and gensim-data '
            f'failed ({e})') from e
    _check_finite(vectors, source)
    return vectors


def tokenize(name: str) -> list:
    """Lower-case tokens of a class name: ``'board:chopping'`` ->
    ``['board', 'chopping']``, ``'Inspect/Read'`` -> ``['inspect', 'read']``.
    """
    return [t for t in re.split(r'[:\-_/\s]+', name.lower()) if t]


def embed_names(vectors, names: Dict[int, str]
                ) -> Tuple[Dict[int, np.ndarray], List[str]]:
    """Mean GloVe vector of each name's tokens (see :func:`tokenize`).

    Tokens without a vector are skipped; a name with none gets a zero vector.

    Args:
        vectors (gensim.models.KeyedVectors): Word vectors.
        names (dict[int, str]): Class names by id.

    Returns:
        tuple: ``{id: float64 (d,) vector}`` and the names with no vector.
    """
    embedded, missing = {}, []
    for class_id, name in names.items():
        tokens = [t for t in tokenize(name) if t in vectors.key_to_index]
        if tokens:
            embedded[class_id] = np.mean(
                [vectors[t] for t in tokens], axis=0, dtype=np.float64)
        else:
            embedded[class_id] = np.zeros(vectors.vector_size, np.float64)
            missing.append(name)
    return embedded, missing
