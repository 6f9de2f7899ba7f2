"""``build_vae``: the model of a :class:`ModelSpec`, one builder per architecture."""

import copy

import torch
from torch import nn

from ._autoregressive import AutoregressiveLikelihood
from ._conv import (
    DECODER_CHANNELS,
    SMALL_KERNEL_LAYERS,
    ConvDecoder,
    ConvEncoder,
    ConvFeatures,
    ConvOutput,
)
from ._hierarchical import LowerEncoder, TwoLevelDecoder
from ._likelihoods import LIKELIHOODS
from ._networks import GatedDense, GaussianEncoder, MLPDecoder, MLPEncoder, gated_stack
from ._priors import ExemplarPrior, GaussianPrior, VampPrior
from ._vae import VAE, TwoLevelVAE

ONE_LEVEL = ("mlp", "conv")
TWO_LEVEL = ("hvae", "convhvae", "pixelsnail")
CONVOLUTIONAL = ("conv", "convhvae", "pixelsnail")


def build_vae(spec):
    """Construct the model of ``spec`` (a :class:`ModelSpec`), with untrained weights.

    Parameters that start from data (a VampPrior's pseudo-inputs) are set by
    ``model.prior.start_from(X, generator)``, or by a ``load_state_dict``.
    """
    likelihood = LIKELIHOODS[spec.likelihood](spec.n_features)
    prior = PRIORS[spec.prior](spec)
    return ARCHITECTURES[spec.architecture](spec, likelihood, prior)


#: ``prior`` name -> ``f(spec)`` building it: the estimator's options.
PRIORS = {
    "exemplar": lambda spec: ExemplarPrior(spec.n_components, spec.sigma),
    "vamp": lambda spec: VampPrior(
        torch.zeros(spec.n_pseudo_inputs, spec.n_features), spec.n_components
    ),
    "gaussian": lambda spec: GaussianPrior(spec.n_components),
}


def _mlp(spec, likelihood, prior):
    n_features, n_components, hidden = _sizes(spec)
    n_outputs = likelihood.n_params * n_features
    encoder = user_encoder(spec, lambda: MLPEncoder(n_features, n_components, hidden))
    decoder = user_decoder(spec, n_outputs, lambda: MLPDecoder(n_components, n_outputs, hidden))
    return VAE(encoder, decoder, likelihood, prior, n_outputs + n_components)


def _conv(spec, likelihood, prior):
    n_features, n_components, hidden = _sizes(spec)
    image_shape = spec.image_shape
    encoder = user_encoder(spec, lambda: ConvEncoder(image_shape, n_components))
    decoder = user_decoder(
        spec,
        likelihood.n_params * n_features,
        lambda: ConvDecoder(n_components, image_shape, likelihood.n_params, hidden[-1]),
    )
    return VAE(encoder, decoder, likelihood, prior, _conv_elements(spec))


def _hvae(spec, likelihood, prior):
    n_features, n_components, hidden = _sizes(spec)
    width, n_outputs = hidden[-1], likelihood.n_params * n_features
    encoder = user_encoder(spec, lambda: MLPEncoder(n_features, n_components, hidden))
    output = nn.Sequential(GatedDense(2 * width, width), nn.Linear(width, n_outputs))
    x_features = GatedDense(n_features, width)
    elements = n_outputs + 2 * n_components
    return _two_level(spec, likelihood, prior, encoder, x_features, width, output, elements)


def _convhvae(spec, likelihood, prior):
    return _conv_two_level(spec, likelihood, prior, _conv_elements(spec))


def _pixelsnail(spec, likelihood, prior):
    """The ConvHVAE's two stochastic layers with an autoregressive observation model:
    the decoder paints conditioning maps from ``(z1, z2)`` for a causal network over
    the pixels, whose conditionals take the form of ``likelihood``."""
    observation = AutoregressiveLikelihood(likelihood, spec.image_shape)
    elements = max(_conv_elements(spec), observation.elements_per_sample)
    return _conv_two_level(spec, observation, prior, elements)


def _conv_two_level(spec, likelihood, prior, elements):
    """The ConvHVAE's convolutional networks around ``likelihood``, whose ``n_params``
    maps per pixel the decoder paints."""
    _, n_components, hidden = _sizes(spec)
    image_shape = spec.image_shape
    encoder = user_encoder(spec, lambda: ConvEncoder(image_shape, n_components))
    x_features = ConvFeatures(image_shape, SMALL_KERNEL_LAYERS)
    output = ConvOutput(2 * hidden[-1], image_shape, likelihood.n_params)
    return _two_level(
        spec, likelihood, prior, encoder, x_features, x_features.out_features, output, elements
    )


def _two_level(spec, likelihood, prior, encoder, x_features, features_width, output, elements):
    """A :class:`TwoLevelVAE` around ``encoder`` (q(z2|x)), as the VampPrior code wires it.

    ``x_features`` (of width ``features_width``) feeds ``q(z1|x, z2)``; ``output`` maps
    the joined latent features to the likelihood's parameters.
    """
    _, n_components, hidden = _sizes(spec)
    width = hidden[-1]
    return TwoLevelVAE(
        encoder,
        LowerEncoder(x_features, features_width, n_components, width),
        _conditional_prior(n_components, hidden),
        TwoLevelDecoder(n_components, width, output),
        likelihood,
        prior,
        elements,
    )


def _sizes(spec):
    return spec.n_features, spec.n_components, tuple(spec.hidden_layer_sizes)


def _conditional_prior(n_components, hidden):
    """``p(z1|z2)``: a gated MLP on ``z2`` with Gaussian heads."""
    body, width = gated_stack(n_components, hidden)
    return GaussianEncoder(body, width, n_components)


def _conv_elements(spec):
    # The decoder's gated convolutions at full resolution are the largest activation.
    _, height, width = spec.image_shape
    return 2 * DECODER_CHANNELS * height * width


#: ``architecture`` name -> ``f(spec, likelihood, prior)`` building the model.
ARCHITECTURES = {
    "mlp": _mlp,
    "conv": _conv,
    "hvae": _hvae,
    "convhvae": _convhvae,
    "pixelsnail": _pixelsnail,
}


def user_encoder(spec, default):
    """The user's encoder (a copy of a module, or ``factory(n_features, n_components)``),
    else ``default()``."""
    if spec.encoder is None:
        return default()
    encoder = _instantiate(spec.encoder, spec.n_features, spec.n_components)
    return encoder if hasattr(encoder, "mean") else MeanFromForward(encoder)


def user_decoder(spec, n_outputs, default):
    """The user's decoder (a copy of a module, or ``factory(n_components, n_outputs)``),
    else ``default()``."""
    if spec.decoder is None:
        return default()
    return _instantiate(spec.decoder, spec.n_components, n_outputs)


def _instantiate(module_or_factory, *args):
    if isinstance(module_or_factory, nn.Module):
        # A copy: fitting must not train the module the user passed as a parameter.
        return copy.deepcopy(module_or_factory)
    return module_or_factory(*args)


class MeanFromForward(nn.Module):
    """Gives an encoder that lacks ``mean(x)`` one, from the first output of ``forward``."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        return self.encoder(x)

    def mean(self, x):
        return self.encoder(x)[0]


def check_user_networks(model, x, spec):
    """Run the user's networks on two rows; a broken contract becomes a clear error."""
    n, d = len(x), spec.n_components
    encoded = _run(model.encoder, x)
    shapes = [tuple(getattr(t, "shape", ())) for t in encoded] if isinstance(encoded, tuple) else []
    means = _run(model.encoder.mean, x) if shapes == [(n, d), (n, d)] else None
    if means is None or tuple(means.shape) != (n, d):
        raise ValueError(
            f"The encoder must return (mean, log_var), each of shape (n, n_components) = "
            f"({n}, {d}); it returned {_describe(encoded)}."
        )
    params = _run(model.decode, means)
    n_outputs = model.likelihood.n_params * spec.n_features
    if tuple(params.shape) != (n, n_outputs):
        raise ValueError(
            f"The decoder must return (n, {n_outputs}) likelihood parameters "
            f"(likelihood={spec.likelihood!r} takes {model.likelihood.n_params} per "
            f"feature); it returned shape {tuple(params.shape)}."
        )


def _run(network, rows):
    try:
        with torch.no_grad():
            return network(rows)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(
            f"The networks failed on a batch of shape {tuple(rows.shape)}: {exc}"
        ) from exc


def _describe(output):
    if isinstance(output, torch.Tensor):
        return f"one tensor of shape {tuple(output.shape)}"
    if isinstance(output, tuple | list):
        return f"{len(output)} outputs of shapes {[tuple(getattr(t, 'shape', ())) for t in output]}"
    return repr(type(output))
