"""RAT index refresh policy: once per epoch vs every few steps, on real MNIST.

    python benchmarks/rat_refresh.py --data-home ../shared/data/mnist

Fits ``ExemplarVAE(n_neighbors=10)`` on the first 20 000 training images for 3 epochs
with each backend and refresh policy, and reports seconds per epoch, the final
training loss and the validation ELBO (S = 1, exact prior, 1000 binarized validation
images). Writes ``benchmarks/results/rat_refresh.{json,md}``.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from _common import binarize_once, load_mnist_splits

from skexvae import ExemplarVAE
from skexvae.retrieval import NNDescentIndex

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, nargs="+", default=[50])
    args = parser.parse_args(argv)
    data = load_mnist_splits(args.data_home, "train", "validation")
    if data is None:
        return 0
    X, X_val = data[0][: args.n], data[1]
    X_bin = binarize_once(X_val[:1000])
    NNDescentIndex(random_state=0).build(torch.randn(2000, 40))  # numba compiles here
    rows = []
    for index in ("pynndescent", "exact"):
        for refresh in ["epoch", *args.steps]:
            start = time.perf_counter()
            vae = ExemplarVAE(
                max_iter=args.epochs,
                random_state=0,
                n_neighbors=10,
                index=index,
                index_refresh=refresh,
            ).fit(X)
            seconds = (time.perf_counter() - start) / args.epochs
            vae.set_params(n_importance_samples=1)
            rows.append(
                {
                    "index": index,
                    "index_refresh": refresh,
                    "seconds_per_epoch": seconds,
                    "final_train_loss": vae.loss_curve_[-1],
                    "val_elbo": vae.score(X_bin),
                }
            )
            print(rows[-1], flush=True)
    command = "python benchmarks/rat_refresh.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "rat_refresh.json").write_text(
        json.dumps({"command": command, "rows": rows}, indent=2) + "\n"
    )
    table = [
        f"Command: `{command}` (N = {len(X)}, {args.epochs} epochs)",
        "",
        "| index | refresh | s/epoch | final train loss | val ELBO |",
        "|---|---|---|---|---|",
    ]
    table += [
        f"| {r['index']} | {r['index_refresh']} | {r['seconds_per_epoch']:.1f} "
        f"| {r['final_train_loss']:.2f} | {r['val_elbo']:.2f} |"
        for r in rows
    ]
    (RESULTS / "rat_refresh.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
