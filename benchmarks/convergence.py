"""Which training settings buy held-out likelihood per unit of compute?

    python benchmarks/convergence.py --data-home ../shared/data/mnist

Writes ``benchmarks/results/convergence.json`` and ``convergence.md``. For each prior
(Gaussian, VampPrior, exemplar with RAT 10-NN) and each training setting of
:data:`SETTINGS` it trains the paper's MLP on the first ``--n-train`` MNIST training
images for ``--epochs`` epochs, scoring the validation ELBO every ``--every`` epochs
(against the training seconds spent so far: the curve) and, at the end, IWAE
S = ``--samples`` on the first ``--n-test`` binarized test images with every exemplar
in the prior. Every setting starts from the same seed and sees the same data.

Runs already in the results file are kept and not retrained, so the study can be
grown in parts (``--settings``, ``--priors``) and across sessions. Time on a machine
shared with other work is not a timing: the table says how many threads ran.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from _common import binarize_once, load_mnist_splits, run_description, write_results

from skexvae import ExemplarVAE

PRIORS = {
    "Gaussian": {"prior": "gaussian"},
    "VampPrior-500": {"prior": "vamp"},
    "exemplar, RAT 10-NN": {"n_neighbors": 10},
}
# Each setting names its learning rate and weight averaging, so that a row keeps its
# meaning when the library's defaults change; the rest are the defaults (batch 100)
# and the KL warm-up of ``--kl-warmup``.
SETTINGS = {
    "lr 5e-4, no EMA (paper)": {"learning_rate_init": 5e-4, "ema_decay": None},
    "lr 5e-4, EMA 0.999": {"learning_rate_init": 5e-4, "ema_decay": 0.999},
    "lr 1e-3, EMA 0.999": {"learning_rate_init": 1e-3, "ema_decay": 0.999},
    "lr 2e-3, EMA 0.999": {"learning_rate_init": 2e-3, "ema_decay": 0.999},
    "lr 2e-3, EMA 0.999, batch 200": {
        "learning_rate_init": 2e-3,
        "ema_decay": 0.999,
        "batch_size": 200,
    },
    "lr 2e-3, EMA 0.999, KL warm-up 1/4 of the epochs": {
        "learning_rate_init": 2e-3,
        "ema_decay": 0.999,
        "kl_warmup": None,  # resolved from --epochs
    },
}
BASELINE = "lr 5e-4, EMA 0.999"  # the defaults before this study


def make_vae(prior_params, setting, args):
    params = {"kl_warmup": args.kl_warmup, **prior_params, **SETTINGS[setting]}
    if params["kl_warmup"] is None:
        params["kl_warmup"] = max(1, args.epochs // 4)
    return ExemplarVAE(
        **params,
        max_iter=args.every,
        warm_start=True,
        n_importance_samples=args.samples,
        random_state=args.seed,
    )


def validation_elbo(vae, X_validation):
    saved = vae.get_params()
    vae.set_params(n_importance_samples=1, random_state=0)
    try:
        return float(vae.score(X_validation))
    finally:
        vae.set_params(**saved)


def train_and_score(X, X_validation, X_test, prior_params, setting, args):
    """The validation curve against training seconds, and the final test likelihood."""
    vae = make_vae(prior_params, setting, args)
    curve, seconds = [], 0.0
    while getattr(vae, "n_iter_", 0) < args.epochs:
        vae.set_params(max_iter=min(args.every, args.epochs - getattr(vae, "n_iter_", 0)))
        start = time.perf_counter()
        vae.fit(X)
        seconds += time.perf_counter() - start
        curve.append(
            {
                "epoch": vae.n_iter_,
                "seconds": seconds,
                "validation_elbo": validation_elbo(vae, X_validation),
            }
        )
        print(f"[convergence]   {curve[-1]}", flush=True)
    vae.set_params(random_state=0)  # the same importance draws for every model
    start = time.perf_counter()
    test_ll = vae.score_samples(X_test)
    return {
        "curve": curve,
        "fit_seconds": seconds,
        "test_log_likelihood": float(test_ll.mean()),
        "test_log_likelihood_sem": float(test_ll.std(ddof=1) / np.sqrt(len(test_ll))),
        "scoring_seconds": time.perf_counter() - start,
    }


def markdown(result):
    lines = [
        *(f"Command: `{command}`  " for command in result["commands"]),
        f"Machine: {result['machine']}",
        "",
        f"MLP 300-300-40, N = {result['N']} training images, {result['epochs']} epochs "
        f"(KL warm-up {result['kl_warmup']} unless the row says otherwise), seed "
        f"{result['seed']}; IWAE S = {result['samples']} on {result['n_test']} binarized "
        f"test images (the same images and draws for every row, so rows differ by less "
        f"noise than the ± of one row, the standard error over images); validation ELBO "
        f"on {result['n_validation']} binarized validation images.",
        "",
        f"Δ: against `{BASELINE}`. fit s: the fits' wall time as they ran, not a timing "
        "where other work shared the cores.",
        "",
        "| prior | setting | test log-likelihood | Δ | validation ELBO | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for prior, runs in result["runs"].items():
        base = runs.get(BASELINE)
        for setting in SETTINGS:
            if setting not in runs:
                continue
            run = runs[setting]
            ll = run["test_log_likelihood"]
            delta = f"{ll - base['test_log_likelihood']:+.2f}" if base else ""
            lines.append(
                f"| {prior} | {setting} | {ll:.2f} ± {run['test_log_likelihood_sem']:.2f} "
                f"| {delta} | {run['curve'][-1]['validation_elbo']:.2f} "
                f"| {run['fit_seconds']:.0f} |"
            )
    lines += ["", "Validation ELBO by epoch (the curve):", ""]
    for prior, runs in result["runs"].items():
        for setting, run in runs.items():
            points = ", ".join(f"{p['epoch']}: {p['validation_elbo']:.2f}" for p in run["curve"])
            lines.append(f"- {prior}, {setting}: {points}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--n-validation", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=1_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--kl-warmup", type=int, default=10)
    parser.add_argument("--every", type=int, default=5, help="epochs between validations")
    parser.add_argument("--samples", type=int, default=1_000, help="importance samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--priors", nargs="+", choices=list(PRIORS), default=list(PRIORS))
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    data = load_mnist_splits(args.data_home, "train", "validation", "test")
    if data is None:
        return 0
    X = np.ascontiguousarray(data[0][: args.n_train])
    X_validation = binarize_once(data[1][: args.n_validation], seed=1)
    X_test = binarize_once(data[2])[: args.n_test]
    protocol = {
        "N": len(X),
        "epochs": args.epochs,
        "kl_warmup": args.kl_warmup,
        "seed": args.seed,
        "samples": args.samples,
        "n_test": len(X_test),
        "n_validation": len(X_validation),
    }
    result = _previous(Path(args.out) / "convergence.json", protocol)
    description = run_description("convergence.py", argv)
    result["machine"] = description["machine"]
    result["commands"] = list(dict.fromkeys([*result.get("commands", []), description["command"]]))
    for prior in args.priors:
        runs = result["runs"].setdefault(prior, {})
        for setting in args.settings:
            if setting in runs:
                continue
            print(f"[convergence] {prior}, {setting}", flush=True)
            runs[setting] = train_and_score(X, X_validation, X_test, PRIORS[prior], setting, args)
            write_results(args.out, "convergence", result, markdown(result))
    write_results(args.out, "convergence", result, markdown(result))
    return 0


def _previous(path, protocol):
    """The results so far when they were measured under the same protocol, else none."""
    if path.exists():
        previous = json.loads(path.read_text())
        if all(previous.get(key) == value for key, value in protocol.items()):
            return previous
        print(f"[convergence] {path} has another protocol: starting afresh", flush=True)
    return {**protocol, "runs": {}}


if __name__ == "__main__":
    sys.exit(main())
