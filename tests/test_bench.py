"""The reproduction harness (``skexvae bench``) on the quick budget, and its metrics."""

import json
import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import FAST
from sklearn.neighbors import KNeighborsClassifier

from skexvae import ExemplarVAE
from skexvae._evaluation import active_units, knn_errors
from skexvae.bench import BUDGETS, run_ablation, run_density, run_knn, run_progress
from skexvae.bench._checkpoint import load_checkpoint, train_with_checkpoints
from skexvae.bench._protocol import describe_training
from skexvae.cli import main

REAL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_real_mnist = pytest.mark.skipif(
    not (REAL_MNIST / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST files not found in {REAL_MNIST}",
)


def test_knn_errors_match_scikit_learn_for_every_k():
    rng = np.random.default_rng(0)
    Z_train, Z_test = rng.normal(size=(300, 3)), rng.normal(size=(80, 3))
    y_train, y_test = rng.integers(0, 4, 300) * 2, rng.integers(0, 4, 80) * 2
    got = knn_errors(Z_train, y_train, Z_test, y_test, (1, 2, 4, 9))
    for k, error in got.items():
        predicted = KNeighborsClassifier(n_neighbors=k).fit(Z_train, y_train).predict(Z_test)
        assert error == pytest.approx((predicted != y_test).mean())


def test_active_units_count_dimensions_that_vary():
    rng = np.random.default_rng(0)
    Z = np.column_stack([rng.normal(size=500), 0.01 * rng.normal(size=500), np.ones(500)])
    assert active_units(Z) == 1
    assert active_units(Z, threshold=1e-5) == 2


def _tiny_budget(**changes):
    from dataclasses import replace

    return replace(BUDGETS["quick"], **{"max_epochs": 2, "checkpoint_every": 1, **changes})


def _warm_vae(prior):
    return ExemplarVAE(**FAST, prior=prior, warm_start=True, random_state=0)


def test_budget_epochs_per_prior(small_digits, tmp_path):
    X, _ = small_digits
    budget = _tiny_budget(epochs_by_prior=(("gaussian", 3),))
    for prior, epochs in [("gaussian", 3), ("exemplar", 2)]:
        path = tmp_path / f"{prior}.pkl"
        _, log = train_with_checkpoints(_warm_vae(prior), X, X[:50], budget, path, [].append)
        assert log.epochs == epochs == budget.epochs_of(prior)
    assert BUDGETS["cpu-hour"].epochs_of("gaussian") > BUDGETS["cpu-hour"].epochs_of("exemplar")


def test_checkpoints_are_lean_and_check_their_data(small_digits, tmp_path):
    X, _ = small_digits
    path = tmp_path / "run.pkl"
    vae, _ = train_with_checkpoints(_warm_vae("exemplar"), X, X[:50], _tiny_budget(), path)
    stored, log = pickle.loads(path.read_bytes())
    assert stored.exemplars_ is None  # the training set is not in the file
    assert X[:10].tobytes() not in path.read_bytes()
    # Finished: trimmed to the best weights, which score as the run ended.
    assert log.finished and log.best_state is None and stored._optimizer_state is None
    rescored, _ = load_checkpoint(path, X)
    np.testing.assert_array_equal(rescored.exemplars_, X)
    np.testing.assert_allclose(rescored.score_samples(X[:5]), vae.score_samples(X[:5]))
    again, _ = train_with_checkpoints(rescored, X, X[:50], _tiny_budget(), path, [].append)
    np.testing.assert_allclose(again.score_samples(X[:5]), vae.score_samples(X[:5]))
    with pytest.raises(ValueError, match="run.pkl holds a finished run of 2 epochs"):
        train_with_checkpoints(rescored, X, X[:50], _tiny_budget(max_epochs=4), path)
    with pytest.raises(ValueError, match="run.pkl was trained on other data"):
        load_checkpoint(path, X[::-1].copy())


def _interrupt_after_epoch(epoch):
    def echo(line):
        if f"epoch {epoch}/" in line:  # printed after that epoch's checkpoint is written
            raise KeyboardInterrupt

    return echo


def test_checkpoints_in_training_leave_out_what_the_weights_give_back(small_digits, tmp_path):
    X, _ = small_digits
    path = tmp_path / "run.pkl"
    with pytest.raises(KeyboardInterrupt):
        train_with_checkpoints(
            _warm_vae("exemplar"), X, X[:50], _tiny_budget(), path, _interrupt_after_epoch(1)
        )
    stored, log = pickle.loads(path.read_bytes())
    assert stored.exemplar_latents_ is None and stored._optimizer_state is not None
    assert log.best_epoch == log.epochs == 1 and log.best_state is None and log.best_is_last
    vae, log = load_checkpoint(path, X)
    weights = vae.model_.state_dict()
    assert all(torch.equal(log.best_state[k], weights[k]) for k in weights)
    np.testing.assert_array_equal(vae.exemplar_latents_, vae.transform(X))


@pytest.mark.parametrize("n_neighbors", [None, 3])
def test_a_run_resumed_from_its_checkpoint_equals_an_uninterrupted_one(
    small_digits, tmp_path, n_neighbors
):
    X, _ = small_digits

    def vae():
        return _warm_vae("exemplar").set_params(n_neighbors=n_neighbors)

    budget = _tiny_budget(max_epochs=3)
    path = tmp_path / "resumed.pkl"
    with pytest.raises(KeyboardInterrupt):
        train_with_checkpoints(vae(), X, X[:50], budget, path, _interrupt_after_epoch(2))
    resumed, log = train_with_checkpoints(vae(), X, X[:50], budget, path, [].append)
    straight, straight_log = train_with_checkpoints(
        vae(), X, X[:50], budget, tmp_path / "straight.pkl", [].append
    )
    assert log.validation_elbo == straight_log.validation_elbo
    np.testing.assert_array_equal(resumed.loss_curve_, straight.loss_curve_)
    np.testing.assert_array_equal(resumed.transform(X), straight.transform(X))


def test_progress_reports_a_run_in_training_from_its_checkpoint(small_digits, tmp_path):
    X, _ = small_digits
    budget = BUDGETS["quick"]
    path = tmp_path / "checkpoints" / "quick" / "exemplar-seed0.pkl"
    with pytest.raises(KeyboardInterrupt):
        train_with_checkpoints(
            _warm_vae("exemplar"), X, X[:50], budget, path, _interrupt_after_epoch(2)
        )
    _, log = load_checkpoint(path, X)
    finished = path.with_name("gaussian-seed0.pkl")
    train_with_checkpoints(_warm_vae("gaussian"), X, X[:50], _tiny_budget(), finished, [].append)
    result = run_progress(tmp_path, echo=[].append)
    done = result["runs"]["quick/gaussian-seed0"]
    assert done["state"] == "finished (best weights only)" and done["patience_left"] is None
    row = result["runs"]["quick/exemplar-seed0"]
    assert row["state"] == "training" and row["epochs"] == 2
    assert row["epoch_limit"] == budget.max_epochs
    assert row["patience_left"] == budget.patience - (2 - log.best_epoch)
    assert [p["validation_elbo"] for p in row["curve"]] == log.validation_elbo
    assert row["hours_to_epoch_limit"] == pytest.approx(3 * log.epoch_seconds[-1] / 3600)
    table = (tmp_path / "progress.md").read_text()
    assert "| quick/exemplar-seed0 | training | 2 (5) |" in table
    assert json.loads((tmp_path / "progress.json").read_text()) == result


def test_progress_names_a_folder_without_checkpoints(tmp_path, capsys):
    with pytest.raises(ValueError, match="no checkpoints under"):
        run_progress(tmp_path, echo=[].append)
    assert main(["bench", "progress", "--out", str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err


def test_kept_training_state_extends_a_finished_run(small_digits, tmp_path):
    X, _ = small_digits
    path, options = tmp_path / "run.pkl", {"echo": [].append, "keep_training_state": True}
    train_with_checkpoints(_warm_vae("gaussian"), X, X[:50], _tiny_budget(), path, **options)
    vae, _ = load_checkpoint(path, X)
    _, log = train_with_checkpoints(vae, X, X[:50], _tiny_budget(max_epochs=4), path, **options)
    assert log.epochs == 4 and not log.finished


@needs_real_mnist
@pytest.mark.slow
def test_quick_density_budget_end_to_end(tmp_path):
    lines = []
    result = run_density(REAL_MNIST, budget="quick", out=tmp_path, echo=lines.append)
    rows = result["rows"]
    assert set(rows) == {"gaussian", "vamp", "exemplar"}
    for row in rows.values():
        assert row["epochs"] == 5 and len(row["seeds"]) == 1
        # Better than a coin flip per pixel (-784 log 2), and IWAE above the ELBO.
        assert -784 * np.log(2) < row["elbo"] < row["log_likelihood"] < 0
        assert 0 <= row["active_units"] <= 40
        assert row["difference_to_paper"] == pytest.approx(
            row["log_likelihood"] - row["paper_log_likelihood"]
        )
    assert "all 2000 exemplars" in rows["exemplar"]["estimate"]
    assert "RAT 10-NN" in rows["exemplar"]["training"]
    assert result["ranking"]["paper_order"] == ["exemplar", "vamp", "gaussian"]
    table = (tmp_path / "density.md").read_text()
    assert "-82.09" in table and "-84.45" in table
    assert json.loads((tmp_path / "density.json").read_text())["rows"].keys() == rows.keys()
    for picture in ["samples-gaussian.png", "samples-exemplar.png", "exemplar-conditioned.png"]:
        assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("validation ELBO" in line for line in lines)  # one progress line per epoch


@needs_real_mnist
def test_interrupted_run_resumes_to_the_same_model(tmp_path):
    options = {"budget": "quick", "priors": ("gaussian",), "max_epochs": 3}
    with pytest.raises(KeyboardInterrupt):
        run_density(REAL_MNIST, out=tmp_path / "a", echo=_interrupt_after_epoch(2), **options)
    lines = []
    resumed = run_density(REAL_MNIST, out=tmp_path / "a", echo=lines.append, **options)
    straight = run_density(REAL_MNIST, out=tmp_path / "b", echo=[].append, **options)
    assert any("resumed" in line and "after 2 epochs" in line for line in lines)
    ours, theirs = resumed["rows"]["gaussian"], straight["rows"]["gaussian"]
    assert ours["epochs"] == theirs["epochs"] == 3
    assert ours["log_likelihood"] == theirs["log_likelihood"]
    assert ours["best_validation_elbo"] == theirs["best_validation_elbo"]


@needs_real_mnist
def test_corrupt_checkpoint_is_named_in_the_error(tmp_path):
    checkpoint = tmp_path / "checkpoints" / "quick" / "gaussian-seed0.pkl"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(pickle.dumps("not a run")[:-3])
    with pytest.raises(ValueError, match="gaussian-seed0.pkl"):
        run_density(REAL_MNIST, budget="quick", priors=("gaussian",), out=tmp_path, echo=[].append)


@needs_real_mnist
def test_cli_names_a_corrupt_checkpoint_without_a_traceback(tmp_path, capsys):
    checkpoint = tmp_path / "checkpoints" / "quick" / "gaussian-seed0.pkl"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"truncated")
    argv = ["bench", "density", "--prior", "gaussian", "--data-home", str(REAL_MNIST)]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert "gaussian-seed0.pkl" in capsys.readouterr().err


@needs_real_mnist
def test_quick_knn_and_ablation(tmp_path):
    quiet = [].append
    knn = run_knn(REAL_MNIST, priors=("gaussian",), out=tmp_path, max_epochs=1, echo=quiet)
    errors = knn["rows"]["gaussian"]["knn_error_percent"]
    assert sorted(errors) == [1, 3, 5, 9]
    # Ten digit classes: a representation worth the name beats guessing (90 % error).
    assert all(0 <= e < 60 for e in errors.values())
    assert "2.41" in (tmp_path / "knn.md").read_text()
    ablation = run_ablation(REAL_MNIST, study="loo", out=tmp_path, max_epochs=1, echo=quiet)
    assert set(ablation["rows"]) == {"exemplar, LOO on", "exemplar, LOO off"}
    assert "-101.33" in (tmp_path / "ablation-loo.md").read_text()


def test_cli_reports_missing_mnist(tmp_path, capsys):
    code = main(["bench", "density", "--data-home", str(tmp_path), "--out", str(tmp_path)])
    assert code == 2
    assert "MNIST not found" in capsys.readouterr().err


@needs_real_mnist
def test_architecture_option_reruns_table_3_rows(tmp_path):
    options = {"priors": ("exemplar",), "architecture": "hvae", "max_epochs": 1}
    result = run_density(REAL_MNIST, out=tmp_path, echo=[].append, **options)
    row = result["rows"]["exemplar"]
    assert result["architecture"] == "hvae" and row["paper_log_likelihood"] == -81.22
    assert "Architecture `hvae`" in (tmp_path / "density-hvae.md").read_text()
    assert (tmp_path / "checkpoints" / "quick" / "exemplar-hvae-seed0.pkl").is_file()
    assert not (tmp_path / "density.md").exists()  # the MLP's results stay apart
    knn = run_knn(REAL_MNIST, out=tmp_path, echo=[].append, **options)
    assert knn["rows"]["exemplar"]["paper_knn_error_percent"] is None  # Table 4 is MLP only
    assert "| — | — |" in (tmp_path / "knn-hvae.md").read_text()


@needs_real_mnist
def test_precision_option_keeps_checkpoints_apart(tmp_path):
    common = ["bench", "density", "--data-home", str(REAL_MNIST), "--out", str(tmp_path)]
    common += ["--prior", "gaussian", "--max-epochs", "1"]
    assert main([*common, "--precision", "float32"]) == 0
    assert main(common) == 0
    checkpoints = tmp_path / "checkpoints" / "quick"
    forced, _ = pickle.loads((checkpoints / "gaussian-float32-seed0.pkl").read_bytes())
    default, _ = pickle.loads((checkpoints / "gaussian-seed0.pkl").read_bytes())
    assert forced.precision_ == "float32" and default.precision == "auto"


def test_convolutional_bench_models_train_with_rat_as_the_paper_does():
    from skexvae.bench import BUDGETS
    from skexvae.bench._protocol import make_estimator

    paper = BUDGETS["paper"]
    assert make_estimator("exemplar", paper, 0, "mlp").n_neighbors is None
    assert make_estimator("exemplar", paper, 0, "convhvae").n_neighbors == 10
    assert make_estimator("exemplar", paper, 0, "pixelsnail").n_neighbors == 10
    assert make_estimator("gaussian", paper, 0, "convhvae").architecture == "convhvae"


def test_paper_budget_trains_as_published():
    from skexvae.bench._protocol import make_estimator

    vae = make_estimator("exemplar", BUDGETS["paper"], 0)
    assert vae.learning_rate_init == 5e-4 and vae.ema_decay is None and vae.kl_warmup == 100
    assert make_estimator("exemplar", BUDGETS["paper"], 0, "pixelsnail").free_nats == 0.0
    assert make_estimator("exemplar", BUDGETS["cpu-hour"], 0).ema_decay == ExemplarVAE().ema_decay


def test_every_architecture_has_its_table_3_row():
    from skexvae.bench._budgets import ARCHITECTURES, PRIORS
    from skexvae.bench._protocol import PAPER_LOG_LIKELIHOOD

    for architecture in ARCHITECTURES:
        assert set(PAPER_LOG_LIKELIHOOD[architecture]) == set(PRIORS), architecture


def test_cli_rejects_an_unknown_architecture(tmp_path, capsys):
    argv = ["bench", "density", "--architecture", "pixelcnn", "--data-home", str(tmp_path)]
    with pytest.raises(SystemExit):
        main(argv)
    assert "invalid choice" in capsys.readouterr().err


def test_the_training_column_names_a_kl_floor():
    vae = SimpleNamespace(prior="vamp", n_pseudo_inputs=500, free_nats_=5.0)
    assert describe_training(vae) == "VampPrior, 500 pseudo-inputs, 5 free nats"
    vae.free_nats_ = 0.0
    assert describe_training(vae) == "VampPrior, 500 pseudo-inputs"
