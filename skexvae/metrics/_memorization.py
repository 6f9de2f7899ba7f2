"""The memorization audit: are synthetic rows nearer their training rows than new ones?"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_array, check_random_state

from ._neighbours import nearest_distances


@dataclass(frozen=True)
class MemorizationResult:
    """What :func:`memorization` measured.

    Attributes
    ----------
    closer_to_train : float
        Share of synthetic rows nearer to a training row than to any held-out row
        (ties count one half). About 0.5: no sign of copying; 1.0: copies.
    distance_to_train, distance_to_holdout : ndarray of shape (n_synthetic,)
        Each synthetic row's distance to its nearest training and held-out row.
    median_distance_to_train, median_distance_to_holdout : float
    n_reference : int
        Rows in each reference set: the larger of the two sets is subsampled to the
        smaller's size, so that neither is nearer merely for being larger.
    """

    closer_to_train: float
    distance_to_train: np.ndarray
    distance_to_holdout: np.ndarray
    median_distance_to_train: float
    median_distance_to_holdout: float
    n_reference: int


def memorization(X_synthetic, X_train, X_holdout, *, metric="euclidean", random_state=None):
    """Distances of synthetic rows to the training set and to held-out real rows.

    A generator that copies its training rows puts its samples nearer to them than
    to new rows from the same distribution; one that generalises puts them as near
    to either. For each synthetic row this finds the nearest training row and the
    nearest held-out row in the same ``metric``. The two reference sets have equal
    size: the larger is subsampled (with ``random_state``) to the smaller's size.
    Searches are exact up to 20 000 reference rows and use pynndescent beyond.

    Parameters
    ----------
    X_synthetic : array-like of shape (n_synthetic, n_features)
    X_train : array-like of shape (n_train, n_features)
        The rows the generator was trained on.
    X_holdout : array-like of shape (n_holdout, n_features)
        Real rows it never saw, from the same distribution.
    metric : str, default="euclidean"
        Any metric of :class:`sklearn.neighbors.NearestNeighbors`.
    random_state : int, RandomState instance or None, default=None
        Chooses the subsample of the larger reference set.

    Returns
    -------
    MemorizationResult

    Examples
    --------
    >>> import numpy as np
    >>> from skexvae.metrics import memorization
    >>> rng = np.random.default_rng(0)
    >>> X_train, X_holdout = rng.normal(size=(500, 5)), rng.normal(size=(500, 5))
    >>> memorization(X_train[:100], X_train, X_holdout).closer_to_train  # copies
    1.0
    >>> fresh = rng.normal(size=(2000, 5))  # new draws from the same distribution
    >>> bool(abs(memorization(fresh, X_train, X_holdout).closer_to_train - 0.5) < 0.05)
    True
    """
    X_synthetic = check_array(X_synthetic, input_name="X_synthetic")
    X_train = check_array(X_train, input_name="X_train")
    X_holdout = check_array(X_holdout, input_name="X_holdout")
    widths = {X.shape[1] for X in (X_synthetic, X_train, X_holdout)}
    if len(widths) > 1:
        raise ValueError(
            f"X_synthetic, X_train and X_holdout must have the same number of features; "
            f"they have {X_synthetic.shape[1]}, {X_train.shape[1]} and {X_holdout.shape[1]}."
        )
    rng = check_random_state(random_state)
    n_reference = min(len(X_train), len(X_holdout))
    X_train, X_holdout = (
        X if len(X) == n_reference else X[rng.choice(len(X), n_reference, replace=False)]
        for X in (X_train, X_holdout)
    )
    seed = rng.randint(2**31)
    to_train = nearest_distances(X_synthetic, X_train, metric=metric, random_state=seed)[:, 0]
    to_holdout = nearest_distances(X_synthetic, X_holdout, metric=metric, random_state=seed)[:, 0]
    closer = np.mean(to_train < to_holdout) + 0.5 * np.mean(to_train == to_holdout)
    return MemorizationResult(
        closer_to_train=float(closer),
        distance_to_train=to_train,
        distance_to_holdout=to_holdout,
        median_distance_to_train=float(np.median(to_train)),
        median_distance_to_holdout=float(np.median(to_holdout)),
        n_reference=n_reference,
    )
