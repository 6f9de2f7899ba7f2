"""ExemplarNoveltyDetector: calibration on held-out rows, sklearn's detector contract."""

import numpy as np
import pytest
import torch
from conftest import FAST
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import InvalidParameterError

from skexvae import ExemplarNoveltyDetector, ExemplarVAE

# Large enough to tell digits apart, as the docstring example shows.
VAE = ExemplarVAE(
    n_components=8,
    hidden_layer_sizes=(64,),
    max_iter=100,
    n_importance_samples=20,
    likelihood="gaussian",
    random_state=0,
)


@pytest.fixture(scope="module")
def no_zeros(digits):
    """A detector fitted on digits 1-9 (the first 1 200), and the rows it never saw."""
    X, y = digits
    normal = X[y != 0]
    detector = ExemplarNoveltyDetector(VAE, contamination=0.2, random_state=0).fit(normal[:1200])
    return detector, normal[:1200], normal[1200:], X[y == 0]


def test_offset_is_the_contamination_quantile_of_rows_the_vae_never_saw(no_zeros):
    detector, fitted_on, _, _ = no_zeros
    exemplars = {row.tobytes() for row in detector.vae_.exemplars_}
    held_out = np.array([row for row in fitted_on if row.tobytes() not in exemplars])
    # A tenth held out, the VAE fitted on the rest.
    assert len(held_out) == 120 and len(exemplars) == 1080
    np.testing.assert_allclose(
        np.sort(detector.calibration_scores_),
        np.sort(detector.vae_.latent_log_density(held_out)),
        rtol=1e-6,
    )
    assert detector.offset_ == pytest.approx(np.quantile(detector.calibration_scores_, 0.2))
    assert np.mean(detector.predict(held_out) == -1) == pytest.approx(0.2, abs=1 / 120)


def test_the_methods_follow_sklearns_detectors(no_zeros):
    detector, _, unseen_normal, _ = no_zeros
    scores = detector.score_samples(unseen_normal)
    np.testing.assert_allclose(scores, detector.vae_.latent_log_density(unseen_normal), rtol=1e-6)
    likelihood = clone(detector).set_params(vae=detector.vae_, density="likelihood")
    likelihood.fit(unseen_normal[:50])
    np.testing.assert_allclose(
        likelihood.score_samples(unseen_normal), detector.vae_.score_samples(unseen_normal)
    )
    decision = detector.decision_function(unseen_normal)
    np.testing.assert_allclose(decision, scores - detector.offset_)
    np.testing.assert_array_equal(detector.predict(unseen_normal), np.where(decision < 0, -1, 1))


@pytest.mark.parametrize("prior", ["exemplar", "vamp", "gaussian"])
def test_latent_log_density_is_the_mixture_density_around_the_code(digits, prior):
    X, _ = digits
    vae = ExemplarVAE(**FAST, prior=prior, n_pseudo_inputs=7, random_state=0).fit(X[:100])
    queries = X[200:205]
    with torch.no_grad():
        means, log_vars = (t.numpy() for t in vae.model_.encoder(torch.from_numpy(queries)))
        if prior == "exemplar":
            centres = vae.exemplar_latents_
            variances = np.full_like(centres, vae.sigma_**2)
        elif prior == "vamp":
            c, v = vae.model_.encoder(vae.model_.prior.pseudo_inputs)
            centres, variances = c.numpy(), np.exp(v.numpy())
        else:
            centres, variances = np.zeros((1, 4)), np.ones((1, 4))
    expected = [
        logsumexp(
            [
                multivariate_normal(c, np.diag(np.exp(lv) + v)).logpdf(m)
                for c, v in zip(centres, variances, strict=True)
            ]
        )
        - np.log(len(centres))
        for m, lv in zip(means, log_vars, strict=True)
    ]
    np.testing.assert_allclose(vae.latent_log_density(queries), expected, rtol=1e-5)


def test_an_unseen_digit_is_flagged(no_zeros):
    detector, _, unseen_normal, zeros = no_zeros
    inliers, outliers = detector.score_samples(unseen_normal), detector.score_samples(zeros)
    labels = np.r_[np.ones(len(inliers)), np.zeros(len(outliers))]
    assert roc_auc_score(labels, np.r_[inliers, outliers]) > 0.75
    assert np.mean(detector.predict(zeros) == -1) > 2 * np.mean(
        detector.predict(unseen_normal) == -1
    )


def test_a_fitted_vae_is_used_as_is_and_every_row_calibrates(digits):
    X, _ = digits
    vae = ExemplarVAE(**FAST, likelihood="gaussian", random_state=0).fit(X[:300])
    detector = ExemplarNoveltyDetector(vae, contamination=0.1).fit(X[300:500])
    assert detector.vae_ is vae
    assert len(detector.calibration_scores_) == 200
    assert np.mean(detector.predict(X[300:500]) == -1) == pytest.approx(0.1, abs=0.005)


def test_the_default_vae_is_sized_for_the_data(digits):
    X, _ = digits
    detector = ExemplarNoveltyDetector(random_state=0).fit(X[:200])
    # Digits are in [0, 1]: the default VAE is a Bernoulli one with early stopping.
    assert detector.vae_.likelihood == "bernoulli" and detector.vae_.early_stopping
    assert len(detector.calibration_scores_) == 20


def test_errors(digits):
    X, _ = digits
    for bad in (0.0, 0.6):
        with pytest.raises(InvalidParameterError, match="contamination"):
            ExemplarNoveltyDetector(VAE, contamination=bad).fit(X[:100])
    with pytest.raises(NotFittedError):
        ExemplarNoveltyDetector(VAE).predict(X[:2])
    detector = ExemplarNoveltyDetector(VAE, random_state=0).fit(X[:100])
    with pytest.raises(ValueError, match="features"):
        detector.predict(X[:2, :10])
