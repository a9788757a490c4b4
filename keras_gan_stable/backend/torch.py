"""PyTorch plumbing: `torch.autograd.grad`, with `create_graph` for penalties."""

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from keras_gan_stable.backend._global_batch import (  # noqa: F401
    all_replicas, assert_divisible, num_replicas_in_sync, replica_id_in_sync)


def value_and_grad(fn, variables):
    with torch.enable_grad():
        loss, aux = fn()
        params = [v.value for v in variables]
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g
             for g, p in zip(grads, params)]
    return loss, aux, grads


def input_gradient(fn, x):
    # PyTorch's fused attention kernels (flash, memory-efficient, cuDNN)
    # have no double backward; a gradient penalty differentiates this
    # gradient again, so the forward pass here takes the math kernel.
    with torch.enable_grad(), sdpa_kernel([SDPBackend.MATH]):
        x = x.detach().requires_grad_(True)
        out = fn(x).sum()
        (grad,) = torch.autograd.grad(out, x, create_graph=True)
    return grad


def apply_gradients(optimizer, grads, variables):
    with torch.no_grad():
        optimizer.apply(grads, variables)


class GANTrainer:
    """Keras' torch trainer calls `train_step(data)` eagerly."""

    def train_step(self, data):
        return self._gan_train_step(data)

    def test_step(self, data):
        with torch.no_grad():
            return self._gan_test_step(data)
