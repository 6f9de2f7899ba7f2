"""The two novelty scores of ExemplarNoveltyDetector on load_digits, a digit held out.

    python benchmarks/novelty_digits.py

Fits an ExemplarVAE (8-D latents, 64 hidden units) on 1 200 digits without the
held-out one, and prints the AUROC of ``score_samples`` (``score="likelihood"``) and
of ``latent_log_density`` (``score="latent"``) for the remaining digits against the
held-out digit's images, for two likelihoods and two training lengths.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from skexvae import ExemplarVAE


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
                vae.fit(normal[:1200])
                inliers, outliers = normal[1200:], X[y == digit]
                labels = np.r_[np.ones(len(inliers)), np.zeros(len(outliers))]
                aurocs = [
                    roc_auc_score(labels, np.r_[score(inliers), score(outliers)])
                    for score in (vae.score_samples, vae.latent_log_density)
                ]
                print(
                    f"| {likelihood}, {epochs} | {digit} | {aurocs[0]:.3f} | {aurocs[1]:.3f} "
                    f"| {vae.sigma_:.3f} |"
                )


if __name__ == "__main__":
    main()
