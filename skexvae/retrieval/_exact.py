"""Exact k-nearest neighbours by chunked torch top-k; no build cost."""

import torch

from ._base import KNNIndex

# Distances computed per chunk: bounds the (B, chunk) matrix to 16 MiB in float32.
_ELEMENTS_PER_CHUNK = 2**22


class ExactIndex(KNNIndex):
    """Brute-force search over the live cache: exact, and always up to date."""

    name = "exact"

    def __init__(self):
        self.cache = None

    def build(self, cache):
        # Keep a reference, not a copy: queries then see every cache update at once.
        self.cache = cache
        return self

    @torch.no_grad()
    def query(self, z, k, allowed=None):
        """Rows of the cache nearest to each ``z``, among the ``allowed`` (N,) rows."""
        return exact_knn(z, self.cache, k, allowed)


@torch.no_grad()
def exact_knn(z, points, k, allowed=None):
    """Indices of the ``k`` rows of ``points`` nearest to each row of ``z``.

    ``allowed``, an (N,) boolean mask, restricts the search to some points; when
    fewer than ``k`` are allowed the result is padded with -1.
    """
    k = min(k, len(points))
    chunk = max(k, _ELEMENTS_PER_CHUNK // max(len(z), 1))
    best_d = torch.full((len(z), 0), float("inf"), device=z.device)
    best_i = torch.zeros((len(z), 0), dtype=torch.long, device=z.device)
    z_sq = (z**2).sum(1, keepdim=True)
    for start in range(0, len(points), chunk):
        block = points[start : start + chunk]
        d = z_sq - 2.0 * z @ block.T + (block**2).sum(1)
        if allowed is not None:
            d = d.masked_fill(~allowed[start : start + len(block)], float("inf"))
        idx = torch.arange(start, start + len(block), device=z.device).expand(len(z), -1)
        merged_d = torch.cat([best_d, d], dim=1)
        merged_i = torch.cat([best_i, idx], dim=1)
        best_d, pos = merged_d.topk(min(k, merged_d.shape[1]), dim=1, largest=False)
        best_i = merged_i.gather(1, pos)
    return best_i.masked_fill(torch.isinf(best_d), -1)
