"""How far the kNN-accelerated IWAE sits from the exact one, and what the paper's
full evaluation costs, on a trained exemplar model.

    skexvae bench density --data-home ../shared/data/mnist --budget cpu-hour --out bench-out
    python benchmarks/knn_scoring.py --data-home ../shared/data/mnist \\
        --checkpoint bench-out/checkpoints/cpu-hour/exemplar-seed0.pkl

Writes ``benchmarks/results/knn_scoring.json`` and ``.md``: per test image, the exact
IWAE (all exemplars) minus the k-NN one, for several k, with ms per test image; and the
projected time of the paper's protocol (S = 5000, 10k test images) from timed chunks.
"""

import argparse
import sys
import time

import numpy as np
from _common import binarize_once, load_mnist_splits, write_results

from skexvae.bench._checkpoint import load_checkpoint, restore_best


def scored(vae, X, **params):
    vae.set_params(**params)
    start = time.perf_counter()
    scores = vae.score_samples(X)
    return scores, 1e3 * (time.perf_counter() - start) / len(X)


def paper_protocol_seconds(vae, X, k, small=10, large=30):
    """Projected seconds for S = 5000 on 10 000 images, from two timed calls.

    Each call pays once for building the scoring index (a few seconds at 50k); the
    difference between a call on ``large`` and one on ``small`` images is the cost per
    image alone.
    """
    params = {"n_importance_samples": 5000, "score_neighbors": k}
    _, small_ms = scored(vae, X[:small], **params)
    _, large_ms = scored(vae, X[:large], **params)
    per_image = (large_ms * large - small_ms * small) / (large - small) / 1e3
    fixed = max(small_ms * small / 1e3 - per_image * small, 0.0)
    return fixed + per_image * 10_000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--checkpoint", required=True, help="a `skexvae bench` checkpoint")
    parser.add_argument("--n-points", type=int, default=500)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--neighbors", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    data = load_mnist_splits(args.data_home, "test", "train")
    if data is None:
        return 0
    # Checkpoints hold no training set: its exemplars are the 50k training split's.
    vae, log = load_checkpoint(args.checkpoint, data[1])
    restore_best(vae, log)
    X = binarize_once(data[0])[: args.n_points]
    # numba compiles pynndescent once per process (~25 s): not a per-image cost.
    scored(vae, X[:2], n_importance_samples=10, score_neighbors=args.neighbors[0])
    exact, exact_ms = scored(vae, X, n_importance_samples=args.samples, score_neighbors=None)
    rows = {}
    for k in args.neighbors:
        approx, ms = scored(vae, X, n_importance_samples=args.samples, score_neighbors=k)
        gap = exact - approx
        rows[k] = {
            "ms_per_point": ms,
            "mean_log_likelihood": float(approx.mean()),
            "gap_mean": float(gap.mean()),
            "gap_median": float(np.median(gap)),
            "gap_max": float(gap.max()),
            "gap_min": float(gap.min()),
        }
        print(f"  k={k}: {rows[k]}", flush=True)
    paper = {"10-NN": 10, "exact": None}
    result = {
        "command": "python benchmarks/knn_scoring.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "n_exemplars": len(vae.exemplars_),
        "epochs": log.epochs,
        "n_points": len(X),
        "samples": args.samples,
        "exact": {"ms_per_point": exact_ms, "mean_log_likelihood": float(exact.mean())},
        "knn": rows,
        "paper_protocol_hours": {
            name: paper_protocol_seconds(vae, X, k) / 3600 for name, k in paper.items()
        },
    }
    write_results(args.out, "knn_scoring", result, markdown(result))
    return 0


def markdown(result):
    lines = [
        f"Command: `{result['command']}`",
        "",
        f"Exemplar model after {result['epochs']} epochs, {result['n_exemplars']} exemplars; "
        f"IWAE S = {result['samples']} on {result['n_points']} binarized test images "
        "(kNN times include one index build per call). "
        f"Exact: {result['exact']['mean_log_likelihood']:.2f} nats, "
        f"{result['exact']['ms_per_point']:.0f} ms per image.",
        "",
        "| prior in scoring | mean log-likelihood | exact − kNN: mean | median | max "
        "| ms / image |",
        "|---|---|---|---|---|---|",
    ]
    for k, r in result["knn"].items():
        lines.append(
            f"| {k}-NN | {r['mean_log_likelihood']:.2f} | {r['gap_mean']:.3f} "
            f"| {r['gap_median']:.3f} | {r['gap_max']:.3f} | {r['ms_per_point']:.0f} |"
        )
    hours = result["paper_protocol_hours"]
    lines += [
        "",
        "The paper's evaluation (S = 5000, all 10 000 test images), projected from calls on "
        f"10 and 30 images (index build once, then per image): {hours['10-NN']:.2f} h with "
        "the 10-NN prior, "
        f"{hours['exact']:.2f} h with every exemplar.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
