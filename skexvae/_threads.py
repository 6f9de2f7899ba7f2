"""Torch's thread count, kept within the CPUs this process may use."""

import contextlib

import joblib
import torch


@contextlib.contextmanager
def within_cpu_quota():
    """Run torch on at most as many threads as this process has CPUs.

    torch starts one OpenMP thread per core of its affinity mask; in a container with
    a CPU quota (``docker --cpus``, a Kubernetes limit) that can be more than the
    process may use, and OpenMP threads that outnumber their CPUs spin against each
    other (two fits sharing these 2 cores ran 2.6x slower with spinning threads than
    with passive ones). ``joblib.cpu_count`` counts the quota and the affinity mask.
    The count is restored on exit; a smaller count set by the user, or by joblib in
    its workers, is kept.
    """
    n_threads, allowed = torch.get_num_threads(), joblib.cpu_count()
    if n_threads <= allowed:
        yield
        return
    torch.set_num_threads(allowed)
    try:
        yield
    finally:
        torch.set_num_threads(n_threads)
