"""Plain-PyTorch re-implementations of chain-shaped Keras functional models.

`TorchChain(keras_model)` reads a Keras model made of a single chain of
layers (the DCGAN builders, small test nets) and evaluates the same function
with `torch.nn.functional` on NCHW tensors. It shares nothing with Keras but
the weight values: parameters are copied into torch leaf tensors that keep the
Keras layouts (Dense `(in, out)`, Conv2D `(kh, kw, in, out)`,
Conv2DTranspose `(kh, kw, out, in)`), and every forward op converts them to
torch's layouts (`(out, in, kh, kw)`, `(in, out, kh, kw)`), so torch's
gradients come back in Keras' layout and compare element by element.

Semantics reproduced from Keras (and checked by the parity tests):
- `padding="same"` is TensorFlow's SAME (the extra pixel of an odd total pad
  goes after); a transposed convolution crops its full output the same way.
- BatchNormalization normalises with the biased batch variance and updates
  `moving = momentum * moving + (1 - momentum) * batch` with that same biased
  variance (`torch.nn.BatchNorm2d` would use the unbiased one for its running
  variance, so it is written out here).
- Flatten/Reshape act on NHWC order.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

SUPPORTED = ("InputLayer", "Dense", "Conv2D", "Conv2DTranspose",
             "BatchNormalization", "LayerNormalization", "ReLU", "LeakyReLU",
             "Activation", "Flatten", "Reshape")


def to_numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x))


def _same_pad(size, kernel, stride):
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class TorchChain:
    """A Keras chain model re-evaluated in plain PyTorch (float32, CPU).

    Args:
        keras_model: a functional `keras.Model` whose layers form one chain.

    Attributes:
        params: dict `variable.path -> torch leaf tensor` (Keras layout) of
            the trainable weights, in the order of
            `keras_model.trainable_variables`.
        state: dict `variable.path -> torch tensor` of non-trainable weights
            (BatchNorm moving statistics), updated by training-mode calls.
    """

    def __init__(self, keras_model):
        self.name = keras_model.name
        self.params = {}
        self.state = {}
        self.ops = []
        prev = None
        for layer in keras_model.layers:
            kind = type(layer).__name__
            if kind not in SUPPORTED:
                raise NotImplementedError(f"TorchChain: no {kind} ({layer.name})")
            if prev is not None and layer.input is not prev.output:
                raise NotImplementedError(
                    f"TorchChain needs a chain of layers; {layer.name} does not "
                    f"follow {prev.name}")
            prev = layer
            if kind == "InputLayer":
                continue
            weights = {}
            for v in layer.weights:
                t = torch.tensor(to_numpy(v), dtype=torch.float32)
                short = v.path.split("/")[-1]
                if v.trainable:
                    t.requires_grad_(True)
                    self.params[v.path] = t
                else:
                    self.state[v.path] = t
                weights[short] = v.path
            self.ops.append((kind, layer.get_config(), weights))
        order = [v.path for v in keras_model.trainable_variables]
        assert sorted(order) == sorted(self.params), (order, list(self.params))
        self.params = {p: self.params[p] for p in order}

    def parameters(self):
        return list(self.params.values())

    def _w(self, weights, name):
        path = weights.get(name)
        if path is None:
            return None
        return self.params.get(path, self.state.get(path))

    def __call__(self, x, training=True):
        """`x`: NHWC (images) or `[N, F]` tensor; returns NHWC / `[N, F]`."""
        if x.dim() == 4:
            x = x.permute(0, 3, 1, 2)  # [N, C, H, W]
        for kind, cfg, weights in self.ops:
            x = getattr(self, "_" + kind)(x, cfg, weights, training)
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        return x

    # -- layers ----------------------------------------------------------
    def _Dense(self, x, cfg, w, training):
        y = x @ self._w(w, "kernel")
        if cfg["use_bias"]:
            y = y + self._w(w, "bias")
        return self._activation(y, cfg.get("activation"))

    def _Conv2D(self, x, cfg, w, training):
        kh, kw = cfg["kernel_size"]
        sh, sw = cfg["strides"]
        if cfg["padding"] == "same":
            top, bottom = _same_pad(x.shape[2], kh, sh)
            left, right = _same_pad(x.shape[3], kw, sw)
            x = F.pad(x, (left, right, top, bottom))
        kernel = self._w(w, "kernel").permute(3, 2, 0, 1)  # [out, in, kh, kw]
        bias = self._w(w, "bias") if cfg["use_bias"] else None
        y = F.conv2d(x, kernel, bias, stride=(sh, sw))
        return self._activation(y, cfg.get("activation"))

    def _Conv2DTranspose(self, x, cfg, w, training):
        kh, kw = cfg["kernel_size"]
        sh, sw = cfg["strides"]
        kernel = self._w(w, "kernel").permute(3, 2, 0, 1)  # [in, out, kh, kw]
        bias = self._w(w, "bias") if cfg["use_bias"] else None
        h, wd = x.shape[2], x.shape[3]
        y = F.conv_transpose2d(x, kernel, bias, stride=(sh, sw))
        if cfg["padding"] == "same":
            # The adjoint of a SAME convolution from [h*s] to [h]: crop the
            # full output by that convolution's padding.
            top, _ = _same_pad(h * sh, kh, sh)
            left, _ = _same_pad(wd * sw, kw, sw)
            y = y[:, :, top:top + h * sh, left:left + wd * sw]
        return self._activation(y, cfg.get("activation"))

    def _BatchNormalization(self, x, cfg, w, training):
        assert cfg["axis"] in (-1, 3, 1), cfg["axis"]
        dims = [0] if x.dim() == 2 else [0, 2, 3]
        shape = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
        mm_path, mv_path = w["moving_mean"], w["moving_variance"]
        if training:
            mean = x.mean(dim=dims)
            var = ((x - mean.reshape(shape)) ** 2).mean(dim=dims)  # biased
            m = cfg["momentum"]
            with torch.no_grad():
                self.state[mm_path] = self.state[mm_path] * m + mean * (1 - m)
                self.state[mv_path] = self.state[mv_path] * m + var * (1 - m)
        else:
            mean, var = self.state[mm_path], self.state[mv_path]
        y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape)
                                                  + cfg["epsilon"])
        if cfg["scale"]:
            y = y * self._w(w, "gamma").reshape(shape)
        if cfg["center"]:
            y = y + self._w(w, "beta").reshape(shape)
        return y

    def _LayerNormalization(self, x, cfg, w, training):
        axes = cfg["axis"] if isinstance(cfg["axis"], (list, tuple)) else [cfg["axis"]]
        nhwc = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
        rank = nhwc.dim()
        axes = sorted(a % rank for a in axes)
        mean = nhwc.mean(dim=axes, keepdim=True)
        var = ((nhwc - mean) ** 2).mean(dim=axes, keepdim=True)
        y = (nhwc - mean) / torch.sqrt(var + cfg["epsilon"])
        pshape = [nhwc.shape[a] if a in axes else 1 for a in range(rank)]
        if cfg["scale"]:
            y = y * self._w(w, "gamma").reshape(pshape)
        if cfg["center"]:
            y = y + self._w(w, "beta").reshape(pshape)
        return y.permute(0, 3, 1, 2) if x.dim() == 4 else y

    def _ReLU(self, x, cfg, w, training):
        assert not cfg.get("max_value") and not cfg.get("threshold")
        return torch.relu(x) if not cfg.get("negative_slope") else F.leaky_relu(
            x, cfg["negative_slope"])

    def _LeakyReLU(self, x, cfg, w, training):
        return F.leaky_relu(x, cfg["negative_slope"])

    def _Activation(self, x, cfg, w, training):
        return self._activation(x, cfg["activation"])

    def _activation(self, x, name):
        if name in (None, "linear"):
            return x
        return {"tanh": torch.tanh, "relu": torch.relu,
                "sigmoid": torch.sigmoid}[name](x)

    def _Flatten(self, x, cfg, w, training):
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)  # flatten in NHWC order, like Keras
        return x.reshape(x.shape[0], -1)

    def _Reshape(self, x, cfg, w, training):
        shape = tuple(cfg["target_shape"])
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        y = x.reshape((x.shape[0],) + shape)
        return y.permute(0, 3, 1, 2) if y.dim() == 4 else y
