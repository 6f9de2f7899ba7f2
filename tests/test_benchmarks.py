"""Smoke runs of the benchmarks (speed against pythae, architectures, scale-out).

They check the harness, not the timings.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = ROOT.parent / "shared" / "data" / "mnist"


needs_real_mnist = pytest.mark.skipif(
    not (REAL_MNIST / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST files not found in {REAL_MNIST}",
)


def run_quick(script, out, *arguments):
    quick = ["--quick", "--data-home", str(REAL_MNIST), "--out", str(out)]
    subprocess.run(
        [sys.executable, script, *arguments, *quick],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )


def test_benchmarks_measure_this_checkout_not_an_installed_copy(tmp_path):
    # As when a script runs: its own folder heads sys.path, the checkout does not.
    env = {**os.environ, "PYTHONPATH": str(ROOT / "benchmarks")}
    code = "import _common, skexvae; print(skexvae.__file__)"
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert Path(run.stdout.strip()) == ROOT / "skexvae" / "__init__.py", run.stderr


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("pythae") is None, reason='pythae is not installed (".[bench]")'
)
@needs_real_mnist
def test_speed_benchmark_quick_run_writes_every_row(tmp_path):
    run_quick("benchmarks/speed.py", tmp_path)
    result = json.loads((tmp_path / "speed.json").read_text())
    assert result["N"] == 2000
    sections = [result["epochs"], result["scoring"], result["throughput"]]
    assert [len(section) for section in sections] == [3, 3, 2]
    for row in [row for section in sections for row in section.values()]:
        assert row["ours"] > 0 and row["peer_value"] > 0
        assert row["ratio_ours_to_peer"] == pytest.approx(row["ours"] / row["peer_value"])
    exact = result["exact"]
    # FLOP of one step by hand: the mean path (784x600, 300x600, 300x40 gated MLP) over
    # M + 1 = 1001 exemplars, the whole VAE over the batch of 100; forward, weight
    # gradients, and input gradients below the first layer: 2 (3 MACs - first layer).
    mean_path, vae, first = 662_400, 1_113_600, 470_400
    expected = 1001 * 2 * (3 * mean_path - first) + 100 * 2 * (3 * vae - first)
    assert exact["M"] == 1000 and exact["flop_per_step"] == expected
    assert exact["ours_epoch_s"] > 0 and exact["bound_epoch_s"] > 0
    for fit in result["footprint"].values():
        assert fit["peak_rss_mib"] >= fit["peak_rss_mib_data"] > 0 and fit["saved_mib"] > 0
    assert "Exact exemplar prior" in (tmp_path / "speed.md").read_text()


@pytest.mark.slow
@needs_real_mnist
def test_architecture_benchmark_quick_run_times_every_pair(tmp_path):
    run_quick("benchmarks/architectures.py", tmp_path)
    result = json.loads((tmp_path / "architectures-quick.json").read_text())
    pairs = {(r["architecture"], r["prior"]) for r in result["rows"]}
    assert len(pairs) == 15
    for row in result["rows"]:
        assert row["seconds_timed"] > 0 and row["scoring_ms_per_image"] > 0
        assert row["sampling_s"] > 0
        assert row["seconds_per_epoch_50k"] == pytest.approx(
            row["seconds_timed"] * 50_000 / row["rows_timed"]
        )
    assert result["colour"]["parameters"] > 0
    assert "pixelsnail" in (tmp_path / "architectures-quick.md").read_text()
    # Rerunning some pairs replaces their rows and keeps the others'.
    run_quick("benchmarks/architectures.py", tmp_path, "--architectures", "mlp", "--priors", "vamp")
    rerun = json.loads((tmp_path / "architectures-quick.json").read_text())

    def others(rows):
        return [r for r in rows if (r["architecture"], r["prior"]) != ("mlp", "vamp")]

    assert others(rerun["rows"]) == others(result["rows"])
    assert len(rerun["rows"]) == 15 and rerun["colour"] == result["colour"]
    assert len(rerun["commands"]) == 2


@pytest.mark.slow
@needs_real_mnist
def test_scaleout_search_quick_run_compares_every_engine(tmp_path):
    run_quick("benchmarks/scaleout.py", tmp_path, "search")
    runs = json.loads((tmp_path / "scaleout-search-quick.json").read_text())["runs"]
    assert [run["engine"].split(",")[0].split(" ")[0] for run in runs] == [
        "n_jobs=1",
        "Dask",
        "Dask",
        "Ray",
        "joblib",
    ]
    for run in runs[1:]:
        assert run["same_best_params"] and run["same_scores_rtol_1e-4"]
        assert run["speedup"] == pytest.approx(runs[0]["seconds"] / run["seconds"])


@pytest.mark.slow
@needs_real_mnist
def test_scaleout_ddp_quick_run_trains_one_and_two_ranks(tmp_path):
    run_quick("benchmarks/scaleout.py", tmp_path, "ddp")
    runs = json.loads((tmp_path / "scaleout-ddp-quick.json").read_text())["runs"]
    assert [(run["ranks"], run["threads_per_rank"] == 1) for run in runs[:3]][1:] == [
        (1, True),
        (2, True),
    ]
    assert {run["world_size"] for run in runs} == {1, 2}
    for run in runs:
        assert run["seconds"] > 0 and run["elbo"] < 0 and len(run["loss_curve"]) == 1


@pytest.mark.slow
def test_scaleout_memmap_quick_run_fits_from_the_file(tmp_path):
    run_quick("benchmarks/scaleout.py", tmp_path, "memmap")
    (run,) = json.loads((tmp_path / "scaleout-memmap-quick.json").read_text())["runs"]
    assert run["exemplars_is_memmap"]
    assert run["peak_rss_mib"] >= run["peak_anon_mib"] > 0


@pytest.mark.slow
@needs_real_mnist
def test_attribution_quick_run_explains_with_the_committed_model(tmp_path):
    run_quick("benchmarks/attribution.py", tmp_path)
    result = json.loads((tmp_path / "attribution.json").read_text())
    mass = result["mean_weight_of_top"]
    assert 0 < mass["1"] < mass["5"] < mass["100"] <= 1
    # The committed model's top exemplar is a strong 1-NN classifier.
    assert result["top_exemplar_has_the_label"] > 0.9
    assert result["neighbour_normaliser"]["top5_weight_ratio_median"] >= 1 - 1e-6
    assert len(result["disputed_training_rows"]) == 8
    assert (tmp_path / "attribution.png").stat().st_size > 0


@pytest.mark.slow
@needs_real_mnist
def test_novelty_quick_run_scores_every_detector_and_resumes(tmp_path):
    run_quick("benchmarks/novelty.py", tmp_path)
    result = json.loads((tmp_path / "novelty.json").read_text())
    assert sorted(result["digits"]) == ["0", "1"]
    names = set(result["digits"]["0"])
    # Three VAEs scored two ways, four sklearn detectors in two input spaces.
    assert len(names) == 14 and "Exemplar VAE (latent)" in names
    assert "KernelDensity (PCA-50)" in names and "OneClassSVM (raw)" in names
    # A rerun with the same settings keeps the digits it has.
    before = (tmp_path / "novelty.json").read_text()
    run_quick("benchmarks/novelty.py", tmp_path)
    assert json.loads((tmp_path / "novelty.json").read_text()) == json.loads(before)


@needs_real_mnist
def test_auto_neighbors_quick_run_times_both_priors(tmp_path):
    run_quick("benchmarks/auto_neighbors.py", tmp_path)
    result = json.loads((tmp_path / "auto_neighbors.json").read_text())
    (row,) = result["rows"]
    assert (row["N"], row["M"], row["batch_size"]) == (300, 150, 100)
    assert row["exact"] > 0 and row["RAT 10-NN"] > 0
    assert "| 100 | 300 | 150 |" in (tmp_path / "auto_neighbors.md").read_text()


def test_memorization_quick_run_audits_every_sampling_mode(tmp_path):
    subprocess.run(
        [sys.executable, "benchmarks/memorization.py", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    rows = json.loads((tmp_path / "memorization.json").read_text())["rows"]
    modes = {(row["model"], row["mode"]) for row in rows}
    # Four modes per model, two more sigma scales for the exemplar prior.
    assert len(modes) == len(rows) == 10
    assert ("Exemplar VAE", "sample_from_exemplars, mean, sigma x 0.5") in modes
    for row in rows:
        assert 0 <= row["closer_to_train"] <= 1 and 0 <= row["coverage"] <= 1
        assert row["n_reference"] == 597


@needs_real_mnist
def test_augmentation_results_file_renders_its_own_table(tmp_path, monkeypatch):
    run_quick("benchmarks/augmentation.py", tmp_path, "--parts", "sweep")
    result = json.loads((tmp_path / "augmentation.json").read_text())
    assert sorted(result["lambda_sweep"]["exemplar"]) == ["0.2", "0.4", "0.6", "0.8", "1.0"]
    # Results merged by hand are re-rendered from the JSON file, whose keys are strings.
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    augmentation = importlib.import_module("augmentation")
    assert augmentation.markdown(result) == (tmp_path / "augmentation.md").read_text()
