"""ExemplarSampler: generative data augmentation for imbalanced-learn pipelines."""

import warnings

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._synthesis import _AugmentationBase

# More synthetic rows per real one than this is more likely a lam mistaken for the
# synthetic share (lam=0.01: 99 per row) than a wish: fit_resample warns.
MAX_SYNTHETIC_PER_ROW = 10


class ExemplarSampler(_AugmentationBase):
    """Add Exemplar VAE variations of the training rows, labelled like their sources.

    Speaks imbalanced-learn's sampler protocol: ``fit_resample(X, y)`` returns the
    real rows followed by synthetic ones, so that
    ``imblearn.pipeline.make_pipeline(ExemplarSampler(), classifier)`` trains the
    classifier on both and predicts on untouched inputs (imbalanced-learn's Pipeline
    skips samplers outside ``fit``). imbalanced-learn itself is not required.

    The number of synthetic rows makes the real rows weigh ``lam`` of the total:
    ``round(n * (1 - lam) / lam)`` of them, drawn from the rows in turn (each row
    once before any row twice), so the class proportions stay as they are. The
    sampler does not rebalance classes; it says so with ``_sampling_type = "bypass"``
    and has no ``sampling_strategy``. ``lam=0`` returns one synthetic row per real
    row and no real ones; ``lam=1`` returns the data unchanged and trains no VAE.

    Parameters
    ----------
    vae : ExemplarVAE or None, default=None
        As for :class:`ExemplarAugmenter`.
    lam : float in [0, 1], default=0.4
        Share of real rows in the output (the paper's lambda): ``n * (1 - lam) / lam``
        synthetic rows are added, so a small lam means many (a ``UserWarning`` says so
        above 10 per real row).
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    vae_ : ExemplarVAE or None
        None after a fit with ``lam=1`` and no fitted ``vae``.
    source_ : ndarray of shape (n_synthetic,)
        Row of the last ``fit_resample``'s ``X`` that each synthetic row comes from.
    n_features_in_ : int

    See Also
    --------
    ExemplarAugmenter : the same generation as a plain scikit-learn Pipeline step.
    """

    _sampling_type = "bypass"

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_resample(self, X, y):
        """Fit, then return the real rows followed by synthetic ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        X_resampled : ndarray of shape (n_samples_new, n_features)
        y_resampled : ndarray of shape (n_samples_new,)
        """
        X, y = validate_data(self, X, y, dtype=["float64", "float32"])
        check_classification_targets(y)
        n = len(X)
        n_synthetic = n if self.lam == 0 else round(n * (1.0 - self.lam) / self.lam)
        if n_synthetic > MAX_SYNTHETIC_PER_ROW * n:
            warnings.warn(
                f"ExemplarSampler(lam={self.lam}) adds {n_synthetic} synthetic rows to "
                f"{n} real ones, (1 - lam) / lam = {n_synthetic / n:.0f} per row: lam is "
                "the share of real rows in the output. A larger lam adds fewer; lam=0 "
                "returns one synthetic row per real row and no real ones.",
                UserWarning,
                stacklevel=3,
            )
        self._fit_vae(X)
        self.source_ = np.resize(self._rng.permutation(n), n_synthetic)
        if n_synthetic == 0:
            return X, y
        X_new = self.generate(X[self.source_])[0].astype(X.dtype, copy=False)
        if self.lam == 0:
            return X_new, y[self.source_]
        return np.vstack([X, X_new]), np.concatenate([y, y[self.source_]])
