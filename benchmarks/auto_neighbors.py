"""Where retrieval-augmented training starts to pay: the threshold of ``n_neighbors="auto"``.

    python benchmarks/auto_neighbors.py --data-home ../shared/data/mnist

For each training-set size N (the first N MNIST training images) and batch size, fits
one epoch of the exemplar prior at ``M = N/2`` twice in turn, with the exact M-subset
prior (``n_neighbors=None``) and with RAT over 10 neighbours (``n_neighbors=10``), in
one process, alternating, and reports the median of ``--repeats`` whole ``fit`` calls
(what a user waits for: RAT's cache refresh included). A RAT step encodes the union of
the batch's neighbours, at most ``batch_size * 11`` rows; an exact step ``M + 1``.
Writes ``benchmarks/results/auto_neighbors.{json,md}``; skips (exit 0) without MNIST.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from _common import load_mnist_splits, run_description, write_results

from skexvae import ExemplarVAE
from skexvae._checks import AUTO_RAT_MIN_M

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = {"exact": None, "RAT 10-NN": 10}


def fit_seconds(X, batch_size, n_neighbors):
    start = time.perf_counter()
    ExemplarVAE(
        max_iter=1, batch_size=batch_size, n_neighbors=n_neighbors, index="exact", random_state=0
    ).fit(X)
    return time.perf_counter() - start


def compare(X, batch_size, repeats):
    """Median fit seconds of each setting, the settings alternating within each repeat."""
    times = {name: [] for name in SETTINGS}
    for _ in range(repeats):
        for name, n_neighbors in SETTINGS.items():
            times[name].append(fit_seconds(X, batch_size, n_neighbors))
    return {name: float(np.median(t)) for name, t in times.items()}


def markdown(result):
    lines = [
        "# Exact prior vs RAT: one epoch at M = N/2",
        "",
        f"`{result['command']}` ({result['machine']})",
        "",
        f"Median of {result['repeats']} whole one-epoch `fit` calls per cell, the two "
        "settings alternating in one process; MLP 784-300-300-40, default precision. "
        f'`n_neighbors="auto"` takes RAT above M = {result["auto_rat_min_m"]}.',
        "",
        "| batch | N | M | exact s | RAT 10-NN s | exact / RAT |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['batch_size']} | {row['N']} | {row['M']} | {row['exact']:.2f} "
            f"| {row['RAT 10-NN']:.2f} | **{row['exact'] / row['RAT 10-NN']:.2f}** |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 3000, 4000, 6000])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--quick", action="store_true", help="a smoke run of the harness")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.batch_sizes, args.repeats = [300], [100], 1
    loaded = load_mnist_splits(args.data_home, "train")
    if loaded is None:
        return 0
    (X,) = loaded
    fit_seconds(X[:500], 100, 10)  # the first fit pays for imports and kernel warm-up
    result = {
        **run_description("auto_neighbors.py", argv),
        "repeats": args.repeats,
        "auto_rat_min_m": AUTO_RAT_MIN_M,
        "rows": [],
    }
    for batch_size in args.batch_sizes:
        for n in args.sizes:
            row = {"batch_size": batch_size, "N": n, "M": n // 2}
            row.update(compare(X[:n], batch_size, args.repeats))
            print(f"[auto_neighbors] {row}", flush=True)
            result["rows"].append(row)
    write_results(args.out, "auto_neighbors", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
