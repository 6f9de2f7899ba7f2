"""Approximate k-nearest neighbours with pynndescent's NN-descent graph."""

import contextlib
import math
import time

import joblib
import torch

from ..models._numerics import float32
from ._base import KNNIndex

# pynndescent compiles its numba kernels on the first build of each process (about
# 25 s on 2 cores, and twice that the very first time on a machine); say so once.
_compiled_in_this_process = False


class NNDescentIndex(KNNIndex):
    """NN-descent graph over a snapshot of the cache, re-ranked on the live cache.

    The graph is built from the cache as it is at ``build`` time; between rebuilds
    the cache keeps changing, so each query over-fetches candidates from the graph
    and re-ranks them by their distance in the live cache.

    Parameters
    ----------
    graph_degree : int, default=30
        ``n_neighbors`` of the NN-descent graph.
    oversample : float, default=2.0
        Candidates fetched per neighbour wanted, before filtering and re-ranking, by a
        graph search.
    lookup_oversample : float, default=12.0
        The same for the lookup through graph neighbours (``near_rows``), whose
        candidates are cheap but repeat. Measured on a 50k MNIST latent cache after 3
        epochs (1 000 samples, 11 neighbours wanted, half the cache allowed): 2 gives
        recall 0.83, 6 gives 0.90, 12 gives 0.94 in 1.7 ms per 100 queries, the full
        two-hop neighbourhood (931 candidates) 0.99 in 5.8 ms.
    epsilon : float, default=0.05
        Search slack of ``NNDescent.query``. Measured on a 20k MNIST latent cache
        (44 candidates, 100 queries): 0.0 gives recall@10 0.07 in 0.7 ms, 0.05 gives
        0.96 in 4.9 ms, 0.1 gives 0.99 in 8 ms. Queries far from the cache (latent
        samples early in training) cost much more with a larger slack (72 ms at 0.1).
    keep_graph : bool, default=True
        Keep pynndescent's graph after ``build``, for searches from arbitrary points.
        RAT training only looks up the neighbours of cache rows (``near_rows``) and
        passes False: between rebuilds it then holds the neighbour table alone
        (N x graph_degree int32), not the graph, its data copy and its trees, which
        at N = 1M is about half a gigabyte less at every rebuild. A search still
        works; it first rebuilds the graph from the cache.
    random_state : int or None
    verbose : int
    """

    def __init__(
        self,
        graph_degree=30,
        oversample=2.0,
        lookup_oversample=12.0,
        epsilon=0.05,
        keep_graph=True,
        random_state=None,
        verbose=0,
    ):
        self.graph_degree = graph_degree
        self.oversample = oversample
        self.lookup_oversample = lookup_oversample
        self.epsilon = epsilon
        self.keep_graph = keep_graph
        self.random_state = random_state
        self.verbose = verbose
        self.cache = None
        self._graph = None
        self._neighbour_table = None

    def build(self, cache):
        self.cache = cache
        graph = self._build_graph()
        # pynndescent builds its search graph (prepare()) on the first search, so
        # that lookups alone never pay for it.
        self._neighbour_table = torch.from_numpy(graph.neighbor_graph[0])
        self._graph = graph if self.keep_graph else None
        return self

    def _build_graph(self):
        global _compiled_in_this_process
        from pynndescent import NNDescent

        data = self.cache.detach().cpu().numpy().copy()
        n_threads = torch.get_num_threads()
        if self.verbose and not _compiled_in_this_process:
            print(
                "[skexvae] building the first pynndescent index of this process: numba "
                "compiles its kernels now (~25 s on 2 cores, once per process) ...",
                flush=True,
            )
        start = time.perf_counter()
        with _limit_joblib_threads(n_threads), _keep_torch_threads():
            graph = NNDescent(
                data,
                n_neighbors=min(self.graph_degree, len(data) - 1),
                random_state=self.random_state,
                n_jobs=n_threads,
            )
        if self.verbose and not _compiled_in_this_process:
            print(f"[skexvae] pynndescent ready in {time.perf_counter() - start:.1f} s", flush=True)
        _compiled_in_this_process = True
        return graph

    @torch.no_grad()
    def query(self, z, k, allowed=None, near_rows=None):
        """Like :meth:`KNNIndex.query`.

        With ``near_rows`` (the cache row each ``z`` was sampled around, e.g. the
        batch's own exemplars), the candidates are that row and its neighbours in the
        NN-descent graph (two hops when the subset is sparse): a table lookup instead
        of a graph search. Without, the graph is searched from ``z``.
        """
        n = len(self.cache)
        fraction = 1.0 if allowed is None else max(float(allowed.float().mean()), 1.0 / n)
        if near_rows is not None:
            if self._neighbour_table is None:  # unpickled
                self.build(self.cache)
            candidates = self._graph_neighbours(near_rows, self.lookup_oversample * k / fraction)
        else:
            if self._graph is None:
                self._graph = self._build_graph()
            n_candidates = min(n, math.ceil(self.oversample * k / fraction))
            with _keep_torch_threads():
                found, _ = self._graph.query(
                    z.detach().cpu().numpy(), k=n_candidates, epsilon=self.epsilon
                )
            candidates = torch.from_numpy(found.astype("int64")).to(z.device)
        return rerank(z, self.cache, candidates, k, allowed)

    def _graph_neighbours(self, rows, needed):
        graph = self._neighbour_table.to(rows.device)
        first = graph[rows].long()
        candidates = [rows.unsqueeze(1), first]
        if 1 + first.shape[1] < needed:
            # Second hop through the nearest first-hop neighbours only, as many as it
            # takes to reach ``needed`` candidates (column 0 is the row itself).
            n_hops = min(first.shape[1] - 1, math.ceil(needed / first.shape[1]))
            candidates.append(graph[first[:, 1 : 1 + n_hops]].flatten(1).long())
        # Two hops reach the same rows many times; keep each once per query.
        candidates = torch.cat(candidates, dim=1).sort(dim=1).values
        repeated = torch.zeros_like(candidates, dtype=torch.bool)
        repeated[:, 1:] = candidates[:, 1:] == candidates[:, :-1]
        return candidates.masked_fill(repeated, -1)

    def __getstate__(self):
        # The numba graph is rebuilt from the cache on first use after unpickling.
        state = super().__getstate__()
        state["_graph"] = None
        state["_neighbour_table"] = None
        return state


@torch.no_grad()
@float32
def rerank(z, cache, candidates, k, allowed=None):
    """Keep the ``k`` allowed candidates nearest to each ``z`` in the live cache."""
    valid = candidates >= 0
    safe = candidates.clamp_min(0)
    if allowed is not None:
        valid &= allowed[safe]
    d = ((z.unsqueeze(1) - cache[safe]) ** 2).sum(-1).masked_fill(~valid, float("inf"))
    best_d, pos = d.topk(min(k, d.shape[1]), dim=1, largest=False)
    return candidates.gather(1, pos).masked_fill(torch.isinf(best_d), -1)


def warm_up_pynndescent(n_components=8):
    """Compile pynndescent's numba kernels in this process now; return the seconds taken.

    The first index a process builds waits for numba (~25 s on 2 cores); later
    builds in the same process do not. Long-lived worker processes (a Dask cluster's,
    joblib's loky pool, Ray's) pay it once each, on their first RAT fit; calling
    this on every worker first (``client.run(warm_up_pynndescent)`` with Dask) moves
    that wait out of the timed tasks. Kernels are typed by dtype, not size, so a
    small random set compiles what a training index needs.
    """
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    index = NNDescentIndex(random_state=0).build(
        torch.randn(2_000, n_components, generator=generator)
    )
    index.query(torch.randn(10, n_components, generator=generator), 5)
    index.query(torch.randn(10, n_components, generator=generator), 5, near_rows=torch.arange(10))
    return time.perf_counter() - start


@contextlib.contextmanager
def _keep_torch_threads():
    # pynndescent sets numba's thread count and then "restores" it to numba's
    # default, all cores; with numba's OpenMP layer that resets the OpenMP runtime
    # torch shares. A single-threaded worker (Dask, Ray) then ran torch on every
    # core after its first index: measured on 2 cores, a GridSearchCV with RAT ran
    # 678 s on 2 Dask workers against 100 s in one process.
    n_threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(n_threads)


def _limit_joblib_threads(n_threads):
    # pynndescent's tree building calls joblib with n_jobs=-1 whatever it is given;
    # where torch runs single-threaded (e.g. in a GridSearchCV worker) run it inline.
    if n_threads > 1:
        return contextlib.nullcontext()
    return joblib.parallel_config(backend="sequential")
