"""What a run of ``skexvae bench`` affords: the budgets, and the priors and
architectures it compares.

Free of torch, so that ``skexvae bench --help`` lists them at once.
"""

from dataclasses import dataclass


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
    # code's patience of 50, IWAE with 5000 samples on every test image, exact M-subsets,
    # and the bound itself (no KL floor, even for PixelSNAIL).
    "paper": Budget(
        "paper",
        *(50_000, 10_000, 10_000, 2_000, 100, 50, 5_000, 10_000, None, 10, 10_000),
        estimator_params=(("learning_rate_init", 5e-4), ("ema_decay", None), ("free_nats", 0.0)),
    ),
}

PRIORS = ("gaussian", "vamp", "exemplar")
ARCHITECTURES = ("mlp", "hvae", "convhvae", "pixelsnail")
# The ablations of `skexvae bench ablation --study`: leave-one-out (Table 1), M/N (Table 2).
STUDIES = ("loo", "m-ratio")
