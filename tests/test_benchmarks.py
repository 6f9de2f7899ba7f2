"""Smoke runs of the benchmarks (speed against pythae, architectures): harness, not timings."""

import importlib.util
import json
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


def run_quick(script, out):
    subprocess.run(
        [sys.executable, script, "--quick", "--data-home", str(REAL_MNIST), "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )


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
    assert len(pairs) == 12
    for row in result["rows"]:
        assert row["seconds_timed"] > 0 and row["scoring_ms_per_image"] > 0
        assert row["seconds_per_epoch_50k"] == pytest.approx(
            row["seconds_timed"] * 50_000 / row["rows_timed"]
        )
    assert result["colour"]["parameters"] > 0
    assert "convhvae" in (tmp_path / "architectures-quick.md").read_text()
