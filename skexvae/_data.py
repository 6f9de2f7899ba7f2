"""The data pipeline of ``fit``: rows, the validation split, minibatches, random streams.

Rows are a tensor on the device or a :class:`~skexvae._rows.MappedRows` reader of a
memmap; nothing here knows models or priors.
"""

import hashlib

import numpy as np
import torch

from ._rows import MappedRows


def torch_generator(rng, device):
    """A torch generator on ``device`` seeded from a NumPy ``RandomState``."""
    seed = int(rng.randint(np.iinfo(np.int32).max))
    return torch.Generator(device=device).manual_seed(seed)


def resume_generator(generator, state):
    """Continue the stream of a saved ``state`` in ``generator``.

    A state saved on another kind of device (a GPU run resumed on a CPU, or back) has
    another layout; it then seeds ``generator``, so that the resumed run still
    depends on the checkpoint alone.
    """
    if state.numel() == generator.get_state().numel():
        return generator.set_state(state)
    digest = hashlib.sha256(state.cpu().numpy().tobytes()).digest()
    return generator.manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def rank_generator(generator, group):
    """The generator of this rank's own noise: ``generator`` itself in one process."""
    if group.world_size == 1:
        return generator
    seed = int(torch.randint(2**62, (1,), generator=generator, device=generator.device))
    return torch.Generator(device=generator.device).manual_seed(seed + group.rank)


def validation_split(n_samples, n_val, seed):
    """``(train_rows, validation_rows)``: a permutation seeded by ``seed``, cut at ``n_val``."""
    order = torch.from_numpy(np.random.RandomState(seed).permutation(n_samples))
    return order[n_val:], order[:n_val]


def select_rows(X, rows):
    """Rows of a tensor, or a view on rows of a :class:`MappedRows` (nothing read)."""
    if isinstance(rows, slice) and rows == slice(None):
        return X
    return X.subset(rows) if isinstance(X, MappedRows) else X[rows]


def minibatches(X, batch_size, binarize, generator, noise, group):
    """``epoch -> iterator`` of shuffled ``(x, row_index, weight)`` minibatches of ``X``.

    ``generator`` shuffles (the same order on every rank); each rank takes its share
    of every global batch, weighted so that the ranks' mean gradient is that of the
    global batch's mean loss. A last batch with fewer rows than ranks is skipped.
    With dynamic binarization every epoch draws fresh binary inputs (from ``noise``)
    from the grey values; the exemplars themselves stay grey.
    """

    def epoch_batches(epoch):
        order = torch.randperm(len(X), generator=generator, device=X.device)
        for batch in order.split(batch_size):
            if len(batch) < group.world_size:
                continue
            index = group.shard(batch)
            x = X[index]
            if binarize == "dynamic":
                x = torch.bernoulli(x, generator=noise)
            yield x, index, len(index) * group.world_size / len(batch)

    return epoch_batches


def output_dtype(X):
    """float32 in, float32 out; everything else comes back as float64."""
    return np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64
