"""Nearest-neighbour distances in the input space: exact for small sets, an index beyond."""

import numpy as np
from sklearn.neighbors import NearestNeighbors

# Largest reference set searched exactly. Beyond it, pynndescent's approximate graph
# answers the queries.
EXACT_MAX_N = 20_000


def nearest_distances(X, reference, n_neighbors=1, metric="euclidean", random_state=None):
    """Distances from each row of ``X`` to its ``n_neighbors`` nearest rows of
    ``reference``, shape (len(X), n_neighbors), ascending."""
    if len(reference) <= EXACT_MAX_N:
        search = NearestNeighbors(n_neighbors=n_neighbors, metric=metric).fit(reference)
        return search.kneighbors(X)[0]
    from pynndescent import NNDescent

    index = NNDescent(reference, metric=metric, random_state=random_state)
    return index.query(X, k=n_neighbors)[1].astype(np.float64)


def radii(X, n_neighbors, metric="euclidean", random_state=None):
    """Distance from each row of ``X`` to its ``n_neighbors``-th nearest other row."""
    # The nearest row of X to itself is itself, at distance 0.
    return nearest_distances(X, X, n_neighbors + 1, metric, random_state)[:, -1]
