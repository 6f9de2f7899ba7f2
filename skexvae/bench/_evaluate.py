"""The numbers of a results table, for one trained model."""

import math
import time

import numpy as np

from .._evaluation import active_units, knn_errors

KNN_K = (1, 3, 5, 9)


def evaluate_density(vae, splits, budget, score_neighbors=None):
    """Test log-likelihood (IWAE), test ELBO and active units, and which estimate each is."""
    n_scored = min(budget.n_test_scored, len(splits.X_test_binary))
    saved = vae.get_params()
    try:
        vae.set_params(
            n_importance_samples=budget.n_importance_samples,
            score_neighbors=score_neighbors if vae.prior == "exemplar" else None,
            verbose=1,
        )
        start = time.perf_counter()
        log_px = vae.score_samples(splits.X_test_binary[:n_scored])
        scoring_seconds = time.perf_counter() - start
        vae.set_params(n_importance_samples=1, score_neighbors=None, verbose=0)
        elbo = vae.score_samples(splits.X_test_binary)
    finally:
        vae.set_params(**saved)
    return {
        "log_likelihood": float(log_px.mean()),
        "log_likelihood_sem": float(log_px.std(ddof=1) / math.sqrt(n_scored)),
        "estimate": describe_estimate(vae, budget.n_importance_samples, n_scored, score_neighbors),
        "scoring_seconds": scoring_seconds,
        "elbo": float(elbo.mean()),
        "active_units": active_units(vae.transform(splits.X_test)),
    }


def describe_estimate(vae, n_samples, n_scored, score_neighbors):
    """Which estimate a log-likelihood is, in words."""
    text = f"IWAE S = {n_samples} on {n_scored} test images"
    if vae.prior != "exemplar":
        return text
    n = len(vae.exemplar_latents_)
    if score_neighbors is None:
        return f"{text}, all {n} exemplars in the prior"
    return f"{text}, {score_neighbors}-NN of {n} exemplars in the prior (a lower bound)"


def evaluate_knn(vae, splits):
    """kNN test error (%) on the posterior means, for k in :data:`KNN_K`."""
    Z_train, Z_test = vae.transform(splits.X_train), vae.transform(splits.X_test)
    errors = knn_errors(Z_train, splits.y_train, Z_test, splits.y_test, KNN_K)
    return {"knn_error_percent": {k: 100 * e for k, e in errors.items()}}, Z_test


def training_summary(log):
    """Epochs, early stopping and wall time of one run."""
    return {
        "epochs": log.epochs,
        "best_epoch": log.best_epoch,
        "stopped_early": log.stopped_early,
        "seconds_per_epoch": float(np.mean(log.epoch_seconds)) if log.epoch_seconds else 0.0,
        "training_seconds": float(np.sum(log.epoch_seconds)),
        "best_validation_elbo": log.best_elbo,
    }
