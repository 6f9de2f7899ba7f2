"""Exemplar attribution: ExemplarVAE.explain against brute-force responsibilities."""

import pickle

import numpy as np
import pytest
import torch
from conftest import FAST
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.exceptions import NotFittedError

from skexvae import ExemplarVAE

TRAINED = {**FAST, "max_iter": 15, "likelihood": "gaussian", "random_state": 0}


@pytest.fixture(scope="module")
def exemplar_vae(digits):
    # Narrow kernels make the responsibilities far from uniform, so that their
    # order is tested.
    return ExemplarVAE(**TRAINED, sigma=0.1).fit(digits[0][:150])


def brute_force(vae, X):
    """``p(k | x)`` for every component, from scipy's densities, one pair at a time."""
    with torch.no_grad():
        means, log_vars = (t.numpy() for t in vae.model_.encoder(torch.from_numpy(X)))
        if vae.prior == "exemplar":
            centres = vae.exemplar_latents_
            variances = np.full_like(centres, vae.sigma_**2)
        else:
            c, v = vae.model_.encoder(vae.model_.prior.pseudo_inputs)
            centres, variances = c.numpy(), np.exp(v.numpy())
    out = []
    for mean, log_var in zip(means, log_vars, strict=True):
        log_r = [
            multivariate_normal(c, np.diag(np.exp(log_var) + v)).logpdf(mean)
            for c, v in zip(centres, variances, strict=True)
        ]
        out.append(np.exp(np.asarray(log_r) - logsumexp(log_r)))
    return np.array(out)


@pytest.mark.parametrize("prior", ["exemplar", "vamp"])
def test_responsibilities_match_brute_force(digits, exemplar_vae, prior):
    X = digits[0]
    vae = exemplar_vae
    if prior == "vamp":
        vae = ExemplarVAE(**TRAINED, prior="vamp", n_pseudo_inputs=12).fit(X[:150])
    queries = X[400:406]
    indices, weights = vae.explain(queries, n_exemplars=4)
    expected = brute_force(vae, queries)
    np.testing.assert_array_equal(indices, np.argsort(-expected, axis=1)[:, :4])
    np.testing.assert_allclose(weights, np.take_along_axis(expected, indices, 1), rtol=1e-4)
    # Far from uniform over the components: a wrong order would be seen.
    assert (expected.max(1) > 2 * expected.min(1)).all()


def test_training_rows_explain_themselves_first(digits, exemplar_vae):
    X = digits[0][:150]
    indices, weights = exemplar_vae.explain(X, n_exemplars=3)
    np.testing.assert_array_equal(indices[:, 0], np.arange(len(X)))
    assert (np.diff(weights, axis=1) <= 0).all()


def test_weights_are_a_distribution_over_all_exemplars(digits, exemplar_vae):
    indices, weights = exemplar_vae.explain(digits[0][500:503], n_exemplars=150)
    np.testing.assert_allclose(weights.sum(1), 1.0, rtol=1e-5)
    assert all(sorted(row) == list(range(150)) for row in indices)
    # Fewer exemplars keep the same leading weights, and sum to less.
    _, top = exemplar_vae.explain(digits[0][500:503], n_exemplars=5)
    np.testing.assert_allclose(top, weights[:, :5], rtol=1e-6)
    assert (top.sum(1) < 1).all()


def test_explain_reads_the_latents_of_a_pickle_and_of_set_exemplars(digits, exemplar_vae):
    X = digits[0]
    loaded = pickle.loads(pickle.dumps(exemplar_vae))
    got, expected = loaded.explain(X[600:610]), exemplar_vae.explain(X[600:610])
    for got_part, expected_part in zip(got, expected, strict=True):
        np.testing.assert_allclose(got_part, expected_part, rtol=1e-6)
    # New exemplars explain their own rows.
    loaded.set_exemplars(X[1000:1040])
    indices, _ = loaded.explain(X[1000:1040], n_exemplars=1)
    np.testing.assert_array_equal(indices[:, 0], np.arange(40))


def test_explain_errors(digits, exemplar_vae):
    X = digits[0][:50]
    gaussian = ExemplarVAE(**FAST, prior="gaussian", random_state=0).fit(X)
    with pytest.raises(ValueError, match="prior='gaussian' has a single component"):
        gaussian.explain(X[:2])
    for bad in (0, 151, True, 2.5):
        with pytest.raises(ValueError, match=r"n_exemplars must be an integer in \[1, 150\]"):
            exemplar_vae.explain(X[:2], n_exemplars=bad)
    with pytest.raises(ValueError, match="features"):
        exemplar_vae.explain(X[:2, :10])
    with pytest.raises(NotFittedError):
        ExemplarVAE().explain(X[:2])


def test_neighbour_normaliser_bounds_the_exact_weights(digits, exemplar_vae):
    queries = digits[0][700:720]
    exact_indices, exact = exemplar_vae.explain(queries, n_exemplars=3)
    approx = pickle.loads(pickle.dumps(exemplar_vae)).set_params(score_neighbors=20)
    indices, weights = approx.explain(queries, n_exemplars=3)
    # The 20 nearest latents hold the leading exemplars; normalised over them alone,
    # their weights can only grow.
    np.testing.assert_array_equal(indices, exact_indices)
    assert (weights >= exact - 1e-7).all() and (weights > exact).any()
    # With every exemplar a candidate the normaliser is exact again.
    _, everything = approx.set_params(score_neighbors=150).explain(queries, n_exemplars=3)
    np.testing.assert_allclose(everything, exact, rtol=1e-5)
