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
        return dict.fromkeys(
            ("check_outliers_fit_predict", "check_outliers_train"), _CALIBRATES_ON_HELD_OUT_ROWS
        )
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
    return {}


@parametrize_with_checks(
    [
        # The defaults, two epochs: likelihood="auto" fits the checks' real-valued data.
        ExemplarVAE(max_iter=2),
        ExemplarVAE(likelihood="gaussian", **_QUICK),
        ExemplarVAE(likelihood="gaussian", prior="vamp", n_pseudo_inputs=3, **_QUICK),
        ExemplarVAE(likelihood="gaussian", prior="gaussian", **_QUICK),
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
    # scikit-learn's tolerance: padded row blocks make a row's result independent of
    # the rows computed with it, on digits as on the checks' random data.
    for rows in (slice(0, 1), slice(5, 17), slice(100, 300), slice(250, 520)):
        np.testing.assert_allclose(vae.transform(X[rows]), full_Z[rows], rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(vae.score_samples(X[10:13]), full_scores[10:13], rtol=1e-7)
