"""Semantic priors over actions (pure numpy; gensim for word vectors).

They are built from what :mod:`lsant_mmaction.layout` reads: the action
vocabulary (VN, GL, GL+VN) and the training segments (TE).
"""
from .builders import (PRIOR_KINDS, PriorWarning, build_from_vocabulary,
                       check_prior, combine_priors, glove_prior,
                       summarize_prior, transition_counts, uniform_prior,
                       verb_noun_prior)
from .glove import SHIPPED_GLOVE, embed_names, load_word_vectors, tokenize
from .sources import (build_prior, default_cache_dir, load_prior,
                      missing_sources)

__all__ = [
    'PRIOR_KINDS', 'PriorWarning', 'SHIPPED_GLOVE', 'build_from_vocabulary',
    'build_prior', 'check_prior', 'combine_priors', 'default_cache_dir',
    'embed_names', 'glove_prior', 'load_prior', 'load_word_vectors',
    'missing_sources', 'summarize_prior', 'tokenize', 'transition_counts',
    'uniform_prior', 'verb_noun_prior'
]
