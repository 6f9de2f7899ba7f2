"""The index interface and the choice of backend."""

# Largest exemplar set for which index="auto" picks the exact backend. Measured with
# benchmarks/rat.py on 2 cores (batch 100, k = 11): index cost per epoch exact 0.16 s
# vs pynndescent 0.46 s at N = 10k, 22.9 s vs 5.9 s at N = 100k; in whole MNIST RAT
# epochs the exact backend was still faster at N = 50k (504 vs 792 us per sample).
AUTO_EXACT_MAX_N = 100_000


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

    def query(self, z, k, allowed=None, near_rows=None):
        raise NotImplementedError


def make_index(kind, n_exemplars, random_state=None, verbose=0):
    """The backend for ``index=kind``: ``"auto"``, ``"exact"`` or ``"pynndescent"``."""
    from ._exact import ExactIndex
    from ._nndescent import NNDescentIndex

    if kind == "auto":
        kind = "exact" if n_exemplars <= AUTO_EXACT_MAX_N else "pynndescent"
    if kind == "exact":
        return ExactIndex()
    return NNDescentIndex(random_state=random_state, verbose=verbose)
