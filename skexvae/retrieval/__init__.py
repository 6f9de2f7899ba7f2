"""Retrieval for retrieval-augmented training (RAT, paper section 3.1).

A latent cache holds the latest encoder mean of every exemplar; an index answers
"which exemplars are near these latent codes" over that cache, as row ids. Nothing
here runs a network: the step's subsampler (``skexvae._subsampling``) encodes. Backends share one
small interface (:class:`KNNIndex`): ``build(cache)`` and ``query(z, k, allowed)``.
"""

from ._base import AUTO_EXACT_MAX_N, INDEXES, SCORING_EXACT_MAX_N, KNNIndex, make_index
from ._cache import LatentCache
from ._exact import ExactIndex, exact_knn
from ._nndescent import NNDescentIndex, warm_up_pynndescent

__all__ = [
    "AUTO_EXACT_MAX_N",
    "SCORING_EXACT_MAX_N",
    "ExactIndex",
    "INDEXES",
    "KNNIndex",
    "LatentCache",
    "NNDescentIndex",
    "exact_knn",
    "make_index",
    "warm_up_pynndescent",
]
