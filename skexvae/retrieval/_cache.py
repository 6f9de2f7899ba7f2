"""The cache table of latest latent means, one row per exemplar (paper section 3.1)."""

import torch

from .._distributed import SINGLE_PROCESS


class LatentCache:
    """Latest ``mu(x_n)`` of every exemplar, refreshed whole or row by row.

    In data-parallel training each rank writes the rows it encodes at once, and
    :meth:`synchronize` applies every rank's writes of the step, in rank order, on
    every rank: the caches are identical after each step.

    Parameters
    ----------
    n_exemplars, n_components : int
    device : torch.device
    group : ProcessGroup, optional
        Data-parallel ranks that share the cache.
    """

    def __init__(self, n_exemplars, n_components, device="cpu", group=SINGLE_PROCESS):
        self.means = torch.zeros(n_exemplars, n_components, device=device)
        self.group = group
        self._written = []

    def __len__(self):
        return len(self.means)

    @torch.no_grad()
    def refresh(self, means):
        """Replace every row: ``means`` (N, d), every exemplar encoded anew."""
        self.means = means

    @torch.no_grad()
    def update(self, rows, means):
        """Store the means just computed for ``rows`` (batch points, retrieved exemplars)."""
        # A user's encoder may give bfloat16 means under mixed precision.
        means = means.detach().to(self.means.dtype)
        self.means[rows] = means
        if self.group.world_size > 1:
            self._written.append((rows, means))

    @torch.no_grad()
    def synchronize(self):
        """Apply the rows written on every rank since the last call (a collective)."""
        if self.group.world_size == 1:
            return
        rows = [r for r, _ in self._written]
        means = [m for _, m in self._written]
        self._written = []
        rows = (
            torch.cat(rows) if rows else torch.zeros(0, dtype=torch.long, device=self.means.device)
        )
        means = torch.cat(means) if means else self.means.new_zeros((0, self.means.shape[1]))
        all_rows, all_means = self.group.exchange_rows(rows, means)
        self.means[all_rows] = all_means
