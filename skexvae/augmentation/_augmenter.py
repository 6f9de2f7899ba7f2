"""ExemplarAugmenter: generative data augmentation as a step of a scikit-learn Pipeline."""

from sklearn.base import OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted, validate_data

from ._synthesis import _AugmentationBase, replace_rows


class ExemplarAugmenter(OneToOneFeatureMixin, TransformerMixin, _AugmentationBase):
    """Replace a share of the training rows by Exemplar VAE variations of themselves.

    The paper's generative data augmentation (section 5.4) as a Pipeline step, e.g.
    ``make_pipeline(ExemplarAugmenter(), MLPClassifier())``. For a synthetic row, draw
    ``z ~ r(z|x_i) = N(mu(x_i), sigma^2 I)`` and decode the mean of ``p(x|z)``; it
    inherits the label ``y_i`` of the row it replaces.

    **Semantics.** ``fit_transform(X)`` (what a Pipeline calls while it is fitted)
    fits the VAE on ``X`` and returns ``X`` with ``round((1 - lam) * n)`` rows, chosen
    at random, replaced by a synthetic variation of themselves. ``transform(X)``
    (what ``predict`` and ``score`` of the Pipeline call) returns ``X`` untouched.
    Like scikit-learn's ``TargetEncoder``, ``fit(X).transform(X)`` therefore differs
    from ``fit_transform(X)`` on purpose.

    **Why this is sound.** A Pipeline step cannot add rows, change ``y`` or see which
    rows a later step will be scored on; replacing rows needs none of that. Row ``i``
    stays row ``i`` and its synthetic version belongs to the same class, so labels,
    ``sample_weight`` and any other per-row fit parameter of the classifier stay
    aligned, and no label information passes between steps (the VAE is fitted
    without labels). Over the random choice of replaced rows, the classifier's
    expected training loss is ``lam * L(x_i) + (1 - lam) * L(x~_i)`` per row: the
    paper's weighted cross entropy, for any classifier, with or without
    ``sample_weight``. In cross-validation the VAE is fitted on the training folds
    only. One fit sees one draw of synthetic rows; for fresh draws every epoch, as
    the paper trains, use :class:`AugmentedClassifier`. On MNIST, one draw raised
    the test error of a 2 x 1024 MLP and fresh draws lowered it (docs/augmentation.md).

    Parameters
    ----------
    vae : ExemplarVAE or None, default=None
        The generative model. None fits a default :class:`ExemplarVAE` sized for the
        data (see ``skexvae.augmentation.default_vae``; ``verbose`` prints it). An
        unfitted estimator is cloned and fitted on the data; a fitted one is used as
        is (wrap it in :class:`sklearn.frozen.FrozenEstimator` to keep it fitted
        through cloning, and beware that a VAE fitted on test rows leaks them).
    lam : float in [0, 1], default=0.4
        Weight of the real data (the paper's lambda; 0.4 for MNIST): ``1 - lam`` of the
        rows are replaced. 1 turns augmentation off (and trains no VAE), 0 trains on
        synthetic rows only.
        Below 10 000 training rows a ``UserWarning`` says that augmentation raised the
        test error in every small-data case we measured: validate ``lam`` there.
    random_state : int, RandomState instance or None, default=None
        Seeds the default VAE, the choice of replaced rows and the draws.
    verbose : int, default=0
        Report the default VAE chosen and its training.

    Attributes
    ----------
    vae_ : ExemplarVAE or None
        The fitted generative model; None after a fit with ``lam=1`` and no fitted
        ``vae`` (nothing is generated, so no VAE is trained).
    replaced_ : ndarray of shape (n_samples,), bool
        Rows that the last ``fit_transform`` replaced by synthetic ones.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    ExemplarSampler : adds synthetic rows instead, for imbalanced-learn pipelines.
    AugmentedClassifier : fresh synthetic rows every epoch.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from skexvae import ExemplarAugmenter, ExemplarVAE
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> vae = ExemplarVAE(n_components=8, hidden_layer_sizes=(64,), max_iter=5, random_state=0)
    >>> pipe = make_pipeline(
    ...     ExemplarAugmenter(vae, random_state=0), LogisticRegression(max_iter=500)
    ... )
    >>> pipe.fit(X[:1000], y[:1000]).score(X[1000:], y[1000:]) > 0.8
    True
    """

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None):
        """Fit, then return ``X`` with ``1 - lam`` of its rows replaced by synthetic ones.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
            Labels are never needed: a synthetic row inherits its row's label.

        Returns
        -------
        X_mixed : ndarray of shape (n_samples, n_features)
        """
        X = self._fit(X)
        X_mixed, self.replaced_ = replace_rows(X, 1.0 - self.lam, self._rng, self.generate)
        return X_mixed

    def transform(self, X):
        """Return ``X`` untouched (validated): inputs are never augmented at predict time.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "vae_")
        return validate_data(self, X, dtype=["float64", "float32"], reset=False)
