"""One rank of ``scaleout.py ddp``: ``torchrun --nproc-per-node W _ddp_rank.py CONFIG``.

Fits ExemplarVAE(distributed=True) on MNIST training images and, on rank 0, writes the
fit's wall time and the ELBO of held-out images to ``CONFIG["out"]``: one latent draw
per image, independent across images, every training exemplar in the prior.
"""

import json
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
from _common import binarize_once, load_mnist_splits

from skexvae import ExemplarVAE
from skexvae._objective import encode_means, full_log_prior, iwae


@torch.no_grad()
def held_out_elbo(vae, X_train, X_test):
    """Per-image ELBO with independent draws (``score_samples`` shares its draws)."""
    model, device = vae.model_, vae.device_
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(len(X_test), 1, model.noise_dim, generator=generator).to(device)
    centres = None
    if model.uses_exemplars:
        centres = encode_means(model.encoder, torch.from_numpy(X_train).to(device))
    X_test = torch.from_numpy(X_test).to(device)
    return iwae(model, X_test, noise, full_log_prior(model, centres)).cpu().numpy()


def main(config):
    X, X_test = load_mnist_splits(config["data_home"], "train", "test")
    X = X[: config["n_train"]]
    X_test = binarize_once(X_test[: config["n_test"]])
    dist.init_process_group("nccl" if config["params"].get("device") == "cuda" else "gloo")
    vae = ExemplarVAE(distributed=True, **config["params"])
    vae.set_params(max_iter=1).fit(X[:200])  # warm-up: imports, allocator, thread pools
    vae.set_params(max_iter=config["params"]["max_iter"])
    dist.barrier()
    start = time.perf_counter()
    vae.fit(X)
    dist.barrier()
    seconds = time.perf_counter() - start
    if dist.get_rank() == 0:
        elbo = held_out_elbo(vae, X, X_test)
        result = {
            "world_size": dist.get_world_size(),
            "seconds": seconds,
            "loss_curve": vae.loss_curve_,
            "elbo": float(np.mean(elbo)),
            "elbo_se": float(np.std(elbo) / np.sqrt(len(elbo))),
        }
        with open(config["out"], "w") as f:
            json.dump(result, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
