"""skexvae.metrics: the memorization audit and precision/recall/density/coverage."""

import numpy as np
import pytest

from skexvae.metrics import _neighbours as neighbours
from skexvae.metrics import fidelity, memorization


def test_copies_are_closer_to_train_and_fresh_draws_are_not():
    rng = np.random.default_rng(0)
    X_train, X_holdout = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    copies = memorization(X_train[rng.permutation(300)[:50]], X_train, X_holdout)
    assert copies.closer_to_train == 1.0
    np.testing.assert_array_equal(copies.distance_to_train, 0.0)
    assert copies.median_distance_to_holdout > 0
    fresh = memorization(rng.normal(size=(3000, 4)), X_train, X_holdout)
    assert abs(fresh.closer_to_train - 0.5) < 0.03
    # Rows near the training rows, but not on them, still lean to them.
    near = X_train + 0.05 * rng.normal(size=X_train.shape)
    assert memorization(near, X_train, X_holdout).closer_to_train > 0.95


def test_distances_are_the_nearest_rows_and_ties_count_half():
    X_train = np.array([[0.0, 0.0], [10.0, 0.0]])
    X_holdout = np.array([[0.0, 1.0], [10.0, 0.0]])
    result = memorization([[0.0, 0.4], [10.0, 0.0], [0.0, 0.9]], X_train, X_holdout)
    np.testing.assert_allclose(result.distance_to_train, [0.4, 0.0, 0.9])
    np.testing.assert_allclose(result.distance_to_holdout, [0.6, 0.0, 0.1])
    # Nearer the training row, a tie, nearer the held-out row.
    assert result.closer_to_train == pytest.approx((1 + 0.5 + 0) / 3)


def test_the_larger_reference_set_is_subsampled_to_the_smaller():
    rng = np.random.default_rng(1)
    X_train, X_holdout = rng.normal(size=(1000, 3)), rng.normal(size=(100, 3))
    fresh = rng.normal(size=(4000, 3))
    result = memorization(fresh, X_train, X_holdout, random_state=0)
    assert result.n_reference == 100
    # With all 1000 training rows they would be nearer for being ten times as many.
    assert abs(result.closer_to_train - 0.5) < 0.05
    again = memorization(fresh, X_train, X_holdout, random_state=0)
    np.testing.assert_array_equal(again.distance_to_train, result.distance_to_train)


def test_large_reference_sets_go_through_the_index(monkeypatch):
    rng = np.random.default_rng(2)
    X_train, X_holdout = rng.normal(size=(400, 3)), rng.normal(size=(400, 3))
    exact = memorization(X_train[:50], X_train, X_holdout)
    monkeypatch.setattr(neighbours, "EXACT_MAX_N", 100)
    approximate = memorization(X_train[:50], X_train, X_holdout, random_state=0)
    assert approximate.closer_to_train == 1.0
    # An approximate search may miss a nearest row, never find a nearer one; and
    # pynndescent computes its distances in float32.
    to_holdout, expected = approximate.distance_to_holdout, exact.distance_to_holdout
    assert (to_holdout >= expected * (1 - 1e-6)).all()
    assert np.isclose(to_holdout, expected, rtol=1e-5).mean() > 0.9


def test_memorization_errors():
    with pytest.raises(ValueError, match="same number of features"):
        memorization(np.zeros((2, 3)), np.zeros((4, 3)), np.zeros((4, 2)))


def brute_force_fidelity(real, fake, k):
    """Naeem et al. (2020), eqs. 1-4, one pair at a time."""

    def kth(X, i):
        return np.sort([np.linalg.norm(X[i] - X[j]) for j in range(len(X)) if j != i])[k - 1]

    r_real = [kth(real, i) for i in range(len(real))]
    r_fake = [kth(fake, j) for j in range(len(fake))]
    dist = np.array([[np.linalg.norm(f - r) for r in real] for f in fake])
    inside = dist <= np.array(r_real)
    return {
        "precision": np.mean(inside.any(1)),
        "recall": np.mean((dist <= np.array(r_fake)[:, None]).any(0)),
        "density": inside.sum() / (k * len(fake)),
        "coverage": np.mean(inside.any(0)),
    }


def test_fidelity_matches_the_papers_formulas():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(60, 3)), rng.normal(0.5, 1.3, size=(45, 3))
    got = fidelity(real, fake, n_neighbors=3)
    expected = brute_force_fidelity(real, fake, 3)
    assert got.precision == pytest.approx(expected["precision"])
    assert got.recall == pytest.approx(expected["recall"])
    assert got.density == pytest.approx(expected["density"])
    assert got.coverage == pytest.approx(expected["coverage"])
    # Every measure differs from its neighbours': a swapped one would be seen.
    assert len({round(v, 6) for v in expected.values()}) == 4


def test_fidelity_separates_fidelity_from_diversity():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(500, 2))
    far = fidelity(real, rng.normal(size=(500, 2)) + 20.0)
    assert far.precision == far.recall == far.density == far.coverage == 0.0
    # Half the real distribution, reproduced well: precise, half covered.
    half = real[real[:, 0] > 0]
    half = half + 0.01 * rng.normal(size=half.shape)
    result = fidelity(real, half)
    assert result.precision > 0.95 and 0.3 < result.coverage < 0.7
    # A feature map applies to both sets: a scaling changes no ball's members.
    assert fidelity(real, half, features=lambda X: 3 * np.asarray(X)) == result
    # ... one that breaks the geometry does.
    assert fidelity(real, half, features=lambda X: np.abs(X)).coverage > 0.9


def test_fidelity_errors():
    with pytest.raises(ValueError, match="n_neighbors=5 needs more"):
        fidelity(np.zeros((5, 2)), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="features"):
        fidelity(np.zeros((10, 2)), np.zeros((10, 3)))
