"""Checks of ExemplarVAE's parameters beyond ``_parameter_constraints``.

Each function takes the parameters it reads and returns their resolved value, or
raises a ValueError that names the parameter and what to pass instead. They run in
``fit``, where scikit-learn checks parameters, and know nothing of the estimator.
"""

import math
from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from .models import CONVOLUTIONAL, ONE_LEVEL, TWO_LEVEL, ModelSpec


class Count(Interval):
    """Integers from ``low`` up, without booleans.

    Python counts ``True`` as 1: ``M=True`` would silently mean one exemplar.
    """

    def __init__(self, low):
        super().__init__(Integral, low, None, closed="left")

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)


def positive_ints(values):
    """``values`` as a tuple of ints, or None if any of them is not a positive integer."""
    flat = np.ravel(np.asarray(values, dtype=object))
    if not all(isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in flat):
        return None
    return tuple(int(v) for v in flat)


def hidden_layer_sizes(value):
    sizes = positive_ints(value)
    if not sizes:
        raise ValueError(
            f"hidden_layer_sizes must be a non-empty sequence of positive integers, got {value!r}."
        )
    return sizes


def image_shape(value, architecture, n_features):
    """``image_shape`` as a tuple that matches ``n_features`` (None for MLPs)."""
    if value is None:
        if architecture not in CONVOLUTIONAL:
            return None
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"architecture={architecture!r} needs image_shape=(channels, "
                f"height, width): X has {n_features} features, not a square grey image."
            )
        return (1, side, side)
    shape = positive_ints(value)
    if shape is None or len(shape) != 3:
        raise ValueError(
            f"image_shape must be three positive integers (channels, height, width), got {value!r}."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={shape} has {math.prod(shape)} values per image, but X has "
            f"{n_features} features."
        )
    return shape


def decoder(value, architecture):
    if value is not None and architecture in TWO_LEVEL:
        raise ValueError(
            f"decoder= replaces the decoder p(x|z) of a one-level architecture "
            f"({', '.join(ONE_LEVEL)}); architecture={architecture!r} decodes "
            "two latents. Pass encoder= alone or use architecture='mlp' or 'conv'."
        )
    return value


def model_spec(params, n_features):
    """The :class:`ModelSpec` that an estimator's parameters describe for ``n_features``."""
    architecture = params["architecture"]
    return ModelSpec(
        n_features=n_features,
        n_components=params["n_components"],
        prior=params["prior"],
        likelihood=params["likelihood"],
        hidden_layer_sizes=hidden_layer_sizes(params["hidden_layer_sizes"]),
        architecture=architecture,
        image_shape=image_shape(params["image_shape"], architecture, n_features),
        encoder=params["encoder"],
        decoder=decoder(params["decoder"], architecture),
        sigma=params["sigma"],
        n_pseudo_inputs=params["n_pseudo_inputs"],
    )


def likelihood(value, X):
    """``value``, or for ``"auto"`` the likelihood the data fit: ``"bernoulli"`` for
    inputs in [0, 1] (binarized dynamically unless ``binarize`` says otherwise),
    ``"gaussian"`` for any others."""
    if value != "auto":
        return value
    in_unit_range = X.size == 0 or bool(X.min() >= 0.0 and X.max() <= 1.0)
    return "bernoulli" if in_unit_range else "gaussian"


def binarize(value, likelihood):
    if value == "auto":
        return "dynamic" if likelihood == "bernoulli" else None
    if value == "dynamic" and likelihood != "bernoulli":
        raise ValueError(
            f"binarize='dynamic' needs likelihood='bernoulli', got "
            f"likelihood={likelihood!r}; use binarize=None or 'auto'."
        )
    return value


#: ``n_neighbors="auto"``: retrieval-augmented training with the paper's 10 neighbours
#: once a step's exact M-subset holds more than ``AUTO_RAT_MIN_M`` exemplars. A RAT step
#: encodes the batch's neighbour union (up to ``batch_size * 11`` rows) instead of the
#: subset, so its cost stops growing with M. Measured on MNIST, one epoch at M = N/2
#: (benchmarks/auto_neighbors.py, 2 cores): exact / RAT time 1.3 at M = 1 000, 1.8 at
#: 2 000 and 2.0 at 3 000 in batches of 100 (0.9, 1.3, 1.8 in batches of 200), 14 at
#: 25 000 (benchmarks/results/rat.md). Up to 2 000 the paper's exact prior costs less
#: than twice RAT, and is kept.
AUTO_RAT_NEIGHBORS = 10
AUTO_RAT_MIN_M = 2000


#: ``free_nats="auto"``: the KL floor of training per architecture, for those whose
#: decoder can model the data alone and so leaves the latents unused on the bound
#: (posterior collapse). PixelSNAIL on MNIST, Gaussian prior, 2 000 images, 20 epochs
#: (docs/results.md, "PixelSNAIL"): with no floor the KL fell to 0.01 nats, no latent
#: unit stayed active and kNN on the latents erred 86.6 %; a floor of 5 nats scored
#: -83.92 (against -85.15) with 21.6 % kNN error, 15 nats -84.62 with 7.0 %, near
#: the ConvHVAE's 6.6 %: latents that serve transform and the exemplar prior.
AUTO_FREE_NATS = {"pixelsnail": 15.0}


def free_nats(free_nats, architecture):
    """``free_nats_``: the KL nats per input that training leaves unpenalised."""
    if free_nats == "auto":
        return AUTO_FREE_NATS.get(architecture, 0.0)
    return float(free_nats)


def neighbors_per_input(n_neighbors, M):
    """``n_neighbors_``: RAT's neighbours per input, or None for the exact M-subset prior."""
    if n_neighbors == "auto":
        return AUTO_RAT_NEIGHBORS if M > AUTO_RAT_MIN_M else None
    return n_neighbors


def exemplars_per_step(M, leave_one_out, n_train):
    """``M_``: exemplars per training step of the exemplar prior, out of ``n_train``."""
    largest = n_train - 1 if leave_one_out else n_train
    if largest < 1:
        raise ValueError(
            "prior='exemplar' with leave_one_out=True trains each row against the "
            f"other training exemplars, and N={n_train} leaves none (N counts the rows "
            "after the validation split): pass at least 2 rows, or set "
            "leave_one_out=False."
        )
    if isinstance(M, Integral):
        if M >= n_train:
            raise ValueError(
                f"M={M} must be smaller than the number of training exemplars "
                f"N={n_train}; pass a count below N or a fraction in (0, 1]."
            )
        return min(int(M), largest)
    return max(1, min(int(round(M * n_train)), largest))


def validation_size(validation_fraction, n_samples):
    """Rows that early stopping holds out; at least two must be left to train on."""
    n_val = int(math.ceil(validation_fraction * n_samples))
    if n_samples - n_val < 2:
        raise ValueError(
            f"early_stopping=True with validation_fraction={validation_fraction} "
            f"leaves {n_samples - n_val} training sample(s) of {n_samples}; at least "
            "2 are needed. Lower validation_fraction or pass more data."
        )
    return n_val


def device(value, fallback=False):
    """``"auto"`` → CUDA when available; otherwise a validated ``torch.device``.

    ``fallback`` (a pickle loaded on a machine without CUDA) gives the CPU instead of
    an error.
    """
    if isinstance(value, torch.device):
        value = str(value)
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(value)
    except RuntimeError as exc:
        raise ValueError(f"device={value!r} is not a torch device: {exc}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        if fallback:
            return torch.device("cpu")
        raise ValueError(f"device={value!r} was requested but CUDA is not available.")
    return resolved


def n_samples(value):
    """``n_samples`` of the sampling methods: a positive integer, not a boolean."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"n_samples must be a positive integer, got {value!r}.")
    return int(value)
