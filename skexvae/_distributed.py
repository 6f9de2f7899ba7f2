"""Data-parallel training over a ``torch.distributed`` process group (DDP).

Every rank holds the same model and the same exemplars. A global minibatch is drawn
from a stream all ranks share and split across them; the gradients are averaged by
``DistributedDataParallel``. What the exemplar prior needs from the other ranks goes
through a second process group, so that it never interleaves with DDP's gradient
buckets:

- exact prior: each rank encodes ``1/W`` of the step's M-subset, with gradient, and
  the parts are all-gathered (their gradients are summed back in the backward pass);
- RAT: each rank writes the cache rows it encoded this step; the ``(row, mean)``
  pairs of all ranks are all-gathered and applied in rank order at the end of the
  step, so the caches stay identical; full refreshes encode ``1/W`` of the
  exemplars per rank and all-gather them, and every rank rebuilds its index from the
  identical cache with the same seed.

:data:`SINGLE_PROCESS` stands in when training runs in one process: its collectives
do nothing, so the training code has one path.
"""

import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .models._numerics import ROW_BLOCK, padded_rows


class SingleProcess:
    """The trivial group of one process: no sharding, no communication."""

    rank = 0
    world_size = 1

    def shard(self, index):
        return index

    def wrap(self, module):
        return module

    def agree_on_seed(self, seed):
        return seed

    def encode_rows(self, encode, X, rows):
        return encode(X[rows])

    def encode_all(self, encode, X, rows_per_chunk):
        return _encode_span(encode, X, 0, len(X), rows_per_chunk)

    def exchange_rows(self, rows, values):
        return rows, values

    def mean(self, total, count):
        return float(total) / count

    def average(self, tensor):
        return tensor

    def close(self):
        pass


SINGLE_PROCESS = SingleProcess()


class ProcessGroup(SingleProcess):
    """This process's place in data-parallel training, and the collectives it uses.

    Parameters
    ----------
    device : torch.device
        Where this rank trains; collectives run on its tensors.
    """

    def __init__(self, device):
        self.device = device
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        # Prior and cache traffic has its own communicator; see the module docstring.
        self.group = dist.new_group(backend=dist.get_backend())

    def shard(self, index):
        """This rank's part of a global minibatch (the parts differ by at most one row)."""
        return index.tensor_split(self.world_size)[self.rank]

    def wrap(self, module):
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=device_ids)

    def agree_on_seed(self, seed):
        """Rank 0's seed, on every rank."""
        value = torch.tensor([seed], dtype=torch.long, device=self.device)
        dist.broadcast(value, src=0, group=self.group)
        return int(value.item())

    def encode_rows(self, encode, X, rows):
        """``encode(X[rows])`` with gradient, each rank encoding ``1/W`` of the rows."""
        part = rows.tensor_split(self.world_size)[self.rank]
        encoded = encode(X[part])
        return self._all_gather_uneven(encoded, len(rows), differentiable=True)

    @torch.no_grad()
    def encode_all(self, encode, X, rows_per_chunk):
        """``encode`` of every row of ``X``, each rank encoding a contiguous ``1/W``."""
        lengths = _part_lengths(len(X), self.world_size)
        start = sum(lengths[: self.rank])
        encoded = _encode_span(encode, X, start, start + lengths[self.rank], rows_per_chunk)
        return self._all_gather_uneven(encoded, len(X), differentiable=False)

    @torch.no_grad()
    def exchange_rows(self, rows, values):
        """All ranks' ``(rows, values)`` pairs, concatenated in rank order."""
        counts = self._all_gather_equal(torch.tensor([len(rows)], device=self.device))
        width = int(counts.max())
        padded_rows = torch.full((width,), -1, dtype=torch.long, device=self.device)
        padded_rows[: len(rows)] = rows
        padded_values = values.new_zeros((width, *values.shape[1:]))
        padded_values[: len(values)] = values
        all_rows = self._all_gather_equal(padded_rows)
        keep = all_rows >= 0
        return all_rows[keep], self._all_gather_equal(padded_values)[keep]

    @torch.no_grad()
    def mean(self, total, count):
        """Sum of ``total`` over ranks divided by the sum of ``count``."""
        both = torch.tensor([float(total), float(count)], dtype=torch.float64, device=self.device)
        dist.all_reduce(both, group=self.group)
        return float(both[0] / both[1])

    @torch.no_grad()
    def average(self, tensor):
        """The mean of ``tensor`` over ranks, on every rank."""
        tensor = tensor.clone()
        dist.all_reduce(tensor, group=self.group)
        return tensor / self.world_size

    def close(self):
        dist.destroy_process_group(self.group)

    def _all_gather_equal(self, tensor):
        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.contiguous(), group=self.group)
        return torch.cat(parts)

    def _all_gather_uneven(self, tensor, total, differentiable):
        # Parts are split as tensor_split does, so every rank knows every part's length.
        lengths = _part_lengths(total, self.world_size)
        padded = tensor.new_zeros((lengths[0], *tensor.shape[1:]))
        padded = torch.cat([tensor, padded[: lengths[0] - len(tensor)]])
        gather = _GatherWithGradient.apply if differentiable else _gather
        gathered = gather(padded, self.group, self.world_size)
        parts = gathered.split(lengths[0])
        return torch.cat([part[:length] for part, length in zip(parts, lengths, strict=True)])


def _part_lengths(total, world_size):
    """Lengths of ``tensor_split``'s parts of ``total`` rows: the first ones one longer."""
    size, longer = divmod(total, world_size)
    return [size + 1] * longer + [size] * (world_size - longer)


def _encode_span(encode, X, start, stop, rows_per_chunk):
    """``encode(X[start:stop])``, read and encoded a chunk at a time (X may be MappedRows).

    Every chunk is padded to the same number of rows, so that a row's code does not
    depend on the rows encoded with it (:data:`~skexvae.models._numerics.ROW_BLOCK`).
    """
    block = min(rows_per_chunk, ROW_BLOCK)
    if stop <= start:
        return encode(X[start:start])
    codes = []
    for first in range(start, stop, block):
        x = X[first : min(first + block, stop)]
        codes.append(encode(padded_rows(x, block))[: len(x)])
    return torch.cat(codes)


def _gather(tensor, group, world_size):
    parts = [torch.empty_like(tensor) for _ in range(world_size)]
    dist.all_gather(parts, tensor.contiguous(), group=group)
    return torch.cat(parts)


class _GatherWithGradient(torch.autograd.Function):
    """All-gather whose backward returns each rank the summed gradient of its part.

    Rank r's loss depends on every rank's part; the part's gradient is the sum of all
    ranks' gradients with respect to it, which DistributedDataParallel then averages
    with the rest of the gradient: the result is the gradient of the mean loss.
    """

    @staticmethod
    def forward(ctx, tensor, group, world_size):
        ctx.group, ctx.rank, ctx.length = group, dist.get_rank(group), len(tensor)
        return _gather(tensor, group, world_size)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        start = ctx.rank * ctx.length
        return grad[start : start + ctx.length], None, None


def join_process_group(device):
    """The :class:`ProcessGroup` of this process, initialising ``torch.distributed``.

    A group already initialised (by the user's script) is used as it is; otherwise
    the environment that ``torchrun`` sets up is read, with ``nccl`` for CUDA
    devices and ``gloo`` otherwise.
    """
    if not dist.is_available():
        raise ValueError("distributed=True needs a PyTorch build with torch.distributed.")
    if not dist.is_initialized():
        missing = [
            v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ
        ]
        if missing:
            raise ValueError(
                "distributed=True trains one rank per process, but this process was not "
                f"launched by torchrun ({', '.join(missing)} not set) and no "
                "torch.distributed process group is initialised. Launch the script with "
                "`torchrun --nproc-per-node N script.py`, or call "
                "torch.distributed.init_process_group first."
            )
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    elif device.type == "cuda" and dist.get_backend() == "gloo":
        raise ValueError(
            "distributed=True on a CUDA device needs the nccl backend: the process group "
            "was initialised with gloo, which cannot all-gather CUDA tensors. Initialise "
            "it with backend='nccl', or train on device='cpu'."
        )
    return ProcessGroup(device)


def rank_device(device):
    """The device of this rank: ``cuda:LOCAL_RANK`` where one GPU serves each rank."""
    if device.type != "cuda" or device.index is not None:
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if local_rank >= torch.cuda.device_count():
        raise ValueError(
            f"distributed=True gives each rank its own GPU, but local rank {local_rank} "
            f"has none: this machine has {torch.cuda.device_count()}. Start at most that "
            "many processes per node, or train on device='cpu' (gloo)."
        )
    return torch.device("cuda", local_rank)
