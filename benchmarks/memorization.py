"""How close generated rows sit to their training rows, and how good they are.

    python benchmarks/memorization.py --data-home ../shared/data/mnist

For the Exemplar VAE and the Gaussian-prior VAE, on MNIST (the committed cpu-hour
checkpoints, trained on the first 50 000 training images; held out: the 10 000 test
images) and on ``load_digits`` (fitted here on 1 200 digits; held out: the other
597), it generates rows in each sampling mode:

- ``sample``: a prior draw, decoded to its mean or drawn from ``p(x|z)``;
- ``sample_from_exemplars``: around training rows, mean or draw; for the exemplar
  prior also with its sigma scaled by 0.5 and 2 (``z ~ N(mu(x), (s sigma)^2 I)``);

and reports ``skexvae.metrics.memorization`` (against equal-sized training and
held-out sets) and ``skexvae.metrics.fidelity`` (precision, recall, density,
coverage against the held-out rows, k = 5), all in the input space. Draws from the
Bernoulli ``p(x|z)`` are binary: they are compared with the real rows binarized
once (a fixed seed), the decoder means with the grey rows. Writes
``memorization.json`` / ``memorization.md`` under ``--out``. ``--quick`` runs
digits only with short training. The MNIST rows are skipped with a message when its
files are absent.
"""

import argparse
import copy
import math
from pathlib import Path

import numpy as np
from _common import binarize_once, load_mnist_splits, run_description, write_results
from sklearn.datasets import load_digits

from skexvae import ExemplarVAE
from skexvae.bench._checkpoint import load_checkpoint
from skexvae.metrics import fidelity, memorization

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "docs/results/cpu-hour/checkpoints/cpu-hour"
PRIORS = {"exemplar": "Exemplar VAE", "gaussian": "Gaussian VAE"}
SIGMA_SCALES = (0.5, 2.0)


def with_sigma_scaled(vae, scale):
    """A copy of an exemplar-prior ``vae`` whose kernels are ``scale`` times as wide."""
    scaled = copy.deepcopy(vae)
    scaled.model_.prior.log_var.data += 2.0 * math.log(scale)
    return scaled


def sampling_modes(vae, X_train, n_samples, seed):
    """``{mode: generated rows}`` for every sampling mode of ``vae``."""
    rng = np.random.default_rng(seed)
    sources = X_train[rng.choice(len(X_train), n_samples, replace=len(X_train) < n_samples)]
    modes = {}
    for return_mean, kind in ((True, "mean"), (False, "draw")):
        modes[f"sample, {kind}"] = vae.sample(n_samples, seed, return_mean=return_mean)[0]
        modes[f"sample_from_exemplars, {kind}"] = vae.sample_from_exemplars(
            sources, random_state=seed, return_mean=return_mean
        )[0]
    if vae.prior == "exemplar":
        for scale in SIGMA_SCALES:
            scaled = with_sigma_scaled(vae, scale)
            modes[f"sample_from_exemplars, mean, sigma x {scale:g}"] = scaled.sample_from_exemplars(
                sources, random_state=seed, return_mean=True
            )[0]
    return modes


def audit(name, models, X_train, X_holdout, n_samples, seed):
    binary = {"train": binarize_once(X_train, seed), "holdout": binarize_once(X_holdout, seed)}
    rows = []
    for prior, vae in models.items():
        for mode, X_new in sampling_modes(vae, X_train, n_samples, seed).items():
            train, holdout = X_train, X_holdout
            if ", draw" in mode:
                train, holdout = binary["train"], binary["holdout"]
            copies = memorization(X_new, train, holdout, random_state=seed)
            quality = fidelity(holdout, X_new)
            rows.append(
                {
                    "data": name,
                    "model": PRIORS[prior],
                    "sigma": vae.sigma_,
                    "mode": mode,
                    "closer_to_train": copies.closer_to_train,
                    "median_distance_to_train": copies.median_distance_to_train,
                    "median_distance_to_holdout": copies.median_distance_to_holdout,
                    "n_reference": copies.n_reference,
                    "precision": quality.precision,
                    "recall": quality.recall,
                    "density": quality.density,
                    "coverage": quality.coverage,
                }
            )
            print(f"[memorization] {name}, {PRIORS[prior]}, {mode}: {rows[-1]}", flush=True)
    return rows


def mnist_models(data_home):
    data = load_mnist_splits(data_home, "train", "test")
    if data is None:
        return None
    X_train, X_test = data
    models = {
        prior: load_checkpoint(CHECKPOINTS / f"{prior}-seed0.pkl", X_train)[0] for prior in PRIORS
    }
    return models, X_train, X_test


def digits_models(epochs, seed):
    X, _ = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(X))
    X_train, X_holdout = X[order[:1200]], X[order[1200:]]
    models = {
        prior: ExemplarVAE(
            n_components=16,
            hidden_layer_sizes=(128, 128),
            prior=prior,
            max_iter=epochs,
            batch_size=50,
            random_state=seed,
        ).fit(X_train)
        for prior in PRIORS
    }
    return models, X_train, X_holdout


def markdown(result):
    lines = [
        "# Memorization audit and sample quality",
        "",
        f"`{result['command']}` ({result['machine']})",
        "",
        "closer to train: share of generated rows nearer to a training row than to any "
        "held-out row (equal-sized sets; 0.5 = no sign of copying, 1 = copies). "
        "Distances are Euclidean in the input space. Precision, recall, density and "
        "coverage (Naeem et al. 2020, k = 5) against the held-out rows.",
        "",
        "| data | model | mode | closer to train | median distance train / held-out "
        "| precision | recall | density | coverage |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['data']} | {row['model']} | {row['mode']} | {row['closer_to_train']:.3f} "
            f"| {row['median_distance_to_train']:.2f} / {row['median_distance_to_holdout']:.2f} "
            f"| {row['precision']:.3f} | {row['recall']:.3f} | {row['density']:.3f} "
            f"| {row['coverage']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--n-samples", type=int, default=5000, help="generated rows, MNIST")
    parser.add_argument("--digits-epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    parser.add_argument("--quick", action="store_true", help="digits only, short training")
    args = parser.parse_args(argv)
    rows = []
    mnist = None if args.quick else mnist_models(args.data_home)
    if mnist is not None:
        rows += audit("MNIST", *mnist, args.n_samples, args.seed)
    epochs = 3 if args.quick else args.digits_epochs
    models, X_train, X_holdout = digits_models(epochs, args.seed)
    rows += audit("digits", models, X_train, X_holdout, len(X_holdout), args.seed)
    result = {**run_description("memorization.py", argv), "rows": rows}
    write_results(args.out, "memorization", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
