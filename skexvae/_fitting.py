"""The pieces ``fit`` wires into the training loop: the initial model, the exemplar
subsampler of the training prior, and the early-stopping score.

Each is built from plain values (the estimator's resolved parameters), not from the
estimator.
"""

import math

import numpy as np
import torch

from ._data import torch_generator
from ._objective import encode_means, full_log_prior, iwae
from ._precision import autocast
from ._subsampling import ExemplarSubsampler, RetrievalSubsampler
from .models import build_vae, he_initialize
from .models._build import check_user_networks
from .retrieval import LatentCache, make_index


def initial_model(spec, X_train, generator, rng, device):
    """The untrained model of ``spec`` on ``device``, He-initialised from ``rng``.

    What the prior starts from training rows (a VampPrior's pseudo-inputs) is drawn
    with ``generator``. The user's own networks keep their weights.
    """
    init_generator = torch_generator(rng, "cpu")
    parts = [part for part in ("encoder", "decoder") if getattr(spec, part) is not None]
    with torch.random.fork_rng(devices=[]):
        if parts:
            # A factory of the user's networks draws its weights from torch's global
            # generator: seed it from random_state; fork_rng restores the user's stream.
            torch.manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        model = build_vae(spec)
    user_networks = [getattr(model, part) for part in parts]
    he_initialize(model, init_generator, keep=user_networks)
    model = model.to(device)
    model.prior.start_from(X_train, generator)
    if user_networks:
        check_user_networks(model, X_train[:2], spec)
    return model


def exemplar_subsampler(
    X_train,
    M,
    leave_one_out,
    n_neighbors,
    *,
    index,
    index_refresh,
    batch_size,
    n_components,
    rng,
    generator,
    group,
    device,
    verbose=0,
):
    """Exact M-subsets, or RAT over a latent cache when ``n_neighbors`` is set."""
    if n_neighbors is None:
        return ExemplarSubsampler(X_train, M, leave_one_out, generator, group)
    knn = make_index(
        index, len(X_train), random_state=rng.randint(2**31), verbose=verbose, search=False
    )
    refresh_every = (
        math.ceil(len(X_train) / batch_size) if index_refresh == "epoch" else index_refresh
    )
    cache = LatentCache(len(X_train), n_components, device, group)
    return RetrievalSubsampler(
        X_train, M, leave_one_out, n_neighbors, knn, cache, refresh_every, generator
    )


def validation_score(model, X_val, X_train, binarize, generator, group, precision):
    """The early-stopping score: ELBO of the held-out rows, training exemplars as prior.

    Ranks score their share of the rows and agree on the mean, so that they stop at
    the same epoch.
    """
    device = X_val.device
    if binarize == "dynamic":
        X_val = torch.bernoulli(X_val, generator=generator)
    # Fixed draws, one per row: epochs are compared on the same noise, and the rows'
    # Monte Carlo errors average out in the mean.
    noise = torch.randn(len(X_val), 1, model.noise_dim, generator=generator, device=device)
    mine = group.shard(torch.arange(len(X_val), device=device))

    def score():
        with autocast(precision, device):
            centres = None
            if model.uses_exemplars:
                centres = encode_means(model.encoder, X_train, group)
            log_prior = full_log_prior(model, centres)
            total = iwae(model, X_val[mine], noise[mine], log_prior).sum()
        return group.mean(total, len(X_val))

    return score
