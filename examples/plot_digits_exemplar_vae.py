"""
Exemplar VAE on digits: latents, likelihoods, samples
=====================================================

Run with ``python examples/plot_digits_exemplar_vae.py`` (about 30 s on 2 CPU cores).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skexvae import ExemplarVAE

X, y = load_digits(return_X_y=True)
X = X / 16.0  # the Bernoulli likelihood needs inputs in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

# The VAE learns unsupervised; a classifier on its 40-D latents sees the labels.
pipe = make_pipeline(ExemplarVAE(max_iter=60, random_state=0, verbose=1), LogisticRegression())
pipe.fit(X_train, y_train)
print(f"logistic regression on latents: test accuracy {pipe.score(X_test, y_test):.3f}")

vae = pipe[0]
rng = np.random.default_rng(0)
X_test_binary = (rng.random(X_test.shape) < X_test).astype(float)
print(
    f"test log-likelihood (IWAE, {vae.n_importance_samples} samples): "
    f"{vae.score(X_test_binary):.2f} nats per image"
)
print(f"learned prior kernel width sigma_ = {vae.sigma_:.3f}")

# %%
# Generate around a test image, as in the paper's Figure 3
# ---------------------------------------------------------
# ``sample_from_exemplars`` encodes the reference, draws latents from the prior's
# kernel around its code, and decodes them.
X_new, _ = vae.sample_from_exemplars(X_test[:1], n_samples=5, random_state=0, return_mean=True)
fig, axes = plt.subplots(1, 6, figsize=(7, 1.6))
for ax, image, label in zip(axes, [X_test[0], *X_new], ["reference"] + [""] * 5, strict=True):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(label, fontsize=9)
    ax.set_axis_off()
plt.show()
