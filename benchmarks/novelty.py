"""Novelty detection on real MNIST, one held-out digit at a time: VAEs against sklearn.

    python benchmarks/novelty.py --data-home ../shared/data/mnist

For each digit c, every detector is fitted on ``--n-train`` training images of the
nine other digits and scores test images: ``--n-inliers`` of the nine digits
(inliers) and every test image of c (outliers). The figure is the AUROC of
``score_samples`` (higher means more normal) per held-out digit, and its mean.

Detectors, on the same grey images:

- ``ExemplarVAE`` with the exemplar prior (RAT, 10 neighbours), the VampPrior and
  the Gaussian prior: the paper's MLP, ``--epochs`` epochs, each fitted once and
  scored two ways, as ``ExemplarNoveltyDetector(density=...)`` does: the IWAE
  log-likelihood with ``--n-importance-samples`` samples (``likelihood``), and
  the prior's density around the code (``latent``);
- ``IsolationForest``, ``LocalOutlierFactor(novelty=True)``, ``OneClassSVM`` and
  ``KernelDensity`` (bandwidth chosen on a held-out tenth of the training rows),
  each on the raw pixels and on a 50-component PCA fitted on the training rows.

Writes ``novelty.json`` / ``novelty.md`` under ``--out`` after each digit; a rerun
with the same arguments skips the digits already in the JSON. ``--quick`` is a smoke
run (two digits, small sets, two epochs). Skips (exit 0) when MNIST is absent.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import load_mnist_splits, run_description, write_results
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KernelDensity, LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.svm import OneClassSVM

from skexvae import ExemplarVAE
from skexvae._novelty import DENSITIES

RESULTS = Path(__file__).resolve().parent / "results"
PRIORS = {"exemplar": "Exemplar VAE", "vamp": "VampPrior VAE", "gaussian": "Gaussian VAE"}
BANDWIDTHS = (0.5, 1.0, 2.0, 4.0, 8.0)


def vae_detector(prior, args, seed):
    params = {"n_neighbors": 10} if prior == "exemplar" else {}
    return ExemplarVAE(
        prior=prior,
        max_iter=args.epochs,
        kl_warmup=max(1, min(10, args.epochs // 3)),
        n_importance_samples=args.n_importance_samples,
        random_state=seed,
        **params,
    )


def kde(X_train, seed):
    """A KernelDensity whose bandwidth maximises the likelihood of a held-out tenth."""
    rng = np.random.default_rng(seed)
    held_out = rng.permutation(len(X_train))[: max(1, len(X_train) // 10)]
    fit_rows = np.setdiff1d(np.arange(len(X_train)), held_out)
    scores = {
        bandwidth: KernelDensity(bandwidth=bandwidth)
        .fit(X_train[fit_rows])
        .score(X_train[held_out])
        for bandwidth in BANDWIDTHS
    }
    return KernelDensity(bandwidth=max(scores, key=scores.get))


def sklearn_detectors(X_train, seed):
    """``{name: unfitted detector}``; the KDEs have their bandwidth chosen already."""
    pca = PCA(n_components=50, random_state=seed).fit(X_train)
    detectors = {}
    for space, features in (("raw", None), ("PCA-50", pca)):
        X = X_train if features is None else features.transform(X_train)
        for name, detector in (
            ("IsolationForest", IsolationForest(n_estimators=200, random_state=seed)),
            ("LocalOutlierFactor", LocalOutlierFactor(n_neighbors=20, novelty=True)),
            ("OneClassSVM", OneClassSVM(gamma="scale", nu=0.1)),
            ("KernelDensity", kde(X, seed)),
        ):
            steps = [detector] if features is None else [PCA(50, random_state=seed), detector]
            detectors[f"{name} ({space})"] = make_pipeline(*steps)
    return detectors


def auroc(score, X_in, X_out):
    """AUROC of ``score`` (higher means more normal) with the inliers as positives."""
    scores = np.r_[score(X_in), score(X_out)]
    labels = np.r_[np.ones(len(X_in)), np.zeros(len(X_out))]
    return float(roc_auc_score(labels, scores))


def held_out_digit(digit, data, args, seed):
    """AUROC and seconds of every detector with ``digit`` held out."""
    X_train, y_train, X_test, y_test = data
    rng = np.random.default_rng(seed + digit)
    normal = np.flatnonzero(y_train != digit)
    X_fit = X_train[rng.choice(normal, size=min(args.n_train, len(normal)), replace=False)]
    inliers = np.flatnonzero(y_test != digit)
    X_in = X_test[rng.choice(inliers, size=min(args.n_inliers, len(inliers)), replace=False)]
    X_out = X_test[y_test == digit][: args.n_outliers]
    row = {}
    for prior, name in PRIORS.items():
        start = time.perf_counter()
        vae = vae_detector(prior, args, seed).fit(X_fit)
        fitted = time.perf_counter() - start
        for density, method in DENSITIES.items():
            start = time.perf_counter()
            value = auroc(getattr(vae, method), X_in, X_out)
            seconds = fitted + time.perf_counter() - start
            row[f"{name} ({density})"] = {"auroc": value, "seconds": seconds}
            print(f"[novelty] digit {digit}: {name} ({density}) AUROC {value:.4f}", flush=True)
    for name, detector in sklearn_detectors(X_fit, seed).items():
        start = time.perf_counter()
        value = auroc(detector.fit(X_fit).score_samples, X_in, X_out)
        row[name] = {"auroc": value, "seconds": time.perf_counter() - start}
        print(f"[novelty] digit {digit}: {name} AUROC {value:.4f}", flush=True)
    return row


def markdown(result):
    digits = sorted(result["digits"], key=int)
    names = list(result["digits"][digits[0]])
    lines = [
        "# Novelty detection on MNIST, one held-out digit at a time",
        "",
        f"`{result['command']}` ({result['machine']})",
        "",
        f"Fitted on {result['n_train']} training images of the nine other digits; "
        f"scored on {result['n_inliers']} test images of those (inliers) and the test "
        f"images of the held-out digit (outliers). VAEs: {result['epochs']} epochs, "
        f"IWAE with {result['n_importance_samples']} samples. AUROC of score_samples.",
        "",
        "| detector | " + " | ".join(digits) + " | mean | s/fit |",
        "|---|" + "---|" * (len(digits) + 2),
    ]
    means = {name: np.mean([result["digits"][d][name]["auroc"] for d in digits]) for name in names}
    for name in sorted(names, key=lambda n: -means[n]):
        values = [result["digits"][d][name]["auroc"] for d in digits]
        seconds = np.mean([result["digits"][d][name]["seconds"] for d in digits])
        lines.append(
            f"| {name} | "
            + " | ".join(f"{v:.3f}" for v in values)
            + f" | **{means[name]:.3f}** | {seconds:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-inliers", type=int, default=2000)
    parser.add_argument("--n-outliers", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--n-importance-samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--quick", action="store_true", help="a smoke run of the harness")
    args = parser.parse_args(argv)
    if args.quick:
        args.digits, args.n_train, args.n_inliers, args.n_outliers = [0, 1], 600, 100, 100
        args.epochs, args.n_importance_samples = 2, 5
    splits = load_mnist_splits(args.data_home, "train", "test", labels=True)
    if splits is None:
        return 0
    data = (*splits[0], *splits[1])
    settings = {
        key: getattr(args, key)
        for key in ("n_train", "n_inliers", "epochs", "n_importance_samples", "seed")
    }
    path = Path(args.out) / "novelty.json"
    result = {**run_description("novelty.py", argv), **settings, "digits": {}}
    if path.is_file():
        previous = json.loads(path.read_text())
        if all(previous.get(key) == value for key, value in settings.items()):
            result["digits"] = previous["digits"]
    for digit in args.digits:
        if str(digit) in result["digits"]:
            continue
        result["digits"][str(digit)] = held_out_digit(digit, data, args, args.seed)
        write_results(args.out, "novelty", result, markdown(result), echo=False)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
