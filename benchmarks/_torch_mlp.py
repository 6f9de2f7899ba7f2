"""The paper's augmentation classifier: a ReLU MLP with label smoothing (benchmark only)."""

import numpy as np
import torch
from torch import nn

# The reference code's classifier (sajadn/Exemplar-VAE, utils/classify_data.py): SGD with
# momentum 0.9 from lr 0.1, decayed linearly to a hundredth of it over the epochs.
LEARNING_RATE = 0.1
MOMENTUM = 0.9
FINAL_LR_FRACTION = 0.01


class TorchMLP:
    """2 x 1024 ReLU MLP, label smoothing 0.1; optional fresh synthetic rows per epoch.

    ``fit(X, y, synthesize=f, lam=l)`` trains on the paper's loss
    ``lam * CE(x_i) + (1 - lam) * CE(x~_i)`` with ``x~ = f(x)`` drawn anew every epoch
    (section 5.4); without ``synthesize`` it trains on the real rows only. A real batch
    and its synthetic twins go through the network as one batch of twice the size.
    """

    def __init__(self, hidden=(1024, 1024), epochs=10, batch_size=100, seed=0):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.seed = seed

    def fit(self, X, y, synthesize=None, lam=1.0):
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.classes_ = np.unique(y)
        self.net_ = _mlp(X.shape[1], self.hidden, len(self.classes_))
        optimizer = torch.optim.SGD(self.net_.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: 1 - (1 - FINAL_LR_FRACTION) * epoch / self.epochs
        )
        loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
        X_real = torch.from_numpy(np.asarray(X, dtype=np.float32))
        target = torch.from_numpy(np.searchsorted(self.classes_, y))
        augment = synthesize is not None and lam < 1.0
        for _ in range(self.epochs):
            if augment:
                X_syn = torch.from_numpy(np.asarray(synthesize(X), dtype=np.float32))
            for rows in np.array_split(rng.permutation(len(X)), len(X) // self.batch_size):
                rows = torch.from_numpy(rows)
                if augment:
                    logits = self.net_(torch.cat([X_real[rows], X_syn[rows]]))
                    real, synthetic = logits.split(len(rows))
                    loss = lam * loss_fn(real, target[rows])
                    loss = loss + (1 - lam) * loss_fn(synthetic, target[rows])
                else:
                    loss = loss_fn(self.net_(X_real[rows]), target[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            schedule.step()
        return self

    @torch.no_grad()
    def predict(self, X):
        logits = self.net_(torch.from_numpy(np.asarray(X, dtype=np.float32)))
        return self.classes_[logits.argmax(1).numpy()]

    def error(self, X, y):
        return float(np.mean(self.predict(X) != y))


def _mlp(n_inputs, hidden, n_outputs):
    widths = [n_inputs, *hidden]
    layers = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-1], n_outputs))
