"""The cache table of latest latent means, one row per exemplar (paper section 3.1)."""

import torch

from .._objective import encode_means


class LatentCache:
    """Latest ``mu(x_n)`` of every exemplar, refreshed whole or row by row.

    Parameters
    ----------
    n_exemplars, n_components : int
    device : torch.device
    """

    def __init__(self, n_exemplars, n_components, device="cpu"):
        self.means = torch.zeros(n_exemplars, n_components, device=device)

    def __len__(self):
        return len(self.means)

    @torch.no_grad()
    def refresh(self, encoder, X):
        """Re-encode every exemplar with the current encoder."""
        self.means = encode_means(encoder, X)

    @torch.no_grad()
    def update(self, rows, means):
        """Store the means just computed for ``rows`` (batch points, retrieved exemplars)."""
        self.means[rows] = means.detach()
