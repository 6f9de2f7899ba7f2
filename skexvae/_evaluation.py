"""Evaluation of learned representations."""

import numpy as np
from sklearn.neighbors import NearestNeighbors


def knn_error(Z_train, y_train, Z_test, y_test, n_neighbors=1):
    """Error rate of a k-nearest-neighbour classifier on latent codes (paper Table 4).

    Parameters
    ----------
    Z_train, Z_test : ndarray of shape (n, n_components)
        Latent codes, e.g. ``ExemplarVAE.transform`` of the inputs.
    y_train, y_test : ndarray of shape (n,)
        Class labels; never seen by the VAE.
    n_neighbors : int, default=1

    Returns
    -------
    error : float
        Fraction of test points misclassified.
    """
    return knn_errors(Z_train, y_train, Z_test, y_test, (n_neighbors,))[n_neighbors]


def knn_errors(Z_train, y_train, Z_test, y_test, n_neighbors=(1, 3, 5, 9)):
    """:func:`knn_error` for several ``k`` from one neighbour search.

    Majority vote among the ``k`` nearest training codes, ties to the smallest label,
    as :class:`~sklearn.neighbors.KNeighborsClassifier` with uniform weights decides
    (tested against it).

    Returns
    -------
    errors : dict of int to float
    """
    classes, y_codes = np.unique(y_train, return_inverse=True)
    search = NearestNeighbors(n_neighbors=max(n_neighbors)).fit(Z_train)
    neighbours = y_codes[search.kneighbors(Z_test, return_distance=False)]
    errors = {}
    for k in n_neighbors:
        votes = np.zeros((len(Z_test), len(classes)), dtype=np.int64)
        np.add.at(votes, (np.arange(len(Z_test))[:, None], neighbours[:, :k]), 1)
        errors[k] = float((classes[votes.argmax(1)] != np.asarray(y_test)).mean())
    return errors


def active_units(Z, threshold=0.01):
    """Number of latent dimensions whose posterior mean varies across inputs.

    A unit is active when ``Var_x[E_q(z|x) z] > threshold`` (Burda et al. 2015), the
    measure of posterior collapse the paper reports (supplement D).

    Parameters
    ----------
    Z : ndarray of shape (n_samples, n_components)
        Posterior means, e.g. ``ExemplarVAE.transform`` of held-out inputs.
    """
    return int((np.var(np.asarray(Z, dtype=np.float64), axis=0) > threshold).sum())
