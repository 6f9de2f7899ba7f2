"""The training loop: epochs of minibatch steps, KL warm-up, weight averaging, early
stopping, progress.

It knows modules, an optimizer and callables that yield batches and losses; it knows
nothing of data sets, priors or estimators.
"""

import contextlib
import copy
import time
from dataclasses import dataclass

import torch


def adam(parameters, lr):
    """Adam with one fused kernel per step where torch has one for the device.

    Measured on 2 CPU cores (Gaussian prior, 50k MNIST, one epoch): 3.9 s fused
    against 4.5 s for torch's default per-tensor loop; same update rule.
    """
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=lr, fused=True)
    except RuntimeError:  # a device without a fused kernel
        return torch.optim.Adam(parameters, lr=lr, foreach=True)


def normalize_gradients(parameters, eps=1e-7):
    """Scale each parameter's gradient to unit L2 norm (gradient-normalised Adam).

    The reference training (Yu et al. 2017 via the VampPrior code) normalises per
    tensor before the Adam update; Adam itself is left unchanged.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if grads:
        norms = torch._foreach_norm(grads)
        torch._foreach_add_(norms, eps)
        torch._foreach_div_(grads, norms)


def kl_weight(epoch, warmup):
    """Linear KL annealing: ``beta = min(1, (epoch + 1) / warmup)`` for 0-based epochs."""
    return 1.0 if warmup == 0 else min(1.0, (epoch + 1) / warmup)


class WeightAverage:
    """An exponential moving average of a module's parameters, updated after each step.

    The decay ramps up as ``min(decay, (1 + t) / (10 + t))`` over the first updates
    ``t`` (as TensorFlow's ``ExponentialMovingAverage(num_updates=t)``), so that the
    average forgets the random initial weights within a few hundred steps instead of
    ``1 / (1 - decay)``.

    Parameters
    ----------
    module : nn.Module
        The module being trained; the average starts from its current parameters.
    decay : float
        Weight of the old average at each update, in [0, 1).
    trained : dict, optional
        ``{name: tensor}`` of the trained (not averaged) parameters of an earlier
        run, with ``module`` holding that run's average: training resumes from them.
    n_updates : int, default=0
        Updates the earlier run's average had made.
    """

    def __init__(self, module, decay, trained=None, n_updates=0):
        self.decay = decay
        self.n_updates = n_updates
        named = [(n, p) for n, p in module.named_parameters() if p.dtype.is_floating_point]
        self._names = [n for n, _ in named]
        self._live = [p for _, p in named]
        self._average = [p.detach().clone() for p in self._live]
        self.trained = None
        if trained is not None:
            with torch.no_grad():
                torch._foreach_copy_(self._live, [trained[n].to(p.device) for n, p in named])

    @torch.no_grad()
    def update(self):
        decay = min(self.decay, (1 + self.n_updates) / (10 + self.n_updates))
        torch._foreach_lerp_(self._average, [p.detach() for p in self._live], 1.0 - decay)
        self.n_updates += 1

    @contextlib.contextmanager
    def applied(self):
        """The module holds the averaged parameters inside the block, its own after."""
        with torch.no_grad():
            own = [p.detach().clone() for p in self._live]
            torch._foreach_copy_(self._live, self._average)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_(self._live, own)

    @torch.no_grad()
    def apply(self):
        """Put the averaged parameters in the module; keep its own in ``trained``."""
        self.trained = {n: p.detach().clone() for n, p in zip(self._names, self._live, strict=True)}
        torch._foreach_copy_(self._live, self._average)


@dataclass
class EpochReport:
    epoch: int
    loss: float
    reconstruction: float
    kl: float
    beta: float
    seconds: float
    validation_score: float | None = None
    #: Seconds since this call of :func:`train` began, at the end of the epoch.
    elapsed: float = 0.0


class EarlyStopping:
    """Remembers the best validation score and its weights; says when to stop."""

    def __init__(self, patience):
        self.patience = patience
        self.best_score = -float("inf")
        self.best_state = None
        self.bad_epochs = 0

    def update(self, score, module):
        if score > self.best_score:
            self.best_score = score
            self.best_state = copy.deepcopy(module.state_dict())
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience


def train(
    module,
    optimizer,
    epoch_batches,
    step_loss,
    *,
    max_iter,
    first_epoch=0,
    kl_warmup,
    validate=None,
    n_iter_no_change=10,
    report=None,
    average=None,
    weight_average=None,
):
    """Run up to ``max_iter`` epochs; return the list of :class:`EpochReport`.

    Epochs are numbered from ``first_epoch`` (the KL schedule follows them), so that a
    resumed run carries on where the last one stopped.

    Parameters
    ----------
    module : nn.Module
        Put in train mode for steps and eval mode for validation.
    optimizer : torch.optim.Optimizer
    epoch_batches : callable
        ``epoch_batches(epoch)`` yields the epoch's batches.
    step_loss : callable
        ``step_loss(batch, beta)`` returns ``(loss, reconstruction, kl)`` tensors.
    validate : callable, optional
        ``validate()`` returns a score to maximise; turns on early stopping, and the
        best weights are restored at the end.
    report : callable, optional
        Called with each epoch's :class:`EpochReport`.
    average : callable, optional
        Maps the epoch's mean ``(loss, reconstruction, kl)`` tensor to the mean over
        data-parallel ranks, so that every rank reports the same figures.
    weight_average : WeightAverage, optional
        Updated after every step; validation scores the averaged weights, early
        stopping keeps the best of them, and the module ends holding them; the last
        trained weights, to resume from, stay in ``weight_average.trained``.
    """
    parameters = [p for p in module.parameters() if p.requires_grad]
    stopper = EarlyStopping(n_iter_no_change) if validate is not None else None
    history = []
    started = time.perf_counter()
    for epoch in range(first_epoch, first_epoch + max_iter):
        start = time.perf_counter()
        beta = kl_weight(epoch, kl_warmup)
        module.train()
        totals, n_batches = 0.0, 0
        for batch in epoch_batches(epoch):
            loss, reconstruction, kl = step_loss(batch, beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            normalize_gradients(parameters)
            optimizer.step()
            if weight_average is not None:
                weight_average.update()
            # Summed on the device: one host transfer per epoch, not per step.
            totals = totals + torch.stack([loss.detach(), reconstruction, kl])
            n_batches += 1
        means = totals / max(n_batches, 1)
        if average is not None:
            means = average(means)
        means = means.tolist()
        entry = EpochReport(epoch, *means, beta=beta, seconds=0.0)
        stop = False
        if stopper is not None:
            module.eval()
            with _evaluated_weights(weight_average):
                entry.validation_score = float(validate())
                stop = stopper.update(entry.validation_score, module)
        entry.seconds = time.perf_counter() - start
        entry.elapsed = time.perf_counter() - started
        history.append(entry)
        if report is not None:
            report(entry)
        if stop:
            break
    if weight_average is not None:
        weight_average.apply()
    if stopper is not None and stopper.best_state is not None:
        module.load_state_dict(stopper.best_state)
    module.eval()
    return history


def _evaluated_weights(weight_average):
    return contextlib.nullcontext() if weight_average is None else weight_average.applied()
