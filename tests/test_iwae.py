"""score_samples is the IWAE bound of section 5: check it against the ELBO and the truth."""

import numpy as np
import pytest
from scipy.special import logsumexp

from skexvae import ExemplarVAE


@pytest.fixture(scope="module")
def binary_digits(digits):
    X, _ = digits
    return (X > 0.5).astype(np.float32)


@pytest.mark.parametrize("prior", ["exemplar", "vamp", "gaussian"])
def test_iwae_is_above_elbo_and_grows_with_samples(binary_digits, prior):
    X_train, X_test = binary_digits[:500], binary_digits[1500:1600]
    vae = ExemplarVAE(
        n_components=8,
        hidden_layer_sizes=(64,),
        prior=prior,
        n_pseudo_inputs=20,
        max_iter=10,
        batch_size=50,
        random_state=0,
    ).fit(X_train)
    means = []
    for n_samples in (1, 10, 100, 1000):
        vae.set_params(n_importance_samples=n_samples)
        # Average over seeds: one seed shares its draws across rows.
        means.append(np.mean([vae.set_params(random_state=s).score(X_test) for s in range(4)]))
    assert means[1] > means[0] + 0.5  # ELBO (S = 1) is clearly below IWAE
    assert all(b >= a - 0.02 for a, b in zip(means, means[1:], strict=False)), means


def test_score_samples_matches_numerical_integration_in_1d(binary_digits):
    """With a 1-D latent, log p(x) = log int p(x|z) p(z) dz is a quadrature."""
    X_train = binary_digits[:400]
    vae = ExemplarVAE(
        n_components=1,
        hidden_layer_sizes=(64,),
        max_iter=15,
        batch_size=20,
        learning_rate_init=2e-3,
        n_importance_samples=20000,
        random_state=0,
    ).fit(X_train)
    X_test = binary_digits[1500:1510]
    centres = vae.transform(vae.exemplars_).astype(np.float64)[:, 0]
    sigma = vae.sigma_
    grid = np.linspace(centres.min() - 8 * sigma, centres.max() + 8 * sigma, 20001)
    dz = grid[1] - grid[0]
    log_prior = (
        logsumexp(-((grid[:, None] - centres[None]) ** 2) / (2 * sigma**2), axis=1)
        - np.log(np.sqrt(2 * np.pi) * sigma)
        - np.log(len(centres))
    )
    assert np.exp(logsumexp(log_prior) + np.log(dz)) == pytest.approx(1.0, abs=1e-6)
    probs = np.clip(vae.inverse_transform(grid[:, None]).astype(np.float64), 1e-12, 1 - 1e-7)
    log_lik = X_test @ np.log(probs).T + (1 - X_test) @ np.log1p(-probs).T  # (n_test, n_grid)
    exact = logsumexp(log_lik + log_prior, axis=1) + np.log(dz)
    estimate = vae.score_samples(X_test)
    np.testing.assert_allclose(estimate, exact, atol=0.02)
    # A lower bound on average, up to Monte Carlo error.
    assert np.mean(estimate - exact) < 0.02
