"""Semantic priors over classes (pure numpy; gensim for word vectors).

They are built from what :mod:`lsant_mmaction.layout` reads: an EPIC-format
action vocabulary and its training segments, or any class list (names,
groups, sequences).
"""
from .builders import (PRIOR_KINDS, PriorWarning, build_from_class_tables,
                       build_from_inputs, build_from_vocabulary, check_prior,
                       class_name_embeddings, combine_priors, glove_prior,
                       group_prior, sequence_transition_counts,
                       summarize_prior, transition_counts, uniform_prior,
                       verb_noun_prior)
from .glove import SHIPPED_GLOVE, embed_names, load_word_vectors, tokenize
from .sources import (SPEC_KEYS, build_prior, check_prior_spec,
                      default_cache_dir, load_prior, missing_sources,
                      resolve_prior)

__all__ = [
    'PRIOR_KINDS', 'PriorWarning', 'SHIPPED_GLOVE', 'SPEC_KEYS',
    'build_from_class_tables', 'build_from_inputs', 'build_from_vocabulary',
    'build_prior', 'check_prior', 'check_prior_spec', 'class_name_embeddings',
    'combine_priors', 'default_cache_dir', 'embed_names', 'glove_prior',
    'group_prior', 'load_prior', 'load_word_vectors', 'missing_sources',
    'resolve_prior', 'sequence_transition_counts', 'summarize_prior',
    'tokenize', 'transition_counts', 'uniform_prior', 'verb_noun_prior'
]
