"""Does bfloat16 change what the model learns? Held-out likelihood, bfloat16 against float32.

    python benchmarks/precision.py --data-home ../shared/data/mnist

Writes ``benchmarks/results/precision.json`` and ``precision.md``. For each prior
(Gaussian, VampPrior, exemplar with RAT 10-NN) it trains the paper's MLP on the first
``--n-train`` MNIST training images for ``--epochs`` epochs three times: bfloat16 and
float32 from the same seed, and float32 from a second seed, whose distance to the
first is the seed-to-seed noise the precision's effect is measured against. Each
model is scored in its own precision and in float32, IWAE S = ``--samples`` on the
first ``--n-test`` binarized test images, every exemplar in the prior.
"""

import argparse
import sys
import time

import numpy as np
from _common import binarize_once, load_mnist_splits, run_description, write_results

from skexvae import ExemplarVAE

PRIORS = {
    "Gaussian": {"prior": "gaussian"},
    "VampPrior-500": {"prior": "vamp"},
    "exemplar, RAT 10-NN": {"n_neighbors": 10},
}
RUNS = (("bfloat16", 0), ("float32", 0), ("float32", 1))


def train_and_score(X, X_test, params, precision, seed, args):
    vae = ExemplarVAE(
        **params,
        precision=precision,
        max_iter=args.epochs,
        kl_warmup=min(20, args.epochs),
        n_importance_samples=args.samples,
        random_state=seed,
    )
    start = time.perf_counter()
    vae.fit(X)
    fit_seconds = time.perf_counter() - start
    scores = {}
    for scored_in in dict.fromkeys((precision, "float32")):
        vae.set_params(precision=scored_in, random_state=0)  # same draws for every model
        start = time.perf_counter()
        scores[scored_in] = {
            "test_log_likelihood": vae.score(X_test),
            "seconds": time.perf_counter() - start,
        }
    return {"fit_seconds": fit_seconds, "scores": scores}


def markdown(result):
    lines = [
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}",
        "",
        f"MLP 300-300-40, N = {result['N']} training images, {result['epochs']} epochs, "
        f"IWAE S = {result['samples']} on {result['n_test']} binarized test images.",
        "",
        "| prior | bf16, seed 0 | fp32, seed 0 | fp32, seed 1 | bf16 − fp32 (same seed) "
        "| seed 1 − seed 0 (fp32) | bf16 model scored in fp32 | fit s bf16 / fp32 "
        "| scoring s bf16 / fp32 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in result["priors"].items():
        bf16, fp32, other = (runs[f"{p}-seed{s}"] for p, s in RUNS)

        def ll(run, scored_in=None):
            scores = run["scores"]
            return scores[scored_in or next(iter(scores))]["test_log_likelihood"]

        lines.append(
            f"| {name} | {ll(bf16):.2f} | {ll(fp32):.2f} | {ll(other):.2f} "
            f"| **{ll(bf16) - ll(fp32):+.2f}** | {ll(other) - ll(fp32):+.2f} "
            f"| {ll(bf16, 'float32'):.2f} "
            f"| {bf16['fit_seconds']:.0f} / {fp32['fit_seconds']:.0f} "
            f"| {bf16['scores']['bfloat16']['seconds']:.1f} / "
            f"{fp32['scores']['float32']['seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n-test", type=int, default=1_000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--samples", type=int, default=1_000, help="importance samples")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    data = load_mnist_splits(args.data_home, "train", "test")
    if data is None:
        return 0
    X, X_test = np.ascontiguousarray(data[0][: args.n_train]), binarize_once(data[1])
    X_test = X_test[: args.n_test]
    result = {
        **run_description("precision.py", argv),
        "N": len(X),
        "epochs": args.epochs,
        "samples": args.samples,
        "n_test": len(X_test),
        "priors": {},
    }
    for name, params in PRIORS.items():
        runs = {}
        for precision, seed in RUNS:
            runs[f"{precision}-seed{seed}"] = train_and_score(
                X, X_test, params, precision, seed, args
            )
            print(
                f"[precision] {name}, {precision}, seed {seed}: {runs[f'{precision}-seed{seed}']}",
                flush=True,
            )
        result["priors"][name] = runs
    write_results(args.out, "precision", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
