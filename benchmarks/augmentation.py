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
from _common import write_results
from _torch_mlp import TorchMLP
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from skexvae import AugmentedClassifier, ExemplarAugmenter, ExemplarVAE
from skexvae.bench._checkpoint import load_checkpoint, restore_best
from skexvae.datasets import load_mnist

RESULTS = Path(__file__).resolve().parent / "results"
LAMBDAS = [0.2, 0.4, 0.6, 0.8, 1.0]
VAES = {"exemplar": {"n_neighbors": 10}, "gaussian": {"prior": "gaussian"}}


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


def lambda_sweep(vaes, data, epochs):
    """Validation error of the PyTorch MLP for each lambda (paper Fig. 6), one seed."""
    (X, y), (X_val, y_val) = data["train"], data["validation"]
    out = {}
    for name, vae in (("exemplar", vaes["exemplar"]),):
        out[name] = {}
        for lam in LAMBDAS:
            model = TorchMLP(epochs=epochs, seed=0).fit(X, y, synthesizer(vae, 0), lam)
            out[name][lam] = model.error(X_val, y_val)
            print(f"  {name} lambda={lam}: {100 * out[name][lam]:.2f} %", flush=True)
    return out


def test_errors(vaes, data, epochs, seeds, lam):
    """Test error with and without augmentation, for each classifier, over seeds."""
    (X, y), (X_test, y_test) = data["train"], data["test"]
    runs = {
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
    out = {}
    for name, make in runs.items():
        out[name] = _over_seeds(seeds, lambda s, make=make: _sklearn_error(make(s), data))
    for name, vae in (
        ("no augmentation", None),
        ("+ Exemplar VAE (fresh every epoch)", vaes["exemplar"]),
        ("+ Gaussian-prior VAE (fresh every epoch)", vaes["gaussian"]),
    ):
        label = f"(b) PyTorch MLP, label smoothing, {name}"

        def run(s, vae=vae):
            synthesize = None if vae is None else synthesizer(vae, s)
            model = TorchMLP(epochs=epochs, seed=s)
            return model.fit(X, y, synthesize, 1.0 if vae is None else lam).error(X_test, y_test)

        out[label] = _over_seeds(seeds, run)
    return out


def _sklearn_error(model, data):
    (X, y), (X_test, y_test) = data["train"], data["test"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return 1.0 - model.score(X_test, y_test)


def _over_seeds(seeds, run):
    start = time.perf_counter()
    errors = [run(seed) for seed in range(seeds)]
    result = {
        "errors": errors,
        "mean": float(np.mean(errors)),
        "std": float(np.std(errors)),
        "seconds_per_run": (time.perf_counter() - start) / seeds,
    }
    print(f"    {100 * result['mean']:.2f} ± {100 * result['std']:.2f} %", flush=True)
    return result


def markdown(result):
    lines = [f"Command: `{result['command']}`  ", f"Machine: {result['machine']}", ""]
    vaes = result["vae_training"]
    source = result.get("vae_checkpoints") or "fitted by this script"
    lines += [
        f"VAEs ({source}) trained on the 50k training images: exemplar RAT K=10 for "
        f"{vaes['exemplar']['epochs']} epochs ({vaes['exemplar']['seconds'] / 60:.0f} min), "
        f"Gaussian prior for {vaes['gaussian']['epochs']} epochs "
        f"({vaes['gaussian']['seconds'] / 60:.0f} min). Classifiers: {result['epochs']} epochs, "
        f"batch 100, trained on the 50k training split only; lambda = weight of the real "
        f"data ({result['lam']} for the test errors).",
        "",
        "### Test error (%), mean ± std over seeds",
        "",
        "| classifier and augmentation | test error % | runs | s/run |",
        "|---|---|---|---|",
    ]
    for name, r in result["test_errors"].items():
        lines.append(
            f"| {name} | {100 * r['mean']:.2f} ± {100 * r['std']:.2f} | {len(r['errors'])} "
            f"| {r['seconds_per_run']:.0f} |"
        )
    lines += [
        "",
        "### Validation error (%) vs lambda, PyTorch MLP, one seed (paper Fig. 6)",
        "",
        "| VAE | " + " | ".join(f"λ={lam}" for lam in LAMBDAS) + " |",
        "|---|" + "---|" * len(LAMBDAS),
    ]
    for name, row in result["lambda_sweep"].items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * row[lam]:.2f}" for lam in LAMBDAS) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--vae-epochs", type=int, default=15)
    parser.add_argument("--vae-checkpoints", help="directory of skexvae bench checkpoints")
    parser.add_argument("--epochs", type=int, default=5, help="classifier epochs")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--lam", type=float, default=0.4)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the harness")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    if args.quick and args.vae_checkpoints:
        parser.error("--quick fits its own small VAEs: leave out --vae-checkpoints")
    splits = ("train", "validation", "test")
    try:
        data = {s: load_mnist(args.data_home, split=s, return_X_y=True) for s in splits}
    except FileNotFoundError as exc:
        print(f"skipped: MNIST not found ({exc})")
        return 0
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
    }
    if args.vae_checkpoints:
        print("[augmentation] loading the VAEs", flush=True)
        vaes, result["vae_training"] = load_vaes(args.vae_checkpoints, data["train"][0])
    else:
        print("[augmentation] fitting the VAEs", flush=True)
        vaes, result["vae_training"] = fit_vaes(data["train"][0], args.vae_epochs)
    print("[augmentation] test errors", flush=True)
    result["test_errors"] = test_errors(vaes, data, args.epochs, args.seeds, args.lam)
    print("[augmentation] lambda sweep", flush=True)
    result["lambda_sweep"] = lambda_sweep(vaes, data, args.epochs)
    write_results(args.out, "augmentation", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
