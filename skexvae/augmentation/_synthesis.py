"""Generation shared by the augmentation estimators: the VAE they use and its draws."""

import math
import warnings
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _checks
from .._estimator import ExemplarVAE

# Training steps the default VAE aims at (its epochs follow from the data size); the
# early stopping of the default VAE usually ends it sooner.
DEFAULT_STEPS = 10_000
# Below this many rows one draw of synthetic rows at a fixed lam raised the test error
# in every case measured (benchmarks/augmentation_small.py): the estimators say so
# when asked to augment with a fixed lam.
SMALL_DATA_ROWS = 10_000


def default_vae(X, random_state=None, verbose=0):
    """An unfitted :class:`ExemplarVAE` sized for ``X``.

    Bernoulli likelihood (dynamically binarized) for inputs in [0, 1], Gaussian
    otherwise; a latent space of at most 40 dimensions and a quarter of the features;
    narrower layers, smaller batches and more epochs for small data sets; early
    stopping on a held-out tenth; RAT as ``n_neighbors="auto"`` chooses it.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The training data the VAE will be fitted on.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Returns
    -------
    vae : ExemplarVAE
        Not fitted.
    """
    n_samples, n_features = X.shape
    batch_size = int(min(100, max(16, n_samples // 16)))
    steps_per_epoch = math.ceil(0.9 * n_samples / batch_size)
    max_iter = int(min(200, max(10, math.ceil(DEFAULT_STEPS / steps_per_epoch))))
    return ExemplarVAE(
        n_components=int(min(40, max(2, n_features // 4))),
        likelihood=_checks.likelihood("auto", X),
        hidden_layer_sizes=(300, 300) if n_samples >= 10_000 else (128, 128),
        batch_size=batch_size,
        max_iter=max_iter,
        kl_warmup=max(1, max_iter // 10),
        early_stopping=True,
        random_state=random_state,
        verbose=verbose,
    )


def is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def replace_rows(X, fraction, rng, generate):
    """Copy of ``X`` with ``round(fraction * n)`` random rows replaced by ``generate(rows)``.

    Returns the copy and the boolean mask of the rows replaced.
    """
    n = len(X)
    replaced = np.zeros(n, dtype=bool)
    replaced[rng.choice(n, size=round(fraction * n), replace=False)] = True
    X_out = X.copy()
    if replaced.any():
        X_out[replaced] = generate(X[replaced])[0]
    return X_out, replaced


class GenerativeAugmentationMixin:
    """Parameters, VAE fitting and generation of the augmentation estimators.

    ``vae`` may be None (a default :class:`ExemplarVAE` sized for the data, see
    :func:`default_vae`), an unfitted estimator (cloned and fitted on the data), or a
    fitted one (used as is; wrap it in :class:`sklearn.frozen.FrozenEstimator` so
    that it stays fitted when ``GridSearchCV`` or ``cross_val_score`` clone the
    enclosing estimator). ``lam`` is the weight of the *real* data in the mix, as in
    the paper's loss ``lam * CE(x_i) + (1 - lam) * CE(x~_i)``.
    """

    _parameter_constraints = {
        "vae": [HasMethods(["fit", "sample_from_exemplars"]), None],
        "lam": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _fit_vae(self, X, *, warn_small_data=True):
        """Set ``vae_`` and the random stream of the draws; return the stream.

        With ``lam=1`` nothing will be generated, so no VAE is trained: ``vae_`` is
        the given VAE when it is fitted already, None otherwise. Below
        ``SMALL_DATA_ROWS`` rows a fixed ``lam < 1`` warns, unless ``warn_small_data``
        is off (a lam chosen on held-out rows).
        """
        rng = check_random_state(self.random_state)
        self._rng = rng
        if self.lam == 1 and (self.vae is None or not is_fitted(self.vae)):
            self.vae_ = None
        elif self.vae is None:
            vae = default_vae(X, random_state=rng.randint(2**31), verbose=self.verbose)
            if self.verbose:
                print(f"[{type(self).__name__}] fitting {vae!r} on {X.shape}", flush=True)
            self.vae_ = vae.fit(X)
        elif is_fitted(self.vae):
            self.vae_ = self.vae
        else:
            self.vae_ = clone(self.vae).fit(X)
        if warn_small_data and self.lam < 1 and len(X) < SMALL_DATA_ROWS:
            warnings.warn(
                f"{type(self).__name__}: {len(X)} training rows. On training sets below "
                f"{SMALL_DATA_ROWS} rows, one draw of synthetic rows at a fixed lam raised "
                "the test error in every case we measured (digits, MNIST subsets); fresh "
                "rows every epoch with lam chosen on held-out rows lowered it on MNIST 2000 "
                "and 5000 (docs/augmentation.md). Use AugmentedClassifier, whose default "
                "lam='auto' does that, or choose lam by validation: GridSearchCV over lam "
                "in [0.4, 0.7, 1.0] (1.0 turns augmentation off).",
                UserWarning,
                stacklevel=4,
            )
        return rng

    def generate(self, X, n_samples=1, random_state=None):
        """Synthetic rows around ``X``: decoder means of ``z ~ r(z|x)``.

        ``r(z|x) = N(mu(x), sigma^2 I)`` for the exemplar prior, ``q(z|x)`` for the
        other priors (paper section 5.4).

        Parameters
        ----------
        X : array-like of shape (n_inputs, n_features)
        n_samples : int, default=1
            Synthetic rows per input.
        random_state : int, RandomState instance or None, default=None
            Defaults to the draws that follow ``fit``.

        Returns
        -------
        X_new : ndarray of shape (n_inputs * n_samples, n_features)
            Rows ``i * n_samples`` to ``(i + 1) * n_samples - 1`` come from input ``i``.
        source : ndarray of shape (n_inputs * n_samples,)
            Row of ``X`` each new row comes from.
        """
        check_is_fitted(self, "vae_")
        if self.vae_ is None:
            raise ValueError(
                f"This {type(self).__name__} was fitted with lam=1.0, which trains no VAE: "
                "there is nothing to generate from. Fit it with lam < 1, or pass a fitted VAE."
            )
        if random_state is None:
            random_state = self._rng.randint(2**31)
        return self.vae_.sample_from_exemplars(
            X, n_samples, random_state=random_state, return_mean=True
        )


class _AugmentationBase(GenerativeAugmentationMixin, BaseEstimator):
    def __init__(self, vae=None, *, lam=0.4, random_state=None, verbose=0):
        self.vae = vae
        self.lam = lam
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the VAE (unless it is fitted already).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : object
        """
        self._fit(X)
        return self

    def _fit(self, X):
        """Validate ``X``, fit the VAE on it and return the validated array."""
        X = validate_data(self, X, dtype=["float64", "float32"])
        self._fit_vae(X)
        return X
