"""One rank of the data-parallel tests: ``torchrun --nproc-per-node 2 ddp_worker.py OUT ARGS``.

Fits a small ExemplarVAE with ``distributed=True`` and saves what the test compares
across ranks: the RAT latent cache, the weights and the loss curve.
"""

import json
import sys

import numpy as np
import torch
import torch.distributed as dist

from skexvae import ExemplarVAE


def main(out, params):
    X = np.random.default_rng(0).uniform(size=(240, 16)).astype(np.float32)
    vae = ExemplarVAE(distributed=True, **params).fit(X)
    rank = dist.get_rank()
    torch.save(
        {
            "cache": vae.index_.cache if vae.index_ is not None else None,
            "state": vae.model_.state_dict(),
            "loss_curve": vae.loss_curve_,
            "validation_scores": vae.validation_scores_,
            "world_size": dist.get_world_size(),
        },
        f"{out}/rank{rank}.pt",
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
