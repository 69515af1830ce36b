"""Prior builders (pure numpy).

Every prior is an ``A x A`` float32 row-stochastic matrix: row ``k`` is the
distribution over candidate actions ``i`` used to smooth the target of
ground-truth action ``k`` (``prior[k, i] = pi^(k)(i)``).

Each kind is built from one input, whatever the dataset: VN from the groups
of each class (an EPIC action's groups are its verb and its noun), TE from
transition counts (EPIC segments, or any class sequences), GL from class
embeddings (EPIC: verb and noun names concatenated; a class list: the
name). :func:`build_from_vocabulary` (EPIC, EGTEA, EK100) and
:func:`build_from_class_tables` (any class list) derive these inputs and
share :func:`build_from_inputs`.
"""
import warnings
from typing import (Collection, Dict, Hashable, List, Optional, Sequence,
                    Tuple)

import numpy as np

from ..layout import (ActionVocabulary, ClassGroups, ClassNames,
                      ClassSequences, Segments)

PRIOR_KINDS = ('uniform', 'vn', 'te', 'gl', 'glvn')


class PriorWarning(UserWarning):
    """A prior that is weaker than asked for (class names without word
    vectors), or a prior cache entry that could not be used."""


def _normalize_rows(weights: np.ndarray) -> np.ndarray:
    """Divide each row by its sum; all-zero rows become one-hot (no
    information, no smoothing)."""
    weights = np.asarray(weights, np.float64)
    sums = weights.sum(axis=1, keepdims=True)
    empty = sums[:, 0] <= 0
    out = np.divide(weights, sums, out=np.zeros_like(weights),
                    where=sums > 0)
    out[empty, :] = 0
    out[empty, np.nonzero(empty)[0]] = 1
    return out.astype(np.float32)


def uniform_prior(num_actions: int) -> np.ndarray:
    """``1/A`` everywhere."""
    return np.full((num_actions, num_actions), 1 / num_actions, np.float32)


def group_prior(groups: Sequence[Collection[Hashable]]) -> np.ndarray:
    """Uniform over the classes sharing a group with ``k``, ``k`` itself
    included: ``1[G(i) & G(k)] / count_k``.

    Args:
        groups (Sequence[Collection]): The groups of each class (any
            hashable ids); a class with none smooths into itself only.
    """
    members: Dict[Hashable, List[int]] = {}
    for k, class_groups in enumerate(groups):
        for g in class_groups:
            members.setdefault(g, []).append(k)
    share = np.eye(len(groups), dtype=bool)
    for classes in members.values():  # each group: all its pairs share
        if len(classes) > 1:
            share[np.ix_(classes, classes)] = True
    return _normalize_rows(share)


def vocabulary_groups(vocab: ActionVocabulary) -> List[frozenset]:
    """The groups of each action: its verb and its noun."""
    return [frozenset([('verb', v), ('noun', n)])
            for v, n in zip(vocab.verbs.tolist(), vocab.nouns.tolist())]


def verb_noun_prior(vocab: ActionVocabulary) -> np.ndarray:
    """Uniform over the actions sharing the verb or the noun of ``k``."""
    return group_prior(vocabulary_groups(vocab))


def transition_counts(segments: Segments, num_actions: int) -> np.ndarray:
    """``Occ[i, k]``: how often action ``i`` is immediately followed by ``k``
    within a video, segments ordered by start frame, ties broken by
    :meth:`Segments.tie_breaks` (the segment id for EK55 and EGTEA, the
    trailing number of the id for EK100's ``P01_01_12``)."""
    if not segments.labelled:
        raise ValueError(f'{segments.path}: the temporal prior needs a '
                         'labelled training CSV')
    actions = segments.actions
    bad = (actions < 0) | (actions >= num_actions)
    if bad.any():
        i = int(bad.nonzero()[0][0])
        raise ValueError(
            f'{segments.path}: segment {segments.ids[i]} names action '
            f'{int(actions[i])}, unknown to the vocabulary of {num_actions} '
            'actions')
    _, video_codes = np.unique(np.asarray(segments.videos), return_inverse=True)
    order = np.lexsort((segments.tie_breaks(), segments.start_frames,
                        video_codes))
    videos, actions = video_codes[order], actions[order]
    starts = np.nonzero(videos[1:] != videos[:-1])[0] + 1
    return sequence_transition_counts(np.split(actions, starts), num_actions)


def sequence_transition_counts(sequences: Sequence[np.ndarray],
                               num_classes: int) -> np.ndarray:
    """``Occ[i, k]``: how often class ``i`` is immediately followed by
    ``k``, over sequences of class ids (one per video, in order)."""
    counts = np.zeros((num_classes, num_classes), np.int64)
    for seq in sequences:
        seq = np.asarray(seq, np.int64)
        np.add.at(counts, (seq[:-1], seq[1:]), 1)
    return counts


def action_embeddings(vocab: ActionVocabulary, vectors,
                      vectors_source: str = 'the word vectors') -> tuple:
    """``phi_a = concat(g(verb(a)), g(noun(a)))`` for every action.

    A class name none of whose tokens has a vector gets a zero vector; the
    names concerned are reported by a :class:`PriorWarning`.

    Args:
        vocab (ActionVocabulary): The actions, with class names.
        vectors (KeyedVectors): Word vectors.
        vectors_source (str): Where the vectors come from, for messages.
            Defaults to ``'the word vectors'``.

    Returns:
        tuple: float64 ``(A, 2d)`` embeddings and the sorted class names
        without any vector.

    Raises:
        ValueError: naming ``vectors_source`` when it covers none of the
            class names (the prior would be the identity).
    """
    from .glove import embed_names
    if not vocab.has_names:
        raise ValueError(f'{vocab.source}: the GloVe prior needs class names '
                         '(give the verb and noun class files)')
    verb_vecs, missing_verbs = embed_names(vectors, vocab.verb_names)
    noun_vecs, missing_nouns = embed_names(vectors, vocab.noun_names)
    num_names = len(vocab.verb_names) + len(vocab.noun_names)
    missing = sorted(set(missing_verbs + missing_nouns))
    phi = np.stack([
        np.concatenate([verb_vecs[v], noun_vecs[n]])
        for v, n in zip(vocab.verbs.tolist(), vocab.nouns.tolist())
    ])
    if not phi.any():
        raise ValueError(
            f'{vectors_source} has a vector for none of the class names of '
            f'the actions of {vocab.source} (e.g. {missing[:5]}): the prior '
            'would be the identity (plain cross-entropy)')
    if missing:
        unembedded = int((~phi.any(axis=1)).sum())
        shown = ', '.join(missing[:10]) + (' ...' if len(missing) > 10 else '')
        warnings.warn(
            f'{vectors_source} has no vector for '
            f'{len(missing_verbs) + len(missing_nouns)} of the {num_names} '
            f'class names of {vocab.source} (they get a zero vector): {shown}'
            + (f'; {unembedded} actions have no embedding at all and get a '
               'one-hot row (no smoothing)' if unembedded else ''),
            PriorWarning, stacklevel=3)
    return phi, missing


def class_name_embeddings(classes: ClassNames, vectors,
                          vectors_source: str = 'the word vectors'
                          ) -> np.ndarray:
    """``phi_k = g(name(k))``, the mean vector of the name's tokens (see
    :func:`~lsant_mmaction.priors.glove.tokenize`), for every class.

    Unlike EPIC's fixed class files, a class list is the user's own: a name
    none of whose words has a vector is an error (rename it with words the
    vectors have; the names only place the classes among each other).

    Args:
        classes (ClassNames): The class names.
        vectors (KeyedVectors): Word vectors.
        vectors_source (str): Where the vectors come from, for messages.

    Returns:
        np.ndarray: float64 ``(C, d)``.

    Raises:
        ValueError: listing every name without a vector, with its file and
            line (or list index).
    """
    from .glove import embed_names
    embedded, missing = embed_names(vectors, dict(enumerate(classes.names)))
    if missing:
        unknown = set(missing)
        listed = [f'{classes.where(i)}: {n!r}'
                  for i, n in enumerate(classes.names) if n in unknown]
        raise ValueError(
            f'{vectors_source} has no vector for any word of '
            f'{len(listed)} of the {len(classes)} class names: '
            + '; '.join(listed[:20]) + (' ...' if len(listed) > 20 else '')
            + '. Rename these classes with words it has (e.g. a synonym), '
            'or give other word vectors')
    return np.stack([embedded[i] for i in range(len(classes))])


def glove_prior(phi: np.ndarray, similarity: str = 'dot') -> np.ndarray:
    """``prior[k, i] = |s(phi_k, phi_i)| / sum_j |s(phi_k, phi_j)|``.

    Args:
        phi (np.ndarray): Action embeddings ``(A, D)``.
        similarity (str): ``'dot'`` (the paper's raw dot product) or
            ``'cosine'``. Defaults to ``'dot'``.

    Returns:
        np.ndarray: float32 ``(A, A)``; actions whose embedding is all zero
        get ``onehot(k)``.
    """
    phi = np.asarray(phi, np.float64)
    if similarity == 'cosine':
        norms = np.linalg.norm(phi, axis=1, keepdims=True)
        phi = np.divide(phi, norms, out=np.zeros_like(phi), where=norms > 0)
    elif similarity != 'dot':
        raise ValueError(f"similarity must be 'dot' or 'cosine', got "
                         f'{similarity!r}')
    return _normalize_rows(np.abs(phi @ phi.T))


def combine_priors(priors: Sequence[np.ndarray],
                   weights: Sequence[float]) -> np.ndarray:
    """Convex combination of row-stochastic priors."""
    if len(priors) != len(weights) or not np.isclose(sum(weights), 1):
        raise ValueError(f'weights {list(weights)} must be one per prior and '
                         'sum to 1')
    if min(weights) < 0:
        raise ValueError(f'weights {list(weights)} must be non-negative')
    out = sum(w * np.asarray(p, np.float64) for p, w in zip(priors, weights))
    return out.astype(np.float32)


def check_prior(prior: np.ndarray,
                num_classes: Optional[int] = None,
                source: str = 'prior',
                atol: float = 1e-4) -> np.ndarray:
    """Validate a prior matrix and return it as float32.

    Args:
        prior (np.ndarray): The matrix.
        num_classes (int, optional): Expected size. Defaults to None.
        source (str): What the matrix is (a file path, a cache entry), named
            in every error. Defaults to ``'prior'``.
        atol (float): Tolerance on the row sums. Defaults to 1e-4.

    Returns:
        np.ndarray: the float32 matrix.

    Raises:
        ValueError: naming ``source`` when the matrix is not a numeric square
            matrix, not of size ``num_classes``, has NaN or infinite entries,
            negative entries, or a row that does not sum to 1.
    """
    prior = np.asarray(prior)
    if prior.ndim != 2 or prior.shape[0] != prior.shape[1]:
        raise ValueError(f'{source}: a prior must be a square matrix, got '
                         f'shape {prior.shape}')
    if not (np.issubdtype(prior.dtype, np.floating) or
            np.issubdtype(prior.dtype, np.integer)):
        raise ValueError(f'{source}: a prior must be numeric, got dtype '
                         f'{prior.dtype}')
    if num_classes is not None and prior.shape[0] != num_classes:
        raise ValueError(f'{source}: prior is {prior.shape[0]}x'
                         f'{prior.shape[1]} but num_classes={num_classes}')
    for bad, what in ((~np.isfinite(prior), 'NaN or infinite'),
                      (prior < 0, 'negative')):
        if bad.any():
            k, i = (int(j) for j in np.argwhere(bad)[0])
            raise ValueError(f'{source}: prior has {int(bad.sum())} {what} '
                             f'entries, e.g. [{k}, {i}] = {prior[k, i]}')
    sums = prior.sum(axis=1, dtype=np.float64)
    bad = np.abs(sums - 1) > atol
    if bad.any():
        k = int(bad.nonzero()[0][0])
        raise ValueError(f'{source}: {int(bad.sum())} rows do not sum to 1, '
                         f'e.g. row {k} sums to {sums[k]:.6f}')
    return prior.astype(np.float32, copy=False)


def summarize_prior(prior: np.ndarray) -> Dict[str, float]:
    """Size, mean support per row and the number of rows with a single
    non-zero entry."""
    support = (prior > 0).sum(axis=1)
    return dict(
        size=prior.shape[0],
        mean_support=float(support.mean()),
        single_entry_rows=int((support == 1).sum()))


def build_from_inputs(kind: str,
                      num_classes: int,
                      groups: Optional[Sequence[Collection]] = None,
                      counts: Optional[np.ndarray] = None,
                      phi: Optional[np.ndarray] = None,
                      similarity: str = 'dot',
                      glvn_weights: Sequence[float] = (0.5, 0.5),
                      source: str = 'the sequences') -> Tuple[np.ndarray,
                                                              dict]:
    """A prior of ``kind`` from what it is made of.

    Args:
        kind (str): One of :data:`PRIOR_KINDS`.
        num_classes (int): Size of the prior.
        groups (Sequence[Collection], optional): Groups of each class
            (``vn``, ``glvn``).
        counts (np.ndarray, optional): Transition counts ``Occ[i, k]``
            (``te``).
        phi (np.ndarray, optional): Class embeddings ``(C, D)`` (``gl``,
            ``glvn``).
        similarity (str): GloVe similarity, ``'dot'`` or ``'cosine'``.
        glvn_weights (Sequence[float]): Weights of GL and VN in ``glvn``.
        source (str): Where ``counts`` come from, for messages.

    Returns:
        tuple: the validated float32 prior and notes (``no_predecessor``:
        classes that never follow another, for ``te``).

    Raises:
        ValueError: on an unknown kind, a missing input, or counts with no
            transition at all (the prior would be the identity).
    """
    if kind not in PRIOR_KINDS:
        raise ValueError(f'unknown prior kind {kind!r}; expected one of '
                         f'{PRIOR_KINDS}')
    needed = dict(vn=('groups', groups), te=('counts', counts),
                  gl=('phi', phi), glvn=('phi', phi))
    if kind in needed and needed[kind][1] is None:
        raise ValueError(f'the {kind} prior needs {needed[kind][0]}')
    if kind == 'glvn' and groups is None:
        raise ValueError('the glvn prior needs groups')
    notes: Dict[str, List] = {}
    if kind == 'uniform':
        prior = uniform_prior(num_classes)
    elif kind == 'vn':
        prior = group_prior(groups)
    elif kind == 'te':
        if not counts.any():
            raise ValueError(
                f'{source}: no class follows another in any video (every '
                'video has one segment?): the temporal prior would be the '
                'identity (plain cross-entropy)')
        notes['no_predecessor'] = np.nonzero(counts.sum(0) == 0)[0].tolist()
        prior = _normalize_rows(counts.T)
    else:
        prior = glove_prior(phi, similarity)
        if kind == 'glvn':
            prior = combine_priors([prior, group_prior(groups)],
                                   glvn_weights)
    return check_prior(prior, num_classes, f'{kind} prior'), notes


def build_from_vocabulary(kind: str,
                          vocab: ActionVocabulary,
                          segments: Optional[Segments] = None,
                          vectors=None,
                          similarity: str = 'dot',
                          glvn_weights: Sequence[float] = (0.5, 0.5),
                          vectors_source: str = 'the word vectors'
                          ) -> tuple:
    """Build a prior of ``kind`` from an already-loaded action vocabulary
    (EPIC-KITCHENS-55/100, EGTEA).

    Args:
        kind (str): One of :data:`PRIOR_KINDS`.
        vocab (ActionVocabulary): The actions.
        segments (Segments, optional): Training segments (``te``).
        vectors (KeyedVectors, optional): Word vectors (``gl``, ``glvn``).
        similarity (str): GloVe similarity, ``'dot'`` or ``'cosine'``.
        glvn_weights (Sequence[float]): Weights of GL and VN in ``glvn``.
        vectors_source (str): Where ``vectors`` come from, named in the
            warning on class names without vectors and in the error when
            none has one. Defaults to ``'the word vectors'``.

    Returns:
        tuple: the float32 prior and a dict of notes (``missing_vectors``:
        class names without vectors; ``no_predecessor``: actions that never
        follow another in training).

    Raises:
        ValueError: on missing inputs, or word vectors that cover none of
            the class names.
    """
    if kind not in PRIOR_KINDS:
        raise ValueError(f'unknown prior kind {kind!r}; expected one of '
                         f'{PRIOR_KINDS}')
    num_actions = len(vocab)
    groups = counts = phi = None
    notes: Dict[str, List] = {}
    if kind in ('vn', 'glvn'):
        groups = vocabulary_groups(vocab)
    if kind == 'te':
        if segments is None:
            raise ValueError('the temporal prior needs the training CSV')
        counts = transition_counts(segments, num_actions)
    if kind in ('gl', 'glvn'):
        if vectors is None:
            raise ValueError(f'the {kind} prior needs word vectors (glove)')
        phi, notes['missing_vectors'] = action_embeddings(
            vocab, vectors, vectors_source)
    prior, more = build_from_inputs(
        kind, num_actions, groups, counts, phi, similarity, glvn_weights,
        segments.path if segments is not None else '')
    return prior, dict(notes, **more)


def build_from_class_tables(kind: str,
                            num_classes: int,
                            class_names: Optional[ClassNames] = None,
                            groups: Optional[ClassGroups] = None,
                            sequences: Optional[ClassSequences] = None,
                            vectors=None,
                            similarity: str = 'dot',
                            glvn_weights: Sequence[float] = (0.5, 0.5),
                            vectors_source: str = 'the word vectors'
                            ) -> tuple:
    """Build a prior of ``kind`` over any ``num_classes`` classes from what
    is known about them (see :mod:`lsant_mmaction.layout.class_tables`).

    Args:
        kind (str): One of :data:`PRIOR_KINDS`.
        num_classes (int): Number of classes.
        class_names (ClassNames, optional): Names (``gl``, ``glvn``).
        groups (ClassGroups, optional): Groups (``vn``, ``glvn``).
        sequences (ClassSequences, optional): Class sequences (``te``).
        vectors (KeyedVectors, optional): Word vectors (``gl``, ``glvn``).
        similarity (str): GloVe similarity, ``'dot'`` or ``'cosine'``.
        glvn_weights (Sequence[float]): Weights of GL and VN in ``glvn``.
        vectors_source (str): Where ``vectors`` come from, for messages.

    Returns:
        tuple: the float32 prior and notes (``no_predecessor`` for ``te``).

    Raises:
        ValueError: naming the file (and line) when an input does not cover
            exactly ``num_classes`` classes, or a class name has no vector.
    """
    for given, what in ((class_names, 'class names'), (groups, 'groups')):
        if given is not None and len(given) != num_classes:
            raise ValueError(f'{given.source}: {len(given)} {what} but '
                             f'num_classes={num_classes}')
    phi = None
    if kind in ('gl', 'glvn'):
        if class_names is None or vectors is None:
            raise ValueError(f'the {kind} prior needs class names and word '
                             'vectors')
        phi = class_name_embeddings(class_names, vectors, vectors_source)
    counts = (sequence_transition_counts(sequences.sequences, num_classes)
              if sequences is not None else None)
    return build_from_inputs(
        kind, num_classes, groups.groups if groups is not None else None,
        counts, phi, similarity, glvn_weights,
        sequences.source if sequences is not None else '')
