"""
Generative data augmentation on digits, with and without
========================================================

Run with ``python examples/plot_augmentation_digits.py`` (about 90 s on 2 CPU cores).
Prints test accuracies over five seeds and draws real training digits (top row)
above the synthetic rows that replaced them. On 1 000
digits the augmentation raises the error (see docs/augmentation.md, "When it helps"),
and the augmenter warns about it: this example shows how to check, not a gain.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from skexvae import ExemplarAugmenter

X, y = load_digits(return_X_y=True)
X = X / 16.0  # in [0, 1]: the default VAE then uses a Bernoulli likelihood
X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=1000, random_state=0)
warnings.simplefilter("ignore", ConvergenceWarning)

for name, augment in (("no augmentation", False), ("ExemplarAugmenter()", True)):
    scores = []
    for seed in range(5):
        classifier = MLPClassifier(max_iter=500, random_state=seed)
        pipe = (
            make_pipeline(ExemplarAugmenter(random_state=seed), classifier)
            if augment
            else classifier
        )
        scores.append(pipe.fit(X_train, y_train).score(X_test, y_test))
    print(f"{name:>22}: test accuracy {np.mean(scores):.3f} ± {np.std(scores):.3f}")

# %%
# What the classifier was trained on
# ----------------------------------
# Replaced training digits (top row) above the synthetic digits that took their place.
augmenter = ExemplarAugmenter(random_state=0, verbose=1)
X_mixed = augmenter.fit_transform(X_train)
rows = np.flatnonzero(augmenter.replaced_)[:12]
fig, axes = plt.subplots(2, len(rows), figsize=(9, 1.8))
for col, row in enumerate(rows):
    for ax, image in zip(axes[:, col], (X_train[row], X_mixed[row]), strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r")
        ax.set_axis_off()
plt.show()
