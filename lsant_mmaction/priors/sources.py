"""Build a prior from its source files, with an on-disk cache."""
import hashlib
import json
import os
import tempfile
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from ..annotations import read_segments
from .builders import build_from_vocabulary, check_prior
from .glove import SHIPPED_GLOVE, load_word_vectors
from .vocabulary import read_egtea_vocabulary, read_epic55_vocabulary

DATASETS = ('epic55', 'egtea')
_CACHE_VERSION = 1


def default_cache_dir() -> str:
    """``$LSANT_MMACTION_CACHE`` or ``~/.cache/lsant_mmaction``, + priors."""
    root = os.environ.get('LSANT_MMACTION_CACHE') or os.path.join(
        os.path.expanduser('~'), '.cache', 'lsant_mmaction')
    return os.path.join(root, 'priors')


def read_vocabulary(dataset: str,
                    actions: str,
                    verb_classes: Optional[str] = None,
                    noun_classes: Optional[str] = None):
    """The action vocabulary of ``dataset`` (``'epic55'`` or ``'egtea'``)."""
    if dataset == 'epic55':
        return read_epic55_vocabulary(actions, verb_classes, noun_classes)
    if dataset == 'egtea':
        if verb_classes or noun_classes:
            raise ValueError('EGTEA class names come from actions.csv; do not '
                             'give verb/noun class files')
        return read_egtea_vocabulary(actions)
    raise ValueError(f'unknown dataset {dataset!r}; expected one of '
                     f'{DATASETS}')


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
        dataset (str): ``epic55`` or ``egtea``.
        actions (str): RU-LSTM ``actions.csv``.
        verb_classes (str, optional): ``EPIC_verb_classes.csv`` (EK55 GL).
        noun_classes (str, optional): ``EPIC_noun_classes.csv`` (EK55 GL).
        train (str, optional): Training segment CSV (TE).
        glove (str, optional): Word-vector source (GL, GL+VN), see
            :func:`load_word_vectors`.
        similarity (str): GloVe similarity, ``dot`` (paper) or ``cosine``.
        glvn_weights (Sequence[float]): Weights of GL and VN in GL+VN.

    Returns:
        tuple: the float32 ``A x A`` prior and notes (see
        :func:`build_from_vocabulary`).
    """
    needs_names = kind in ('gl', 'glvn')
    vocab = read_vocabulary(dataset, actions,
                            verb_classes if needs_names else None,
                            noun_classes if needs_names else None)
    segments = read_segments(train) if kind == 'te' else None
    if kind == 'te' and train is None:
        raise ValueError('the te prior needs train=<training CSV>')
    vectors = None
    if needs_names:
        if glove is None:
            raise ValueError(f'the {kind} prior needs glove=<vectors>, e.g. '
                             f'{sorted(SHIPPED_GLOVE)[0]!r}')
        vectors = load_word_vectors(glove)
    return build_from_vocabulary(
        kind, vocab, segments, vectors, similarity=similarity,
        glvn_weights=glvn_weights)


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


def load_prior(prior: Union[str, dict],
               num_classes: Optional[int] = None,
               cache_dir: Optional[str] = None) -> np.ndarray:
    """A validated prior from a ``.npy`` path or a build spec.

    A build spec is a dict of :func:`build_prior`'s arguments; its result is
    cached in ``cache_dir`` under a key made of the options and the contents
    of the source files, so every rank and every later run reuses it.

    Args:
        prior (str | dict): ``.npy`` file or build spec.
        num_classes (int, optional): Expected size.
        cache_dir (str, optional): Defaults to :func:`default_cache_dir`.

    Returns:
        np.ndarray: float32 ``(A, A)``, rows summing to 1.
    """
    if isinstance(prior, str):
        if not os.path.isfile(prior):
            raise FileNotFoundError(f'prior file not found: {prior}')
        return check_prior(np.load(prior), num_classes, prior)
    if not isinstance(prior, dict):
        raise TypeError(f'prior must be a .npy path or a build spec dict, '
                        f'got {type(prior).__name__}')
    spec = dict(prior)
    missing = missing_sources(spec)
    if missing:
        raise FileNotFoundError(f'prior source files not found: {missing}')
    cache_dir = cache_dir or default_cache_dir()
    path = os.path.join(cache_dir, f'{spec["kind"]}-{spec_key(spec)}.npy')
    if os.path.isfile(path):
        return check_prior(np.load(path), num_classes, path)
    matrix, _ = build_prior(**spec)
    check_prior(matrix, num_classes, f'{spec["kind"]} prior from {spec}')
    os.makedirs(cache_dir, exist_ok=True)
    # write then rename: concurrent ranks never read a partial file
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix='.npy')
    with os.fdopen(fd, 'wb') as f:
        np.save(f, matrix)
    os.replace(tmp, path)
    return matrix
