"""Numerical kernels shared by the priors and the importance-weighted bound."""

import contextlib
import functools

import torch

# Largest intermediate tensor (elements) a chunked computation may create: 16 MiB in
# float32. Evaluation, scoring and exact kNN search cut their work to fit it.
ELEMENT_BUDGET = 2**22
# Rows per block when a fitted model encodes or scores many rows. A matrix product's
# rounding depends on its number of rows (the kernel and the blocking change with it),
# so every block is padded to this many rows: each row's result is then the same
# whichever rows it is scored with, as scikit-learn's subset-invariance check asks.
ROW_BLOCK = 256
# Device types whose autocast a float32 region switches off.
_AUTOCAST_DEVICES = ("cpu", "cuda")


def float32(function):
    """Run ``function`` in float32 with autocast off, its tensor arguments cast up.

    Under mixed precision the networks' matrix products run in bfloat16; the
    log-densities, their logsumexp over components, the KL and the importance
    weights need float32's range and precision, and their matrix products (inner
    size d = 40) gain nothing from bfloat16 anyway.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if not _autocast_enabled():
            return function(*args, **kwargs)
        args = [_up(a) for a in args]
        kwargs = {k: _up(v) for k, v in kwargs.items()}
        with contextlib.ExitStack() as stack:
            for device in _AUTOCAST_DEVICES:
                stack.enter_context(torch.autocast(device, enabled=False))
            return function(*args, **kwargs)

    return wrapper


def padded_rows(x, n_rows):
    """``x`` with zero rows appended up to ``n_rows`` rows (unchanged if it has them)."""
    missing = n_rows - len(x)
    if missing <= 0:
        return x
    return torch.cat([x, x.new_zeros((missing, *x.shape[1:]))])


def _up(value):
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.float()
    return value


def _autocast_enabled():
    return any(torch.is_autocast_enabled(device) for device in _AUTOCAST_DEVICES)


# exp() of float32 values below about -87.3 gives subnormals or zero, and on x86 CPUs
# torch's vectorised exp takes a slow path there: 5-15x slower, measured on the
# (rows, exemplars) log-kernels of the exemplar prior, where most entries sit far
# below the row maximum. Terms this small cannot change a sum that contains
# exp(0) = 1 in float32, so flooring them is exact to the last bit.
_EXP_FLOOR = -87.0


@float32
def logsumexp(x, dim):
    """``torch.logsumexp(x, dim)``, without exp's slow path for negligible terms."""
    peak = x.detach().amax(dim, keepdim=True)
    empty = torch.isneginf(peak)
    # Rows that are all -inf stay -inf; +inf rows give nan-free +inf as in torch.
    shift = peak.masked_fill(torch.isinf(peak), 0.0)
    # In place on the fresh difference: autograd's version checks allow it, and
    # the block is written once instead of three times.
    total = (x - shift).clamp_(min=_EXP_FLOOR).exp_().sum(dim, keepdim=True)
    out = (total.log() + shift).masked_fill(empty, -torch.inf)
    return out.squeeze(dim)
