"""Training in checkpointed segments, with early stopping on the validation ELBO.

A run's state (the estimator, which resumes with ``warm_start``, and its log) is
pickled after every segment, atomically, so that an interrupted run loses at most
one segment and never leaves a half-written checkpoint. A checkpoint is lean: it
holds weights, optimizer and random state and the log, not the training set (the
estimator's exemplars), which is reattached on loading after a check that it is the
same data. Nor does it hold what the weights give back: the exemplars' latents are
encoded again on loading, and the best weights are stored only when they are not the
model's own. The paper's MLP checkpoints in 13.4 MB while it trains (weights and
Adam's two moments; 18 MB when the best weights are older; with a weight average its
trained weights too). A finished run keeps only what scoring needs, its best
weights (4.3 MB for the MLP): it can be scored again, not trained further.
"""

import copy
import dataclasses
import hashlib
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._files import atomic_open


@dataclass
class TrainingLog:
    """What a run has done so far; pickled with the estimator."""

    epochs: int = 0
    train_loss: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    validation_epochs: list = field(default_factory=list)
    validation_elbo: list = field(default_factory=list)
    best_epoch: int = 0
    best_state: dict | None = None
    stopped_early: bool = False
    #: SHA-256 of the training set, to reattach it as the exemplars on loading.
    data_sha256: str | None = None
    #: Trimmed to the best weights, without optimizer state: scored, not trained further.
    finished: bool = False
    #: In a file: ``best_state`` left out, being the estimator's own weights.
    best_is_last: bool = False

    @property
    def best_elbo(self):
        return max(self.validation_elbo) if self.validation_elbo else -float("inf")


def train_with_checkpoints(
    vae, X_train, X_validation, budget, path, echo=print, keep_training_state=False
):
    """Train ``vae`` under ``budget``, resuming from ``path`` when it holds a checkpoint.

    Every ``budget.checkpoint_every`` epochs the validation ELBO is computed (every
    training exemplar in the prior), the best weights are kept, and the state is
    written to ``path``. Training ends after the budget's epochs for the prior or
    ``budget.patience`` epochs without improvement; the best weights are restored.
    The finished run's checkpoint is then trimmed to those weights (no optimizer
    state), unless ``keep_training_state``: a kept one can train on to a larger
    epoch limit, a trimmed one can only be scored again.

    Returns
    -------
    vae : ExemplarVAE
        With the best weights.
    log : TrainingLog
    """
    path = Path(path)
    fingerprint = data_sha256(X_train)
    if path.exists():
        vae, log = load_checkpoint(path, X_train, fingerprint)
    else:
        log = TrainingLog(data_sha256=fingerprint)
    max_epochs = budget.epochs_of(vae.prior)
    if log.finished and not log.stopped_early and log.epochs < max_epochs:
        raise ValueError(
            f"checkpoint {path} holds a finished run of {log.epochs} epochs, kept for "
            f"scoring only (best weights, no optimizer state): it cannot train on to "
            f"{max_epochs} epochs; delete it or pick --out (and --keep-training-state "
            "to keep a run resumable)."
        )
    if log.epochs:
        echo(f"  resumed from {path} after {log.epochs} epochs")
    while not log.stopped_early and log.epochs < max_epochs:
        segment = min(budget.checkpoint_every, max_epochs - log.epochs)
        start = time.perf_counter()
        vae.set_params(max_iter=segment).fit(X_train)
        seconds = time.perf_counter() - start
        log.epochs += segment
        log.train_loss = list(vae.loss_curve_)
        log.epoch_seconds += [seconds / segment] * segment
        elbo = validation_elbo(vae, X_validation)
        log.validation_epochs.append(log.epochs)
        log.validation_elbo.append(elbo)
        if elbo >= log.best_elbo:
            log.best_epoch = log.epochs
            log.best_state = copy.deepcopy(vae.model_.state_dict())
        log.stopped_early = log.epochs - log.best_epoch >= budget.patience
        save_checkpoint(path, vae, log)
        echo(
            f"  epoch {log.epochs}/{max_epochs}: loss {log.train_loss[-1]:.2f}, "
            f"validation ELBO {elbo:.2f} (best {log.best_elbo:.2f} at {log.best_epoch}), "
            f"{seconds / segment:.1f} s/epoch"
        )
    restore_best(vae, log)
    if not (log.finished or keep_training_state):
        _trim(vae, log)
        save_checkpoint(path, vae, log)
    return vae, log


def restore_best(vae, log):
    """Put the run's best weights into ``vae``; a finished run holds only those already."""
    if log.best_state is not None:
        vae.model_.load_state_dict(log.best_state)
        vae.set_exemplars(vae.exemplars_)  # the prior's latents, of these weights
    return vae


def _trim(vae, log):
    """Keep what scoring a finished run needs: its best weights, no training state."""
    vae._optimizer_state = None
    vae._trained_weights = None
    log.best_state = None
    log.finished = True


def validation_elbo(vae, X):
    """Mean one-sample ELBO of ``X`` with every training exemplar in the prior."""
    samples = vae.n_importance_samples
    try:
        return float(vae.set_params(n_importance_samples=1).score(X))
    finally:
        vae.set_params(n_importance_samples=samples)


def data_sha256(X):
    """SHA-256 of an array's shape, dtype and bytes."""
    digest = hashlib.sha256(f"{X.shape}{X.dtype}".encode())
    digest.update(memoryview(X.reshape(-1).view(np.uint8)))
    return digest.hexdigest()


def save_checkpoint(path, vae, log):
    """Pickle ``(vae, log)`` through a temporary file and a rename, lean.

    An estimator's pickle holds the exemplars' latents, not their rows; here the
    latents stay out too (loading encodes them from the rows), and so do best
    weights that equal the estimator's.
    """
    if log.best_state is not None and log.best_epoch == log.epochs:
        log = dataclasses.replace(log, best_state=None, best_is_last=True)
    latents, index = vae.exemplar_latents_, vae.index_
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        vae.exemplar_latents_ = vae.index_ = None
        with atomic_open(path) as f:
            pickle.dump((vae, log), f, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        vae.exemplar_latents_, vae.index_ = latents, index


def read_checkpoint(path):
    """``(vae, log)`` as pickled in ``path``: the estimator without its exemplar rows.

    Enough to report on a run (even while it trains: checkpoints are replaced
    atomically); :func:`load_checkpoint` makes it one that can train and score.
    Raises a ValueError that names the file when it cannot be read or is no bench
    checkpoint.
    """
    try:
        with open(path, "rb") as f:
            vae, log = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"checkpoint {path} is unreadable ({exc}); delete it to start that run afresh."
        ) from exc
    if not isinstance(log, TrainingLog):
        raise ValueError(f"{path} is not a skexvae bench checkpoint; delete it or pick --out.")
    if log.best_is_last:
        log.best_state, log.best_is_last = copy.deepcopy(vae.model_.state_dict()), False
    return vae, log


def load_checkpoint(path, X_train, fingerprint=None):
    """``(vae, log)`` from ``path`` with ``X_train`` as the exemplars again.

    Raises a ValueError that names the file when it cannot be read, is no bench
    checkpoint, or was trained on other data.
    """
    vae, log = read_checkpoint(path)
    if log.data_sha256 is None and hasattr(vae, "exemplars_"):
        # A checkpoint from before lean checkpoints carries its training set.
        log.data_sha256 = data_sha256(vae.exemplars_)
    if log.data_sha256 != (fingerprint or data_sha256(X_train)):
        raise ValueError(
            f"checkpoint {path} was trained on other data than this budget's training "
            "split (another --data-home or skexvae version?); delete it or pick --out."
        )
    X_train = np.ascontiguousarray(X_train, dtype=np.float32)
    if vae.model_.uses_exemplars:
        vae.set_exemplars(X_train)
    else:
        vae.exemplars_ = X_train
    return vae, log
