"""Precision, recall, density and coverage of synthetic rows (Naeem et al., 2020)."""

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import pairwise_distances_chunked
from sklearn.utils import check_array

from ._neighbours import radii


@dataclass(frozen=True)
class FidelityResult:
    """What :func:`fidelity` measured, each in [0, 1] except ``density`` (about 1 when
    the synthetic rows follow the real distribution, above 1 where they crowd the
    densest real regions).

    Attributes
    ----------
    precision : float
        Share of synthetic rows inside the k-NN ball of some real row.
    recall : float
        Share of real rows inside the k-NN ball of some synthetic row.
    density : float
        Mean number of real k-NN balls holding a synthetic row, over k.
    coverage : float
        Share of real rows whose k-NN ball holds a synthetic row.
    """

    precision: float
    recall: float
    density: float
    coverage: float


def fidelity(X_real, X_synthetic, *, n_neighbors=5, features=None, metric="euclidean"):
    """Fidelity and diversity of synthetic rows against real ones (Naeem et al., 2020).

    Each real row gets a ball reaching its ``n_neighbors``-th nearest other real row.
    Precision and density measure how much of the synthetic data falls inside those
    balls (fidelity); coverage and recall how much of the real data the synthetic
    rows reach (diversity). A memorization audit alone rewards blurry samples that
    sit far from every real row; these metrics do not.

    Parameters
    ----------
    X_real : array-like of shape (n_real, n_features)
    X_synthetic : array-like of shape (n_synthetic, n_features)
    n_neighbors : int, default=5
        The k of the balls (the paper's default).
    features : callable or None, default=None
        Maps rows to the feature space the balls live in (a fitted transformer's
        ``transform``, an embedding network); None is the input space.
    metric : str, default="euclidean"

    Returns
    -------
    FidelityResult

    Examples
    --------
    >>> import numpy as np
    >>> from skexvae.metrics import fidelity
    >>> rng = np.random.default_rng(0)
    >>> real = rng.normal(size=(1000, 2))
    >>> same = fidelity(real, rng.normal(size=(1000, 2)))
    >>> bool(same.precision > 0.9 and same.coverage > 0.9)
    True
    >>> collapsed = fidelity(real, np.zeros((1000, 2)))  # one point: precise, not diverse
    >>> collapsed.precision, bool(collapsed.coverage < 0.05)
    (1.0, True)
    """
    if features is not None:
        X_real, X_synthetic = features(X_real), features(X_synthetic)
    X_real = check_array(X_real, input_name="X_real")
    X_synthetic = check_array(X_synthetic, input_name="X_synthetic")
    if X_real.shape[1] != X_synthetic.shape[1]:
        raise ValueError(
            f"X_real has {X_real.shape[1]} features and X_synthetic {X_synthetic.shape[1]}."
        )
    for name, X in (("X_real", X_real), ("X_synthetic", X_synthetic)):
        if len(X) <= n_neighbors:
            raise ValueError(
                f"{name} has {len(X)} rows; n_neighbors={n_neighbors} needs more than that."
            )
    real_radii = radii(X_real, n_neighbors, metric)
    synthetic_radii = radii(X_synthetic, n_neighbors, metric)
    # One pass over the (synthetic, real) distances, in row chunks that fit memory.
    inside_real = np.zeros(len(X_synthetic), dtype=np.int64)  # real balls per fake row
    covered = np.zeros(len(X_real), dtype=bool)  # real rows with a fake row in the ball
    recalled = np.zeros(len(X_real), dtype=bool)  # real rows inside some fake ball
    start = 0
    for chunk in pairwise_distances_chunked(X_synthetic, X_real, metric=metric):
        rows = slice(start, start + len(chunk))
        in_real_balls = chunk <= real_radii
        inside_real[rows] = in_real_balls.sum(1)
        covered |= in_real_balls.any(0)
        recalled |= (chunk <= synthetic_radii[rows, None]).any(0)
        start += len(chunk)
    return FidelityResult(
        precision=float(np.mean(inside_real > 0)),
        recall=float(np.mean(recalled)),
        density=float(inside_real.sum() / (n_neighbors * len(X_synthetic))),
        coverage=float(np.mean(covered)),
    )
