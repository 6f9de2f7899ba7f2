"""``ModelSpec``: what builds a model, and what a pickle keeps to rebuild it."""

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """The architecture of a model, from which :func:`build_vae` constructs it.

    A fitted estimator keeps its spec to rebuild the module of a pickle before
    loading the weights, and to refuse a warm start whose parameters describe
    another network.

    Parameters
    ----------
    n_features, n_components : int
        Input and latent dimensionality.
    prior : str
        A key of ``skexvae.models.PRIORS``.
    likelihood : str
        A key of ``skexvae.models.LIKELIHOODS``.
    hidden_layer_sizes : tuple of int
    architecture : str
        A key of ``skexvae.models.ARCHITECTURES``.
    image_shape : tuple (channels, height, width) or None
        For the convolutional architectures.
    encoder, decoder : nn.Module, callable or None
        The user's own networks (modules, copied when built, or factories).
    sigma : "learn" or float
        The exemplar prior's kernel width.
    n_pseudo_inputs : int
        The VampPrior's components.
    """

    n_features: int
    n_components: int
    prior: str = "exemplar"
    likelihood: str = "bernoulli"
    hidden_layer_sizes: tuple = (300, 300)
    architecture: str = "mlp"
    image_shape: tuple | None = None
    encoder: object = None
    decoder: object = None
    sigma: str | float = "learn"
    n_pseudo_inputs: int = 500

    def __post_init__(self):
        object.__setattr__(self, "hidden_layer_sizes", tuple(self.hidden_layer_sizes))

    @classmethod
    def from_dict(cls, spec):
        """The spec of an older pickle, which kept a dict of these fields (some absent)."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in spec.items() if key in names})

    def changed_fields(self, other):
        """Names of the fields whose values differ from ``other``'s, sorted."""
        return sorted(
            field.name
            for field in dataclasses.fields(self)
            if getattr(self, field.name) != getattr(other, field.name)
        )
