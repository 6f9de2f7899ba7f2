"""Progress of long work: lines printed at most every few seconds, and the record of
each training epoch (``history_``, and the ``skexvae`` logger)."""

import logging
import time

#: Each epoch of ``fit`` is logged here at INFO level, its ``history_`` row attached
#: as ``record.skexvae_epoch``: a handler can stream training to TensorBoard or MLflow.
LOGGER = logging.getLogger("skexvae")

# Seconds between two progress lines.
EVERY_SECONDS = 10.0


class ThrottledProgress:
    """Call with ``(done, total)``; prints ``done/total``, elapsed and remaining time.

    A line appears at most every ``every_seconds`` and once at the end, so fast work
    stays silent and slow work never looks like a hang.
    """

    def __init__(self, label, every_seconds=None, echo=print):
        self.label = label
        self.every_seconds = EVERY_SECONDS if every_seconds is None else every_seconds
        self.echo = echo
        self.start = time.perf_counter()
        self.last = self.start

    def __call__(self, done, total):
        now = time.perf_counter()
        if now - self.last < self.every_seconds and done < total:
            return
        if done == total and now - self.start < self.every_seconds:
            return
        self.last = now
        elapsed = now - self.start
        left = elapsed / max(done, 1) * (total - done)
        self.echo(
            f"{self.label}: {done}/{total} ({100 * done / total:.0f} %), "
            f"{elapsed:.0f} s elapsed, ~{left:.0f} s left",
            flush=True,
        )


class EpochReport:
    """Prints one line per epoch of ``fit``: the bound, the prior's scalars, the time.

    Parameters
    ----------
    name : str
        The estimator's class name, which starts the line.
    max_iter, first_epoch : int
        Epochs of this fit, and those the model had before it (a warm start).
    prior : Prior
        Its ``scalars`` (the exemplar prior's sigma) are read at each epoch.
    may_stop_early : bool
        Whether early stopping may end the fit before ``max_iter``.
    """

    def __init__(self, name, max_iter, first_epoch, prior, may_stop_early):
        self.name = name
        self.max_iter = max_iter
        self.first_epoch = first_epoch
        self.prior = prior
        self.may_stop_early = may_stop_early

    def __call__(self, entry):
        done = entry.epoch + 1 - self.first_epoch
        left = entry.elapsed / done * (self.max_iter - done)
        # A warm start counts this fit's epochs, and says how many the model has had.
        overall = f" ({entry.epoch + 1} in all)" if self.first_epoch else ""
        line = (
            f"[{self.name}] epoch {done}/{self.max_iter}{overall}"
            f"  loss {entry.loss:.3f}  ELBO {entry.reconstruction - entry.kl:.3f}"
            f"  (rec {entry.reconstruction:.3f}, KL {entry.kl:.3f}, beta {entry.beta:.2f})"
        )
        for name, value in self.prior.scalars.items():
            line += f"  {name} {value:.4f}"
        if entry.validation_score is not None:
            line += f"  val ELBO {entry.validation_score:.3f}"
        # With early stopping the run may end sooner: the estimate is an upper bound.
        eta = f"at most ~{left:.0f} s left" if self.may_stop_early else f"~{left:.0f} s left"
        print(f"{line}  {entry.seconds:.2f} s, {entry.elapsed:.0f} s elapsed, {eta}", flush=True)


#: The ``history_`` entries every epoch has; the prior's learned scalars come on top.
EPOCH_FIELDS = (
    "epoch",
    "loss",
    "elbo",
    "reconstruction",
    "kl",
    "beta",
    "validation_elbo",
    "seconds",
)


def epoch_record(entry, prior):
    """The ``history_`` row of one epoch: its figures and the prior's learned scalars."""
    values = (
        entry.epoch + 1,
        entry.loss,
        entry.reconstruction - entry.kl,
        entry.reconstruction,
        entry.kl,
        entry.beta,
        entry.validation_score,
        entry.seconds,
    )
    return {**dict(zip(EPOCH_FIELDS, values, strict=True)), **prior.scalars}


def log_epoch(name, record):
    LOGGER.info(
        "%s epoch %d: loss %.3f",
        name,
        record["epoch"],
        record["loss"],
        extra={"skexvae_epoch": record},
    )
