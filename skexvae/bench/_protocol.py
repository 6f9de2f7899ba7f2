"""The experimental protocol: data splits, model settings, the paper's numbers.

The budgets, priors and architectures are in ``_budgets``."""

from dataclasses import dataclass

import numpy as np

from .._estimator import ExemplarVAE
from ..datasets import load_mnist
from ..models import CONVOLUTIONAL

# The paper trains its convolutional models with RAT and this many neighbours (section 5).
CONVOLUTIONAL_NEIGHBORS = 10

# Norouzi et al. 2020 on dynamically binarized MNIST, 40-D latents.
PAPER_LOG_LIKELIHOOD = {  # Table 3, by architecture
    "mlp": {"gaussian": -84.45, "vamp": -82.43, "exemplar": -82.09},
    "hvae": {"gaussian": -82.39, "vamp": -81.56, "exemplar": -81.22},
    "convhvae": {"gaussian": -80.52, "vamp": -79.67, "exemplar": -79.58},
    "pixelsnail": {"gaussian": -78.20, "vamp": -77.90, "exemplar": -77.95},
}
PAPER_KNN_ERROR_PERCENT = {"mlp": {"gaussian": 2.41, "vamp": 1.42, "exemplar": 1.13}}  # Table 4
PAPER_LEAVE_ONE_OUT = {True: -82.35, False: -101.33}  # Table 1
PAPER_M_RATIO = {1.0: -82.35, 0.5: -82.09, 0.2: -82.12, 0.1: -82.20}  # Table 2


@dataclass
class Splits:
    """Grey training images, and validation and test images binarized once."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_validation: np.ndarray
    X_test: np.ndarray
    X_test_binary: np.ndarray
    y_test: np.ndarray


def load_splits(data_home, budget, seed=0):
    """The paper's 50k / 10k / 10k MNIST split, cut to the budget's sizes.

    Held-out images are binarized once with a fixed seed, as the paper scores them;
    training images stay grey for dynamic binarization.
    """
    X_train, y_train = load_mnist(data_home, split="train", return_X_y=True)
    X_val, _ = load_mnist(data_home, split="validation", return_X_y=True)
    X_test, y_test = load_mnist(data_home, split="test", return_X_y=True)
    rng = np.random.default_rng(seed)
    X_val = X_val[: budget.n_validation]
    X_test, y_test = X_test[: budget.n_test], y_test[: budget.n_test]
    return Splits(
        X_train=X_train[: budget.n_train],
        y_train=y_train[: budget.n_train],
        X_validation=_binarize(X_val, rng),
        X_test=X_test,
        X_test_binary=_binarize(X_test, rng),
        y_test=y_test,
    )


def _binarize(X, rng):
    return (rng.random(X.shape) < X).astype(np.float32)


def make_estimator(prior, budget, random_state, architecture="mlp", **overrides):
    """The paper's model (300-unit gated layers, 40-D latents, batch 100).

    It trains with the library's defaults except for ``budget.estimator_params``:
    the ``paper`` budget keeps the paper's Adam 5e-4 and last weights.
    ``architecture`` is one of ``_budgets.ARCHITECTURES``. It trains ``checkpoint_every``
    epochs per ``fit`` and continues with warm starts.
    """
    params = {
        **dict(budget.estimator_params),
        "architecture": architecture,
        "prior": prior,
        "max_iter": budget.checkpoint_every,
        "kl_warmup": budget.kl_warmup,
        "warm_start": True,
        "random_state": random_state,
    }
    if prior == "exemplar":
        params["n_neighbors"] = budget.exemplar_neighbors
        if architecture in CONVOLUTIONAL and budget.exemplar_neighbors is None:
            params["n_neighbors"] = CONVOLUTIONAL_NEIGHBORS
    params.update(overrides)
    return ExemplarVAE(**params)


def describe_training(vae):
    """How the prior was trained, in words for the results table."""
    floor = f", {vae.free_nats_:g} free nats" if vae.free_nats_ else ""
    return _describe_prior(vae) + floor


def _describe_prior(vae):
    if vae.prior != "exemplar":
        return {"vamp": f"VampPrior, {vae.n_pseudo_inputs} pseudo-inputs"}.get(
            vae.prior, "standard normal"
        )
    loo = "LOO" if vae.leave_one_out else "no LOO"
    if vae.n_neighbors_ is None:
        return f"exact M = {vae.M_} of N, {loo}"
    return f"RAT {vae.n_neighbors_}-NN within M = {vae.M_} of N, {loo}"
