"""
Which training digits explain a test digit
==========================================

Run with ``python examples/plot_exemplar_attribution.py`` (about 30 s on 2 CPU cores).

The exemplar prior is a mixture with one component per training row, so
``ExemplarVAE.explain`` can say how much each training row accounts for an input: its
posterior responsibility ``p(n | x)``. The top figure shows test digits beside the
training digits that explain them most, with their weights. The bottom one turns the
question around: a training row whose closest exemplars (itself left out) carry other
labels is ambiguous, or mislabelled. Such rows are found without looking at the labels
during training.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skexvae import ExemplarVAE

X, y = load_digits(return_X_y=True)
X = X / 16.0  # the Bernoulli likelihood needs inputs in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

vae = ExemplarVAE(max_iter=60, random_state=0).fit(X_train)

# %%
# Test digits and the training digits that explain them
# -----------------------------------------------------
# ``weights`` are probabilities over all training rows; a row's five add up to the
# share of the mixture those five exemplars hold.
n_shown, n_exemplars = 6, 5
indices, weights = vae.explain(X_test[:n_shown], n_exemplars=n_exemplars)
same_label = (y_train[indices[:, 0]] == y_test[:n_shown]).mean()
print(f"top exemplar has the test digit's label for {same_label:.0%} of the shown digits")

fig, axes = plt.subplots(n_shown, n_exemplars + 1, figsize=(7, 8))
for row in range(n_shown):
    axes[row, 0].imshow(X_test[row].reshape(8, 8), cmap="gray_r")
    axes[row, 0].set_title(f"test: {y_test[row]}", fontsize=9)
    for col in range(n_exemplars):
        exemplar = indices[row, col]
        axes[row, col + 1].imshow(X_train[exemplar].reshape(8, 8), cmap="gray_r")
        axes[row, col + 1].set_title(f"{y_train[exemplar]}: {weights[row, col]:.2f}", fontsize=9)
for ax in axes.flat:
    ax.set_axis_off()
fig.suptitle("Test digit (left) and its most responsible training digits (label: weight)")
fig.tight_layout()

# %%
# Training digits that the others dispute
# ---------------------------------------
# Each training row explains itself first (its own exemplar sits at distance zero), so
# the next ten exemplars are its neighbours in the prior. The share of their weight on
# other labels ranks the rows from typical to odd.
n_explainers = 10
indices, weights = vae.explain(X_train, n_exemplars=n_explainers + 1)
others, other_weights = indices[:, 1:], weights[:, 1:]
share = other_weights / other_weights.sum(axis=1, keepdims=True)
against = (share * (y_train[others] != y_train[:, None])).sum(axis=1)
odd = np.argsort(-against)[:4]
print(f"{(against > 0.5).sum()} of {len(X_train)} training digits put most weight on other labels")

fig, axes = plt.subplots(len(odd), 6, figsize=(7, 5.5))
for row, train_row in enumerate(odd):
    axes[row, 0].imshow(X_train[train_row].reshape(8, 8), cmap="gray_r")
    axes[row, 0].set_title(f"row {train_row}: {y_train[train_row]}", fontsize=9)
    for col in range(5):
        axes[row, col + 1].imshow(X_train[others[train_row, col]].reshape(8, 8), cmap="gray_r")
        axes[row, col + 1].set_title(f"{y_train[others[train_row, col]]}", fontsize=9)
for ax in axes.flat:
    ax.set_axis_off()
fig.suptitle("Odd training digits (left, with their label) and the exemplars that explain them")
fig.tight_layout()
plt.show()
