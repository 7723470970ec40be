"""DCGAN generator and discriminator for 28×28, 32×32 and 64×64 images (Radford et al. 2016, arXiv:1511.06434).

The recipe: strided convolutions instead of pooling, batch norm, ReLU in the generator and LeakyReLU(0.2) in the
discriminator, tanh output, weights drawn from N(0, 0.02). Layers followed by a batch norm have no bias (the
norm's offset replaces it).

Geometry, with ``f = base_features`` and ``n`` stride-2 stages:

======== ===== =========== ===================================================================
size     n     G start     widths
======== ===== =========== ===================================================================
28       2     7×7×2f      G: 2f -> f -> channels;        D: f -> 2f
32       3     4×4×4f      G: 4f -> 2f -> f -> channels;  D: f -> 2f -> 4f
64       4     4×4×8f      G: 8f -> 4f -> 2f -> f -> ch.; D: f -> 2f -> 4f -> 8f
======== ===== =========== ===================================================================

``DCGANGenerator(resolution=28)`` is the benchmark ``dcgan28``: z -> Dense 7·7·128 (no bias) -> reshape ->
BN -> ReLU -> Upsample2x 64 (k4, no bias) -> BN -> ReLU -> Upsample2x channels (k4, bias) -> tanh;
``DCGANDiscriminator(resolution=28)``: Conv 64 (k4, s2, bias) -> LReLU -> Conv 128 (k4, s2, no bias) -> BN ->
LReLU -> flatten -> Dense 1. With ``latent_dim = 100``, one channel and ``f = 64`` they have 759,681 and
138,689 parameters (batch statistics not counted).

Conditioning (``num_classes`` set), after Mirza & Osindero (2014, arXiv:1411.1784): the generator concatenates
a label code (one-hot, or a learned embedding of ``embed_dim``) to z. The discriminator either concatenates
the code to its input as constant channel maps (``conditioning="concat"``) or uses the projection head of
Miyato & Koyama (2018, arXiv:1802.05637), ``logit = psi(phi(x)) + <embed(y), phi(x)>`` with ``phi(x)`` the
flattened last feature map (``conditioning="projection"``).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.common import check_labels, geometry
from jaxgan.models.conv_forms import conv_function, cpu_forms
from jaxgan.models.layers import DOWNSAMPLE_METHODS, Downsample2x, SNConv, SNDense, SNEmbed, Upsample2x, batch_norm

Array = jax.Array

DCGAN_INIT = nn.initializers.normal(0.02)
_GEOMETRY = {28: (7, 2), 32: (4, 3), 64: (4, 4)}  # resolution -> (start size, stride-2 stages)


def _label_code(labels: Array, num_classes: int, embed_dim: int | None, name: str) -> Array:
    """One-hot ``[batch, num_classes]`` when ``embed_dim`` is None, else a learned ``[batch, embed_dim]``."""
    if embed_dim is None:
        return jax.nn.one_hot(labels, num_classes)
    return nn.Embed(num_classes, embed_dim, embedding_init=DCGAN_INIT, name=name)(labels)


def auto_upsample(stages: int, backend: str | None = None) -> str:
    """The upsampling forms ``upsample="auto"`` gives a generator of ``stages`` stages, one per stage.

    On the CPU: :func:`~jaxgan.models.conv_forms.conv_transpose_per_product` for the hidden stages (each of its
    products in the form XLA's CPU runs fastest; the dcgan28 b64 step 1.14x the per-phase form's, docs/
    performance.md) and the plain transposed convolution for the image layer, where it is cheapest. On other
    backends (not measured here): the per-phase form, then the plain transposed convolution, as before."""
    hidden = "per_product" if cpu_forms(backend) else "phases"
    return ",".join([hidden] * (stages - 1) + ["transpose"])


class DCGANGenerator(nn.Module):
    """DCGAN generator: ``z [batch, latent_dim]`` -> images ``[batch, resolution, resolution, channels]`` in [-1, 1].

    Attributes:
      resolution: 28, 32 or 64.
      channels: image channels (1 or 3).
      base_features: ``f``, the width of the last hidden layer (64 in the paper).
      upsample: :class:`~jaxgan.models.layers.Upsample2x` method: ``"transpose"``, ``"subpixel"`` and
        ``"phases"`` are the same function with the same parameters; ``"resize_conv"`` is a different layer.
        A comma-separated list gives one method per stage (``"phases,transpose"`` at 28x28). ``"auto"`` (the
        default) is :func:`auto_upsample`: on the CPU ``"per_product"`` for every stage but the last and
        ``"transpose"`` for the last, the fastest of these exact forms in the CPU benchmark; elsewhere
        ``"phases"`` then ``"transpose"``. The same parameters as the plain layer whichever is used.
      kernel_size: upsampling kernel size (4).
      extra_convs: stride-1 3x3 convolutions (no bias) -> BN -> ReLU added at the start resolution, before the
        first upsampling, each keeping its width (0 in the paper; the stride-1 layer of TensorFlow's DCGAN
        tutorial is one such block).
      num_classes: number of labels for a conditional generator, or ``None``.
      embed_dim: size of the learned label embedding concatenated to z; ``None`` concatenates a one-hot.
      bn_axis_name: cross-replica batch-norm axis, or ``None``.
      dense_hidden: when > 0, ``Dense(dense_hidden) -> BN -> ReLU`` on z first (InfoGAN's MNIST generator: 1024).

    ``labels [batch]`` (int) are required when ``num_classes`` is set and ignored otherwise.
    """

    resolution: int = 28
    channels: int = 1
    base_features: int = 64
    upsample: str = "auto"
    kernel_size: int = 4
    extra_convs: int = 0
    num_classes: int | None = None
    embed_dim: int | None = None
    bn_axis_name: str | None = None
    dense_hidden: int = 0

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        check_labels(labels, self.num_classes, "DCGANGenerator")
        start, stages = geometry(_GEOMETRY, self.resolution, "DCGAN")
        width = self.base_features * 2 ** (stages - 1)
        h = x
        if self.num_classes is not None:
            code = _label_code(labels, self.num_classes, self.embed_dim, "label_embed")
            h = jnp.concatenate([h, code.astype(h.dtype)], -1)  # a float32 one-hot must not promote a bf16 net
        if self.dense_hidden > 0:
            h = nn.Dense(self.dense_hidden, use_bias=False, kernel_init=DCGAN_INIT, name="hidden")(h)
            h = nn.relu(batch_norm(train, self.bn_axis_name, name="hidden_bn")(h))
        h = nn.Dense(start * start * width, use_bias=False, kernel_init=DCGAN_INIT)(h)
        h = h.reshape(h.shape[0], start, start, width)
        upsample = auto_upsample(stages) if self.upsample == "auto" else self.upsample
        methods = upsample.split(",")
        if len(methods) not in (1, stages):
            raise ValueError(
                f"DCGANGenerator: upsample {self.upsample!r} names {len(methods)} methods; give one, or one per "
                f"stage ({stages} at resolution {self.resolution})"
            )
        methods = methods * stages if len(methods) == 1 else methods
        for _ in range(self.extra_convs):
            h = nn.relu(batch_norm(train, self.bn_axis_name)(h))
            h = nn.Conv(width, (3, 3), padding=1, use_bias=False, kernel_init=DCGAN_INIT)(h)
        for i in range(stages):
            h = nn.relu(batch_norm(train, self.bn_axis_name)(h))
            last = i == stages - 1
            features = self.channels if last else width // 2 ** (i + 1)
            h = Upsample2x(features, self.kernel_size, method=methods[i], use_bias=last, kernel_init=DCGAN_INIT)(h)
        return jnp.tanh(h)


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: images ``[batch, resolution, resolution, channels]`` -> logits ``[batch]``.

    Attributes:
      resolution: 28, 32 or 64.
      base_features: ``f``, the width of the first convolution (64 in the paper).
      kernel_size: convolution kernel size (4, stride 2, padding 1).
      stages: number of stride-2 convolutions, ``f -> 2f -> 4f ...``; ``None`` (default) uses the table's
        (2 at 28x28; a third there takes the 7x7 map to 4x4 with ``4f`` channels, padded "SAME").
      num_classes: number of labels for a conditional discriminator, or ``None``.
      conditioning: ``"concat"`` (label maps concatenated to the input) or ``"projection"``.
      embed_dim: for ``"concat"``, the size of a learned label embedding; ``None`` uses a one-hot.
      spectral_norm: spectrally normalise every convolution, dense and embedding (Miyato et al. 2018).
      use_batch_norm: batch norm after every convolution but the first (turn it off for gradient-penalty
        losses, whose per-sample gradients batch norm mixes).
      bn_axis_name: cross-replica batch-norm axis, or ``None``.
      dense_hidden: when > 0, ``phi(x)`` is ``Dense(dense_hidden) -> BN -> LReLU`` of the flattened last feature
        map (InfoGAN's MNIST discriminator: 1024), else the flattened map itself.
      aux_outputs: when > 0, a second head on the flattened features ``phi(x)`` and the call returns
        ``(logits [batch], aux [batch, aux_outputs])``: ACGAN's class logits, InfoGAN's Q outputs.
      aux_hidden: when > 0, that head is ``Dense(aux_hidden) -> BN -> LReLU -> Dense(aux_outputs)`` (InfoGAN's Q:
        128), else one ``Dense(aux_outputs)`` (ACGAN's).
      downsample: how the stride-2 convolutions are computed, one :class:`~jaxgan.models.layers.Downsample2x`
        method or a comma-separated one per stage: ``"auto"`` (the default: ``nn.Conv`` computing by
        :func:`~jaxgan.models.conv_forms.conv_auto`, which on the CPU takes batches over 64 rows in chunks of 64),
        ``"xla"`` (``nn.Conv`` as it is) or ``"s2d"`` (space-to-depth then a stride-1 convolution). The same
        function and parameters whichever is used. ``"s2d"`` not with ``spectral_norm``.

    ``labels [batch]`` (int) are required when ``num_classes`` is set and ignored otherwise.
    """

    resolution: int = 28
    base_features: int = 64
    kernel_size: int = 4
    stages: int | None = None
    num_classes: int | None = None
    conditioning: str = "concat"
    embed_dim: int | None = None
    spectral_norm: bool = False
    use_batch_norm: bool = True
    bn_axis_name: str | None = None
    dense_hidden: int = 0
    aux_outputs: int = 0
    aux_hidden: int = 0
    downsample: str = "auto"

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        check_labels(labels, self.num_classes, "DCGANDiscriminator")
        if self.conditioning not in ("concat", "projection"):
            raise ValueError(f"conditioning must be 'concat' or 'projection', got {self.conditioning!r}")
        _, stages = geometry(_GEOMETRY, self.resolution, "DCGAN")
        if self.stages is not None:
            if not 1 <= self.stages <= stages + 1:
                raise ValueError(f"DCGANDiscriminator: stages must be in [1, {stages + 1}] at resolution "
                                 f"{self.resolution}, got {self.stages}")
            stages = self.stages
        conditional = self.num_classes is not None
        h = x
        if conditional and self.conditioning == "concat":
            code = _label_code(labels, self.num_classes, self.embed_dim, "label_embed").astype(h.dtype)
            maps = jnp.broadcast_to(code[:, None, None, :], h.shape[:3] + code.shape[-1:])
            h = jnp.concatenate([h, maps], -1)
        methods = self.downsample.split(",")
        if len(methods) not in (1, stages) or any(m not in DOWNSAMPLE_METHODS for m in methods):
            raise ValueError(
                f"DCGANDiscriminator: downsample must be one of {DOWNSAMPLE_METHODS} or one per stage ({stages}), "
                f"got {self.downsample!r}"
            )
        methods = methods * stages if len(methods) == 1 else methods
        if self.spectral_norm and not set(methods) <= {"xla", "auto"}:
            raise ValueError(f"DCGANDiscriminator: downsample {self.downsample!r} needs spectral_norm=False")
        k, pad = self.kernel_size, (self.kernel_size - 1) // 2
        for i in range(stages):
            norm = self.use_batch_norm and i > 0
            # An odd map (the 7x7 of a third stage at 28x28) is padded "SAME" (1 before, 2 after for k=4): the
            # symmetric padding would drop the last row and column, and XLA's CPU gradient of that convolution
            # took 5.5x as long as the SAME one with more outputs (371 vs 68 ms at batch 64, 128 -> 256 channels,
            # a micro-benchmark on the project's 2-core CPU, 2026-11-24).
            padding = ((pad, pad), (pad, pad)) if h.shape[1] % 2 == 0 else "SAME"
            conv_kwargs = dict(strides=2, padding=padding, use_bias=not norm, kernel_init=DCGAN_INIT)
            features = self.base_features * 2**i
            if self.spectral_norm:
                h = SNConv(features, k, **conv_kwargs, conv=methods[i])(h, train=train)
            elif methods[i] == "s2d":  # named as the nn.Conv it replaces: the same parameters and checkpoints
                h = Downsample2x(features, k, padding=padding, method=methods[i], use_bias=not norm,
                                 kernel_init=DCGAN_INIT, name=f"Conv_{i}")(h)  # fmt: skip
            else:  # auto-named Conv_0, Conv_1, ... unless another stage's Downsample2x holds a name
                name = None if "s2d" not in methods else f"Conv_{i}"
                h = nn.Conv(features, (k, k), **{**conv_kwargs, "strides": (2, 2)}, name=name,
                            conv_general_dilated=conv_function(methods[i]))(h)  # fmt: skip
            if norm:
                h = batch_norm(train, self.bn_axis_name)(h)
            h = nn.leaky_relu(h, 0.2)
        phi = h.reshape(h.shape[0], -1)
        if self.dense_hidden > 0:
            phi = nn.Dense(self.dense_hidden, use_bias=not self.use_batch_norm, kernel_init=DCGAN_INIT,
                           name="hidden")(phi)
            if self.use_batch_norm:
                phi = batch_norm(train, self.bn_axis_name, name="hidden_bn")(phi)
            phi = nn.leaky_relu(phi, 0.2)
        if self.spectral_norm:
            logit = SNDense(1, kernel_init=DCGAN_INIT, name="head")(phi, train=train)[:, 0]
        else:
            logit = nn.Dense(1, kernel_init=DCGAN_INIT, name="head")(phi)[:, 0]
        if conditional and self.conditioning == "projection":
            if self.spectral_norm:
                e = SNEmbed(self.num_classes, phi.shape[-1], DCGAN_INIT, name="projection")(labels, train=train)
            else:
                e = nn.Embed(self.num_classes, phi.shape[-1], embedding_init=DCGAN_INIT, name="projection")(labels)
            logit = logit + jnp.sum(e * phi, axis=-1)
        if self.aux_outputs <= 0:
            return logit
        h = phi
        if self.aux_hidden > 0:
            h = nn.Dense(self.aux_hidden, use_bias=not self.use_batch_norm, kernel_init=DCGAN_INIT,
                         name="aux_hidden")(h)
            if self.use_batch_norm:
                h = batch_norm(train, self.bn_axis_name, name="aux_bn")(h)
            h = nn.leaky_relu(h, 0.2)
        return logit, nn.Dense(self.aux_outputs, kernel_init=DCGAN_INIT, name="aux_head")(h)
