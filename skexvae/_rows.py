"""Rows of a memory-mapped array, read into tensors only when a step needs them.

A fit, a transform or a score over a ``numpy.memmap`` (``np.load(path, mmap_mode="r")``)
never holds the whole array: :class:`MappedRows` stands where a tensor of all rows
would, and reads the rows that are indexed, as float32 on the model's device.
"""

import mmap
import os

import numpy as np
import torch


class MappedRows:
    """The rows of a 2-D array on disk, indexed like a tensor of them.

    Supports what the training and scoring code asks of its data: ``len``,
    ``shape``, ``device``, ``rows[index]`` (a LongTensor or a slice, read into a
    float32 tensor) and ``split(size)`` (consecutive chunks, each read when reached).

    Parameters
    ----------
    array : ndarray or numpy.memmap of shape (N, n_features)
    device : torch.device
    rows : ndarray of int, optional
        Restricts the view to these rows of ``array`` (row ``i`` here is
        ``array[rows[i]]``), without reading them.
    """

    def __init__(self, array, device, rows=None):
        self.array = array
        self.device = torch.device(device)
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)

    def __len__(self):
        return len(self.array) if self.rows is None else len(self.rows)

    @property
    def shape(self):
        return (len(self), self.array.shape[1])

    def subset(self, rows):
        """A view on some of the rows, read only when indexed."""
        rows = _as_numpy_index(rows)
        return MappedRows(self.array, self.device, rows if self.rows is None else self.rows[rows])

    def __getitem__(self, index):
        if isinstance(index, slice):
            span = range(len(self))[index]
            if self.rows is None and span.step == 1:
                return self._tensor(self.array[span.start : span.stop])
            index = np.arange(span.start, span.stop, span.step)
        index = _as_numpy_index(index)
        if self.rows is not None:
            index = self.rows[index]
        return self._tensor(self.array[index])

    def split(self, size):
        for start in range(0, len(self), size):
            yield self[start : start + size]

    def _tensor(self, block):
        # A copy: this is the read from disk, and torch needs writable memory.
        return torch.from_numpy(np.array(block, dtype=np.float32, order="C")).to(self.device)


def _as_numpy_index(index):
    if isinstance(index, torch.Tensor):
        return index.cpu().numpy()
    return np.asarray(index)


def is_mapped(X):
    """True for arrays backed by a memory map (``np.memmap``, ``np.load(mmap_mode=...)``)."""
    return isinstance(X, np.memmap)


def file_reference(X):
    """``(path, dtype, shape, offset)`` that reopens ``X`` from its file, or None.

    Only a C-contiguous memmap over a file has one. The offset is recomputed from the
    data address: numpy copies a parent's ``offset`` unchanged into slices.
    """
    if not is_mapped(X) or X.filename is None or not X.flags.c_contiguous:
        return None
    buffer = X._mmap
    if buffer is None:
        return None
    mapping_start = X.offset - X.offset % mmap.ALLOCATIONGRANULARITY
    mapping_address = np.frombuffer(buffer, dtype=np.uint8).ctypes.data
    offset = mapping_start + X.ctypes.data - mapping_address
    return (os.fspath(X.filename), X.dtype.str, X.shape, int(offset))


def open_reference(reference):
    """Reopen, read-only, an array saved by :func:`file_reference`; None if its file is gone."""
    path, dtype, shape, offset = reference
    if not os.path.exists(path):
        return None
    return np.memmap(path, dtype=np.dtype(dtype), mode="r", shape=tuple(shape), offset=offset)
