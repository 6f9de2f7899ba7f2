"""Does the default ExemplarAugmenter help on small data? digits and MNIST subsets.

    python benchmarks/augmentation_small.py --data-home ../shared/data/mnist

Writes ``benchmarks/results/augmentation_small.json`` and ``.md``. For each training
set, the VAE that ``ExemplarAugmenter()`` fits by default (``default_vae``, seed 0) is
fitted once; then ``MLPClassifier(max_iter=200)`` is trained through
``make_pipeline(ExemplarAugmenter(vae, lam), classifier)`` for several ``lam``
(1.0 = no augmentation), over ``--seeds`` seeds, and tested on held-out real rows.
Also reported: how often a logistic regression fitted on the real rows gives a
synthetic row its source's label, next to its accuracy on held-out real rows. Then
``AugmentedClassifier(MLPClassifier(), lam=...)`` (fresh synthetic rows every epoch,
``--epochs`` epochs) with lam = 1.0 and ``lam="auto"``, which chooses lam on a held-out
tenth: the error, and the lams it chose over the seeds.
MNIST cases are skipped with a message when the files are absent.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _common import load_mnist_splits, write_results
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from skexvae import AugmentedClassifier, ExemplarAugmenter
from skexvae.augmentation import default_vae

RESULTS = Path(__file__).resolve().parent / "results"
LAMBDAS = [0.4, 0.6, 0.8, 1.0]
AUGMENTED_LAMBDAS = [1.0, "auto"]


def cases(data_home, mnist_sizes):
    X, y = load_digits(return_X_y=True)
    yield "digits 8x8", train_test_split(X / 16, y, train_size=1000, random_state=0)
    mnist = load_mnist_splits(data_home, "train", "test", labels=True)
    if mnist is None:
        return
    (X_m, y_m), (X_t, y_t) = mnist
    for n in mnist_sizes:
        yield "MNIST 28x28", (X_m[:n], X_t, y_m[:n], y_t)


def quiet_fit(model, X, y):
    """Fit without the convergence and small-data warnings this study expects."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", ".* rows. On training sets below", UserWarning)
        return model.fit(X, y)


def run_case(X_train, X_test, y_train, y_test, seeds, epochs):
    start = time.perf_counter()
    vae = default_vae(X_train, random_state=0).fit(X_train)
    row = {"vae_fit_s": time.perf_counter() - start, "vae_epochs": vae.n_iter_}
    row["vae"] = repr(vae)
    real = LogisticRegression(max_iter=2000).fit(X_train, y_train)
    synthetic, _ = vae.sample_from_exemplars(X_train, random_state=0, return_mean=True)
    row["real_classifier_on_synthetic"] = real.score(synthetic, y_train)
    row["real_classifier_on_held_out"] = real.score(X_test, y_test)
    for lam in LAMBDAS:
        errors = []
        for seed in range(seeds):
            augmenter = ExemplarAugmenter(FrozenEstimator(vae), lam=lam, random_state=seed)
            pipe = make_pipeline(augmenter, MLPClassifier(max_iter=200, random_state=seed))
            errors.append(1.0 - quiet_fit(pipe, X_train, y_train).score(X_test, y_test))
        row[f"lam={lam}"] = summary(errors)
        print(f"    lam={lam}: {100 * np.mean(errors):.2f} %", flush=True)
    for lam in AUGMENTED_LAMBDAS:
        errors, chosen = [], []
        for seed in range(seeds):
            model = AugmentedClassifier(
                MLPClassifier(random_state=seed),
                FrozenEstimator(vae),
                lam=lam,
                max_iter=epochs,
                random_state=seed,
            )
            errors.append(1.0 - quiet_fit(model, X_train, y_train).score(X_test, y_test))
            chosen.append(model.lam_)
        row[f"augmented lam={lam}"] = {**summary(errors), "chosen": chosen}
        print(f"    AugmentedClassifier lam={lam}: {100 * np.mean(errors):.2f} % {chosen}")
    return row


def summary(errors):
    return {"mean": float(np.mean(errors)), "std": float(np.std(errors))}


def markdown(result):
    lines = [f"Command: `{result['command']}`", ""]
    lines += [
        "Test error (%) of `MLPClassifier(max_iter=200)` behind `ExemplarAugmenter`, mean ± "
        f"std over {result['seeds']} seeds; lam = weight of the real rows (1.0: no "
        "augmentation). Label kept: accuracy of a logistic regression fitted on the real "
        "rows, on the synthetic rows (against their sources' labels) and on held-out real "
        "rows.",
        "",
        "| data | n train | VAE fit s (epochs) | label kept: synthetic / held-out real | "
        + " | ".join(f"lam={lam}" for lam in LAMBDAS)
        + " |",
        "|---|---|---|---|" + "---|" * len(LAMBDAS),
    ]
    for r in result["cases"]:
        errors = " | ".join(error(r[f"lam={lam}"]) for lam in LAMBDAS)
        lines.append(
            f"| {r['data']} | {r['n_train']} | {r['vae_fit_s']:.0f} ({r['vae_epochs']}) "
            f"| {r['real_classifier_on_synthetic']:.3f} / {r['real_classifier_on_held_out']:.3f} "
            f"| {errors} |"
        )
    lines += [
        "",
        f"`AugmentedClassifier(MLPClassifier(), lam=...)`, {result['epochs']} epochs with "
        "fresh synthetic rows, same VAEs and seeds; lam='auto' chooses from 0.4, 0.7 and "
        "1.0 on a held-out tenth (the lams it chose, by seed).",
        "",
        "| data | n train | lam=1.0 | lam='auto' | lams chosen |",
        "|---|---|---|---|---|",
    ]
    for r in result["cases"]:
        plain, auto = r["augmented lam=1.0"], r["augmented lam=auto"]
        chosen = ", ".join(f"{lam:g}" for lam in auto["chosen"])
        lines.append(
            f"| {r['data']} | {r['n_train']} | {error(plain)} | {error(auto)} | {chosen} |"
        )
    return "\n".join(lines) + "\n"


def error(entry):
    return f"{100 * entry['mean']:.2f} ± {100 * entry['std']:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--mnist-sizes", type=int, nargs="*", default=[2000, 5000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--epochs",
        type=int,
        default=200,
        help="AugmentedClassifier epochs (as MLPClassifier max_iter)",
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    result = {
        "command": "python benchmarks/augmentation_small.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "seeds": args.seeds,
        "epochs": args.epochs,
        "cases": [],
    }
    for name, (X_train, X_test, y_train, y_test) in cases(args.data_home, args.mnist_sizes):
        print(f"  {name}, {len(X_train)} training rows", flush=True)
        row = run_case(X_train, X_test, y_train, y_test, args.seeds, args.epochs)
        result["cases"].append({"data": name, "n_train": len(X_train), **row})
    write_results(args.out, "augmentation_small", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
