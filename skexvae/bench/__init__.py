"""Reproduction of the paper's MNIST experiments: ``skexvae bench density|knn|ablation``,
and ``skexvae bench progress`` to follow long runs.

Each command trains the priors it compares under one budget (``quick``, ``cpu-hour``
or ``paper``), checkpointing every few epochs so that an interrupted run resumes
where it stopped, then evaluates them and writes JSON, a Markdown table next to the
paper's figures, and pictures. ``progress`` reports on the checkpoints alone.
"""

from .._lazy import lazy_exports
from ._budgets import BUDGETS, Budget

__all__ = ["BUDGETS", "Budget", "run_ablation", "run_density", "run_knn", "run_progress"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **{name: "._commands" for name in ("run_ablation", "run_density", "run_knn")},
        "run_progress": "._progress",
    },
)
