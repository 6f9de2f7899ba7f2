"""The three commands: train (or resume) the runs they compare, evaluate, report."""

import json
import platform
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from .._files import atomic_open
from . import _figures
from ._budgets import ARCHITECTURES, BUDGETS, PRIORS, STUDIES
from ._checkpoint import train_with_checkpoints
from ._evaluate import KNN_K, evaluate_density, evaluate_knn, training_summary
from ._protocol import (
    PAPER_KNN_ERROR_PERCENT,
    PAPER_LEAVE_ONE_OUT,
    PAPER_LOG_LIKELIHOOD,
    PAPER_M_RATIO,
    describe_training,
    load_splits,
    make_estimator,
)


def _print(line):
    """Progress that shows at once, also in a log file that stdout is redirected to."""
    print(line, flush=True)


def run_density(
    data_home,
    *,
    budget="quick",
    priors=PRIORS,
    architecture="mlp",
    out="skexvae-bench",
    n_seeds=1,
    score_neighbors=None,
    max_epochs=None,
    precision="auto",
    keep_training_state=False,
    echo=_print,
):
    """Table 3: test log-likelihood of each prior, with its ELBO, active units and timing.

    Writes ``density.json``, ``density.md``, ``curves.png``, ``samples-<prior>.png``
    and ``exemplar-conditioned.png`` under ``out`` (each name with ``-<architecture>``
    for architectures other than the MLP); returns the result dict.
    """
    _check_architecture(architecture)
    budget, splits, out = _setup(data_home, budget, max_epochs, out, echo)
    paper = PAPER_LOG_LIKELIHOOD[architecture]
    variants = {prior: (prior, {}, paper[prior]) for prior in priors}
    runs = _train(
        variants, budget, splits, out, n_seeds, echo, architecture, precision, keep_training_state
    )
    rows = _density_rows(variants, runs, budget, splits, score_neighbors, echo)
    result = _result("density", budget, n_seeds, rows, architecture)
    result["ranking"] = _ranking(rows, "log_likelihood", higher_is_better=True)
    suffix = _suffix(architecture)
    _write_figures(runs, splits, out, echo, suffix)
    _write(out, f"density{suffix}", result, _density_markdown(result, "Table 3"), echo)
    return result


def run_knn(
    data_home,
    *,
    budget="quick",
    priors=PRIORS,
    architecture="mlp",
    out="skexvae-bench",
    n_seeds=1,
    max_epochs=None,
    precision="auto",
    keep_training_state=False,
    echo=_print,
):
    """Table 4: kNN classification error on 40-D latents, and a t-SNE picture (Fig. 5).

    Shares its trained models (checkpoints) with :func:`run_density`. The paper
    reports kNN errors for the MLP only; other architectures show no paper column.
    """
    _check_architecture(architecture)
    budget, splits, out = _setup(data_home, budget, max_epochs, out, echo)
    paper = PAPER_KNN_ERROR_PERCENT.get(architecture, {})
    variants = {prior: (prior, {}, paper.get(prior)) for prior in priors}
    runs = _train(
        variants, budget, splits, out, n_seeds, echo, architecture, precision, keep_training_state
    )
    rows, latents = {}, {}
    for name, seeds in runs.items():
        echo(f"[bench] kNN error of {name}")
        per_seed = []
        for vae, log in seeds:
            evaluation, Z_test = evaluate_knn(vae, splits)
            per_seed.append({**evaluation, **training_summary(log)})
        latents[name] = Z_test[: budget.n_embedded]
        rows[name] = _aggregate(per_seed)
        rows[name]["training"] = describe_training(seeds[0][0])
        rows[name]["paper_knn_error_percent"] = variants[name][2]
    result = _result("knn", budget, n_seeds, rows, architecture)
    best = {n: min(r["knn_error_percent"].values()) for n, r in rows.items()}
    result["ranking"] = _ranking(
        {n: {"best_knn_error": v} for n, v in best.items()},
        "best_knn_error",
        higher_is_better=False,
    )
    suffix = _suffix(architecture)
    picture = out / f"embedding{suffix}.png"
    if _figures.embeddings(latents, splits.y_test[: budget.n_embedded], picture):
        echo(f"[bench] wrote {picture}")
    _write(out, f"knn{suffix}", result, _knn_markdown(result), echo)
    return result


def run_ablation(
    data_home,
    *,
    study="loo",
    budget="quick",
    out="skexvae-bench",
    n_seeds=1,
    score_neighbors=None,
    max_epochs=None,
    precision="auto",
    keep_training_state=False,
    echo=_print,
):
    """Table 1 (``study="loo"``: leave-one-out on and off) or Table 2 (``"m-ratio"``:
    M/N in 1, 0.5, 0.2, 0.1) for the exemplar prior."""
    if study not in STUDIES:
        raise ValueError(f"study must be one of {STUDIES}, got {study!r}.")
    budget, splits, out = _setup(data_home, budget, max_epochs, out, echo)
    if study == "loo":
        variants = {
            f"exemplar, LOO {'on' if loo else 'off'}": ("exemplar", {"leave_one_out": loo}, paper)
            for loo, paper in PAPER_LEAVE_ONE_OUT.items()
        }
    else:
        variants = {
            f"exemplar, M/N = {ratio}": ("exemplar", {"M": ratio}, paper)
            for ratio, paper in PAPER_M_RATIO.items()
        }
    runs = _train(
        variants,
        budget,
        splits,
        out,
        n_seeds,
        echo,
        precision=precision,
        keep_training_state=keep_training_state,
    )
    rows = _density_rows(variants, runs, budget, splits, score_neighbors, echo)
    result = _result(f"ablation-{study}", budget, n_seeds, rows)
    table = "Table 1" if study == "loo" else "Table 2"
    _write(out, f"ablation-{study}", result, _density_markdown(result, table), echo)
    return result


# ------------------------------------------------------------------ training
def _check_architecture(architecture):
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}.")


def _suffix(architecture):
    """File-name suffix of an architecture; the MLP's files keep their plain names."""
    return "" if architecture == "mlp" else f"-{architecture}"


def _setup(data_home, budget, max_epochs, out, echo):
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {sorted(BUDGETS)}, got {budget!r}.")
    budget = BUDGETS[budget]
    if max_epochs is not None:
        budget = replace(budget, max_epochs=max_epochs, epochs_by_prior=())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    echo(f"[bench] budget {budget.name}: {budget}")
    splits = load_splits(data_home, budget)
    return budget, splits, out


def _train(
    variants,
    budget,
    splits,
    out,
    n_seeds,
    echo,
    architecture="mlp",
    precision="auto",
    keep_training_state=False,
):
    """``{name: [(vae, log) per seed]}``, each trained or resumed from its checkpoint.

    A finished run's checkpoint keeps only its best weights unless
    ``keep_training_state``, which keeps it resumable for a longer budget.

    A forced ``precision`` ("float32", "bfloat16") gets checkpoints of its own, so that
    the two can be compared from one ``out``; a resumed run keeps the precision its
    checkpoint was trained in.
    """
    runs = {}
    for name, (prior, overrides, _) in variants.items():
        runs[name] = []
        for seed in range(n_seeds):
            echo(f"[bench] training {name} ({architecture}), seed {seed}")
            vae = make_estimator(prior, budget, seed, architecture, **overrides)
            vae.set_params(precision=precision)
            forced = "" if precision == "auto" else f"-{precision}"
            file_name = f"{_slug(name)}{_suffix(architecture)}{forced}-seed{seed}.pkl"
            path = out / "checkpoints" / budget.name / file_name
            runs[name].append(
                train_with_checkpoints(
                    vae,
                    splits.X_train,
                    splits.X_validation,
                    budget,
                    path,
                    echo,
                    keep_training_state=keep_training_state,
                )
            )
    return runs


def _slug(name):
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-")


# ---------------------------------------------------------------- evaluation
def _density_rows(variants, runs, budget, splits, score_neighbors, echo):
    rows = {}
    for name, seeds in runs.items():
        echo(f"[bench] test log-likelihood of {name}")
        per_seed = [
            {**evaluate_density(vae, splits, budget, score_neighbors), **training_summary(log)}
            for vae, log in seeds
        ]
        rows[name] = _aggregate(per_seed)
        rows[name]["training"] = describe_training(seeds[0][0])
        rows[name]["paper_log_likelihood"] = variants[name][2]
        rows[name]["difference_to_paper"] = rows[name]["log_likelihood"] - variants[name][2]
    return rows


def _aggregate(per_seed):
    """Mean over seeds of every number (and ``<key>_seed_std`` with several seeds)."""
    row = {"seeds": per_seed}
    for key, value in per_seed[0].items():
        if isinstance(value, dict):
            row[key] = {k: float(np.mean([s[key][k] for s in per_seed])) for k in value}
        elif isinstance(value, int | float) and not isinstance(value, bool):
            values = [s[key] for s in per_seed]
            row[key] = float(np.mean(values))
            if len(values) > 1:
                row[f"{key}_seed_std"] = float(np.std(values, ddof=1))
        else:
            row[key] = value
    return row


def _ranking(rows, key, higher_is_better):
    """The runs in order of ``key``, best first, and whether the paper's order holds."""
    order = sorted(rows, key=lambda n: rows[n][key], reverse=higher_is_better)
    expected = [p for p in ("exemplar", "vamp", "gaussian") if p in rows]
    return {"order": order, "paper_order": expected, "holds": order == expected}


def _write_figures(runs, splits, out, echo, suffix=""):
    logs = {name: seeds[0][1] for name, seeds in runs.items()}
    if _figures.learning_curves(logs, out / f"curves{suffix}.png"):
        echo(f"[bench] wrote {out / f'curves{suffix}.png'}")
    else:
        echo("[bench] curves skipped: matplotlib is not installed")
    for name, seeds in runs.items():
        vae = seeds[0][0]
        _figures.sample_grid(vae, out / f"samples-{_slug(name)}{suffix}.png")
        if vae.prior == "exemplar":
            picture = out / f"exemplar-conditioned{suffix}.png"
            _figures.exemplar_grid(vae, splits.X_train[:8], picture)
    echo(f"[bench] wrote sample grids under {out}")


# ------------------------------------------------------------------- output
def _result(command, budget, n_seeds, rows, architecture="mlp"):
    return {
        "command": command,
        "architecture": architecture,
        "budget": budget.__dict__,
        "n_seeds": n_seeds,
        "machine": f"{platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads",
        "rows": rows,
    }


def _density_markdown(result, table):
    b = result["budget"]
    lines = [
        f"Architecture `{result['architecture']}`. "
        f"Budget `{b['name']}`: {b['n_train']} training images, {_epoch_limits(b)} "
        f"(KL warm-up {b['kl_warmup']}, patience {b['patience']}), "
        f"{result['n_seeds']} seed(s); {result['machine']}.",
        "",
        f"| run | trained with | test log-likelihood | paper ({table}) | ours − paper "
        "| test ELBO | active units | epochs (best) | s / epoch | training min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["rows"].items():
        spread = r.get("log_likelihood_seed_std", r["log_likelihood_sem"])
        lines.append(
            f"| {name} | {r['training']} | {r['log_likelihood']:.2f} ± {spread:.2f} "
            f"| {r['paper_log_likelihood']:.2f} | {r['difference_to_paper']:+.2f} "
            f"| {r['elbo']:.2f} | {r['active_units']:.0f} "
            f"| {r['epochs']:.0f} ({r['best_epoch']:.0f}) | {r['seconds_per_epoch']:.1f} "
            f"| {r['training_seconds'] / 60:.0f} |"
        )
    lines += [
        "",
        "Log-likelihoods in nats; ± is the standard deviation over seeds or, with one "
        "seed, the standard error over test images. Estimates:",
        "",
    ]
    lines += [f"- {name}: {r['estimate']}" for name, r in result["rows"].items()]
    lines.append("")
    if "ranking" in result:
        lines.append(_ranking_line(result["ranking"], "log-likelihood"))
    return "\n".join(lines) + "\n"


def _epoch_limits(budget):
    """The epoch limits of a budget (as stored in a result), in words."""
    limits = dict(budget.get("epochs_by_prior") or ())
    if not limits:
        return f"at most {budget['max_epochs']} epochs"
    others = ", ".join(f"{prior} {epochs}" for prior, epochs in limits.items())
    return f"at most {budget['max_epochs']} epochs ({others})"


def _knn_markdown(result):
    b = result["budget"]
    head = " | ".join(f"k = {k}" for k in KNN_K)
    lines = [
        f"Architecture `{result['architecture']}`. "
        f"Budget `{b['name']}`: {b['n_train']} training images, {b['n_test']} test images, "
        f"{result['n_seeds']} seed(s); {result['machine']}.",
        "",
        f"| run | trained with | {head} | paper (Table 4) | ours (best k) − paper |",
        "|---|---|" + "---|" * len(KNN_K) + "---|---|",
    ]
    for name, r in result["rows"].items():
        errors = r["knn_error_percent"]
        cells = " | ".join(f"{errors[k]:.2f}" for k in KNN_K)
        best = min(errors.values())
        paper = r["paper_knn_error_percent"]
        versus = "— | —" if paper is None else f"{paper:.2f} | {best - paper:+.2f}"
        lines.append(f"| {name} | {r['training']} | {cells} | {versus} |")
    lines += [
        "",
        "kNN test error (%) on the posterior means (`transform`) of the grey images, "
        "training latents as the reference set; differences in percentage points.",
        _ranking_line(result["ranking"], "kNN error"),
    ]
    return "\n".join(lines) + "\n"


def _ranking_line(ranking, what):
    verdict = "holds" if ranking["holds"] else "does not hold"
    return (
        f"Paper's {what} ranking ({' > '.join(ranking['paper_order'])}, best first): "
        f"{verdict}; ours: {' > '.join(ranking['order'])}."
    )


def _write(out, name, result, table, echo):
    _write_text(out / f"{name}.json", json.dumps(result, indent=2, default=str) + "\n")
    _write_text(out / f"{name}.md", table)
    echo(table)
    echo(f"[bench] wrote {out / (name + '.json')} and {out / (name + '.md')}")


def _write_text(path, text):
    with atomic_open(path, "w") as f:
        f.write(text)
