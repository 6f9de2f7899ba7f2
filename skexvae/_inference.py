"""What a fitted model computes for the estimator: exemplar latents, log-densities and
new rows.

Functions of the model and tensors; the estimator validates inputs, converts arrays
and sets the precision context around them.
"""

import torch

from ._distributed import SINGLE_PROCESS
from ._objective import encode_means, full_log_prior, iwae, knn_log_prior
from .retrieval import SCORING_EXACT_MAX_N, make_index


@torch.no_grad()
def exemplar_latents(model, X, group=SINGLE_PROCESS):
    """``mu(x)`` of the exemplar rows ``X`` (a tensor or MappedRows), or None when the
    prior has no exemplars."""
    if not model.uses_exemplars:
        return None
    return encode_means(model.encoder, X, group)


def scoring_index(kind, centres, random_state, verbose=0):
    """A kNN index of kind ``kind`` over the latents ``centres``, for kNN scoring."""
    index = make_index(
        kind,
        len(centres),
        random_state=random_state,
        verbose=verbose,
        exact_max_n=SCORING_EXACT_MAX_N,
    )
    index.build(centres)
    return index


@torch.no_grad()
def log_density(model, X, noise, centres=None, index=None, n_neighbors=None, progress=None):
    """IWAE ``log p(x)`` per row of ``X`` from the importance draws ``noise``.

    The prior sums every exemplar of ``centres``, or, given an ``index`` over them,
    each draw's ``n_neighbors`` nearest (a lower bound).
    """
    if index is None:
        log_prior = full_log_prior(model, centres)
    else:
        log_prior = knn_log_prior(model, centres, index, min(n_neighbors, len(centres)))
    return iwae(model, X, noise, log_prior, progress)


def decode(model, z, generator=None, return_mean=True):
    """Rows from latents ``z``: the decoder means, or draws from ``p(x|z)``.

    Without a ``generator`` a two-level model decodes through the mean of its lower
    latent; with one it draws it.
    """
    params = model.decode(z, generator)
    if return_mean:
        return model.likelihood.mean(params)
    return model.likelihood.sample(params, generator)


@torch.no_grad()
def generate(model, n_samples, generator, device, centres=None, return_mean=False):
    """``n_samples`` rows from the prior, and the prior component of each."""
    z, component = model.prior.sample(n_samples, model.encoder, generator, device, centres)
    return decode(model, z, generator, return_mean), component


@torch.no_grad()
def generate_around(model, X, n_samples, generator, return_mean=False):
    """``n_samples`` new rows around each row of ``X`` (consecutive), and their sources."""
    source = torch.arange(len(X), device=X.device).repeat_interleave(n_samples)
    mean, log_var = (t.repeat_interleave(n_samples, dim=0) for t in model.encoder(X))
    z = model.prior.sample_around(mean, log_var, generator)
    return decode(model, z, generator, return_mean), source
