"""The two novelty scores of ExemplarNoveltyDetector on load_digits, a digit held out.

    python benchmarks/novelty_digits.py

Fits an ExemplarVAE (8-D latents, 64 hidden units) on 1 200 digits without the
held-out one, and prints the AUROC of ``score_samples`` (``density="likelihood"``)
and of ``latent_log_density`` (``density="latent"``) for the remaining digits
against the held-out digit's images, for two likelihoods and two training lengths.
A second table does the same with the detector's own default VAE
(``ExemplarNoveltyDetector()``: sized for the data, early stopping).
"""

import _common  # noqa: F401  (this checkout's skexvae, not an installed copy)
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from skexvae import ExemplarNoveltyDetector, ExemplarVAE

N_FIT = 1200


def aurocs(vae, inliers, outliers):
    """AUROC of the likelihood and of the latent density, inliers as positives."""
    labels = np.r_[np.ones(len(inliers)), np.zeros(len(outliers))]
    return [
        roc_auc_score(labels, np.r_[score(inliers), score(outliers)])
        for score in (vae.score_samples, vae.latent_log_density)
    ]


def main():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    print("| likelihood, epochs | held out | likelihood AUROC | latent AUROC | sigma |")
    print("|---|---|---|---|---|")
    for likelihood in ("gaussian", "bernoulli"):
        for epochs in (30, 100):
            vae = ExemplarVAE(
                n_components=8,
                hidden_layer_sizes=(64,),
                max_iter=epochs,
                n_importance_samples=20,
                likelihood=likelihood,
                random_state=0,
            )
            for digit in (0, 1):
                normal = X[y != digit]
                vae.fit(normal[:N_FIT])
                likelihood_auroc, latent_auroc = aurocs(vae, normal[N_FIT:], X[y == digit])
                print(
                    f"| {likelihood}, {epochs} | {digit} | {likelihood_auroc:.3f} "
                    f"| {latent_auroc:.3f} | {vae.sigma_:.3f} |"
                )
    print()
    print("| default VAE of the detector | held out | likelihood AUROC | latent AUROC | sigma |")
    print("|---|---|---|---|---|")
    for digit in (0, 1, 7):
        normal = X[y != digit]
        vae = ExemplarNoveltyDetector(random_state=0).fit(normal[:N_FIT]).vae_
        likelihood_auroc, latent_auroc = aurocs(vae, normal[N_FIT:], X[y == digit])
        print(
            f"| {vae.n_iter_} epochs (early stopping) | {digit} | {likelihood_auroc:.3f} "
            f"| {latent_auroc:.3f} | {vae.sigma_:.3f} |"
        )


if __name__ == "__main__":
    main()
