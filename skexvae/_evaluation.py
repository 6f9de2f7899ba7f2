"""Evaluation of learned representations."""

from sklearn.neighbors import KNeighborsClassifier


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
    classifier = KNeighborsClassifier(n_neighbors=n_neighbors).fit(Z_train, y_train)
    return float((classifier.predict(Z_test) != y_test).mean())
