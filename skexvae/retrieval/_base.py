"""The index interface and the choice of backend."""

import torch

# Largest exemplar set for which index="auto" picks the exact backend. Measured on
# 2 cores (benchmarks/rat.py, rat_refresh.py): whole RAT epochs on MNIST cost 7.8 s
# exact vs 10.4 s pynndescent at N = 20k and 21.1 s vs 21.6 s at 50k; the index alone
# (100 queries per step, k = 11, plus one build per epoch) costs 23.8 s vs 5.4 s per
# epoch at 100k, and 2421 s vs 86 s at 1M.
AUTO_EXACT_MAX_N = 100_000
# The same for kNN scoring (score_samples with score_neighbors), where every latent
# sample of every row is a query. Measured on 2 cores (50 binarized MNIST test
# points, S = 1000, a one-epoch RAT model): ms per point for the full sum / 10-NN
# with the exact index / 10-NN with pynndescent: 25.6 / 41.8 / 22.2 at N = 10k,
# 49.8 / 78.5 / 29.7 at 20k, 124 / 172 / 53 at 50k. The exact top-k never beats the
# full sum, so it is only kept where numba's compile time would dominate.
SCORING_EXACT_MAX_N = 10_000


class KNNIndex:
    """Approximate or exact k-nearest-neighbour search over a latent cache.

    ``build(cache)`` indexes the rows of a ``(N, d)`` tensor and keeps a reference to
    it, so that in-place row updates are seen; ``query(z, k, allowed=None)`` returns
    a ``(B, k)`` LongTensor of the cache rows nearest to each row of ``z`` among the
    ``allowed`` ones (an ``(N,)`` mask), padded with -1; ``near_rows`` (B,), optional,
    are cache rows known to lie near each ``z`` (the exemplar it was sampled around),
    which an approximate backend may use as a shortcut. A backend may return
    approximate neighbours: they only choose which exemplars enter the sum, so the
    training objective stays a lower bound whatever the index returns.
    """

    def build(self, cache):
        raise NotImplementedError

    def __getstate__(self):
        # A cache on a GPU would pickle as a GPU tensor, which a CPU-only machine
        # cannot load: it travels on the CPU (every fit builds a fresh index).
        state = self.__dict__.copy()
        if isinstance(state.get("cache"), torch.Tensor):
            state["cache"] = state["cache"].cpu()
        return state

    def query(self, z, k, allowed=None, near_rows=None):
        raise NotImplementedError


def make_index(
    kind, n_exemplars, random_state=None, verbose=0, exact_max_n=AUTO_EXACT_MAX_N, search=True
):
    """The backend for ``index=kind``: ``"auto"`` or a name in :data:`BACKENDS`.

    ``"auto"`` is exact up to ``exact_max_n`` exemplars (the training crossover by
    default; scoring passes ``SCORING_EXACT_MAX_N``). ``search=False`` says that
    queries will come with ``near_rows`` (RAT training), so a graph need not be kept.
    """
    if kind == "auto":
        kind = "exact" if n_exemplars <= exact_max_n else "pynndescent"
    return BACKENDS[kind](search=search, random_state=random_state, verbose=verbose)


def _exact(search, random_state, verbose):
    from ._exact import ExactIndex

    return ExactIndex()


def _nndescent(search, random_state, verbose):
    from ._nndescent import NNDescentIndex

    return NNDescentIndex(keep_graph=search, random_state=random_state, verbose=verbose)


#: ``index`` name -> ``f(search, random_state, verbose)`` making that backend.
BACKENDS = {"exact": _exact, "pynndescent": _nndescent}
#: The ``index`` options: a backend, or "auto" to choose by the number of exemplars.
INDEXES = ("auto", *BACKENDS)
