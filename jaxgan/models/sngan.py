"""The ResNet SNGAN pair for 32×32 images (Miyato et al. 2018, arXiv:1802.05957, Table 4 / Appendix B.4).

Follows the CIFAR-10 ResNet of Mimicry (``torch_mimicry/nets/sngan/sngan_32.py``):

* generator (``ch = 256``): z -> Dense 4·4·ch -> 3 × :class:`GBlock` (BN, ReLU, nearest ×2, conv3×3, BN, ReLU,
  conv3×3; shortcut nearest ×2 + conv1×1) -> BN -> ReLU -> conv3×3 -> tanh;
* discriminator (``ch = 128``): :class:`DBlockOptimized` (conv3×3, ReLU, conv3×3, avg-pool 2; shortcut
  avg-pool + conv1×1) -> :class:`DBlock` down -> 2 × :class:`DBlock` -> ReLU -> global sum pooling ->
  SN Dense 1. Every convolution and dense layer of the discriminator is spectrally normalised.

Initialisation as in Mimicry: Xavier-uniform with gain sqrt(2) for residual 3×3 convolutions, gain 1 elsewhere.

Conditioning (``num_classes`` set; Miyato & Koyama 2018, arXiv:1802.05637, the cGAN-PD recipe): the generator
replaces its batch norms by class-conditional batch norms
(:class:`~jaxgan.models.layers.ConditionalBatchNorm`), the discriminator adds the projection
``<embed(y), phi(x)>`` with a spectrally normalised embedding of the pooled features ``phi(x) [batch, ch]``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.common import avg_pool2, upsample_nearest
from jaxgan.models.conv_forms import conv_function
from jaxgan.models.layers import ConditionalBatchNorm, SNConv, SNDense, SNEmbed, batch_norm

Array = jax.Array

_XAVIER = nn.initializers.xavier_uniform()
_XAVIER_RELU = nn.initializers.variance_scaling(2.0, "fan_avg", "uniform")  # xavier_uniform, gain sqrt(2)


class _Norm(nn.Module):
    """Batch norm, class-conditional when ``num_classes`` is set."""

    num_classes: int | None = None
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x: Array, labels: Array | None, *, train: bool) -> Array:
        if self.num_classes is None:
            return batch_norm(train, self.bn_axis_name, name="bn")(x)
        return ConditionalBatchNorm(self.num_classes, bn_axis_name=self.bn_axis_name, name="cbn")(
            x, labels, train=train
        )


class GBlock(nn.Module):
    """Residual up-block: ``[b, H, W, c] -> [b, 2H, 2W, features]``.

    Residual: norm, ReLU, nearest ×2, conv3×3, norm, ReLU, conv3×3. Shortcut: nearest ×2, conv1×1.
    """

    features: int
    num_classes: int | None = None
    bn_axis_name: str | None = None
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        norm = dict(num_classes=self.num_classes, bn_axis_name=self.bn_axis_name)
        fn = conv_function(self.conv)
        h = nn.relu(_Norm(**norm, name="norm1")(x, labels, train=train))
        h = upsample_nearest(h)
        h = nn.Conv(self.features, (3, 3), kernel_init=_XAVIER_RELU, conv_general_dilated=fn, name="conv1")(h)
        h = nn.relu(_Norm(**norm, name="norm2")(h, labels, train=train))
        h = nn.Conv(self.features, (3, 3), kernel_init=_XAVIER_RELU, conv_general_dilated=fn, name="conv2")(h)
        sc = nn.Conv(self.features, (1, 1), kernel_init=_XAVIER, conv_general_dilated=fn, name="shortcut")(
            upsample_nearest(x)
        )
        return h + sc


class DBlockOptimized(nn.Module):
    """The first discriminator block: ``[b, H, W, c] -> [b, H/2, W/2, features]``.

    Residual: SN conv3×3, ReLU, SN conv3×3, avg-pool 2. Shortcut: avg-pool 2, SN conv1×1.
    """

    features: int
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> Array:
        c = self.conv
        h = SNConv(self.features, 3, kernel_init=_XAVIER_RELU, conv=c, name="conv1")(x, train=train)
        h = SNConv(self.features, 3, kernel_init=_XAVIER_RELU, conv=c, name="conv2")(nn.relu(h), train=train)
        h = avg_pool2(h)
        sc = SNConv(self.features, 1, kernel_init=_XAVIER, conv=c, name="shortcut")(avg_pool2(x), train=train)
        return h + sc


class DBlock(nn.Module):
    """A discriminator block: ``[b, H, W, c] -> [b, H', W', features]`` (``H' = H/2`` if ``downsample``).

    Residual: ReLU, SN conv3×3, ReLU, SN conv3×3, avg-pool 2 if downsampling. Shortcut: SN conv1×1 then
    avg-pool when the width changes or it downsamples, else the identity.
    """

    features: int
    downsample: bool = False
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> Array:
        c = self.conv
        h = SNConv(x.shape[-1], 3, kernel_init=_XAVIER_RELU, conv=c, name="conv1")(nn.relu(x), train=train)
        h = SNConv(self.features, 3, kernel_init=_XAVIER_RELU, conv=c, name="conv2")(nn.relu(h), train=train)
        sc = x
        if self.downsample or x.shape[-1] != self.features:
            sc = SNConv(self.features, 1, kernel_init=_XAVIER, conv=c, name="shortcut")(x, train=train)
        if self.downsample:
            h, sc = avg_pool2(h), avg_pool2(sc)
        return h + sc


class SNGANGenerator(nn.Module):
    """ResNet SNGAN generator: ``z [batch, latent_dim]`` -> ``[batch, 32, 32, channels]`` in [-1, 1].

    Attributes:
      ch: width of every block (256 in the paper).
      channels: image channels.
      bottom_width: spatial size after the dense layer (4; the output is ``bottom_width * 8``).
      num_classes: number of labels (class-conditional batch norms), or ``None``.
      bn_axis_name: cross-replica batch-norm axis, or ``None``.
      conv: the form of every convolution, one of :data:`~jaxgan.models.conv_forms.CONV_FORMS`: ``"xla"``
        (``nn.Conv``'s own), ``"dot_dw"`` (:func:`~jaxgan.models.conv_forms.conv_dot_dw`: the weight gradient as
        matrix products) or ``"auto"`` (the default: per layer, the one measured faster on the backend,
        :func:`~jaxgan.models.conv_forms.auto_conv_form`). The same parameters and function whichever is used.

    ``labels [batch]`` (int) are required when ``num_classes`` is set and ignored otherwise.
    """

    ch: int = 256
    channels: int = 3
    bottom_width: int = 4
    num_classes: int | None = None
    bn_axis_name: str | None = None
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        if self.num_classes is not None and labels is None:
            raise ValueError(f"SNGANGenerator was built with num_classes={self.num_classes} and needs labels")
        if self.num_classes is None:
            labels = None
        s = self.bottom_width
        h = nn.Dense(s * s * self.ch, kernel_init=_XAVIER, name="dense")(x)
        h = h.reshape(h.shape[0], s, s, self.ch)
        for i in range(3):
            block = GBlock(self.ch, self.num_classes, self.bn_axis_name, conv=self.conv, name=f"block{i + 2}")
            h = block(h, labels, train=train)
        h = nn.relu(_Norm(self.num_classes, self.bn_axis_name, name="norm")(h, labels, train=train))
        fn = conv_function(self.conv)
        h = nn.Conv(self.channels, (3, 3), kernel_init=_XAVIER, conv_general_dilated=fn, name="conv_out")(h)
        return jnp.tanh(h)


class SNGANDiscriminator(nn.Module):
    """ResNet SNGAN discriminator: ``[batch, 32, 32, channels]`` -> logits ``[batch]``.

    Attributes:
      ch: width of every block (128 in the paper).
      num_classes: number of labels for the projection head, or ``None``.
      bn_axis_name: accepted for a uniform constructor; unused (no batch norm).
      conv: the form of every convolution, as in :class:`SNGANGenerator`.

    ``labels [batch]`` (int) are required when ``num_classes`` is set and ignored otherwise.
    """

    ch: int = 128
    num_classes: int | None = None
    bn_axis_name: str | None = None
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        if self.num_classes is not None and labels is None:
            raise ValueError(f"SNGANDiscriminator was built with num_classes={self.num_classes} and needs labels")
        c = self.conv
        h = DBlockOptimized(self.ch, conv=c, name="block1")(x, train=train)
        h = DBlock(self.ch, downsample=True, conv=c, name="block2")(h, train=train)
        h = DBlock(self.ch, conv=c, name="block3")(h, train=train)
        h = DBlock(self.ch, conv=c, name="block4")(h, train=train)
        phi = jnp.sum(nn.relu(h), axis=(1, 2))
        logit = SNDense(1, kernel_init=_XAVIER, name="head")(phi, train=train)[:, 0]
        if self.num_classes is not None:
            e = SNEmbed(self.num_classes, self.ch, name="projection")(labels, train=train)
            logit = logit + jnp.sum(e * phi, axis=-1)
        return logit
