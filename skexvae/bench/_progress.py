"""``skexvae bench progress``: where the runs under a results folder stand.

Reads the checkpoints alone (no data, nothing trained), so it can report on runs
that train for days in another process, and on a checkpoint committed mid-run.
"""

import json
from pathlib import Path

from . import _figures
from ._budgets import BUDGETS
from ._checkpoint import read_checkpoint
from ._commands import _print, _write_text


def run_progress(out="skexvae-bench", *, echo=_print):
    """Epochs, validation curve and early-stopping state of every run under ``out``.

    Writes ``progress.json``, ``progress.md`` and, with matplotlib,
    ``progress.png`` (the learning curves) under ``out``; returns the result dict.

    Raises
    ------
    ValueError
        When ``out`` holds no checkpoint, or one cannot be read.
    """
    out = Path(out)
    paths = sorted(out.glob("checkpoints/*/*.pkl"))
    if not paths:
        raise ValueError(
            f"no checkpoints under {out / 'checkpoints'}: pass the --out of a bench command."
        )
    runs, logs = {}, {}
    for path in paths:
        name = f"{path.parent.name}/{path.stem}"
        vae, logs[name] = read_checkpoint(path)
        runs[name] = _run_row(vae.prior, BUDGETS.get(path.parent.name), logs[name])
    result = {"out": str(out), "runs": runs}
    _write_text(out / "progress.json", json.dumps(result, indent=2) + "\n")
    table = _progress_markdown(runs)
    _write_text(out / "progress.md", table)
    echo(table)
    if _figures.learning_curves(logs, out / "progress.png"):
        echo(f"[bench] wrote {out / 'progress.png'}")
    echo(f"[bench] wrote {out / 'progress.json'} and {out / 'progress.md'}")
    return result


def _run_row(prior, budget, log):
    """One run's state; ``budget`` is None for a folder no budget is named after."""
    limit = budget.epochs_of(prior) if budget else None
    seconds = log.epoch_seconds[-1] if log.epoch_seconds else None
    state = _state(log, limit)
    row = {
        "prior": prior,
        "state": state,
        "epochs": log.epochs,
        "epoch_limit": limit,
        "best_validation_elbo": log.best_elbo if log.validation_elbo else None,
        "best_epoch": log.best_epoch,
        "patience_left": None,
        "seconds_per_epoch": seconds,
        "training_hours": sum(log.epoch_seconds) / 3600,
        "hours_to_epoch_limit": None,
        "curve": [
            {
                "epoch": epoch,
                "validation_elbo": elbo,
                "training_loss": log.train_loss[epoch - 1],
            }
            for epoch, elbo in zip(log.validation_epochs, log.validation_elbo, strict=True)
        ],
    }
    if state == "training" and budget is not None:
        row["patience_left"] = budget.patience - (log.epochs - log.best_epoch)
        row["hours_to_epoch_limit"] = (limit - log.epochs) * (seconds or 0.0) / 3600
    return row


def _state(log, limit):
    if log.finished:
        return "finished (best weights only)"
    if log.stopped_early:
        return "stopped early"
    if limit is not None and log.epochs >= limit:
        return "at its epoch limit"
    return "training"


def _progress_markdown(runs):
    lines = [
        "| run | state | epochs (limit) | best validation ELBO (epoch) | latest "
        "| patience left | s / epoch (latest) | training h | h to the limit at this rate |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        latest = r["curve"][-1]["validation_elbo"] if r["curve"] else None
        lines.append(
            f"| {name} | {r['state']} | {r['epochs']} ({_text(r['epoch_limit'])}) "
            f"| {_number(r['best_validation_elbo'])} ({r['best_epoch']}) | {_number(latest)} "
            f"| {_text(r['patience_left'])} | {_number(r['seconds_per_epoch'], 1)} "
            f"| {r['training_hours']:.1f} | {_number(r['hours_to_epoch_limit'], 1)} |"
        )
    lines += [
        "",
        "Validation ELBO in nats (one sample per image, every training exemplar in the "
        "prior); early stopping ends a run when patience reaches 0, so the hours to "
        "the epoch limit are an upper bound.",
    ]
    for name, r in runs.items():
        lines += ["", f"### {name}", "", "| epoch | validation ELBO | training loss |"]
        lines.append("|---|---|---|")
        lines += [
            f"| {p['epoch']} | {p['validation_elbo']:.2f} | {p['training_loss']:.2f} |"
            for p in r["curve"]
        ]
    lines.append("")
    lines.append(
        "The training loss is the minibatch loss of the epoch, with the KL term "
        "annealed during the KL warm-up."
    )
    return "\n".join(lines) + "\n"


def _number(value, digits=2):
    return "—" if value is None else f"{value:.{digits}f}"


def _text(value):
    return "—" if value is None else str(value)
