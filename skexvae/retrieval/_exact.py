"""Exact k-nearest neighbours by chunked torch top-k; no build cost."""

import torch

from ..models._numerics import ELEMENT_BUDGET, float32
from ._base import KNNIndex


class ExactIndex(KNNIndex):
    """Brute-force search over the live cache: exact, and always up to date."""

    def __init__(self):
        self.cache = None

    def build(self, cache):
        # Keep a reference, not a copy: queries then see every cache update at once.
        self.cache = cache
        return self

    @torch.no_grad()
    def query(self, z, k, allowed=None, near_rows=None):
        """Rows of the cache nearest to each ``z``, among the ``allowed`` (N,) rows.

        ``near_rows`` is ignored: an exact search needs no hint.
        """
        return exact_knn(z, self.cache, k, allowed)


@torch.no_grad()
@float32
def exact_knn(z, points, k, allowed=None):
    """Indices of the ``k`` rows of ``points`` nearest to each row of ``z``.

    ``allowed``, an (N,) boolean mask, restricts the search to some points; when
    fewer than ``k`` are allowed the result is padded with -1.
    """
    k = min(k, len(points))
    # Distances per chunk: the (B, chunk) matrix stays within the element budget.
    chunk = max(k, ELEMENT_BUDGET // max(len(z), 1))
    values, indices = [], []
    for start in range(0, len(points), chunk):
        block = points[start : start + chunk]
        # Ranking needs ||c||^2 - 2 z.c only (||z||^2 is constant per row); a point
        # that is not allowed gets +inf in the same fused matrix product.
        bias = (block**2).sum(1)
        if allowed is not None:
            bias = bias.masked_fill(~allowed[start : start + len(block)], float("inf"))
        d = torch.addmm(bias, z, block.T, alpha=-2.0)
        best_d, best_i = d.topk(min(k, len(block)), dim=1, largest=False)
        values.append(best_d)
        indices.append(best_i + start)
    if len(values) > 1:
        best_d, pos = torch.cat(values, 1).topk(k, dim=1, largest=False)
        best_i = torch.cat(indices, 1).gather(1, pos)
    else:
        best_d, best_i = values[0], indices[0]
    return best_i.masked_fill(torch.isinf(best_d), -1)
