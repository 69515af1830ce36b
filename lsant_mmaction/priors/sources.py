"""Build a prior from its source files, with an on-disk cache.

A build spec (what a config's ``prior=dict(...)`` holds) takes one of two
forms, checked by :func:`check_prior_spec` (it holds exactly what its kind
reads: see :data:`SPEC_KEYS`):

- an EPIC-format vocabulary (EPIC-KITCHENS-55/100, EGTEA): ``dataset``,
  ``actions`` (RU-LSTM's ``actions.csv``), the EPIC class files, the
  training CSV;
- any class list: ``class_names`` (GL), ``groups`` (VN: e.g. each class's
  verb and noun), ``sequences`` (TE), each a file or a list in the config
  (see :mod:`lsant_mmaction.layout.class_tables`); the number of classes
  is the loss's ``num_classes``. ``uniform`` reads nothing.

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
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..layout import (SEGMENT_ID_TYPES, read_class_groups,
                      read_class_names_list, read_class_sequences,
                      read_segments, read_vocabulary)
from .builders import (PRIOR_KINDS, PriorWarning, build_from_class_tables,
                       build_from_vocabulary, check_prior)
from .glove import SHIPPED_GLOVE, load_word_vectors

_CACHE_VERSION = 2

_GLOVE_KEYS = ('glove', 'similarity')
#: The keys a build spec of each kind may hold, in each form (``'epic'``:
#: with ``dataset``; ``'class list'``); all but the optional ones are needed.
SPEC_KEYS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    'epic': dict(
        uniform=(),
        vn=('dataset', 'actions'),
        te=('dataset', 'actions', 'train'),
        gl=('dataset', 'actions', 'verb_classes', 'noun_classes')
        + _GLOVE_KEYS,
        glvn=('dataset', 'actions', 'verb_classes', 'noun_classes')
        + _GLOVE_KEYS + ('glvn_weights', )),
    'class list': dict(
        uniform=(),
        vn=('groups', 'class_names'),
        te=('sequences', ),
        gl=('class_names', ) + _GLOVE_KEYS,
        glvn=('class_names', 'groups') + _GLOVE_KEYS + ('glvn_weights', )),
}
#: Keys a spec may leave out: the options, and the EPIC class files (EGTEA
#: has none); a vn spec may also leave out class_names (an id-keyed table).
_OPTIONAL = ('similarity', 'glvn_weights', 'verb_classes', 'noun_classes')
#: Keys whose value may be a file (the others are options).
_FILE_KEYS = ('actions', 'verb_classes', 'noun_classes', 'train',
              'class_names', 'groups', 'sequences')
_MERGE_HINT = (
    'A prior spec merged over a base config\'s keeps the base\'s keys: '
    "replace it whole with prior=dict(_delete_=True, kind=..., ...)")


def default_cache_dir() -> str:
    """``$LSANT_MMACTION_CACHE`` or ``~/.cache/lsant_mmaction``, + priors."""
    root = os.environ.get('LSANT_MMACTION_CACHE') or os.path.join(
        os.path.expanduser('~'), '.cache', 'lsant_mmaction')
    return os.path.join(root, 'priors')


def spec_form(spec: dict) -> str:
    """``'epic'`` for a spec with a ``dataset`` or ``actions``, else
    ``'class list'``."""
    return 'epic' if ('dataset' in spec or 'actions' in spec) else \
        'class list'


def check_prior_spec(spec: dict) -> dict:
    """The spec as a plain dict, if it holds exactly what its kind reads.

    ``_delete_`` (mmengine's merge directive, left in when there was
    nothing to replace) is dropped.

    Args:
        spec (dict): A build spec (see :data:`SPEC_KEYS`).

    Returns:
        dict: the spec, without ``_delete_``.

    Raises:
        ValueError: naming the keys when the kind is unknown, a key is not a
            spec key, a key is not read by this kind (e.g. ``train`` in a
            ``gl`` spec, inherited from a base config's spec: the message
            says how to replace it), the two forms are mixed, or a needed
            key is missing.
    """
    spec = {k: v for k, v in dict(spec).items() if k != '_delete_'}
    kind = spec.get('kind')
    if kind not in PRIOR_KINDS:
        raise ValueError(f'prior spec {spec}: kind must be one of '
                         f'{PRIOR_KINDS}, got {kind!r}')
    known = {k for keys in SPEC_KEYS.values() for ks in keys.values()
             for k in ks} | {'kind'}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f'prior spec {spec}: unknown key(s) {unknown}; a '
                         f'spec holds kind and {sorted(known - {"kind"})}')
    form = spec_form(spec)
    allowed = SPEC_KEYS[form][kind]
    extra = [k for k in spec if k != 'kind' and k not in allowed]
    if extra:
        other = 'class list' if form == 'epic' else 'epic'
        mixed = [k for k in extra if k in SPEC_KEYS[other][kind]] \
            if kind != 'uniform' else []
        reads = ', '.join(allowed) or 'nothing but the loss\'s num_classes'
        source = '' if kind == 'uniform' else (
            'from an EPIC-format vocabulary ' if form == 'epic' else
            'from a class list ')
        raise ValueError(
            f'prior spec {spec}: the {kind} prior {source}'
            f'does not read {extra} (it reads {reads})'
            + ('; the spec mixes the EPIC form (dataset, actions, ...) and '
               'the class-list form (class_names, groups, sequences)'
               if mixed else '') + f'. {_MERGE_HINT}')
    needed = [k for k in allowed if k not in _OPTIONAL
              and not (kind == 'vn' and k == 'class_names')]  # id-keyed
    absent = [k for k in needed if spec.get(k) is None]
    if absent:
        raise ValueError(
            f'prior spec {spec}: the {kind} prior needs {absent}'
            + ('' if form == 'epic' else
               f' (or an EPIC-format spec: {list(SPEC_KEYS["epic"][kind])})'))
    return spec


def build_prior(kind: str,
                dataset: Optional[str] = None,
                actions: Optional[str] = None,
                verb_classes: Optional[str] = None,
                noun_classes: Optional[str] = None,
                train: Optional[str] = None,
                glove: Optional[str] = None,
                similarity: str = 'dot',
                glvn_weights: Sequence[float] = (0.5, 0.5),
                *,
                class_names: Optional[Union[str, Sequence[str]]] = None,
                groups: Optional[Union[str, Sequence]] = None,
                sequences: Optional[Union[str, Sequence]] = None,
                num_classes: Optional[int] = None
                ) -> Tuple[np.ndarray, dict]:
    """Build a prior from annotation files (no cache).

    With ``dataset``, from an EPIC-format vocabulary; otherwise from a
    class list. Arguments that ``kind`` does not read are not opened (a
    spec given to :func:`load_prior` or the loss may not even hold them,
    see :func:`check_prior_spec`).

    Args:
        kind (str): ``uniform``, ``vn``, ``te``, ``gl`` or ``glvn``.
        dataset (str, optional): ``epic55``, ``egtea`` or ``epic100`` (the
            format of ``actions.csv`` and of the segment ids).
        actions (str, optional): RU-LSTM ``actions.csv``.
        verb_classes (str, optional): ``EPIC_verb_classes.csv`` (EK55 GL)
            or ``EPIC_100_verb_classes.csv`` (EK100 GL).
        noun_classes (str, optional): ``EPIC_noun_classes.csv`` (EK55 GL)
            or ``EPIC_100_noun_classes.csv`` (EK100 GL).
        train (str, optional): Training segment CSV (TE).
        glove (str, optional): Word-vector source (GL, GL+VN), see
            :func:`load_word_vectors`.
        similarity (str): GloVe similarity, ``dot`` (paper) or ``cosine``.
        glvn_weights (Sequence[float]): Weights of GL and VN in GL+VN.
        class_names (str | list[str], optional): Class-name list (GL,
            GL+VN; or the names a group table is keyed by), see
            :func:`~lsant_mmaction.layout.read_class_names_list`.
        groups (str | list, optional): Class groups (VN, GL+VN), see
            :func:`~lsant_mmaction.layout.read_class_groups`.
        sequences (str | list, optional): Class sequences (TE), see
            :func:`~lsant_mmaction.layout.read_class_sequences`.
        num_classes (int, optional): Number of classes: needed by a
            class-list ``uniform`` or ``te``; otherwise checked against the
            sources.

    Returns:
        tuple: the float32 ``A x A`` prior and notes (see
        :func:`build_from_vocabulary`).

    Raises:
        ValueError: on a missing input for ``kind``, malformed files (named,
            with the line), or word vectors that cover none of the class
            names (EPIC) or not all of them (class lists).

    Warns:
        PriorWarning: (EPIC) naming the word-vector source and the class
        names it has no vector for.
    """
    needs_names = kind in ('gl', 'glvn')
    if needs_names and glove is None:
        raise ValueError(f'the {kind} prior needs glove=<vectors>, e.g. '
                         f'{sorted(SHIPPED_GLOVE)[0]!r}')
    vectors, vectors_source = None, 'the word vectors'
    if dataset is None and actions is None:
        return _build_from_class_list(
            kind, num_classes, class_names, groups, sequences, glove,
            similarity, glvn_weights)
    given = [k for k, v in (('class_names', class_names), ('groups', groups),
                            ('sequences', sequences)) if v is not None]
    if given or dataset is None or actions is None:
        raise ValueError(
            'an EPIC-format prior needs dataset= and actions=, and no '
            f'class-list sources (got dataset={dataset!r}, actions='
            f'{actions!r}{", " + ", ".join(given) if given else ""})')
    if kind == 'te' and train is None:
        raise ValueError('the te prior needs train=<training CSV>')
    vocab = read_vocabulary(dataset, actions,
                            verb_classes if needs_names else None,
                            noun_classes if needs_names else None)
    if num_classes is not None and len(vocab) != num_classes:
        raise ValueError(f'{actions}: {len(vocab)} actions but '
                         f'num_classes={num_classes}')
    segments = (read_segments(train, SEGMENT_ID_TYPES.get(dataset, 'auto'))
                if kind == 'te' else None)
    if needs_names:
        vectors = load_word_vectors(glove)
        vectors_source = SHIPPED_GLOVE.get(glove, glove)
    return build_from_vocabulary(
        kind, vocab, segments, vectors, similarity=similarity,
        glvn_weights=glvn_weights, vectors_source=vectors_source)


def _build_from_class_list(kind, num_classes, class_names, groups,
                           sequences, glove, similarity, glvn_weights):
    """:func:`build_prior` without an EPIC vocabulary."""
    names = None
    if class_names is not None and kind in ('vn', 'gl', 'glvn'):
        names = read_class_names_list(class_names, num_classes)
        num_classes = len(names)
    table = None
    if kind in ('vn', 'glvn'):
        if groups is None:
            raise ValueError(f'the {kind} prior needs groups=<class groups>')
        table = read_class_groups(groups, num_classes, names)
        num_classes = len(table)
    if kind in ('gl', 'glvn') and names is None:
        raise ValueError(f'the {kind} prior needs class_names=<class list>')
    if num_classes is None:
        raise ValueError(f'the {kind} prior of a class list needs '
                         'num_classes (the loss gives its own)')
    order = None
    if kind == 'te':
        if sequences is None:
            raise ValueError('the te prior needs sequences=<class sequences>')
        order = read_class_sequences(sequences, num_classes)
    vectors, vectors_source = None, 'the word vectors'
    if kind in ('gl', 'glvn'):
        vectors = load_word_vectors(glove)
        vectors_source = SHIPPED_GLOVE.get(glove, glove)
    return build_from_class_tables(
        kind, num_classes, names, table, order, vectors, similarity,
        glvn_weights, vectors_source)


def _file_digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha1(f.read()).hexdigest()


def _is_file(key: str, value) -> bool:
    """Whether a spec value names a file: a path for the file keys, and a
    ``glove`` that is not a shipped name and looks like a path (otherwise
    it is a gensim-data name)."""
    if not isinstance(value, str):
        return False  # a list in the config
    if key == 'glove':
        return value not in SHIPPED_GLOVE and (
            os.sep in value or value.endswith(('.txt', '.bin', '.gz')))
    return key in _FILE_KEYS


def missing_sources(spec: dict) -> list:
    """The source files of a build spec that do not exist: only those its
    kind reads (the spec is checked first, see :func:`check_prior_spec`).
    """
    spec = check_prior_spec(spec)
    return [v for k, v in spec.items()
            if _is_file(k, v) and not os.path.isfile(v)]


def spec_key(spec: dict, num_classes: Optional[int] = None) -> str:
    """Cache key of a build spec: its options, its files' contents (a list
    given in the config as it is) and the number of classes."""
    keyed = dict(spec, version=_CACHE_VERSION, num_classes=num_classes)
    for name, value in spec.items():
        if name == 'glove' or _is_file(name, value):
            path = SHIPPED_GLOVE.get(value, value)
            keyed[name] = (_file_digest(path) if os.path.isfile(path)
                           else value)
        elif isinstance(value, (list, tuple)):
            keyed[name] = json.loads(json.dumps(value, default=str))
    keyed['glvn_weights'] = list(spec.get('glvn_weights', (0.5, 0.5)))
    text = json.dumps(keyed, sort_keys=True, default=str)
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


def resolve_prior(prior: Union[str, dict]) -> Union[str, dict]:
    """What a loss's ``prior`` names: a ``.npy`` path, or a checked build
    spec (a kind's name alone, ``'uniform'``, is ``dict(kind='uniform')``).

    Raises:
        ValueError: on a string that is neither a kind nor a ``.npy`` path,
            or a spec that :func:`check_prior_spec` refuses.
        TypeError: on anything else.
    """
    if isinstance(prior, str):
        if prior in PRIOR_KINDS:
            return check_prior_spec(dict(kind=prior))
        if not prior.endswith('.npy'):
            raise ValueError(
                f'prior {prior!r} is neither a prior kind {PRIOR_KINDS} nor '
                'a .npy file')
        return prior
    if not isinstance(prior, dict):
        raise TypeError(f'prior must be a .npy path, a kind or a build spec '
                        f'dict, got {type(prior).__name__}')
    return check_prior_spec(prior)


def load_prior(prior: Union[str, dict],
               num_classes: Optional[int] = None,
               cache_dir: Optional[str] = None) -> np.ndarray:
    """A validated prior from a ``.npy`` path or a build spec.

    A build spec (see :func:`check_prior_spec`) is built by
    :func:`build_prior`; its result is cached in ``cache_dir`` under a key
    made of the options, the contents of the source files and
    ``num_classes``, so every rank and every later run reuses it (a uniform
    prior is not cached: it reads nothing). A cached entry replays the
    warnings of its build; a bad entry is rebuilt and an unwritable
    ``cache_dir`` only costs the cache (both with a :class:`PriorWarning`
    naming the path).

    Args:
        prior (str | dict): ``.npy`` file, a kind (``'uniform'``) or a
            build spec.
        num_classes (int, optional): Expected size; needed by ``uniform``
            and the class-list ``te``.
        cache_dir (str, optional): Defaults to :func:`default_cache_dir`.

    Returns:
        np.ndarray: float32 ``(A, A)``, rows summing to 1.

    Raises:
        ValueError: naming the file when a ``.npy`` prior cannot be read or
            is not a valid prior (see :func:`check_prior`), naming the keys
            of a spec that holds what its kind does not read, or when the
            build fails.
        FileNotFoundError: on missing source files.
    """
    prior = resolve_prior(prior)
    if isinstance(prior, str):
        return _read_prior_file(prior, num_classes)
    spec = prior
    missing = missing_sources(spec)
    if missing:
        raise FileNotFoundError(f'prior source files not found: {missing}')
    if spec['kind'] == 'uniform':
        if num_classes is None:
            raise ValueError('the uniform prior needs num_classes')
        return build_prior('uniform', num_classes=num_classes)[0]
    cache_dir = cache_dir or default_cache_dir()
    path = os.path.join(cache_dir,
                        f'{spec["kind"]}-{spec_key(spec, num_classes)}.npz')
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
        matrix, _ = build_prior(**spec, num_classes=num_classes)
    for w in caught:  # pass them on, and keep the prior's for cache hits
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    messages = [str(w.message) for w in caught
                if issubclass(w.category, PriorWarning)]
    # the builders validated it; only the expected size may be new here
    _check_size(matrix, num_classes, f'{spec["kind"]} prior from {spec}')
    try:
        _write_cache_entry(path, matrix, messages)
    except OSError as e:
        warnings.warn(f'could not write the prior cache entry {path} ({e}); '
                      'using the prior built in memory', PriorWarning)
    return matrix
