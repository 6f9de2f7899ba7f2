"""``plot_history``: a fitted model's training curves in one call."""

from sklearn.utils.validation import check_is_fitted

from ._progress import EPOCH_FIELDS


def plot_history(estimator, *, axes=None):
    """Draw the training and validation ELBO, and the prior's learned scalars, per epoch.

    Parameters
    ----------
    estimator : ExemplarVAE
        Fitted. An estimator that holds its VAE as ``vae_`` (``ExemplarAugmenter``,
        ``ExemplarSampler``, ``ExemplarNoveltyDetector``) is read through it.
    axes : sequence of matplotlib Axes, optional
        One for the ELBO and one per learned scalar of the prior (``sigma`` for the
        exemplar prior). By default a new figure gets them, side by side.

    Returns
    -------
    axes : list of matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skexvae import ExemplarVAE, plot_history
    >>> vae = ExemplarVAE(n_components=4, hidden_layer_sizes=(32,), max_iter=3,
    ...                   random_state=0).fit(load_digits().data[:200] / 16)
    >>> [ax.get_ylabel() for ax in plot_history(vae)]
    ['ELBO (nats)', 'sigma']
    """
    import matplotlib.pyplot as plt

    vae = getattr(estimator, "vae_", estimator)
    check_is_fitted(vae, "history_")
    history = vae.history_
    scalars = [name for name in history[0] if name not in EPOCH_FIELDS] if history else []
    if axes is None:
        _, axes = plt.subplots(1, 1 + len(scalars), figsize=(5 * (1 + len(scalars)), 3.5))
    axes = list(axes) if hasattr(axes, "__len__") else [axes]
    epochs = [row["epoch"] for row in history]
    axes[0].plot(epochs, [row["elbo"] for row in history], label="training")
    validation = [row["validation_elbo"] for row in history]
    if any(v is not None for v in validation):
        axes[0].plot(epochs, validation, label="validation")
    axes[0].set(xlabel="epoch", ylabel="ELBO (nats)")
    axes[0].legend()
    for ax, name in zip(axes[1:], scalars, strict=False):
        ax.plot(epochs, [row[name] for row in history])
        ax.set(xlabel="epoch", ylabel=name)
    return axes
