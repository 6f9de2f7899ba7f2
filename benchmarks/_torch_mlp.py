"""The paper's augmentation classifier: a ReLU MLP with label smoothing (benchmark only)."""

import numpy as np
import torch
from torch import nn


class TorchMLP:
    """2 x 1024 ReLU MLP, Adam, label smoothing 0.1; optional fresh synthetic rows per epoch.

    ``fit(X, y, synthesize=f, lam=l)`` trains on the paper's loss
    ``lam * CE(x_i) + (1 - lam) * CE(x~_i)`` with ``x~ = f(x)`` drawn anew every epoch
    (section 5.4); without ``synthesize`` it trains on the real rows only.
    """

    def __init__(self, hidden=(1024, 1024), epochs=10, batch_size=100, lr=1e-3, seed=0):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed

    def fit(self, X, y, synthesize=None, lam=1.0):
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        widths = [X.shape[1], *self.hidden]
        layers = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.classes_ = np.unique(y)
        self.net_ = nn.Sequential(*layers, nn.Linear(widths[-1], len(self.classes_)))
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=self.lr)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
        X_real = torch.from_numpy(np.asarray(X, dtype=np.float32))
        target = torch.from_numpy(np.searchsorted(self.classes_, y))
        for _ in range(self.epochs):
            X_syn = None
            if synthesize is not None and lam < 1.0:
                X_syn = torch.from_numpy(np.asarray(synthesize(X), dtype=np.float32))
            for rows in np.array_split(rng.permutation(len(X)), len(X) // self.batch_size):
                rows = torch.from_numpy(rows)
                loss = lam * loss_fn(self.net_(X_real[rows]), target[rows]) if lam > 0 else 0.0
                if X_syn is not None:
                    loss = loss + (1 - lam) * loss_fn(self.net_(X_syn[rows]), target[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return self

    @torch.no_grad()
    def predict(self, X):
        logits = self.net_(torch.from_numpy(np.asarray(X, dtype=np.float32)))
        return self.classes_[logits.argmax(1).numpy()]

    def error(self, X, y):
        return float(np.mean(self.predict(X) != y))
