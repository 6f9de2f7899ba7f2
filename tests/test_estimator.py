"""ExemplarVAE through its public API: fit, transform, sample, persistence, errors."""

import dataclasses
import logging
import pickle

import joblib
import numpy as np
import pytest
import torch
from conftest import FAST
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from skexvae import ExemplarVAE
from skexvae.models._likelihoods import LIKELIHOODS


@pytest.fixture(scope="module")
def fitted(small_digits):
    X, _ = small_digits
    return ExemplarVAE(**FAST, random_state=0).fit(X)


@pytest.mark.parametrize("prior", ["exemplar", "vamp", "gaussian"])
def test_fit_transform_shapes_and_attributes(small_digits, prior):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, prior=prior, n_pseudo_inputs=10, random_state=0)
    Z = vae.fit(X).transform(X)
    assert Z.shape == (len(X), FAST["n_components"]) and np.isfinite(Z).all()
    assert vae.n_features_in_ == X.shape[1]
    assert vae.n_iter_ == FAST["max_iter"] == len(vae.loss_curve_)
    assert vae.exemplars_.dtype == np.float32 and vae.exemplars_.shape == X.shape
    assert (vae.sigma_ is not None) == (prior == "exemplar")
    assert (vae.M_ is not None) == (prior == "exemplar")
    assert vae.free_nats_ == 0.0  # "auto": the bound itself for the MLP
    # The code of a row is its posterior mean: deterministic, whatever the batch around it.
    one_by_one = np.vstack([vae.transform(X[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(Z[:5], one_by_one, rtol=1e-5, atol=1e-6)
    assert vae.validation_scores_ is None


def test_training_lowers_the_loss(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(**{**FAST, "max_iter": 15}, kl_warmup=0, random_state=0).fit(X)
    first, last = vae.loss_curve_[0], np.mean(vae.loss_curve_[-3:])
    assert last < first - 5, vae.loss_curve_


def test_learned_sigma_moves_and_fixed_sigma_stays(small_digits):
    X, _ = small_digits
    # Enough steps for the learned sigma to leave its start of 1 whatever the seed.
    learned = ExemplarVAE(**{**FAST, "max_iter": 10}, random_state=0).fit(X)
    fixed = ExemplarVAE(**FAST, sigma=0.25, random_state=0).fit(X)
    assert learned.sigma_ != pytest.approx(1.0, abs=5e-3)
    assert fixed.sigma_ == pytest.approx(0.25)


def test_random_state_makes_fit_reproducible(small_digits):
    X, _ = small_digits
    a = ExemplarVAE(**FAST, random_state=3).fit(X)
    b = ExemplarVAE(**FAST, random_state=3).fit(X)
    c = ExemplarVAE(**FAST, random_state=4).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(a.score_samples(X[:5]), b.score_samples(X[:5]))
    assert not np.allclose(a.transform(X), c.transform(X))


@pytest.mark.parametrize(
    ("M", "leave_one_out", "expected"),
    [(0.5, True, 150), (1.0, True, 299), (1.0, False, 300), (17, True, 17), (0.001, True, 1)],
)
def test_M_resolution(small_digits, M, leave_one_out, expected):
    X, _ = small_digits
    vae = ExemplarVAE(**{**FAST, "max_iter": 1}, M=M, leave_one_out=leave_one_out).fit(X)
    assert vae.M_ == expected


def test_smallest_subset_with_leave_one_out_trains(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, M=1, random_state=0).fit(X)
    assert vae.M_ == 1 and np.isfinite(vae.loss_curve_).all()


def test_early_stopping_records_validation_and_keeps_all_exemplars(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(
        **{**FAST, "max_iter": 40}, early_stopping=True, n_iter_no_change=2, random_state=0
    ).fit(X)
    assert len(vae.validation_scores_) == vae.n_iter_ <= 40
    assert vae.best_validation_score_ == max(vae.validation_scores_)
    assert all(np.isfinite(vae.validation_scores_))
    assert len(vae.exemplars_) == len(X)
    # M counts training exemplars only: 90 % of the rows are left for training.
    assert vae.M_ == round(0.5 * (len(X) - 30))


@pytest.fixture(scope="module")
def learned(digits):
    """Trained long enough (small batches, larger steps) for the latents to carry the digit."""
    X, _ = digits
    return ExemplarVAE(
        n_components=8,
        hidden_layer_sizes=(64,),
        max_iter=20,
        batch_size=20,
        learning_rate_init=3e-3,
        kl_warmup=5,
        random_state=0,
    ).fit(X[:600])


def test_inverse_transform_reconstructs_held_out_rows(learned, digits):
    X, _ = digits
    X_test = X[600:900]
    X_rec = learned.inverse_transform(learned.transform(X_test))
    assert X_rec.shape == X_test.shape
    assert X_rec.min() > 0 and X_rec.max() < 1  # Bernoulli means
    # Each reconstruction is closer to its own row than to its neighbour's.
    own = ((X_rec - X_test) ** 2).sum(1)
    other = ((X_rec - np.roll(X_test, 1, axis=0)) ** 2).sum(1)
    assert (own < other).mean() > 0.9


def test_transform_keeps_float32(fitted, small_digits):
    X, _ = small_digits
    assert fitted.transform(X[:3]).dtype == np.float32
    assert fitted.transform(X[:3].astype(np.float64)).dtype == np.float64


def test_sample_draws_around_the_exemplars_it_names(learned):
    X_new, index = learned.sample(4000, random_state=0)
    means, index_again = learned.sample(4000, random_state=0, return_mean=True)
    assert X_new.shape == means.shape == (4000, learned.n_features_in_)
    np.testing.assert_array_equal(index, index_again)
    # Draws of the Bernoulli likelihood: binary, and on average its means.
    assert set(np.unique(X_new)) == {0.0, 1.0}
    assert np.abs(X_new.mean(0) - means.mean(0)).max() < 0.05
    # The exemplar a sample is named after is among the closest to it (top tenth of
    # 600 for most samples; a random index would be there one time in ten).
    distances = ((means[:300, None] - learned.exemplars_[None]) ** 2).sum(-1)
    own = distances[np.arange(300), index[:300]]
    rank = (distances < own[:, None]).mean(1)
    assert (rank < 0.1).mean() > 0.7


def test_sample_from_exemplars_stays_near_its_source(learned, digits):
    X, _ = digits
    references = X[600:605]
    X_new, source = learned.sample_from_exemplars(
        references, n_samples=4, random_state=0, return_mean=True
    )
    assert X_new.shape == (20, X.shape[1])
    np.testing.assert_array_equal(source, np.repeat(np.arange(5), 4))
    # Each generation is closer to its own reference than to the other references.
    distances = ((X_new[:, None, :] - references[None]) ** 2).sum(-1)
    assert (distances.argmin(1) == source).mean() >= 0.8


def test_set_exemplars_changes_the_prior(fitted, digits):
    X, _ = digits
    vae = pickle.loads(pickle.dumps(fitted))
    before = vae.score_samples(X[:20])
    vae.set_exemplars(X[1000:1100])
    assert vae.exemplars_.shape == (100, X.shape[1])
    after = vae.score_samples(X[:20])
    assert not np.allclose(before, after)
    _, index = vae.sample(50, random_state=0)
    assert index.max() < 100


@pytest.mark.parametrize("dump", ["pickle", "joblib"])
def test_persistence_round_trip(fitted, small_digits, tmp_path, dump):
    X, _ = small_digits
    path = tmp_path / "model.bin"
    if dump == "pickle":
        path.write_bytes(pickle.dumps(fitted))
        loaded = pickle.loads(path.read_bytes())
    else:
        joblib.dump(fitted, path)
        loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X[:5]), fitted.score_samples(X[:5]))
    assert loaded.sigma_ == fitted.sigma_


def test_clone_is_unfitted_with_same_params(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        copy.transform(np.zeros((1, 64)))


def test_pipeline_and_grid_search_over_sigma_and_M(small_digits):
    X, y = small_digits
    params = {**FAST, "max_iter": 2}
    search = GridSearchCV(
        ExemplarVAE(**params, random_state=0),
        {"sigma": ["learn", 0.5], "M": [0.2, 50]},
        cv=2,
        n_jobs=2,
    ).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    # The grid reaches the model: each setting scores differently, and the refit is it.
    assert len(np.unique(np.round(scores, 6))) == len(scores)
    best = search.best_estimator_
    assert {"sigma": best.sigma, "M": best.M} == search.best_params_
    assert best.M_ == (50 if best.M == 50 else round(best.M * len(X)))
    pipe = Pipeline(
        [("vae", ExemplarVAE(**params, random_state=0)), ("knn", KNeighborsClassifier())]
    )
    accuracy = pipe.fit(X, y).score(X, y)
    Z = pipe["vae"].transform(X)
    assert accuracy == KNeighborsClassifier().fit(Z, y).score(Z, y)


@pytest.mark.parametrize(
    ("likelihood", "X", "y_ok"),
    [
        ("gaussian", np.random.default_rng(0).normal(size=(60, 5)) * 10, True),
        ("logistic", np.random.default_rng(0).integers(0, 256, size=(60, 5)) / 255, True),
    ],
)
def test_other_likelihoods_fit_and_score(likelihood, X, y_ok):
    vae = ExemplarVAE(**FAST, likelihood=likelihood, random_state=0).fit(X)
    scores = vae.score_samples(X)
    assert scores.shape == (60,) and np.isfinite(scores).all()
    X_new, _ = vae.sample(10, random_state=0)
    assert X_new.shape == (10, 5)
    if likelihood == "logistic":
        np.testing.assert_allclose(X_new * 255, np.round(X_new * 255), atol=1e-4)
        assert scores.max() <= 0  # probabilities of discrete levels


def test_auto_likelihood_follows_the_training_data(small_digits, capsys):
    X, _ = small_digits
    in_unit = ExemplarVAE(**FAST, random_state=0, verbose=1).fit(X)
    assert in_unit.likelihood_ == "bernoulli"
    assert isinstance(in_unit.model_.likelihood, LIKELIHOODS["bernoulli"])
    assert "likelihood='auto' chose 'bernoulli'" in capsys.readouterr().out
    real = ExemplarVAE(**FAST, random_state=0).fit(X * 16 - 8)
    assert real.likelihood_ == "gaussian"
    assert isinstance(real.model_.likelihood, LIKELIHOODS["gaussian"])
    assert np.isfinite(real.score_samples(X[:5] * 16 - 8)).all()
    # The choice is made once: later inputs must fit it, and the error says so.
    with pytest.raises(ValueError, match=r"chosen by likelihood='auto' at fit"):
        in_unit.transform(X * 16)
    # A warm start keeps it, whatever the new rows.
    in_unit.set_params(warm_start=True, max_iter=1).fit(X[:100])
    assert in_unit.likelihood_ == "bernoulli"


# ---------------------------------------------------------------- bad input
def bad_fit(X, match, **params):
    with pytest.raises(ValueError, match=match):
        ExemplarVAE(**{**FAST, **params}).fit(X)


def test_rejects_nan_and_inf(small_digits):
    X = small_digits[0].copy()
    X[3, 5] = np.nan
    bad_fit(X, "NaN")
    X[3, 5] = np.inf
    bad_fit(X, "infinity|inf")


def test_rejects_wrong_ndim(small_digits, fitted):
    X = small_digits[0]
    bad_fit(X[0], "2D array")
    bad_fit(X.reshape(len(X), 8, 8), "dim 3|3D|ndim")
    with pytest.raises(ValueError, match="2D array"):
        fitted.transform(X[0])


def test_rejects_feature_count_change(fitted, small_digits):
    X = small_digits[0]
    for method in (fitted.transform, fitted.score_samples, fitted.set_exemplars):
        with pytest.raises(ValueError, match="features"):
            method(X[:, :10])
    with pytest.raises(ValueError, match="n_components"):
        fitted.inverse_transform(np.zeros((2, 7)))


@pytest.mark.parametrize("likelihood", ["bernoulli", "logistic"])
def test_rejects_values_outside_unit_interval(small_digits, fitted, likelihood):
    X = small_digits[0] * 16
    bad_fit(X, r"needs inputs in \[0, 1\]", likelihood=likelihood)
    if likelihood == "bernoulli":
        with pytest.raises(ValueError, match=r"needs inputs in \[0, 1\]"):
            fitted.score_samples(-X[:3])


def test_rejects_M_not_below_N(small_digits):
    X = small_digits[0][:50]
    bad_fit(X, "M=50 must be smaller", M=50)
    bad_fit(X, "M=80 must be smaller", M=80)
    bad_fit(X, "'M' parameter", M=1.5)
    bad_fit(X, "'M' parameter", M=0)


@pytest.mark.parametrize("sigma", [0.0, -1.0, "fixed"])
def test_rejects_bad_sigma(small_digits, sigma):
    bad_fit(small_digits[0], "'sigma' parameter", sigma=sigma)


@pytest.mark.parametrize(
    ("param", "value"),
    [("prior", "vampire"), ("likelihood", "poisson"), ("binarize", "static"), ("device", 3)],
)
def test_rejects_unknown_options(small_digits, param, value):
    bad_fit(small_digits[0], f"'{param}' parameter", **{param: value})


def test_rejects_inconsistent_options(small_digits):
    X = small_digits[0]
    bad_fit(
        X,
        "binarize='dynamic' needs likelihood='bernoulli'",
        likelihood="gaussian",
        binarize="dynamic",
    )
    bad_fit(X, "not a torch device", device="gpu0")
    bad_fit(X, "hidden_layer_sizes", hidden_layer_sizes=(10, 0))
    bad_fit(X[:1], "1 sample")


@pytest.mark.parametrize("param", ["M", "n_components", "hidden_layer_sizes", "n_neighbors"])
def test_rejects_booleans_as_counts(small_digits, param):
    bad_fit(small_digits[0], f"'{param}' parameter", **{param: True})


def test_warm_start_refit_on_one_row(small_digits):
    X = small_digits[0]
    vae = ExemplarVAE(**FAST, warm_start=True, random_state=0).fit(X)
    with pytest.raises(ValueError, match="N=1 leaves none"):
        vae.fit(X[:1])
    vae = ExemplarVAE(**FAST, warm_start=True, leave_one_out=False, random_state=0).fit(X)
    vae.fit(X[:1])
    assert vae.n_iter_ == 2 * FAST["max_iter"] and vae.M_ == 1
    assert np.isfinite(vae.loss_curve_).all()


def test_warm_starts_keep_the_validation_split(small_digits):
    X = small_digits[0]
    vae = ExemplarVAE(**FAST, early_stopping=True, warm_start=True, random_state=None)
    seed = vae.fit(X)._validation_seed
    held_out = vae._split_validation(len(X), np.random.RandomState(), warm=True)[1]
    vae.fit(X)
    assert vae._validation_seed == seed and len(vae.validation_scores_) == 2 * FAST["max_iter"]
    again = vae._split_validation(len(X), np.random.RandomState(), warm=True)[1]
    np.testing.assert_array_equal(again, held_out)
    # A fresh fit draws a fresh split.
    assert vae.set_params(warm_start=False).fit(X)._validation_seed != seed


def test_scoring_index_follows_random_state(small_digits, monkeypatch):
    import skexvae._inference as inference_module

    seeds = []

    def recording_make_index(*args, random_state=None, **kwargs):
        seeds.append(random_state)
        return make_index(*args, random_state=random_state, **kwargs)

    make_index = inference_module.make_index
    monkeypatch.setattr(inference_module, "make_index", recording_make_index)
    X = small_digits[0]
    for random_state in (1, 2, 1):
        # The seed reaches every backend; the exact one (index="auto" here) needs no numba.
        vae = ExemplarVAE(**FAST, score_neighbors=3, random_state=random_state).fit(X)
        vae.score_samples(X[:2])
        vae.score_samples(X[2:3])
    # One index per fit, kept for every score_samples after it.
    assert len(seeds) == 3 and seeds[0] == seeds[2] != seeds[1]


def test_unpickling_leaves_the_global_torch_stream_alone(fitted):
    blob = pickle.dumps(fitted)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    pickle.loads(blob)
    torch.testing.assert_close(torch.rand(3), expected)


def test_unfitted_use_raises_not_fitted():
    vae = ExemplarVAE()
    X = np.zeros((2, 3))
    for call in (
        lambda: vae.transform(X),
        lambda: vae.score_samples(X),
        lambda: vae.sample(2),
        lambda: vae.inverse_transform(X),
        lambda: vae.sample_from_exemplars(X),
        lambda: vae.set_exemplars(X),
    ):
        with pytest.raises(NotFittedError):
            call()


def test_verbose_reports_each_epoch(small_digits, capsys):
    ExemplarVAE(**FAST, verbose=1, random_state=0).fit(small_digits[0])
    lines = [line for line in capsys.readouterr().out.splitlines() if "epoch" in line]
    assert len(lines) == FAST["max_iter"]
    assert "ELBO" in lines[0] and "sigma" in lines[0] and "loss" in lines[0]
    # Each line says how long the fit has run and how long it still needs.
    assert lines[0].split("]")[1].startswith(" epoch 1/3")
    assert all("s elapsed, ~" in line and line.endswith(" s left") for line in lines)
    assert lines[-1].endswith("~0 s left")
    # A line reports the scalars the prior has: the Gaussian prior has none.
    ExemplarVAE(**FAST, prior="gaussian", verbose=1, random_state=0).fit(small_digits[0])
    lines = [line for line in capsys.readouterr().out.splitlines() if "epoch" in line]
    assert len(lines) == FAST["max_iter"] and not any("sigma" in line for line in lines)


def test_throttled_progress_reports_long_work_only():
    from skexvae._progress import ThrottledProgress

    lines = []
    quiet = ThrottledProgress("work", every_seconds=60, echo=lambda s, **_: lines.append(s))
    for done in range(1, 11):
        quiet(done, 10)
    assert lines == []  # finished within the interval: nothing to report
    chatty = ThrottledProgress("work", every_seconds=0, echo=lambda s, **_: lines.append(s))
    for done in (3, 10):
        chatty(done, 10)
    assert lines[0].startswith("work: 3/10 (30 %)") and lines[-1].startswith("work: 10/10")


def test_verbose_score_samples_reports_progress(fitted, small_digits, capsys, monkeypatch):
    monkeypatch.setattr("skexvae._progress.EVERY_SECONDS", 0.0)
    vae = pickle.loads(pickle.dumps(fitted)).set_params(verbose=1)
    vae.score_samples(small_digits[0])
    assert "score_samples, rows: 300/300 (100 %)" in capsys.readouterr().out


@pytest.mark.parametrize("params", [{}, {"n_neighbors": 3}])
def test_warm_start_through_a_pickle_resumes_exactly(small_digits, params):
    X, _ = small_digits
    common = {**FAST, **params, "random_state": 0}
    whole = ExemplarVAE(**{**common, "max_iter": 4}).fit(X)
    part = ExemplarVAE(**{**common, "max_iter": 2}, warm_start=True).fit(X)
    part = pickle.loads(pickle.dumps(part)).fit(X)  # checkpoint, reload, go on
    assert part.n_iter_ == whole.n_iter_ == 4
    np.testing.assert_array_equal(part.loss_curve_, whole.loss_curve_)
    np.testing.assert_array_equal(part.transform(X), whole.transform(X))


def test_warm_start_resumes_a_random_stream_saved_on_another_kind_of_device(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, warm_start=True, random_state=0).fit(X)
    # The layout of a CUDA generator's state (seed and offset), as a GPU run pickles it.
    foreign = torch.tensor([7, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0], dtype=torch.uint8)
    twins = [pickle.loads(pickle.dumps(vae)) for _ in range(2)]
    for twin in twins:
        twin._generator_state = foreign
        twin.fit(X)
    assert twins[0].n_iter_ == 2 * FAST["max_iter"]
    np.testing.assert_array_equal(twins[0].loss_curve_, twins[1].loss_curve_)
    assert not np.array_equal(twins[0].loss_curve_, vae.fit(X).loss_curve_)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_warm_start_moves_a_cpu_run_to_the_gpu(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, warm_start=True, device="cpu", random_state=0).fit(X)
    vae.set_params(device="cuda").fit(X)
    assert vae.device_.type == "cuda"
    assert all(p.device.type == "cuda" for p in vae.model_.parameters())
    assert vae.n_iter_ == 2 * FAST["max_iter"]


def test_warm_start_refuses_a_changed_architecture(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, warm_start=True, random_state=0).fit(X)
    with pytest.raises(ValueError, match="n_components"):
        vae.set_params(n_components=FAST["n_components"] + 1).fit(X)
    fresh = clone(vae).set_params(warm_start=False).fit(X)
    assert fresh.n_iter_ == FAST["max_iter"]


def _rows_encoded(vae):
    """A list that grows by the number of rows each call of the encoder sees, less the
    all-zero rows that pad a block to its fixed size."""
    rows = []
    vae.model_.encoder.body.register_forward_pre_hook(
        lambda _, args: rows.append(int(args[0].abs().sum(1).gt(0).sum()))
    )
    return rows


def test_scoring_and_sampling_after_fit_encode_no_exemplar(small_digits):
    X, _ = small_digits
    for score_neighbors in (None, 5):
        vae = ExemplarVAE(**FAST, score_neighbors=score_neighbors, random_state=0).fit(X)
        rows = _rows_encoded(vae)
        for i in range(5):
            vae.score_samples(X[i : i + 1])
        vae.sample(10)
        assert sum(rows) == 5  # the scored rows themselves, for q(z|x)


def test_exemplar_latents_are_the_encoded_exemplars(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, random_state=0).fit(X)
    assert vae.exemplar_latents_.shape == (len(X), FAST["n_components"])
    np.testing.assert_allclose(vae.exemplar_latents_, vae.transform(X), rtol=1e-5, atol=1e-6)
    before = vae.score_samples(X[:5])
    vae.set_exemplars(X[:50])
    np.testing.assert_allclose(vae.exemplar_latents_, vae.transform(X[:50]), rtol=1e-5, atol=1e-6)
    assert not np.allclose(vae.score_samples(X[:5]), before)  # another prior
    assert ExemplarVAE(**FAST, prior="gaussian").fit(X).exemplar_latents_ is None


@pytest.mark.parametrize("score_neighbors", [None, 5])
def test_a_pickle_holds_latents_not_rows_and_loads_whole(small_digits, score_neighbors):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, score_neighbors=score_neighbors, random_state=0).fit(X)
    blob = pickle.dumps(vae)
    assert X[:20].tobytes() not in blob
    loaded = pickle.loads(blob)
    assert loaded.exemplars_ is None and vae.exemplars_ is not None
    np.testing.assert_array_equal(loaded.exemplar_latents_, vae.exemplar_latents_)
    rows = _rows_encoded(loaded)
    np.testing.assert_allclose(loaded.score_samples(X[:5]), vae.score_samples(X[:5]))
    for a, b in zip(loaded.sample(8, random_state=3), vae.sample(8, random_state=3), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sum(rows) == 5
    # Rows put back are encoded into the same latents.
    np.testing.assert_allclose(
        loaded.set_exemplars(X).exemplar_latents_, vae.exemplar_latents_, rtol=1e-6
    )


def test_an_older_pickle_without_latents_is_encoded_on_loading(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, random_state=0).fit(X)
    old = pickle.loads(pickle.dumps(vae))
    # What an older skexvae pickled: the rows, no latents, and the spec as a dict
    # (the oldest without the architecture fields).
    state = old.__getstate__()
    del state["exemplar_latents_"]
    state.pop("_exemplars_file")
    state["exemplars_"] = X
    spec = dataclasses.asdict(state["_spec"])
    state["_spec"] = {k: v for k, v in spec.items() if k not in ("architecture", "image_shape")}
    del state["likelihood_"]  # before likelihood="auto"
    state["likelihood"] = "bernoulli"
    del state["n_neighbors_"]  # before n_neighbors="auto": the parameter was the choice
    state["n_neighbors"] = None
    older = ExemplarVAE.__new__(ExemplarVAE)
    older.__setstate__(state)
    assert older._spec == vae._spec and older.likelihood_ == "bernoulli"
    assert older.n_neighbors_ is None
    np.testing.assert_allclose(older.exemplar_latents_, vae.exemplar_latents_, rtol=1e-6)
    # A warm start from it recognises the same architecture.
    older.set_params(warm_start=True, max_iter=1).fit(X)
    assert older.n_iter_ == vae.n_iter_ + 1
    # ... or neither (a lean bench checkpoint of an older skexvae).
    state = old.__getstate__()
    del state["exemplar_latents_"]
    rowless = ExemplarVAE.__new__(ExemplarVAE)
    rowless.__setstate__(state)
    with pytest.raises(ValueError, match="set_exemplars"):
        rowless.sample(2)


def test_training_state_is_kept_only_for_warm_starts(small_digits):
    X, _ = small_digits
    done = ExemplarVAE(**FAST, random_state=0).fit(X)
    assert done._optimizer_state is None and done._trained_weights is None
    resumable = ExemplarVAE(**FAST, warm_start=True, random_state=0).fit(X)
    assert resumable._optimizer_state["state"] and resumable._trained_weights is not None
    assert len(pickle.dumps(done)) < len(pickle.dumps(resumable)) / 2
    # Turned on after the fit, warm_start continues from the fitted weights.
    more = done.set_params(warm_start=True).fit(X)
    assert more.n_iter_ == 2 * FAST["max_iter"] and more._optimizer_state["state"]


def test_history_records_every_epoch_and_streams_to_the_logger(small_digits, caplog):
    X, _ = small_digits
    vae = ExemplarVAE(**{**FAST, "max_iter": 2}, early_stopping=True, random_state=0)
    with caplog.at_level(logging.INFO, logger="skexvae"):
        vae.fit(X)
        vae.set_params(warm_start=True, max_iter=1).fit(X)
    assert [row["epoch"] for row in vae.history_] == [1, 2, 3]
    assert [row["loss"] for row in vae.history_] == vae.loss_curve_
    assert [row["validation_elbo"] for row in vae.history_] == vae.validation_scores_
    last = vae.history_[-1]
    assert last["sigma"] > 0  # the trained value; sigma_ is the averaged model's
    assert last["elbo"] == pytest.approx(last["reconstruction"] - last["kl"])
    assert last["beta"] == pytest.approx(min(1.0, 3 / vae.kl_warmup))
    streamed = [r.skexvae_epoch for r in caplog.records if hasattr(r, "skexvae_epoch")]
    assert streamed == vae.history_


def test_plot_history_draws_the_curves(small_digits):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from skexvae import plot_history

    X, _ = small_digits
    vae = ExemplarVAE(**FAST, early_stopping=True, random_state=0).fit(X)
    elbo_axes, sigma_axes = plot_history(vae)
    training, validation = elbo_axes.get_lines()
    np.testing.assert_allclose(training.get_ydata(), [r["elbo"] for r in vae.history_])
    np.testing.assert_allclose(validation.get_ydata(), vae.validation_scores_)
    assert sigma_axes.get_ylabel() == "sigma"
    gaussian = ExemplarVAE(**FAST, prior="gaussian", random_state=0).fit(X)
    assert len(plot_history(gaussian)) == 1


def test_free_nats_let_the_encoder_use_the_latent_at_no_cost(small_digits):
    X, _ = small_digits
    params = {**FAST, "max_iter": 15, "kl_warmup": 0, "prior": "gaussian", "random_state": 0}
    bound = ExemplarVAE(**params).fit(X).history_[-1]
    free = ExemplarVAE(**params, free_nats=10.0).fit(X).history_[-1]
    assert free["kl"] > 2 * bound["kl"] and free["reconstruction"] > bound["reconstruction"]
    # The reported figures stay the true bound; the loss pays the floor, not the KL below it.
    assert free["elbo"] == pytest.approx(free["reconstruction"] - free["kl"])
    assert free["loss"] == pytest.approx(10.0 - free["reconstruction"], rel=1e-2)
