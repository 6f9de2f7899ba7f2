"""The index interface and the choice of backend."""

# Largest exemplar set for which index="auto" picks the exact backend. Below it a
# chunked torch top-k costs a few ms per step and needs no build; above it
# pynndescent's per-step query is cheaper despite its one-off numba compilation.
AUTO_EXACT_MAX_N = 200_000


class KNNIndex:
    """Approximate or exact k-nearest-neighbour search over a latent cache.

    ``build(cache)`` indexes the rows of a ``(N, d)`` tensor; ``query(z, k)`` returns
    a ``(B, k)`` LongTensor of cache rows near each row of ``z``, nearest first as
    far as the backend knows. A backend may return approximate neighbours: callers
    re-rank against the live cache and only ever use the result to pick exemplars,
    so the training objective stays a lower bound whatever the index returns.
    """

    name = "base"

    def build(self, cache):
        raise NotImplementedError

    def query(self, z, k):
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
