"""scikit-learn's estimator checks, with each expected failure and its reason."""

import numpy as np
import pytest
from conftest import FAST
from sklearn.linear_model import SGDClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from skexvae import (
    AugmentedClassifier,
    ExemplarAugmenter,
    ExemplarNoveltyDetector,
    ExemplarSampler,
    ExemplarVAE,
)

# Small and quick: the checks fit dozens of times on tiny data.
_QUICK = {"n_components": 2, "hidden_layer_sizes": (8,), "max_iter": 2, "n_importance_samples": 5}

# The augmentation estimators clone and fit it; seeded so that refits repeat.
_SEEDED_VAE = ExemplarVAE(likelihood="gaussian", random_state=0, **_QUICK)

_FLOAT32_BATCHING = (
    "float32 matrix products differ in the last bit (~1e-7 relative) between batch "
    "sizes, above the check's 1e-7 tolerance; test_transform_subset_invariance checks "
    "the property at float32 precision."
)

# These checks feed real-valued data (negative, or above 1) that a Bernoulli likelihood
# cannot score; ExemplarVAE rightly raises its range error. They all pass with
# likelihood="gaussian" below.
_FEEDS_DATA_OUTSIDE_0_1 = (
    "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit",
    "check_estimators_dtypes",
    "check_pipeline_consistency",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
    "check_transformer_n_iter",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_fit2d_1feature",
    "check_dict_unchanged",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
    "check_fit2d_predict1d",
)


# fit_transform replaces rows by synthetic ones while transform leaves inputs
# untouched (the augmenter's contract, like TargetEncoder's cross fitting).
_AUGMENTS_IN_FIT_TRANSFORM = (
    "fit_transform replaces rows by synthetic ones; transform returns X untouched"
)


# The checks expect `contamination` of the rows given to fit to come out as outliers;
# offset_ is set on held-out rows instead, since the exemplar prior scores its own
# training rows higher than new rows of the same kind.
_CALIBRATES_ON_HELD_OUT_ROWS = (
    "offset_ is the contamination quantile of held-out rows' scores, not of the rows "
    "given to fit, which the model trained on"
)


def _expected_failures(estimator):
    if isinstance(estimator, ExemplarNoveltyDetector):
        return {
            **dict.fromkeys(
                ("check_outliers_fit_predict", "check_outliers_train"),
                _CALIBRATES_ON_HELD_OUT_ROWS,
            ),
            "check_methods_subset_invariance": _FLOAT32_BATCHING,
        }
    if isinstance(estimator, ExemplarAugmenter):
        return dict.fromkeys(
            ("check_transformer_general", "check_transformer_data_not_an_array"),
            _AUGMENTS_IN_FIT_TRANSFORM,
        )
    if isinstance(estimator, AugmentedClassifier):
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "a repeated row gets a fresh synthetic version per copy, a weighted row one"
            )
        }
    if not isinstance(estimator, ExemplarVAE):
        return {}
    if estimator.likelihood == "bernoulli":
        reason = "feeds values outside [0, 1], which the Bernoulli likelihood rejects"
        return dict.fromkeys(_FEEDS_DATA_OUTSIDE_0_1, reason)
    return {"check_methods_subset_invariance": _FLOAT32_BATCHING}


@parametrize_with_checks(
    [
        ExemplarVAE(likelihood="gaussian", **_QUICK),
        ExemplarVAE(likelihood="gaussian", prior="vamp", n_pseudo_inputs=3, **_QUICK),
        ExemplarVAE(likelihood="gaussian", prior="gaussian", **_QUICK),
        ExemplarVAE(**_QUICK),
        ExemplarAugmenter(_SEEDED_VAE, random_state=0),
        ExemplarSampler(_SEEDED_VAE, random_state=0),
        ExemplarNoveltyDetector(_SEEDED_VAE, random_state=0),
        AugmentedClassifier(
            SGDClassifier(random_state=0),
            _SEEDED_VAE,
            # A two-epoch VAE's variations are mostly noise: at lam=0.9 the training
            # accuracy sklearn asks for (> 0.83) was a draw of the seeds (0.64-0.91
            # over five, float32 and bfloat16 alike); 5 % synthetic rows keep it.
            lam=0.95,
            max_iter=20,
            random_state=0,
        ),
    ],
    expected_failed_checks=_expected_failures,
)
@pytest.mark.filterwarnings("ignore:.*raised the test error:UserWarning")
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_transform_subset_invariance(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, random_state=0).fit(X)
    full_Z, full_scores = vae.transform(X), vae.score_samples(X[:40])
    for rows in (slice(0, 1), slice(5, 17), slice(100, 300)):
        np.testing.assert_allclose(vae.transform(X[rows]), full_Z[rows], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vae.score_samples(X[10:13]), full_scores[10:13], rtol=1e-5)
