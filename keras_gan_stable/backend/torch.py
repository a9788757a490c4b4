"""PyTorch plumbing: `torch.autograd.grad`, with `create_graph` for penalties."""

import torch


def value_and_grad(fn, variables):
    with torch.enable_grad():
        loss, aux = fn()
        params = [v.value for v in variables]
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g
             for g, p in zip(grads, params)]
    return loss, aux, grads


def input_gradient(fn, x):
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = fn(x).sum()
        (grad,) = torch.autograd.grad(out, x, create_graph=True)
    return grad


def apply_gradients(optimizer, grads, variables):
    with torch.no_grad():
        optimizer.apply(grads, variables)


def num_replicas_in_sync():
    return 1


def all_replicas(flag):
    return flag


def replica_id_in_sync():
    return 0


class GANTrainer:
    """Keras' torch trainer calls `train_step(data)` eagerly."""

    def train_step(self, data):
        return self._gan_train_step(data)

    def test_step(self, data):
        with torch.no_grad():
            return self._gan_test_step(data)
