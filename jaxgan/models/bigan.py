"""BiGAN's encoder and joint discriminator for 28x28 / 32x32 images (Donahue et al. 2017, arXiv:1605.09782).

Two variants of each, ``kind="conv"`` and ``kind="mlp"``:

* :class:`Encoder` ``x [B, H, W, C] -> z [B, latent_dim]``. ``conv``: Conv f (k4 s2) -> LReLU -> Conv 2f (k4 s2)
  -> BN -> LReLU -> flatten -> Dense latent_dim (linear). ``mlp``: the BiGAN code's MNIST encoder shape,
  flatten -> Dense 1024 -> BN -> LReLU -> Dense 1024 -> BN -> LReLU -> Dense latent_dim.
* :class:`JointDiscriminator` ``(x, z) -> logits [B]``: an x path (``conv``: Conv f s2 -> LReLU -> Conv 2f s2 ->
  LReLU -> flatten; ``mlp``: flatten -> Dense 1024 -> LReLU), a z path (Dense 512 -> LReLU), and a joint head on
  their concatenation (Dense 1024 -> LReLU -> Dense 1), with dropout 0.2 on the joint features in training
  (the BiGAN/ALI discriminators use dropout; it needs the ``dropout`` rng). No batch norm in D: it would mix the
  pairs of a batch. ``z`` comes in as the network's second input (``D(x, labels=z)``).

Weights from N(0, 0.02), as DCGAN.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.conv_forms import conv_auto
from jaxgan.models.layers import batch_norm

Array = jax.Array
INIT = nn.initializers.normal(0.02)


def _check_kind(kind: str) -> None:
    if kind not in ("conv", "mlp"):
        raise ValueError(f"BiGAN network kind must be 'conv' or 'mlp', got {kind!r}")


# the convolutions in the form measured fastest on the backend (jaxgan.models.conv_forms.conv_auto; same parameters)
AUTO = {"conv_general_dilated": conv_auto}

class Encoder(nn.Module):
    """``E: x [B, H, W, C] -> z [B, latent_dim]`` (module docstring)."""

    latent_dim: int = 50
    base_features: int = 64
    kind: str = "conv"
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        del labels
        _check_kind(self.kind)
        f = self.base_features
        if self.kind == "conv":
            h = nn.leaky_relu(nn.Conv(f, (4, 4), (2, 2), padding=((1, 1), (1, 1)), kernel_init=INIT, **AUTO)(x), 0.2)
            h = nn.Conv(2 * f, (4, 4), (2, 2), padding=((1, 1), (1, 1)), use_bias=False, kernel_init=INIT, **AUTO)(h)
            h = nn.leaky_relu(batch_norm(train, self.bn_axis_name)(h), 0.2)
            h = h.reshape(h.shape[0], -1)
        else:
            h = x.reshape(x.shape[0], -1)
            for _ in range(2):
                h = nn.Dense(1024, use_bias=False, kernel_init=INIT)(h)
                h = nn.leaky_relu(batch_norm(train, self.bn_axis_name)(h), 0.2)
        return nn.Dense(self.latent_dim, kernel_init=INIT, name="out")(h)


class JointDiscriminator(nn.Module):
    """``D(x [B, H, W, C], z [B, d]) -> logits [B]`` (module docstring)."""

    base_features: int = 64
    kind: str = "conv"
    dropout: float = 0.2

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        if labels is None:
            raise ValueError("JointDiscriminator scores pairs: call it as D(x, z)")
        _check_kind(self.kind)
        z = labels
        f = self.base_features
        if self.kind == "conv":
            h = nn.leaky_relu(nn.Conv(f, (4, 4), (2, 2), padding=((1, 1), (1, 1)), kernel_init=INIT, **AUTO)(x), 0.2)
            h = nn.Conv(2 * f, (4, 4), (2, 2), padding=((1, 1), (1, 1)), kernel_init=INIT, **AUTO)(h)
            h = nn.leaky_relu(h, 0.2)
            hx = h.reshape(h.shape[0], -1)
        else:
            hx = nn.leaky_relu(nn.Dense(1024, kernel_init=INIT)(x.reshape(x.shape[0], -1)), 0.2)
        hz = nn.leaky_relu(nn.Dense(512, kernel_init=INIT, name="z_path")(z), 0.2)
        h = jnp.concatenate([hx, hz], -1)
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = nn.leaky_relu(nn.Dense(1024, kernel_init=INIT, name="joint")(h), 0.2)
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        return nn.Dense(1, kernel_init=INIT, name="head")(h)[:, 0]
