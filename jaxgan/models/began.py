"""BEGAN: an autoencoder as discriminator (Berthelot et al. 2017, arXiv:1703.10717).

The discriminator ``D`` is an autoencoder and reports its per-sample reconstruction error
``L(x) = mean |x - D(x)|`` (mean over height, width and channels): low on what it has learnt to reconstruct.
The ``began`` loss consumes ``L`` as the discriminator's output. Architecture as in the paper's Figure 1 and
the reference TensorFlow code (carpedm20/BEGAN-tensorflow), with ``n = features``:

* encoder: conv3×3 n, ELU; then for scale ``i = 1..S``: 2 × (conv3×3 ``i·n``, ELU) and, but for the last
  scale, a stride-2 conv3×3 ``i·n``, ELU; flatten; Dense ``embed_dim`` (linear) = the embedding ``h``;
* decoder: Dense start·start·n; then ``S`` times: 2 × (conv3×3 n, ELU), nearest ×2 but for the last; conv3×3
  to the image channels (linear output, as in the paper).

``S = 3`` scales for 28×28 (7 -> 14 -> 28), 32×32 (8 -> 16 -> 32); ``S = 4`` for 64×64 (8 -> ... -> 64).
:class:`BEGANGenerator` is the same decoder from z, followed by tanh so that images are in [-1, 1]
(``output="tanh"``) or, as in the paper and its reference code, left linear (``output="linear"``).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.common import geometry, upsample_nearest
from jaxgan.models.conv_forms import conv_function

Array = jax.Array

_GEOMETRY = {28: (7, 3), 32: (8, 3), 64: (8, 4)}  # resolution -> (start size, scales)


class BEGANDecoder(nn.Module):
    """``h [batch, dim]`` -> ``[batch, resolution, resolution, channels]`` (linear output)."""

    resolution: int = 32
    channels: int = 3
    features: int = 64
    conv: str = "auto"

    @nn.compact
    def __call__(self, h: Array, out_bias: float = 0.0) -> Array:
        start, scales = geometry(_GEOMETRY, self.resolution, "BEGAN")
        n = self.features
        conv = lambda *a, **k: nn.Conv(*a, **k, conv_general_dilated=conv_function(self.conv))  # noqa: E731
        x = nn.Dense(start * start * n, name="dense")(h).reshape(h.shape[0], start, start, n)
        for i in range(scales):
            x = nn.elu(conv(n, (3, 3), name=f"conv{i}_a")(x))
            x = nn.elu(conv(n, (3, 3), name=f"conv{i}_b")(x))
            if i < scales - 1:
                x = upsample_nearest(x)
        return conv(self.channels, (3, 3), bias_init=nn.initializers.constant(out_bias), name="conv_out")(x)


class BEGANEncoder(nn.Module):
    """``x [batch, resolution, resolution, channels]`` -> the embedding ``h [batch, embed_dim]``."""

    resolution: int = 32
    features: int = 64
    embed_dim: int = 64
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        _, scales = geometry(_GEOMETRY, self.resolution, "BEGAN")
        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(f"BEGAN built for {self.resolution}x{self.resolution}, got images {x.shape}")
        n = self.features
        conv = lambda *a, **k: nn.Conv(*a, **k, conv_general_dilated=conv_function(self.conv))  # noqa: E731
        x = nn.elu(conv(n, (3, 3), name="conv_in")(x))
        for i in range(scales):
            c = n * (i + 1)
            x = nn.elu(conv(c, (3, 3), name=f"conv{i}_a")(x))
            x = nn.elu(conv(c, (3, 3), name=f"conv{i}_b")(x))
            if i < scales - 1:
                x = nn.elu(conv(c, (3, 3), strides=(2, 2), name=f"down{i}")(x))
        return nn.Dense(self.embed_dim, name="dense")(x.reshape(x.shape[0], -1))


class BEGANDiscriminator(nn.Module):
    """BEGAN autoencoder discriminator: images ``[batch, H, W, C]`` -> reconstruction errors ``[batch]`` (>= 0).

    Attributes:
      resolution: 28, 32 or 64.
      features: ``n``, the base width (64 in the paper's 32×32 and 64×64 models).
      embed_dim: size of the bottleneck ``h`` (64 in the paper).
      bn_axis_name: accepted for a uniform constructor; unused (no batch norm).
      conv: the form of every convolution, one of :data:`~jaxgan.models.conv_forms.CONV_FORMS` (``"auto"``: per
        layer the one measured fastest on the backend; the same parameters and function whichever is used).

    Call: ``__call__(x, labels=None, *, train=True, return_reconstruction=False)``: ``mean |x - D(x)|`` per
    sample, or ``(errors, reconstructions)`` when ``return_reconstruction``. Labels are ignored.
    """

    resolution: int = 32
    features: int = 64
    embed_dim: int = 64
    bn_axis_name: str | None = None
    conv: str = "auto"

    @nn.compact
    def __call__(
        self, x: Array, labels: Array | None = None, *, train: bool = True, return_reconstruction: bool = False
    ) -> Array | tuple[Array, Array]:
        del labels, train
        h = BEGANEncoder(self.resolution, self.features, self.embed_dim, self.conv, name="encoder")(x)
        recon = BEGANDecoder(self.resolution, x.shape[-1], self.features, self.conv, name="decoder")(h)
        errors = jnp.mean(jnp.abs(x - recon), axis=(1, 2, 3))
        return (errors, recon) if return_reconstruction else errors


class BEGANGenerator(nn.Module):
    """BEGAN generator, the discriminator's decoder from z: ``[batch, latent_dim]`` -> images in [-1, 1].

    Attributes:
      resolution: 28, 32 or 64.
      channels: image channels.
      features: ``n``.
      output: ``"tanh"`` (images in [-1, 1]) or ``"linear"`` (the paper's decoder output, unbounded).
      init_mean: the pixel value the generator starts at (its output bias is initialised to give it): the
        data's mean brightness lets BEGAN start near what its autoencoder reconstructs well (see
        ``began_mnist``); 0 (mid-grey) is the usual initialisation.
      bn_axis_name: accepted for a uniform constructor; unused (no batch norm).
      conv: the form of every convolution, as in :class:`BEGANDiscriminator`.

    Labels are ignored.
    """

    resolution: int = 32
    channels: int = 3
    features: int = 64
    output: str = "tanh"
    init_mean: float = 0.0
    bn_axis_name: str | None = None
    conv: str = "auto"

    def __post_init__(self):
        # checked when the module is built (jaxgan.run.experiment.build), before anything is initialised or compiled
        if self.output not in ("tanh", "linear"):
            raise ValueError(f"BEGANGenerator output must be 'tanh' or 'linear', got {self.output!r}")
        if self.output == "tanh" and not -1.0 < self.init_mean < 1.0:
            raise ValueError(f"BEGANGenerator init_mean must be in (-1, 1) with a tanh output, got {self.init_mean}")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        del labels, train
        bias = math.atanh(self.init_mean) if self.output == "tanh" else float(self.init_mean)
        h = BEGANDecoder(self.resolution, self.channels, self.features, self.conv, name="decoder")(x, out_bias=bias)
        return jnp.tanh(h) if self.output == "tanh" else h
