"""Retrieval-augmented training: the bound, the masks, the backends, the cache."""

import pickle

import numpy as np
import pytest
import torch
from conftest import FAST

from skexvae import ExemplarVAE, _checks
from skexvae._checks import AUTO_RAT_MIN_M, AUTO_RAT_NEIGHBORS, neighbors_per_input
from skexvae._subsampling import ExemplarSubsampler, RetrievalSubsampler
from skexvae.models import ExemplarPrior, MLPEncoder
from skexvae.retrieval import (
    ExactIndex,
    LatentCache,
    NNDescentIndex,
    exact_knn,
    make_index,
)

N, D, DZ, M, K = 120, 6, 3, 40, 5


@pytest.fixture(scope="module")
def setting():
    torch.manual_seed(0)
    X = torch.rand(N, D)
    encoder = MLPEncoder(D, DZ, (16,))
    batch_index = torch.arange(0, N, 7)
    z = encoder.mean(X[batch_index]).detach() + 0.3 * torch.randn(len(batch_index), DZ)
    return X, encoder, batch_index, z


def rat_step(setting, index, seed=0, leave_one_out=True, k=K):
    X, encoder, batch_index, z = setting
    cache = LatentCache(N, DZ)
    generator = torch.Generator().manual_seed(seed)
    sampler = RetrievalSubsampler(X, M, leave_one_out, k, index, cache, 100, generator)
    out = sampler(encoder, batch_index, z)
    return sampler, out


def exact_step(setting, seed=0, leave_one_out=True):
    X, encoder, batch_index, z = setting
    sampler = ExemplarSubsampler(X, M, leave_one_out, torch.Generator().manual_seed(seed))
    return sampler(encoder, batch_index, z)


@pytest.mark.parametrize("seed", range(5))
def test_rat_prior_is_a_lower_bound_of_the_subset_prior(setting, seed):
    _, _, _, z = setting
    prior = ExemplarPrior(DZ, sigma=0.4)
    exact = prior.log_prob(z, *exact_step(setting, seed))
    _, rat_out = rat_step(setting, ExactIndex(), seed)
    rat = prior.log_prob(z, *rat_out)
    assert torch.all(rat <= exact + 1e-5)
    assert torch.all(rat > exact - 5)  # the near neighbours carry most of the mass


def test_rat_with_all_neighbours_equals_the_exact_prior(setting):
    _, _, _, z = setting
    prior = ExemplarPrior(DZ, sigma=0.4)
    exact = prior.log_prob(z, *exact_step(setting, 3))
    _, rat_out = rat_step(setting, ExactIndex(), 3, k=M)
    torch.testing.assert_close(prior.log_prob(z, *rat_out), exact, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_neighbours_stay_in_the_subset_and_never_include_self(setting, seed):
    X, encoder, batch_index, _ = setting
    _, (centres, exclude, n_total) = rat_step(setting, ExactIndex(), seed)
    assert n_total == M
    drawn = torch.randperm(N, generator=torch.Generator().manual_seed(seed))[: M + 1]
    spare = drawn[M]
    ids = [int(torch.nonzero((X == row).all(1))[0]) for row in _decode_rows(encoder, X, centres)]
    assert set(ids) <= set(drawn.tolist())  # only exemplars of this step's subset
    for b, own in enumerate(batch_index.tolist()):
        kept = [e for col, e in enumerate(ids) if col != exclude[b]]
        assert own not in kept  # leave-one-out
        if own not in drawn.tolist():
            assert int(spare) not in kept  # the spare stands in for the row's own


def _decode_rows(encoder, X, centres):
    """Map each centre back to the exemplar row whose mean it is."""
    means = encoder.mean(X).detach()
    rows = torch.cdist(centres.detach(), means).argmin(1)
    return X[rows]


def test_cache_holds_the_latest_means_of_retrieved_exemplars(setting):
    X, encoder, _, _ = setting
    sampler, (centres, _, _) = rat_step(setting, ExactIndex())
    means = encoder.mean(X).detach()
    touched = torch.cdist(centres.detach(), means).argmin(1)
    torch.testing.assert_close(sampler.cache.means[touched], centres.detach())
    with torch.no_grad():
        encoder.head.mean.bias.add_(1.0)  # the encoder moves on ...
    sampler.cache.update(touched, encoder.mean(X[touched]))
    torch.testing.assert_close(sampler.cache.means[touched], encoder.mean(X[touched]).detach())
    with torch.no_grad():
        encoder.head.mean.bias.sub_(1.0)


def test_a_step_writes_its_batch_and_neighbours_into_the_cache(setting):
    X, encoder, batch_index, z = setting
    cache = LatentCache(N, DZ)
    generator = torch.Generator().manual_seed(0)
    sampler = RetrievalSubsampler(X, M, True, K, ExactIndex(), cache, 100, generator)
    sampler(encoder, batch_index, z)  # first step: full refresh
    stale = cache.means.clone()
    with torch.no_grad():
        encoder.head.mean.bias.add_(1.0)  # the encoder moves on between steps
    try:
        centres, _, _ = sampler(encoder, batch_index, z)
        fresh = encoder.mean(X).detach()
    finally:
        with torch.no_grad():
            encoder.head.mean.bias.sub_(1.0)
    touched = torch.cdist(centres.detach(), fresh).argmin(1)
    torch.testing.assert_close(cache.means[batch_index], fresh[batch_index])
    torch.testing.assert_close(cache.means[touched], fresh[touched])
    untouched = torch.ones(N, dtype=torch.bool)
    untouched[batch_index] = False
    untouched[touched] = False
    torch.testing.assert_close(cache.means[untouched], stale[untouched])  # no refresh yet


def test_exact_knn_matches_brute_force_with_a_mask():
    g = torch.Generator().manual_seed(0)
    points, z = torch.randn(500, 4, generator=g), torch.randn(20, 4, generator=g)
    allowed = torch.rand(500, generator=g) < 0.3
    got = exact_knn(z, points, 7, allowed)
    d = torch.cdist(z, points).masked_fill(~allowed, float("inf"))
    expected = d.topk(7, largest=False).indices
    assert torch.equal(got.sort(1).values, expected.sort(1).values)
    assert exact_knn(z, points, 7, torch.zeros(500, dtype=torch.bool)).eq(-1).all()


@pytest.fixture(scope="module")
def clustered_cache():
    g = torch.Generator().manual_seed(1)
    centres = torch.randn(20, 8, generator=g) * 4
    return centres.repeat_interleave(150, 0) + torch.randn(3000, 8, generator=g)


def test_pynndescent_agrees_with_exact(clustered_cache):
    z = clustered_cache[::37] + 0.1
    allowed = torch.rand(len(clustered_cache), generator=torch.Generator().manual_seed(2)) < 0.5
    exact = ExactIndex().build(clustered_cache).query(z, 10, allowed)
    approx = NNDescentIndex(random_state=0).build(clustered_cache).query(z, 10, allowed)
    assert allowed[approx[approx >= 0]].all()
    recall = np.mean(
        [len(set(a.tolist()) & set(e.tolist())) / 10 for a, e in zip(approx, exact, strict=True)]
    )
    assert recall >= 0.9
    # Training-time lookup: samples around known rows, through those rows' graph edges.
    rows = torch.arange(0, len(clustered_cache), 37)
    z_rows = clustered_cache[rows] + 0.05
    index = NNDescentIndex(random_state=0).build(clustered_cache)
    lookup = index.query(z_rows, 10, allowed, near_rows=rows)
    exact_rows = ExactIndex().build(clustered_cache).query(z_rows, 10, allowed)
    assert allowed[lookup[lookup >= 0]].all()
    pairs = zip(lookup.tolist(), exact_rows.tolist(), strict=True)
    assert np.mean([len(set(a) & set(e)) / 10 for a, e in pairs]) >= 0.9


class OnAnotherDevice(torch.Tensor):
    """Stands for a GPU tensor on a CPU machine: ``cpu()`` gives a plain tensor back."""

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor).clone()


@pytest.mark.parametrize("index", [ExactIndex(), NNDescentIndex(random_state=0)])
def test_index_pickles_its_cache_on_the_cpu(clustered_cache, index):
    cache = clustered_cache[:200].clone().as_subclass(OnAnotherDevice)
    index.build(cache)
    loaded = pickle.loads(pickle.dumps(index))
    assert type(loaded.cache) is torch.Tensor
    torch.testing.assert_close(loaded.cache, clustered_cache[:200])


def test_training_index_keeps_only_the_neighbour_table(clustered_cache):
    rows = torch.arange(0, len(clustered_cache), 37)
    z = clustered_cache[rows] + 0.05
    kept = NNDescentIndex(random_state=0).build(clustered_cache)
    lean = NNDescentIndex(keep_graph=False, random_state=0).build(clustered_cache)
    assert lean._graph is None and lean._neighbour_table.dtype == torch.int32
    assert torch.equal(lean.query(z, 10, near_rows=rows), kept.query(z, 10, near_rows=rows))
    assert torch.equal(lean.query(z, 10), kept.query(z, 10))  # a search rebuilds the graph


def test_index_survives_pickling(clustered_cache):
    index = NNDescentIndex(random_state=0).build(clustered_cache)
    z = clustered_cache[:15]
    before = index.query(z, 5)
    restored = pickle.loads(pickle.dumps(index))
    assert restored._graph is None  # numba state is not pickled ...
    after = restored.query(z, 5)  # ... and rebuilt from the cache on first use
    assert (before == after).float().mean() > 0.9


def test_auto_backend_choice():
    assert isinstance(make_index("auto", 1000), ExactIndex)
    assert isinstance(make_index("auto", 10**6), NNDescentIndex)
    assert isinstance(make_index("pynndescent", 10), NNDescentIndex)
    # Scoring switches earlier: there an exact top-k costs more than the full sum.
    assert isinstance(make_index("auto", 50_000), ExactIndex)
    assert isinstance(make_index("auto", 50_000, exact_max_n=10_000), NNDescentIndex)


def test_auto_neighbors_train_rat_once_the_exact_subset_is_large(small_digits, monkeypatch, capsys):
    assert neighbors_per_input("auto", AUTO_RAT_MIN_M) is None
    assert neighbors_per_input("auto", AUTO_RAT_MIN_M + 1) == AUTO_RAT_NEIGHBORS
    assert neighbors_per_input(None, 10**6) is None and neighbors_per_input(3, 5) == 3
    # With the threshold lowered, digits show both sides: "auto" trains exactly as
    # the explicit setting it chooses, and the two settings train differently.
    monkeypatch.setattr(_checks, "AUTO_RAT_MIN_M", 100)
    X, _ = small_digits
    params = {**FAST, "random_state": 0}

    def losses(**more):
        return ExemplarVAE(**params, **more).fit(X).loss_curve_

    exact = ExemplarVAE(**params, M=100, verbose=1).fit(X)
    assert exact.n_neighbors_ is None
    assert "n_neighbors='auto' chose the exact prior: 100 exemplars" in capsys.readouterr().out
    np.testing.assert_array_equal(exact.loss_curve_, losses(M=100, n_neighbors=None))
    rat = ExemplarVAE(**params, M=101, verbose=1).fit(X)
    assert rat.n_neighbors_ == AUTO_RAT_NEIGHBORS
    assert "n_neighbors='auto' chose RAT with 10 neighbours" in capsys.readouterr().out
    np.testing.assert_array_equal(rat.loss_curve_, losses(M=101, n_neighbors=AUTO_RAT_NEIGHBORS))
    assert not np.allclose(rat.loss_curve_, losses(M=101, n_neighbors=None))
    # The other priors have no subset to choose for.
    assert ExemplarVAE(**params, prior="gaussian").fit(X).n_neighbors_ is None


def test_estimator_rat_equals_exact_training_when_k_covers_the_subset(small_digits):
    X, _ = small_digits
    params = {**FAST, "M": 20, "random_state": 0}
    exact = ExemplarVAE(**params).fit(X)
    rat = ExemplarVAE(**params, n_neighbors=20, index="exact").fit(X)
    np.testing.assert_allclose(rat.loss_curve_, exact.loss_curve_, rtol=1e-4)


def test_estimator_rat_trains_and_pickles(small_digits):
    X, _ = small_digits
    params = {**FAST, "max_iter": 6, "n_neighbors": 5, "random_state": 0, "kl_warmup": 0}
    vae = ExemplarVAE(**params).fit(X)
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    assert vae.index_ is None  # the RAT index of training is not kept
    # The scoring index is fitted state: over the exemplars' latents, pickled without them.
    vae = ExemplarVAE(**params, score_neighbors=5).fit(X)
    assert isinstance(vae.index_, ExactIndex)
    np.testing.assert_array_equal(vae.index_.cache.numpy(), vae.exemplar_latents_)
    blob = pickle.dumps(vae)
    assert blob.count(vae.exemplar_latents_.tobytes()) == 1
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.transform(X), vae.transform(X))
    assert isinstance(loaded.index_, ExactIndex)
    np.testing.assert_array_equal(loaded.index_.cache.numpy(), vae.exemplar_latents_)
    np.testing.assert_allclose(loaded.score_samples(X[:5]), vae.score_samples(X[:5]))


@pytest.mark.parametrize("index", ["exact", "pynndescent"])
def test_knn_scoring_is_a_lower_bound_that_tightens_with_k(small_digits, index):
    X, _ = small_digits
    vae = ExemplarVAE(**{**FAST, "max_iter": 8}, kl_warmup=0, random_state=0).fit(X)
    exact = vae.score_samples(X[:40])
    few = vae.set_params(score_neighbors=10, index=index).score_samples(X[:40])
    many = vae.set_params(score_neighbors=100, index=index).score_samples(X[:40])
    assert np.all(few <= many + 1e-4) and np.all(many <= exact + 1e-4)
    assert np.mean(exact - many) < np.mean(exact - few)  # the bound tightens with k
    everything = vae.set_params(score_neighbors=len(X), index="exact").score_samples(X[:40])
    np.testing.assert_allclose(everything, exact, rtol=1e-5)
