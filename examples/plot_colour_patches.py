"""
A convolutional Exemplar VAE on colour image patches
====================================================

The paper trains a convolutional Exemplar VAE on 64x64 CelebA faces with a
discretized logistic likelihood for 8-bit pixels. CelebA is a download away; this
example uses the two photographs that ship with scikit-learn, cut into patches,
so it runs anywhere. Set ``PATCH = 64`` for CelebA-sized inputs (about 16 times
the compute of the default).

Run with ``python examples/plot_colour_patches.py`` (about 4 minutes on 2 CPU cores).
It draws real patches, then samples around each of them (exemplar-conditioned
generation, the paper's Figure 3), then free samples.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_images
from sklearn.feature_extraction.image import extract_patches_2d

from skexvae import ExemplarVAE

PATCH = 16
images = load_sample_images().images  # two 427 x 640 RGB photographs, uint8
patches = np.concatenate(
    [
        extract_patches_2d(image, (PATCH, PATCH), max_patches=1150, random_state=0)
        for image in images
    ]
)
# Flat rows, channels first (torch's layout), scaled to [0, 1]: 256 levels per value.
X = patches.transpose(0, 3, 1, 2).reshape(len(patches), -1).astype(np.float32) / 255.0
X = X[np.random.default_rng(0).permutation(len(X))]  # both photographs in both splits
X_train, X_test = X[:2000], X[2000:]

vae = ExemplarVAE(
    n_components=32,
    architecture="conv",
    image_shape=(3, PATCH, PATCH),
    likelihood="logistic",
    n_neighbors=10,  # retrieval-augmented training, as the paper trains conv models
    max_iter=10,
    kl_warmup=3,
    batch_size=50,
    learning_rate_init=2e-3,  # a short run: larger steps than the paper's 5e-4
    n_importance_samples=100,
    random_state=0,
    verbose=1,
).fit(X_train)

bits_per_dim = -vae.score(X_test) / (X.shape[1] * np.log(2))
print(f"test log-likelihood: {bits_per_dim:.2f} bits per dimension (IWAE, 100 samples)")


def as_rgb(rows):
    return rows.reshape(-1, 3, PATCH, PATCH).transpose(0, 2, 3, 1)


# %%
# Real patches, samples around them, free samples
# ------------------------------------------------
# Each of the first eight rows is a test patch followed by seven generations around
# it (exemplar-conditioned, the paper's Figure 3); the last two rows are free samples.
references = X_test[:8]
around, _ = vae.sample_from_exemplars(references, n_samples=7, random_state=0, return_mean=True)
free, _ = vae.sample(16, random_state=0, return_mean=True)
rows = [np.vstack([references[i : i + 1], around[7 * i : 7 * (i + 1)]]) for i in range(8)]
tiles = as_rgb(np.vstack([*rows, free]))
fig, axes = plt.subplots(len(tiles) // 8, 8, figsize=(6, 7.5))
for ax, tile in zip(axes.flat, tiles, strict=True):
    ax.imshow(np.clip(tile, 0, 1))
    ax.set_axis_off()
plt.show()
