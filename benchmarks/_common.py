"""Helpers shared by the benchmark scripts: real MNIST or a clear skip, fixed binarization."""

import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# A script's own folder heads sys.path, not the working directory: without this, a
# benchmark run from the checkout would import (and measure) whatever copy of
# skexvae ``pip install .`` last put in site-packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skexvae.datasets import load_mnist  # noqa: E402


def load_mnist_splits(data_home, *splits, labels=False):
    """``X`` of each split (``(X, y)`` with ``labels``), or None (after saying so) when
    the MNIST files are absent."""
    try:
        loaded = [load_mnist(data_home, split=split, return_X_y=True) for split in splits]
    except FileNotFoundError as exc:
        print(f"skipped: MNIST not found ({exc})")
        return None
    return loaded if labels else [X for X, _ in loaded]


def binarize_once(X, seed=0):
    """One fixed Bernoulli draw of grey images, as held-out data is scored in the paper."""
    rng = np.random.default_rng(seed)
    return (rng.random(X.shape) < X).astype(np.float32)


def run_description(script, argv):
    """The ``command`` and ``machine`` entries of a results file."""
    import torch

    arguments = argv if argv is not None else sys.argv[1:]
    return {
        "command": " ".join(["python", f"benchmarks/{script}", *arguments]),
        "machine": f"{platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
    }


def write_results(out, name, result, table, echo=True):
    """Write ``name.json`` and the Markdown ``table`` as ``name.md`` under ``out``.

    Each file is written beside its final name and then renamed, so that a study stopped
    mid-write leaves its previous results whole. ``echo`` prints the table.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for path, text in (
        (out / f"{name}.json", json.dumps(result, indent=2) + "\n"),
        (out / f"{name}.md", table),
    ):
        partial = path.with_name(path.name + ".partial")
        partial.write_text(text)
        partial.replace(path)
    if echo:
        print(table)


def median_seconds(call, repeats=5):
    """Median wall time of ``call()`` over ``repeats`` calls, after one warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
