"""The experimental protocol: budgets, data splits, model settings, the paper's numbers."""

from dataclasses import dataclass

import numpy as np

from .._estimator import ExemplarVAE
from ..datasets import load_mnist
from ..models import CONVOLUTIONAL


@dataclass(frozen=True)
class Budget:
    """How much of the paper's protocol a run affords.

    Attributes
    ----------
    n_train, n_validation, n_test : int
        Rows of the 50k training, 10k validation and 10k test splits used.
    max_epochs : int
        Epoch limit; early stopping may end training sooner.
    kl_warmup : int
        Epochs of linear KL annealing.
    patience : int
        Epochs without a better validation ELBO before training stops.
    n_importance_samples : int
        IWAE samples per test point for the log-likelihood.
    n_test_scored : int
        Test points whose log-likelihood is estimated (the first ones).
    exemplar_neighbors : int or None
        RAT neighbours for the exemplar prior in training; None trains with exact
        M-subsets, as the paper does for its MLP and HVAE on MNIST (its convolutional
        models always use RAT with 10 neighbours: see :func:`make_estimator`).
    checkpoint_every : int
        Epochs between validation, checkpoint and progress line.
    n_embedded : int
        Test points in the 2-D embedding picture.
    epochs_by_prior : tuple of (str, int) pairs
        Epoch limits that replace ``max_epochs`` for the priors named: a time budget
        affords more epochs of a cheaper prior.
    estimator_params : tuple of (str, value) pairs
        :class:`ExemplarVAE` parameters that differ from the library's defaults, e.g.
        the paper's learning rate and its last (not averaged) weights.
    """

    name: str
    n_train: int
    n_validation: int
    n_test: int
    max_epochs: int
    kl_warmup: int
    patience: int
    n_importance_samples: int
    n_test_scored: int
    exemplar_neighbors: int | None
    checkpoint_every: int
    n_embedded: int
    epochs_by_prior: tuple = ()
    estimator_params: tuple = ()

    def epochs_of(self, prior):
        """The epoch limit of a run with ``prior``."""
        return dict(self.epochs_by_prior).get(prior, self.max_epochs)


BUDGETS = {
    # About 15 s on 2 CPU cores for all three priors: checks the harness end to end.
    "quick": Budget("quick", 2_000, 500, 500, 5, 2, 50, 100, 200, 10, 1, 300),
    # At most an hour of training per prior on 2 CPU cores: the epochs that fit in 60
    # minutes at the epoch times of a quiet machine, fixed so that a run is reproducible
    # on any machine. The exemplar RAT epoch measured 30-38 s at 50k (mean 34.6 s over
    # the cpu-hour run, pauses left out), so 100 epochs; Gaussian and VampPrior from
    # benchmarks/results/speed.md's 4.7 s and 11.1 s with a margin of a quarter.
    "cpu-hour": Budget(
        "cpu-hour",
        n_train=50_000,
        n_validation=10_000,
        n_test=10_000,
        max_epochs=100,
        kl_warmup=10,
        patience=50,
        n_importance_samples=1_000,
        n_test_scored=1_000,
        exemplar_neighbors=10,
        checkpoint_every=5,
        n_embedded=2_000,
        epochs_by_prior=(("gaussian", 600), ("vamp", 260)),
    ),
    # The paper: full splits, 100 epochs of KL warm-up, early stopping with the VampPrior
    # code's patience of 50, IWAE with 5000 samples on every test image, exact M-subsets.
    "paper": Budget(
        "paper",
        *(50_000, 10_000, 10_000, 2_000, 100, 50, 5_000, 10_000, None, 10, 10_000),
        estimator_params=(("learning_rate_init", 5e-4), ("ema_decay", None)),
    ),
}

PRIORS = ("gaussian", "vamp", "exemplar")
ARCHITECTURES = ("mlp", "hvae", "convhvae")
# The paper trains its convolutional models with RAT and this many neighbours (section 5).
CONVOLUTIONAL_NEIGHBORS = 10

# Norouzi et al. 2020 on dynamically binarized MNIST, 40-D latents.
PAPER_LOG_LIKELIHOOD = {  # Table 3, by architecture
    "mlp": {"gaussian": -84.45, "vamp": -82.43, "exemplar": -82.09},
    "hvae": {"gaussian": -82.39, "vamp": -81.56, "exemplar": -81.22},
    "convhvae": {"gaussian": -80.52, "vamp": -79.67, "exemplar": -79.58},
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
    ``architecture`` is one of :data:`ARCHITECTURES`. It trains ``checkpoint_every``
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
    if vae.prior != "exemplar":
        return {"vamp": f"VampPrior, {vae.n_pseudo_inputs} pseudo-inputs"}.get(
            vae.prior, "standard normal"
        )
    loo = "LOO" if vae.leave_one_out else "no LOO"
    if vae.n_neighbors is None:
        return f"exact M = {vae.M_} of N, {loo}"
    return f"RAT {vae.n_neighbors}-NN within M = {vae.M_} of N, {loo}"
