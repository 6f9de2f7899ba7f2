"""Pictures of a run: learning curves, samples, exemplar-conditioned samples, embeddings.

Image grids need nothing beyond NumPy; the curves and the embedding use matplotlib
when it is installed (``pip install "skexvae[bench]"``) and are skipped otherwise.
"""

import numpy as np

from .._files import atomic_open
from .._plotting import image_grid, write_png

SHAPE = (28, 28)


def sample_grid(vae, path, n=100, random_state=0):
    """A 10-column grid of decoder means of samples from the prior."""
    X, _ = vae.sample(n, random_state=random_state, return_mean=True)
    write_png(path, image_grid(X.reshape(-1, *SHAPE), n_cols=10))


def exemplar_grid(vae, exemplars, path, n_samples=9, random_state=0):
    """One row per exemplar: the exemplar, then samples generated around it (paper Fig. 3)."""
    X, source = vae.sample_from_exemplars(
        exemplars, n_samples=n_samples, random_state=random_state, return_mean=True
    )
    rows = [np.vstack([exemplars[i : i + 1], X[source == i]]) for i in range(len(exemplars))]
    write_png(path, image_grid(np.vstack(rows).reshape(-1, *SHAPE), n_cols=n_samples + 1))


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def learning_curves(logs, path):
    """Training loss and validation ELBO per epoch, one line per run. False if skipped."""
    plt = _pyplot()
    if plt is None:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, log in logs.items():
        left.plot(np.arange(1, len(log.train_loss) + 1), log.train_loss, label=name)
        right.plot(log.validation_epochs, log.validation_elbo, marker=".", label=name)
    left.set(xlabel="epoch", ylabel="training loss (nats, KL-annealed)", title="Training")
    right.set(xlabel="epoch", ylabel="validation ELBO (nats)", title="Validation")
    right.legend()
    _save(fig, path, plt)
    return True


def embeddings(latents, labels, path, random_state=0):
    """t-SNE of test latents coloured by digit, one panel per run (paper Fig. 5)."""
    plt = _pyplot()
    if plt is None:
        return False
    from sklearn.manifold import TSNE

    fig, axes = plt.subplots(1, len(latents), figsize=(4.5 * len(latents), 4.5), squeeze=False)
    for ax, (name, Z) in zip(axes[0], latents.items(), strict=True):
        perplexity = min(30.0, (len(Z) - 1) / 3)
        Y = TSNE(perplexity=perplexity, init="pca", random_state=random_state).fit_transform(Z)
        points = ax.scatter(Y[:, 0], Y[:, 1], c=labels, cmap="tab10", s=3)
        ax.set(title=name, xticks=[], yticks=[])
    fig.colorbar(points, ax=axes[0].tolist(), ticks=range(10), label="digit")
    _save(fig, path, plt)
    return True


def _save(fig, path, plt):
    with atomic_open(path) as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
