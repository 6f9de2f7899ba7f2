"""What a fitted model computes for the estimator: exemplar latents, log-densities and
new rows.

Functions of the model and tensors; the estimator validates inputs, converts arrays
and sets the precision context around them.
"""

import math

import torch

from ._distributed import SINGLE_PROCESS
from ._objective import encode_means, full_log_prior, iwae, knn_log_prior
from .models._numerics import ELEMENT_BUDGET, ROW_BLOCK, float32, logsumexp, padded_rows
from .models._priors import log_normal_diag, log_normal_diag_pairs
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


@torch.no_grad()
def responsibilities(model, X, components, n_top, index=None, n_candidates=None):
    """The ``n_top`` mixture components most responsible for each row of ``X``.

    The responsibility of component ``k`` for ``x`` is ``p(k | x)`` with ``q(z|x)`` in
    place of the true posterior: ``int q(z|x) N(z; m_k, V_k) dz = N(mu(x); m_k,
    Lambda(x) + V_k)``, normalised over all K components (they are equally weighted),
    or, given an ``index`` over the means, over the ``n_candidates`` nearest to
    ``mu(x)``: a partial normaliser, so those weights are upper bounds.

    Parameters
    ----------
    components : (means, log_vars)
        Of shape (K, d) each, or (K, d) and (1, d) when the components share a
        variance (the exemplar prior's kernels).

    Returns
    -------
    indices : LongTensor of shape (n, n_top)
    weights : Tensor of shape (n, n_top)
        Probabilities, largest first.
    """
    indices, weights = [], []
    for candidates, log_r, n in _overlap_chunks(model, X, components, index, n_candidates):
        top = torch.topk(log_r - logsumexp(log_r, dim=1).unsqueeze(1), n_top, dim=1)
        chosen = top.indices if candidates is None else candidates.gather(1, top.indices)
        indices.append(chosen[:n])
        weights.append(top.values[:n].exp())
    return torch.cat(indices), torch.cat(weights)


@torch.no_grad()
def latent_log_density(model, X, components):
    """``log int q(z|x) p(z) dz`` per row: the prior's density around each input's code.

    For a mixture prior of K equal Gaussians it is ``log 1/K sum_k N(mu(x); m_k,
    Lambda(x) + V_k)``, the normaliser of :func:`responsibilities`.
    """
    n_components = len(components[0])
    out = [
        logsumexp(log_r, dim=1)[:n] - math.log(n_components)
        for _, log_r, n in _overlap_chunks(model, X, components)
    ]
    return torch.cat(out)


def _overlap_chunks(model, X, components, index=None, n_candidates=None):
    """``(candidates, log N(mu(x); m_k, Lambda(x) + V_k), n)`` for chunks of the rows of
    ``X``: over every component (``candidates`` None), or over each row's
    ``n_candidates`` nearest means in ``index``. The first ``n`` rows are the chunk's;
    the others pad it to a fixed size, so that what is computed from a row (up to the
    caller's reductions over components) does not depend on the rows computed with it."""
    means, log_vars = (t.float().to(X.device) for t in components)
    # Rows per chunk keep the (rows, K) matrix, or the (rows, K, d) broadcast of
    # per-component variances or of candidates, within the element budget.
    if index is not None:
        width = n_candidates * means.shape[1]
    else:
        width = len(means) * (1 if len(log_vars) == 1 else means.shape[1])
    rows = min(max(1, ELEMENT_BUDGET // width), ROW_BLOCK)
    for x in X.split(rows):
        # Padded: a row's code does not depend on the rows encoded with it (ROW_BLOCK),
        # nor its overlaps on the rows computed with it.
        mean, log_var = (t.float() for t in model.encoder(padded_rows(x, rows)))
        if index is None:
            yield None, _log_overlaps(mean, log_var, means, log_vars), len(x)
        else:
            mean, log_var = mean[: len(x)], log_var[: len(x)]
            candidates = index.query(mean, n_candidates)
            log_r = _log_overlaps_with(candidates, mean, log_var, means, log_vars)
            yield candidates, log_r, len(x)


@float32
def _log_overlaps(mean, log_var, means, log_vars):
    """``log N(mean_b; means_k, diag(exp(log_var_b) + exp(log_vars_k)))``, shape (B, K)."""
    if len(log_vars) == 1:
        # One variance per row: the density is symmetric in its point and its mean,
        # so the pairs come from one matrix product, centred on the components (not
        # on the rows, whose mean would tie each row's result to the others').
        joint = torch.logaddexp(log_var, log_vars)
        return log_normal_diag_pairs(means, mean, joint, offset=means.mean(0)).T
    joint = torch.logaddexp(log_var.unsqueeze(1), log_vars.unsqueeze(0))
    return log_normal_diag(mean.unsqueeze(1), means.unsqueeze(0), joint)


@float32
def _log_overlaps_with(candidates, mean, log_var, means, log_vars):
    """:func:`_log_overlaps` for each row's ``candidates`` (B, k) only; -1 pads give -inf."""
    near = candidates.clamp_min(0)
    rows_log_vars = log_vars if len(log_vars) == 1 else log_vars[near]
    joint = torch.logaddexp(log_var.unsqueeze(1), rows_log_vars)
    log_r = log_normal_diag(mean.unsqueeze(1), means[near], joint)
    return log_r.masked_fill(candidates < 0, -torch.inf)
