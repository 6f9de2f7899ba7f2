"""Epoch and scoring time of each architecture and prior, on MNIST, in one process.

    python benchmarks/architectures.py --data-home ../shared/data/mnist [--quick]

Each (architecture, prior) pair fits one epoch (batch 100) after a one-step warm-up,
on all 50 000 training images for the MLP models and on ``--conv-rows`` of them for
the convolutional ones, whose epochs take minutes on a CPU; those times are scaled to
50 000 images (per-step work does not depend on N, except the RAT cache refresh,
which also scales linearly). The exemplar prior trains with RAT, 10 neighbours, the
paper's setting for convolutional models (the exact prior's cost grows with N: see
``speed.py``). Scoring is IWAE with ``--samples`` samples per test image, every
exemplar in the prior; sampling is ``sample(100)`` (``sample(2)`` with ``--quick``;
PixelSNAIL decodes pixel by pixel). A last row times the colour model (``"conv"``,
discretized logistic) on CelebA-sized 3x64x64 inputs, random data.

Writes ``benchmarks/results/architectures.{json,md}``; ``--architectures`` and ``--priors``
rerun some pairs and keep the other rows of the results file. ``--quick`` writes
``architectures-quick.*`` from a few hundred images. Skips (exit 0) without MNIST.
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import binarize_once, load_mnist_splits, write_results

from skexvae import ExemplarVAE

N_EPOCH = 50_000
PRIORS = ("gaussian", "vamp", "exemplar")
ARCHITECTURES = ("mlp", "hvae", "conv", "convhvae", "pixelsnail")
CONVOLUTIONAL = ("conv", "convhvae", "pixelsnail")


def make(architecture, prior, **params):
    params = {
        "architecture": architecture,
        "prior": prior,
        "max_iter": 1,
        "kl_warmup": 0,
        "random_state": 0,
        **params,
    }
    if prior == "exemplar":
        params["n_neighbors"] = 10
    return ExemplarVAE(**params)


def epoch_seconds(architecture, prior, X, **params):
    """Seconds of one epoch over ``X``, after a one-step warm-up fit."""
    make(architecture, prior, **params).fit(X[:100])
    vae = make(architecture, prior, **params)
    start = time.perf_counter()
    vae.fit(X)
    return time.perf_counter() - start, vae


def scoring_ms(vae, X_test, n_samples):
    vae.set_params(n_importance_samples=n_samples)
    vae.score_samples(X_test[:1])  # warm-up
    start = time.perf_counter()
    vae.score_samples(X_test)
    return 1000 * (time.perf_counter() - start) / len(X_test)


def sampling_seconds(vae, n_samples):
    start = time.perf_counter()
    vae.sample(n_samples, random_state=0)
    return time.perf_counter() - start


def run_mnist(X, X_test, args):
    rows = []
    for architecture in args.architectures:
        n = args.conv_rows if architecture in CONVOLUTIONAL else args.mlp_rows
        n_scored = args.conv_scored if architecture in CONVOLUTIONAL else args.mlp_scored
        for prior in args.priors:
            seconds, vae = epoch_seconds(architecture, prior, X[:n])
            row = {
                "architecture": architecture,
                "prior": prior,
                "rows_timed": n,
                "seconds_timed": seconds,
                "seconds_per_epoch_50k": seconds * N_EPOCH / n,
                "ms_per_image": 1000 * seconds / n,
                "parameters": sum(p.numel() for p in vae.model_.parameters()),
                "scoring_ms_per_image": scoring_ms(vae, X_test[:n_scored], args.samples),
                "images_scored": n_scored,
                "sampling_s": sampling_seconds(vae, args.n_samples),
            }
            print(row, flush=True)
            rows.append(row)
    return rows


def run_colour(args):
    rng = np.random.default_rng(0)
    X = (rng.integers(0, 256, size=(args.colour_rows, 3 * 64 * 64)) / 255).astype(np.float32)
    seconds, vae = epoch_seconds(
        "conv", "gaussian", X, image_shape=(3, 64, 64), likelihood="logistic"
    )
    return {
        "architecture": "conv, 3x64x64, logistic",
        "prior": "gaussian",
        "rows_timed": len(X),
        "seconds_timed": seconds,
        "ms_per_image": 1000 * seconds / len(X),
        "parameters": sum(p.numel() for p in vae.model_.parameters()),
    }


def table(result):
    lines = [
        f"{result['machine']}. One epoch, batch 100; exemplar prior: RAT 10-NN within "
        f"M = N/2, leave-one-out. Scoring: IWAE S = {result['samples']}, all exemplars.",
        "",
        "| architecture | prior | parameters | images timed | ms / image | s / epoch (50k) "
        f"| scoring ms / image | sample({result['n_samples']}) s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        sampling = f"{r['sampling_s']:.2f}" if "sampling_s" in r else "—"
        lines.append(
            f"| {r['architecture']} | {r['prior']} | {r['parameters'] / 1e6:.2f} M "
            f"| {r['rows_timed']} | {r['ms_per_image']:.2f} | {r['seconds_per_epoch_50k']:.0f} "
            f"| {r['scoring_ms_per_image']:.0f} | {sampling} |"
        )
    c = result["colour"]
    if c is not None:
        lines += [
            "",
            f"Colour model ({c['architecture']}, {c['prior']} prior, random 8-bit data): "
            f"{c['parameters'] / 1e6:.2f} M parameters, {c['ms_per_image']:.1f} ms per image "
            f"per epoch ({c['rows_timed']} images timed).",
        ]
    lines += [
        "",
        "Commands: "
        + ", ".join(f"`{command}`" for command in result["commands"])
        + " (each run replaces the rows of the pairs it times).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--quick", action="store_true", help="a few hundred images: a smoke run")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument(
        "--architectures", nargs="+", choices=ARCHITECTURES, default=list(ARCHITECTURES)
    )
    parser.add_argument("--priors", nargs="+", choices=PRIORS, default=list(PRIORS))
    args = parser.parse_args(argv)
    sizes = (300, 100, 20, 2, 2, 50, 2) if args.quick else (N_EPOCH, 2_000, 1_000, 100, 5, 500, 100)
    (
        args.mlp_rows,
        args.conv_rows,
        args.samples,
        args.mlp_scored,
        args.conv_scored,
        args.colour_rows,
        args.n_samples,
    ) = sizes
    data = load_mnist_splits(args.data_home, "train", "test")
    if data is None:
        return 0
    X, X_test = data
    name = "architectures-quick" if args.quick else "architectures"
    path = Path(args.out) / f"{name}.json"
    kept = json.loads(path.read_text()) if path.is_file() else {"rows": [], "commands": []}
    command = " ".join(["python benchmarks/architectures.py", *(argv or sys.argv[1:])])
    rows = run_mnist(X, binarize_once(X_test), args)
    run = {(r["architecture"], r["prior"]) for r in rows}
    result = {
        "machine": f"{platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "quick": args.quick,
        "samples": args.samples,
        "n_samples": args.n_samples,
        "commands": [c for c in kept["commands"] if c != command] + [command],
        "rows": sorted(
            [r for r in kept["rows"] if (r["architecture"], r["prior"]) not in run] + rows,
            key=lambda r: (ARCHITECTURES.index(r["architecture"]), PRIORS.index(r["prior"])),
        ),
        "colour": run_colour(args) if "conv" in args.architectures else kept.get("colour"),
    }
    write_results(args.out, name, result, table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
