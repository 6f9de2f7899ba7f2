"""The bound, per training step and for evaluation.

Training (eq. 5, 11, 12): one reparameterised sample per input, the exemplar prior
over the centres that a subsampler (``skexvae._subsampling``) chose for the step.
Evaluation (section 5): IWAE over ``n_samples`` importance samples with every
exemplar in the prior (or only each sample's nearest ones, a lower bound), no
leave-one-out and no subsampling, in chunks so that memory stays bounded whatever N
and the number of samples.
"""

import math

import torch
from torch import nn

from ._distributed import SINGLE_PROCESS
from .models._numerics import ELEMENT_BUDGET, ROW_BLOCK, logsumexp, padded_rows
from .models._priors import posterior_sample


def training_loss(model, x, batch_index, beta, generator, subsampler=None, free_nats=0.0):
    """Negative beta-weighted bound of one minibatch, and its mean parts for reporting.

    ``generator`` draws the latent noise; ``subsampler`` (exemplar prior) draws the
    step's exemplars from its own stream. A minibatch whose mean KL is below
    ``free_nats`` pays ``free_nats`` instead, with no gradient through the KL: the
    free bits of Kingma et al. (2016), over the whole latent since an exemplar prior
    does not factorise over its units.
    """
    mean, log_var = model.encoder(x)
    z = posterior_sample(mean, log_var, generator)
    log_prior = (
        model.log_prior(z, *subsampler(model.encoder, batch_index, z))
        if model.uses_exemplars
        else model.log_prior(z)
    )
    lower_noise = None
    if model.n_lower_noise:
        lower_noise = torch.randn(len(z), model.n_lower_noise, generator=generator, device=z.device)
    reconstruction, kl = model.log_weights(x, z, mean, log_var, log_prior, lower_noise)
    kl_mean, reconstruction_mean = kl.mean(), reconstruction.mean()
    penalty = kl_mean.clamp(min=free_nats) if free_nats else kl_mean
    loss = beta * penalty - reconstruction_mean
    return loss, reconstruction_mean.detach(), kl_mean.detach()


class TrainingObjective(nn.Module):
    """:func:`training_loss` as a module, so that ``DistributedDataParallel`` can wrap it."""

    def __init__(self, model, generator, subsampler=None, free_nats=0.0):
        super().__init__()
        self.model = model
        self.generator = generator
        self.subsampler = subsampler
        self.free_nats = free_nats

    def forward(self, x, batch_index, beta):
        return training_loss(
            self.model, x, batch_index, beta, self.generator, self.subsampler, self.free_nats
        )


@torch.no_grad()
def encode_means(encoder, X, group=SINGLE_PROCESS):
    """``mu(x)`` for every row of ``X`` (a tensor or MappedRows), in chunks.

    An encoder whose activations are wider than its input (a convolutional one) says
    so in ``elements_per_row``. With a data-parallel ``group`` each rank encodes a
    part and every rank gets the whole.
    """
    width = getattr(encoder, "elements_per_row", X.shape[1])
    rows = max(1, ELEMENT_BUDGET // max(width, 1))
    return group.encode_all(encoder.mean, X, rows).float()


def full_log_prior(model, centres=None):
    """``z -> log p(z)`` with every exemplar (or the parametric prior), in row chunks."""
    rows = max(1, ELEMENT_BUDGET // model.prior_elements_per_row(centres))
    frozen = model.frozen_log_prior(centres)

    def log_prior(z):
        return torch.cat([frozen(chunk) for chunk in z.split(rows)])

    return log_prior


def knn_log_prior(model, centres, index, n_neighbors):
    """``z -> `` a lower bound of the exemplar ``log p(z)`` from ``n_neighbors`` exemplars.

    Sums the kernels of the exemplars that ``index`` (built on ``centres``) returns
    for each row, normalised by all N exemplars (eq. 9): a lower bound whatever the
    index returns, exact when the neighbours carry all the mass.
    """
    rows = max(1, ELEMENT_BUDGET // (n_neighbors * centres.shape[1]))

    def log_prior(z):
        out = []
        for chunk in z.split(rows):
            neighbours = index.query(chunk, n_neighbors)
            out.append(model.prior.log_prob_neighbours(chunk, centres, neighbours))
        return torch.cat(out)

    return log_prior


@torch.no_grad()
def log_importance_weights(model, X, noise, log_prior, progress=None):
    """``log p(x, z_s) - log q(z_s|x)`` for joint latent samples ``z_s`` made from ``noise[s]``.

    The first ``n_components`` draws of a sample give the top latent,
    ``z = mu + sd * eps``; a two-level model turns the rest into its lower latent.

    Parameters
    ----------
    X : Tensor of shape (n, n_features)
    noise : Tensor of shape (S, model.noise_dim) or (n, S, model.noise_dim)
        Standard normal draws. Shared by all rows (2-D), each row's estimate is
        independent of which other rows are scored with it; per row (3-D), the
        errors of different rows average out in a mean over rows.
    log_prior : callable
        ``z -> log p(z)`` for a (rows, n_components) tensor, e.g.
        :func:`full_log_prior` or :func:`knn_log_prior`.
    progress : callable, optional
        Called with ``(rows_done, n)`` after each chunk.

    Returns
    -------
    Tensor of shape (n, S)
    """
    n_samples = noise.shape[-2]
    # Rows and samples per chunk keep the model's largest activation within budget:
    # several rows with all their samples, or one row's samples in slices. Every
    # chunk has the same number of rows, padded, so that a row's weights do not
    # depend on the rows scored with it (ROW_BLOCK); at most ROW_BLOCK draws of them,
    # which bounds the padding a few rows cost.
    samples_per_chunk = max(1, ELEMENT_BUDGET // model.elements_per_sample)
    points_per_chunk = max(1, min(samples_per_chunk, ROW_BLOCK) // n_samples)
    chunks = []
    for start in range(0, len(X), points_per_chunk):
        x = X[start : start + points_per_chunk]
        n_rows = len(x)
        x = padded_rows(x, points_per_chunk)
        eps = noise if noise.dim() == 2 else padded_rows(noise[start : start + n_rows], len(x))
        mean, log_var = model.encoder(x)
        slices = [
            _log_weights_of_draws(model, x, mean, log_var, eps[..., first:last, :], log_prior)
            for first, last in _slices(n_samples, samples_per_chunk)
        ]
        chunks.append(torch.cat(slices, dim=1)[:n_rows])
        if progress is not None:
            progress(start + n_rows, len(X))
    return torch.cat(chunks)


def _slices(n, size):
    return [(first, min(first + size, n)) for first in range(0, n, size)]


def _log_weights_of_draws(model, x, mean, log_var, eps, log_prior):
    """Log weights, shape ``(len(x), S)``, of the draws ``eps`` ((S, D) or (len(x), S, D))."""
    eps = eps.expand(len(x), *eps.shape[-2:])
    mean, log_var = mean.float(), log_var.float()  # a user's encoder may give bfloat16
    n_draws, n_components = eps.shape[1], mean.shape[1]
    top = eps[..., :n_components]
    z = (mean.unsqueeze(1) + torch.exp(0.5 * log_var).unsqueeze(1) * top).reshape(-1, n_components)
    lower = eps[..., n_components:].reshape(len(z), -1) if model.n_lower_noise else None
    reconstruction, kl = model.log_weights(x, z, mean, log_var, log_prior(z), lower)
    return (reconstruction - kl).reshape(len(x), n_draws)


def iwae(model, X, noise, log_prior, progress=None):
    """IWAE estimate of ``log p(x)`` per row (Burda et al. 2015); S = 1 gives the ELBO."""
    log_w = log_importance_weights(model, X, noise, log_prior, progress)
    return logsumexp(log_w, dim=1) - math.log(log_w.shape[1])
