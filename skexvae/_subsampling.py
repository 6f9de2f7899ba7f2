"""The exemplars of one training step's prior: exact M-subsets or retrieval (RAT).

A subsampler is called with the encoder, the batch's row ids and its latent samples,
and returns ``(centres, exclude, n_total)`` for ``VAE.log_prior``: the encoded
exemplars the step's prior sums over, each row's own exemplar to leave out, and the
number of exemplars the mixture averages over. Retrieval (``skexvae.retrieval``)
knows only latents and row ids; the encoding is done here.
"""

import torch

from ._distributed import SINGLE_PROCESS
from ._objective import encode_means


class ExemplarSubsampler:
    """Chooses the exemplar-prior centres of one training step (eq. 10-12).

    Each input must be explained by ``M`` exemplars drawn uniformly without
    replacement from the *other* ``N - 1`` (eq. 11). One shared draw serves the whole
    batch: ``M + 1`` exemplars are drawn and encoded, with gradient (the prior shares
    the posterior's mean network), and each input drops one of them, its own exemplar
    if it was drawn, else the last drawn, which is itself a uniformly random member.
    Either way the ``M`` that remain are a uniform M-subset of the others. Without
    leave-one-out, ``M`` exemplars are drawn from all ``N`` and nothing is dropped.

    Parameters
    ----------
    X : Tensor of shape (N, n_features) or MappedRows
        The training exemplars; ``batch_index`` in :meth:`__call__` indexes its rows.
    M : int
        Subset size: ``1 <= M <= N - 1`` with leave-one-out, ``M <= N`` without.
    leave_one_out : bool
    generator : torch.Generator
        Draws the subsets; in data-parallel training all ranks share its stream.
    group : ProcessGroup, optional
        Data-parallel ranks, which split the encoding of each subset.
    """

    def __init__(self, X, M, leave_one_out, generator, group=SINGLE_PROCESS):
        self.X = X
        self.M = M
        self.leave_one_out = leave_one_out
        self.generator = generator
        self.group = group

    def __call__(self, encoder, batch_index, z=None):
        """``(centres, exclude, n_total)`` for the prior of this step's batch."""
        n = len(self.X)
        n_drawn = self.M + 1 if self.leave_one_out else self.M
        subset = torch.randperm(n, generator=self.generator, device=self.X.device)[:n_drawn]
        centres = self.group.encode_rows(encoder.mean, self.X, subset)
        if not self.leave_one_out:
            return centres, None, self.M
        # Column of each exemplar in this draw, or the spare last column for those not
        # drawn: O(batch) work instead of comparing batch x M indices.
        column = torch.full((n,), self.M, dtype=torch.long, device=self.X.device)
        column[subset] = torch.arange(n_drawn, device=self.X.device)
        return centres, column[batch_index], self.M


class RetrievalSubsampler:
    """Chooses the exemplar-prior centres of one RAT step.

    Like :class:`ExemplarSubsampler` it draws the step's subset
    (``M + 1`` exemplars under leave-one-out, each row dropping its own or the spare,
    so that each row's prior is a uniform M-subset of the other exemplars). Instead of
    encoding the whole subset, it retrieves the ``n_neighbors`` cached exemplars
    nearest to each row's latent sample *within the subset*, re-encodes their union
    over the batch once, with gradient, and returns it as the centres. Every row
    then sums over a part of its own M-subset, normalised by ``M``: a lower bound on
    the subset prior (eq. 9), whatever the retrieval returns.

    In data-parallel training each rank retrieves for its own rows; the cache
    exchanges the rows every rank wrote at the end of each step (``cache.synchronize``).

    Parameters
    ----------
    X : Tensor of shape (N, n_features) or MappedRows
    M : int
    leave_one_out : bool
    n_neighbors : int
    index : KNNIndex
    cache : LatentCache
    refresh_every : int
        Steps between full cache refreshes and index rebuilds.
    generator : torch.Generator
        Draws the subsets; in data-parallel training all ranks share its stream.
    """

    def __init__(self, X, M, leave_one_out, n_neighbors, index, cache, refresh_every, generator):
        self.X = X
        self.M = M
        self.leave_one_out = leave_one_out
        self.n_neighbors = n_neighbors
        self.index = index
        self.cache = cache
        self.refresh_every = refresh_every
        self.generator = generator
        self.steps = 0

    def refresh(self, encoder):
        """Re-encode every exemplar into the cache and rebuild the index on it."""
        self.cache.refresh(encode_means(encoder, self.X, self.cache.group))
        self.index.build(self.cache.means)

    def __call__(self, encoder, batch_index, z):
        if self.steps % self.refresh_every == 0:
            self.refresh(encoder)
        self.steps += 1
        n = len(self.X)
        n_drawn = self.M + 1 if self.leave_one_out else self.M
        drawn = torch.randperm(n, generator=self.generator, device=self.X.device)[:n_drawn]
        allowed = torch.zeros(n, dtype=torch.bool, device=self.X.device)
        allowed[drawn] = True
        with torch.no_grad():
            # The batch's own exemplar means go to the cache: the means the loss
            # computed are of possibly binarized inputs.
            batch_means = encoder.mean(self.X[batch_index])
        self.cache.update(batch_index, batch_means)
        k = self.n_neighbors + int(self.leave_one_out)
        neighbours = self.index.query(z.detach(), k, allowed, near_rows=batch_index)
        dropped = None
        if self.leave_one_out:
            dropped = torch.where(allowed[batch_index], batch_index, drawn[self.M])
            neighbours = neighbours.masked_fill(neighbours == dropped.unsqueeze(1), -1)
        ids = neighbours[neighbours >= 0].unique()
        centres = encoder.mean(self.X[ids])
        self.cache.update(ids, centres)
        self.cache.synchronize()
        exclude = None if dropped is None else _columns_of(dropped, ids)
        return centres, exclude, self.M


def _columns_of(values, sorted_ids):
    """Position of each value in ``sorted_ids``, or -1 where it is absent."""
    pos = torch.searchsorted(sorted_ids, values).clamp(max=max(len(sorted_ids) - 1, 0))
    found = sorted_ids[pos] == values if len(sorted_ids) else torch.zeros_like(values, dtype=bool)
    return torch.where(found, pos, torch.full_like(pos, -1))
