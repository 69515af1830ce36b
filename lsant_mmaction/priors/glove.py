"""Word vectors through gensim, and embeddings of class names."""
import os
from typing import Dict, List, Tuple

import numpy as np

from .vocabulary import tokenize

#: Real glove.6B 50d vectors of every EK55 and EGTEA class word, shipped with
#: the package (extracted by ``tools/extract_glove_subset.py``).
SHIPPED_GLOVE = {
    'glove-6b-50d-classes':
    os.path.join(os.path.dirname(__file__), 'data', 'glove_6b_50d_classes.txt'),
}


def _check_dimensions(path: str) -> None:
    """Fail on a text file whose vectors do not all have the same size."""
    dims = None
    with open(path, encoding='utf-8') as f:
        first = f.readline().split()
        # a word2vec header is two integers: count and size
        if len(first) == 2 and all(t.isdigit() for t in first):
            dims = int(first[1])
        else:
            dims = len(first) - 1
        for line_no, line in enumerate(f, start=2):
            size = len(line.rstrip('\n').split(' ')) - 1
            if line.strip() and size != dims:
                raise ValueError(
                    f'{path}, line {line_no}: vector of {size} values, '
                    f'expected {dims} (mixed dimensions)')


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
        gensim.models.KeyedVectors: The vectors.
    """
    from gensim.models import KeyedVectors
    path = SHIPPED_GLOVE.get(source, source)
    if os.path.isfile(path):
        if path.endswith('.bin'):
            return KeyedVectors.load_word2vec_format(path, binary=True)
        _check_dimensions(path)
        with open(path, encoding='utf-8') as f:
            first = f.readline().split()
        no_header = not (len(first) == 2 and all(t.isdigit() for t in first))
        try:
            return KeyedVectors.load_word2vec_format(
                path, binary=False, no_header=no_header)
        except ValueError as e:
            raise ValueError(f'{path}: not a GloVe/word2vec file: {e}') from e
    if os.sep in source or source.endswith(('.txt', '.bin', '.gz')):  # path
        raise FileNotFoundError(f'word-vector file not found: {source}')
    import gensim.downloader
    try:
        return gensim.downloader.load(source)
    except Exception as e:  # network or unknown name
        raise RuntimeError(
            f'could not load word vectors {source!r}: not a file, not a '
            f'shipped name ({sorted(SHIPPED_GLOVE)}), and gensim-data '
            f'failed ({e})') from e


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
