"""Generative data augmentation (paper section 5.4) on real MNIST, and on small data.

    python benchmarks/augmentation.py --data-home ../shared/data/mnist

Writes ``benchmarks/results/augmentation.json`` and ``augmentation.md``. Permutation-
invariant MNIST (50k train, 10k validation, 10k test); an Exemplar VAE (RAT, 10
neighbours) and a Gaussian-prior VAE, the same MLP, fitted for ``--vae-epochs`` on the
training images without labels. Classifiers: (a) scikit-learn ``MLPClassifier``
2 x 1024 and (b) a 2 x 1024 PyTorch MLP with label smoothing 0.1, both for
``--epochs`` epochs, over ``--seeds`` seeds. The lambda sweep (Exemplar VAE) uses the
validation split. ``--vae-checkpoints DIR`` uses the VAEs of a ``skexvae bench``
run instead (``exemplar-seed0.pkl`` and ``gaussian-seed0.pkl`` in DIR, e.g. the
committed ``docs/results/cpu-hour/checkpoints/cpu-hour``). Small data:
``augmentation_small.py``. ``--quick`` checks the harness in a minute.
"""

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import load_mnist_splits, write_results
from _torch_mlp import TorchMLP
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from skexvae import AugmentedClassifier, ExemplarAugmenter, ExemplarVAE
from skexvae.bench._checkpoint import load_checkpoint, restore_best

RESULTS = Path(__file__).resolve().parent / "results"
LAMBDAS = [0.2, 0.4, 0.6, 0.8, 1.0]
VAES = {"exemplar": {"n_neighbors": 10}, "gaussian": {"prior": "gaussian"}}
PARTS = ("sklearn", "torch", "sweep")


def fit_vaes(X, epochs):
    """The two generative models, fitted once on the training images.

    Returns the VAEs and, for each, its epochs and training seconds.
    """
    vaes, training = {}, {}
    common = {"max_iter": epochs, "kl_warmup": max(1, epochs // 3), "random_state": 0}
    for name, params in VAES.items():
        start = time.perf_counter()
        vaes[name] = ExemplarVAE(**params, **common).fit(X)
        training[name] = {"epochs": epochs, "seconds": time.perf_counter() - start}
        print(f"  {name} VAE: {training[name]['seconds']:.0f} s", flush=True)
    return vaes, training


def load_vaes(directory, X):
    """The ``skexvae bench`` runs of both priors under ``directory``, with their best weights.

    Checkpoints hold no training set: ``X``, the 50k training split, is reattached.
    """
    vaes, training = {}, {}
    for name in VAES:
        vae, log = load_checkpoint(Path(directory) / f"{name}-seed0.pkl", X)
        vaes[name] = restore_best(vae, log)
        training[name] = {"epochs": log.epochs, "seconds": float(sum(log.epoch_seconds))}
        print(f"  {name} VAE: {log.epochs} epochs, from {directory}", flush=True)
    return vaes, training


def synthesizer(vae, seed):
    rng = np.random.default_rng(seed)

    def synthesize(X):
        return vae.sample_from_exemplars(
            X, random_state=int(rng.integers(2**31)), return_mean=True
        )[0]

    return synthesize


def sklearn_mlp(epochs, seed):
    return MLPClassifier(
        hidden_layer_sizes=(1024, 1024), max_iter=epochs, batch_size=100, random_state=seed
    )


def lambda_sweep(vaes, data, epochs, record):
    """Validation error of the PyTorch MLP for each lambda (paper Fig. 6), one seed.

    ``record(results)`` is called after each lambda with the results so far.
    """
    (X, y), (X_val, y_val) = data["train"], data["validation"]
    out = {}
    for name, vae in (("exemplar", vaes["exemplar"]),):
        out[name] = {}
        for lam in LAMBDAS:
            model = TorchMLP(epochs=epochs, seed=0).fit(X, y, synthesizer(vae, 0), lam)
            out[name][lam] = model.error(X_val, y_val)
            print(f"  {name} lambda={lam}: {100 * out[name][lam]:.2f} %", flush=True)
            record(out)
    return out


def classifier_runs(vaes, data, epochs, lam, parts):
    """``{label: run}``, ``run(seed)`` giving a test error, for the chosen ``parts``.

    As in the paper, the classifiers of the test errors train on the training and
    validation splits together (60k rows); the VAEs saw the 50k training images only.
    """
    X, y = (np.concatenate(pair) for pair in zip(data["train"], data["validation"], strict=True))
    X_test, y_test = data["test"]
    runs = {}
    if "sklearn" in parts:
        for label, make in _sklearn_models(vaes, epochs, lam).items():
            runs[label] = lambda s, make=make: _sklearn_error(make(s), (X, y), (X_test, y_test))
    if "torch" in parts:
        for name, vae in (
            ("no augmentation", None),
            ("+ Exemplar VAE (fresh every epoch)", vaes["exemplar"]),
            ("+ Gaussian-prior VAE (fresh every epoch)", vaes["gaussian"]),
        ):

            def run(s, vae=vae):
                synthesize = None if vae is None else synthesizer(vae, s)
                model = TorchMLP(epochs=epochs, seed=s)
                return model.fit(X, y, synthesize, lam).error(X_test, y_test)

            runs[f"(b) PyTorch MLP, label smoothing, {name}"] = run
    return runs


def _sklearn_models(vaes, epochs, lam):
    """The library's own augmentation around scikit-learn's MLP: ``{label: make(seed)}``."""
    return {
        "(a) MLPClassifier, no augmentation": lambda s: sklearn_mlp(epochs, s),
        "(a) MLPClassifier + ExemplarAugmenter (one draw)": lambda s: make_pipeline(
            ExemplarAugmenter(FrozenEstimator(vaes["exemplar"]), lam=lam, random_state=s),
            sklearn_mlp(epochs, s),
        ),
        "(a) MLPClassifier + Gaussian-VAE augmenter (one draw)": lambda s: make_pipeline(
            ExemplarAugmenter(FrozenEstimator(vaes["gaussian"]), lam=lam, random_state=s),
            sklearn_mlp(epochs, s),
        ),
        "(a) MLPClassifier + AugmentedClassifier (fresh every epoch)": lambda s: (
            AugmentedClassifier(
                MLPClassifier(hidden_layer_sizes=(1024, 1024), batch_size=100, random_state=s),
                FrozenEstimator(vaes["exemplar"]),
                lam=lam,
                max_iter=epochs,
                random_state=s,
            )
        ),
    }


def _sklearn_error(model, train, test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*train)
    return 1.0 - model.score(*test)


def over_seeds(runs, seeds, record):
    """Every run for seed 0, then for seed 1, ...: a stopped study has whole comparisons.

    ``record(results)`` is called after each run with the results so far.
    """
    results = {label: {"errors": [], "seconds": []} for label in runs}
    for seed in range(seeds):
        for label, run in runs.items():
            start = time.perf_counter()
            error = run(seed)
            r = results[label]
            r["errors"].append(error)
            r["seconds"].append(time.perf_counter() - start)
            r.update(
                mean=float(np.mean(r["errors"])),
                std=float(np.std(r["errors"])),
                seconds_per_run=float(np.mean(r["seconds"])),
            )
            print(f"    seed {seed}, {label}: {100 * error:.2f} %", flush=True)
            record(results)
    return results


def markdown(result):
    lines = [f"Command: `{result['command']}`  ", f"Machine: {result['machine']}", ""]
    if result.get("note"):  # how a merged or shared-machine run was made, added by hand
        lines += [result["note"], ""]
    vaes = result["vae_training"]
    source = result.get("vae_checkpoints") or "fitted by this script"
    lines += [
        f"VAEs ({source}) trained on the 50k training images: exemplar RAT K=10 for "
        f"{vaes['exemplar']['epochs']} epochs ({vaes['exemplar']['seconds'] / 60:.0f} min), "
        f"Gaussian prior for {vaes['gaussian']['epochs']} epochs "
        f"({vaes['gaussian']['seconds'] / 60:.0f} min). Classifiers: {result['epochs']} epochs, "
        f"batch 100; lambda = weight of the real data ({result['lam']} for the test errors). "
        "The PyTorch MLP is the reference code's: SGD, momentum 0.9, lr 0.1 decayed "
        "linearly to 0.001.",
    ]
    if result.get("test_errors"):
        lines += [
            "",
            "### Test error (%), mean ± std over seeds",
            "",
            "Classifiers trained on the training and validation splits together, as the "
            "paper's Table 5.",
            "",
            "| classifier and augmentation | test error % | runs | s/run |",
            "|---|---|---|---|",
        ]
        for name, r in result["test_errors"].items():
            if r["errors"]:
                lines.append(
                    f"| {name} | {100 * r['mean']:.2f} ± {100 * r['std']:.2f} "
                    f"| {len(r['errors'])} | {r['seconds_per_run']:.0f} |"
                )
    if result.get("lambda_sweep"):
        lines += [
            "",
            "### Validation error (%) vs lambda, PyTorch MLP, one seed (paper Fig. 6)",
            "",
            "Trained on the 50k training split, scored on the 10k validation split.",
            "",
            "| VAE | " + " | ".join(f"λ={lam}" for lam in LAMBDAS) + " |",
            "|---|" + "---|" * len(LAMBDAS),
        ]
        for name, row in result["lambda_sweep"].items():
            row = {float(lam): error for lam, error in row.items()}  # JSON keys are strings
            cells = [f"{100 * row[lam]:.2f}" if lam in row else "" for lam in LAMBDAS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--vae-epochs", type=int, default=15)
    parser.add_argument("--vae-checkpoints", help="directory of skexvae bench checkpoints")
    parser.add_argument("--epochs", type=int, default=5, help="classifier epochs")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lam", type=float, default=0.4)
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="sklearn: the library's augmenters around MLPClassifier; torch: the paper's "
        "classifier; sweep: validation error against lambda",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the harness")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.quick and args.vae_checkpoints:
        parser.error("--quick fits its own small VAEs: leave out --vae-checkpoints")
    splits = ("train", "validation", "test")
    loaded = load_mnist_splits(args.data_home, *splits, labels=True)
    if loaded is None:
        return 0
    data = dict(zip(splits, loaded, strict=True))
    if args.quick:
        data = {s: (X[:1000], y[:1000]) for s, (X, y) in data.items()}
        args.vae_epochs, args.epochs, args.seeds = 1, 1, 2
    data = {s: (X.astype(np.float32), y) for s, (X, y) in data.items()}
    result = {
        "command": "python benchmarks/augmentation.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "vae_checkpoints": args.vae_checkpoints,
        "epochs": args.epochs,
        "lam": args.lam,
        "test_errors": {},
        "lambda_sweep": {},
    }
    if args.vae_checkpoints:
        print("[augmentation] loading the VAEs", flush=True)
        vaes, result["vae_training"] = load_vaes(args.vae_checkpoints, data["train"][0])
    else:
        print("[augmentation] fitting the VAEs", flush=True)
        vaes, result["vae_training"] = fit_vaes(data["train"][0], args.vae_epochs)

    def record(part, results):
        result[part] = results
        write_results(args.out, "augmentation", result, markdown(result), echo=False)

    runs = classifier_runs(vaes, data, args.epochs, args.lam, args.parts)
    if runs:
        print("[augmentation] test errors", flush=True)
        over_seeds(runs, args.seeds, lambda results: record("test_errors", results))
    if "sweep" in args.parts:
        print("[augmentation] lambda sweep", flush=True)
        lambda_sweep(vaes, data, args.epochs, lambda results: record("lambda_sweep", results))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
