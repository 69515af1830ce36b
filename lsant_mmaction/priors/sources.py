"""Build a prior from its source files, with an on-disk cache.

A cache entry is one ``.npz`` file (written to a temporary name, then
renamed, so concurrent ranks never see a partial one) holding the matrix,
the warnings its build gave and a sha256 of both. An entry that
cannot be read, whose checksum does not match or whose matrix is not a valid
prior is rebuilt with a :class:`PriorWarning`; a cache folder that cannot be
written leaves the prior built in memory, with a warning.
"""
import hashlib
import json
import os
import tempfile
import warnings
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ..layout import SEGMENT_ID_TYPES, read_segments, read_vocabulary
from .builders import PriorWarning, build_from_vocabulary, check_prior
from .glove import SHIPPED_GLOVE, load_word_vectors

_CACHE_VERSION = 2


def default_cache_dir() -> str:
    """``$LSANT_MMACTION_CACHE`` or ``~/.cache/lsant_mmaction``, + priors."""
    root = os.environ.get('LSANT_MMACTION_CACHE') or os.path.join(
        os.path.expanduser('~'), '.cache', 'lsant_mmaction')
    return os.path.join(root, 'priors')


def build_prior(kind: str,
                dataset: str,
                actions: str,
                verb_classes: Optional[str] = None,
                noun_classes: Optional[str] = None,
                train: Optional[str] = None,
                glove: Optional[str] = None,
                similarity: str = 'dot',
                glvn_weights: Sequence[float] = (0.5, 0.5)
                ) -> Tuple[np.ndarray, dict]:
    """Build a prior from annotation files (no cache).

    Args:
        kind (str): ``uniform``, ``vn``, ``te``, ``gl`` or ``glvn``.
        dataset (str): ``epic55``, ``egtea`` or ``epic100`` (the format of
            ``actions.csv`` and of the segment ids).
        actions (str): RU-LSTM ``actions.csv``.
        verb_classes (str, optional): ``EPIC_verb_classes.csv`` (EK55 GL)
            or ``EPIC_100_verb_classes.csv`` (EK100 GL).
        noun_classes (str, optional): ``EPIC_noun_classes.csv`` (EK55 GL)
            or ``EPIC_100_noun_classes.csv`` (EK100 GL).
        train (str, optional): Training segment CSV (TE).
        glove (str, optional): Word-vector source (GL, GL+VN), see
            :func:`load_word_vectors`.
        similarity (str): GloVe similarity, ``dot`` (paper) or ``cosine``.
        glvn_weights (Sequence[float]): Weights of GL and VN in GL+VN.

    Returns:
        tuple: the float32 ``A x A`` prior and notes (see
        :func:`build_from_vocabulary`).

    Raises:
        ValueError: on a missing input for ``kind``, malformed files (named),
            or word vectors that cover none of the class names.

    Warns:
        PriorWarning: naming the word-vector source and the class names it
        has no vector for.
    """
    needs_names = kind in ('gl', 'glvn')
    if kind == 'te' and train is None:
        raise ValueError('the te prior needs train=<training CSV>')
    if needs_names and glove is None:
        raise ValueError(f'the {kind} prior needs glove=<vectors>, e.g. '
                         f'{sorted(SHIPPED_GLOVE)[0]!r}')
    vocab = read_vocabulary(dataset, actions,
                            verb_classes if needs_names else None,
                            noun_classes if needs_names else None)
    segments = (read_segments(train, SEGMENT_ID_TYPES.get(dataset, 'auto'))
                if kind == 'te' else None)
    vectors, vectors_source = None, 'the word vectors'
    if needs_names:
        vectors = load_word_vectors(glove)
        vectors_source = SHIPPED_GLOVE.get(glove, glove)
    return build_from_vocabulary(
        kind, vocab, segments, vectors, similarity=similarity,
        glvn_weights=glvn_weights, vectors_source=vectors_source)


def _file_digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()


def missing_sources(spec: dict) -> list:
    """The source files of a build spec that do not exist.

    A ``glove`` value counts as a file when it is not a shipped name and
    looks like a path; otherwise it is a gensim-data name.
    """
    files = [spec[k] for k in ('actions', 'verb_classes', 'noun_classes',
                               'train') if spec.get(k)]
    glove = spec.get('glove')
    if glove and glove not in SHIPPED_GLOVE and (
            os.sep in glove or glove.endswith(('.txt', '.bin', '.gz'))):
        files.append(glove)
    return [f for f in files if not os.path.isfile(f)]


def spec_key(spec: dict) -> str:
    """Cache key of a build spec: its options and its files' contents."""
    keyed = dict(spec, version=_CACHE_VERSION)
    for name in ('actions', 'verb_classes', 'noun_classes', 'train', 'glove'):
        value = spec.get(name)
        if value is None:
            continue
        path = SHIPPED_GLOVE.get(value, value)
        keyed[name] = _file_digest(path) if os.path.isfile(path) else value
    keyed['glvn_weights'] = list(spec.get('glvn_weights', (0.5, 0.5)))
    text = json.dumps(keyed, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def _entry_digest(matrix: np.ndarray, messages: List[str]) -> str:
    """sha256 of a cache entry: the matrix's dtype, shape and bytes, and the
    warnings of its build."""
    digest = hashlib.sha256(f'{matrix.dtype.str}{matrix.shape}'.encode())
    digest.update(np.ascontiguousarray(matrix).tobytes())
    digest.update(json.dumps(messages).encode())
    return digest.hexdigest()


def _read_cache_entry(path: str) -> Tuple[np.ndarray, List[str]]:
    """The matrix and the build warnings of a cache entry.

    Raises:
        ValueError: saying why the entry cannot be trusted (unreadable,
            checksum mismatch, not a valid prior).
    """
    try:
        # numpy leaks the file of a broken .npz it opened itself: open it here
        with open(path, 'rb') as f, np.load(f, allow_pickle=False) as entry:
            matrix = entry['prior']
            digest = str(entry['sha256'])
            messages = [str(m) for m in entry['warnings']]
    except Exception as e:  # truncated, not a zip, missing member, ...
        raise ValueError(f'unreadable: {type(e).__name__}: {e}') from e
    if _entry_digest(matrix, messages) != digest:
        raise ValueError('checksum mismatch: the entry was changed after it '
                         'was written')
    return check_prior(matrix, None, 'the cached matrix'), messages


def _write_cache_entry(path: str, matrix: np.ndarray,
                       messages: List[str]) -> None:
    """Write a cache entry atomically (temporary file, then rename)."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.npz')
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(f, prior=matrix,
                     sha256=np.array(_entry_digest(matrix, messages)),
                     warnings=np.array(messages, dtype=str))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _read_prior_file(path: str, num_classes: Optional[int]) -> np.ndarray:
    """A user-given ``.npy`` prior, validated."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'prior file not found: {path}')
    try:
        with open(path, 'rb') as f:
            matrix = np.load(f, allow_pickle=False)
            if not isinstance(matrix, np.ndarray):
                raise ValueError('an .npz archive, not a .npy array')
    except Exception as e:  # truncated, not .npy, pickled objects, ...
        raise ValueError(f'{path}: not a readable .npy prior: '
                         f'{type(e).__name__}: {e}') from e
    return check_prior(matrix, num_classes, path)


def _check_size(matrix: np.ndarray, num_classes: Optional[int],
                source: str) -> np.ndarray:
    """A validated prior of another size than the model's is an error."""
    if num_classes is not None and matrix.shape[0] != num_classes:
        raise ValueError(f'{source}: prior is {matrix.shape[0]}x'
                         f'{matrix.shape[1]} but num_classes={num_classes}')
    return matrix


def load_prior(prior: Union[str, dict],
               num_classes: Optional[int] = None,
               cache_dir: Optional[str] = None) -> np.ndarray:
    """A validated prior from a ``.npy`` path or a build spec.

    A build spec is a dict of :func:`build_prior`'s arguments; its result is
    cached in ``cache_dir`` under a key made of the options and the contents
    of the source files, so every rank and every later run reuses it. A
    cached entry replays the warnings of its build; a bad entry is rebuilt
    and an unwritable ``cache_dir`` only costs the cache (both with a
    :class:`PriorWarning` naming the path).

    Args:
        prior (str | dict): ``.npy`` file or build spec.
        num_classes (int, optional): Expected size.
        cache_dir (str, optional): Defaults to :func:`default_cache_dir`.

    Returns:
        np.ndarray: float32 ``(A, A)``, rows summing to 1.

    Raises:
        ValueError: naming the file when a ``.npy`` prior cannot be read or
            is not a valid prior (see :func:`check_prior`), or when the
            build fails.
        FileNotFoundError: on missing source files.
    """
    if isinstance(prior, str):
        return _read_prior_file(prior, num_classes)
    if not isinstance(prior, dict):
        raise TypeError(f'prior must be a .npy path or a build spec dict, '
                        f'got {type(prior).__name__}')
    spec = dict(prior)
    missing = missing_sources(spec)
    if missing:
        raise FileNotFoundError(f'prior source files not found: {missing}')
    cache_dir = cache_dir or default_cache_dir()
    path = os.path.join(cache_dir, f'{spec["kind"]}-{spec_key(spec)}.npz')
    if os.path.lexists(path):
        try:
            matrix, messages = _read_cache_entry(path)
        except ValueError as e:
            warnings.warn(f'{path}: bad prior cache entry ({e}); rebuilding '
                          'it', PriorWarning)
        else:  # validated when read
            for message in messages:
                warnings.warn(message, PriorWarning)
            return _check_size(matrix, num_classes, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', PriorWarning)
        matrix, _ = build_prior(**spec)
    for w in caught:  # pass them on, and keep the prior's for cache hits
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    messages = [str(w.message) for w in caught
                if issubclass(w.category, PriorWarning)]
    # build_from_vocabulary validated it; only the expected size is new here
    _check_size(matrix, num_classes, f'{spec["kind"]} prior from {spec}')
    try:
        _write_cache_entry(path, matrix, messages)
    except OSError as e:
        warnings.warn(f'could not write the prior cache entry {path} ({e}); '
                      'using the prior built in memory', PriorWarning)
    return matrix
