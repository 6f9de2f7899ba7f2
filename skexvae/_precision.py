"""Mixed precision: the dtype the networks' matrix products run in.

Under ``"bfloat16"`` the encoder and decoder run under ``torch.autocast``; weights and
optimizer state stay float32, and the parts that need range or exactness (the
Gaussian heads, every log-density, the logsumexp over exemplars, the KL, the
importance weights, sigma) run in float32 whatever the setting
(``skexvae.models._numerics.float32``).
"""

import contextlib

# torch is imported inside the functions: the command line reads PRECISIONS for its
# help text, which should not wait for torch.

PRECISIONS = ("auto", "float32", "bfloat16")

# Narrowest widest-hidden-layer for which "auto" takes bfloat16. Measured on 2 cores
# (digits, 10 epochs, exact prior, bfloat16 / float32 fit time): hidden (32,) 1.12,
# (64, 64) 0.98, (128, 128) 0.95, (200, 200) 1.01, (300, 300) 0.67 with the exemplar
# prior and 0.72 with the Gaussian. Below this width the casts cost what the faster
# products save.
BFLOAT16_MIN_WIDTH = 256


def has_fast_bfloat16(device):
    """Whether ``device`` multiplies bfloat16 matrices natively (AVX512-BF16 or AMX, CUDA)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def resolve_precision(precision, device, width=None):
    """``"auto"`` → ``"bfloat16"`` where the hardware has it and the networks are wide
    enough (``width``, their widest hidden layer, at least :data:`BFLOAT16_MIN_WIDTH`),
    else ``"float32"``."""
    if precision != "auto":
        return precision
    wide = width is None or width >= BFLOAT16_MIN_WIDTH
    return "bfloat16" if wide and has_fast_bfloat16(device) else "float32"


def autocast(precision, device):
    """The context the networks' forward passes run in."""
    import torch

    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
