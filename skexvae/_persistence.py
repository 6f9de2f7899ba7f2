"""What an ExemplarVAE's pickle holds, and how a loaded one gets its model back.

A pickle must load on another machine (no GPU, no memmap file), by a later skexvae,
without touching the user's random streams. It holds the weights as CPU tensors and
the spec that rebuilds the network, the exemplars' latents but not their rows (a
memmap travels as its file's path), and no tensors on a device.
"""

import copy
import warnings

import torch

from ._rows import file_reference, open_reference
from .models import ModelSpec, build_vae


def portable_state(state):
    """The pickled form of an estimator's ``__dict__`` (a new dict; ``state`` is untouched)."""
    state = dict(state)
    if "model_" in state:
        state["_model_state"] = to_cpu(state.pop("model_").state_dict())
    for key in ("_optimizer_state", "_generator_state", "_trained_weights"):
        if state.get(key) is not None:
            state[key] = to_cpu(state[key])
    if "exemplars_" in state:
        # The prior lives on in exemplar_latents_: the rows stay out.
        state["_exemplars_file"] = file_reference(state.pop("exemplars_"))
    state.pop("_device_centres", None)
    if state.get("index_") is not None:
        state["index_"] = copy.copy(state["index_"])
        state["index_"].cache = None  # the same latents as exemplar_latents_
    return state


def loaded_state(state):
    """``state`` as the estimator's ``__dict__``, less ``_model_state``, which it returns.

    Estimators pickled before mixed precision computed in float32, before weight
    averaging kept their last weights, before :class:`ModelSpec` kept a dict, and
    before free nats trained on the bound.
    """
    model_state = state.pop("_model_state", None)
    if isinstance(state.get("_spec"), dict):
        state["_spec"] = ModelSpec.from_dict(state["_spec"])
    if "_exemplars_file" in state:
        state["exemplars_"] = _reopen(state.pop("_exemplars_file"))
    if "_spec" in state:  # fitted before likelihood="auto" and history_ existed
        state.setdefault("likelihood_", state["_spec"].likelihood)
        state.setdefault("history_", [])
        # Before n_neighbors="auto", the parameter was the resolved value.
        state.setdefault("n_neighbors_", state.get("n_neighbors") if state.get("M_") else None)
        state.setdefault("free_nats_", 0.0)
    state.setdefault("precision", "float32")
    state.setdefault("ema_decay", None)
    state.setdefault("free_nats", 0.0)
    if model_state is not None:
        state.setdefault("_trained_weights", None)
    return state, model_state


def rebuild_model(spec, model_state, device):
    """The module of ``spec`` with the pickled weights, in eval mode on ``device``."""
    # Building draws initial weights, to be overwritten: leave the user's stream be.
    with torch.random.fork_rng(devices=[]):
        model = build_vae(spec)
    try:
        model.load_state_dict(model_state)
    except RuntimeError as exc:
        raise ValueError(
            "The pickled ExemplarVAE's weights do not fit the network its "
            "parameters describe: it was saved by an incompatible skexvae "
            f"version or altered. {str(exc).splitlines()[0]}"
        ) from exc
    return model.to(device).eval()


def to_cpu(obj):
    """A copy of nested dicts and lists of tensors (an optimizer's state) on the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def _reopen(reference):
    if reference is None:
        return None
    exemplars = open_reference(reference)
    if exemplars is None:
        warnings.warn(
            f"This ExemplarVAE's exemplars were the memory-mapped file {reference[0]!r}, "
            "which does not exist on this machine: exemplars_ is None. Scoring and "
            "sampling need only exemplar_latents_; set_exemplars(X) puts rows back.",
            UserWarning,
            stacklevel=4,
        )
    return exemplars
