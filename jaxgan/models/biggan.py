"""BigGAN's parts and a 32×32 class-conditional BigGAN pair (Brock et al. 2019, arXiv:1809.11096).

Follows BigGAN-PyTorch (``layers.py``, ``BigGAN.py``, the ``arch[32]`` geometry), in NHWC:

* generator: z is split into ``num_blocks + 1`` equal chunks (hierarchical latents, Section 3.1 / Figure 15);
  the first goes through an SN dense layer to ``[4, 4, ch]``; each of the three residual up-blocks
  (:class:`GBlock`, 4 -> 8 -> 16 -> 32) is conditioned on ``c = [shared_embed(y), z_chunk]``, whose
  class part is one embedding shared by every block; the conditional batch norms (:class:`ClassConditionalBN`,
  BigGAN's ``ccbn``) map ``c`` to per-sample gains and biases with two SN linear maps,
  ``gain = 1 + W_g c``, ``bias = W_b c``; a self-attention block (:class:`SelfAttention`, SAGAN) follows the
  block whose output has ``attention_resolution``; then BN, ReLU, SN conv3×3, tanh.
* discriminator: SNGAN's residual down-blocks (:mod:`jaxgan.models.sngan`: optimized block to 16×16, a
  down-block to 8×8, two plain blocks; with ``ch`` in every block these are BigGAN's ``arch[32]`` blocks), the
  same attention block after the first block at ``attention_resolution``, ReLU, global sum pooling and the
  projection head ``logit = w^T phi(x) + <embed(y), phi(x)>`` (Miyato & Koyama 2018).

Spectral norm (Miyato et al. 2018) is on every dense and convolution of both networks (``SNDense`` /
``SNConv``; the discriminator's embedding is ``SNEmbed``), as in BigGAN; the generator's shared embedding is not
normalised (BigGAN-PyTorch: "applying SN to G's embedding seems to randomly cripple G"). The power-iteration
vectors and the last ``sigma`` of every spectrally normalised layer live in the ``batch_stats`` collection next
to the batch-norm statistics, so through :func:`jaxgan.models.adapters.from_linen` they are part of ``model_state``:
refreshed by training calls, read (not written) by eval calls.

Initialisation is orthogonal (BigGAN-PyTorch's ``G_init='ortho'``) for the generator's layers and the
attention blocks; the discriminator's residual blocks keep SNGAN's Xavier initialisation.

Ablation switches (each part off on its own): ``shared_embedding=False`` conditions the batch norms on the
one-hot label instead of the shared embedding (the gain and bias maps become per-class tables, as in SNGAN);
``hierarchical=False`` feeds all of z to the first layer and only the class code to the blocks;
``attention_resolution=None`` removes self-attention. Orthogonal regularization of the generator is
:func:`jaxgan.penalties.orthogonal_regularization`; the truncation trick is ``jaxgan sample``'s.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.common import check_labels, upsample_nearest
from jaxgan.models.layers import SNConv, SNDense, SNEmbed, batch_norm
from jaxgan.models.sngan import DBlock, DBlockOptimized

Array = jax.Array

_ORTHO = nn.initializers.orthogonal()
_NUM_BLOCKS = 3  # 4 -> 8 -> 16 -> 32


class SelfAttention(nn.Module):
    """SAGAN's self-attention block (Zhang et al. 2019, arXiv:1805.08318; BigGAN-PyTorch ``Attention``).

    For ``x [b, H, W, C]`` with 1×1 SN convolutions without bias ``theta, phi: C -> C/8``, ``g: C -> C/2``,
    ``o: C/2 -> C``, and 2×2 max pooling ``P`` (keys and values at a quarter of the positions)::

        beta = softmax_j(theta(x)_i . P(phi(x))_j)        [b, H W, H W / 4]
        out = x + gamma * o(sum_j beta_ij P(g(x))_j)      [b, H, W, C]

    with a learned scalar ``gamma`` initialised to 0 (the block starts as the identity).

    Call: ``x [batch, H, W, C]`` (``C`` a multiple of 8, ``H`` and ``W`` even) -> ``[batch, H, W, C]``.
    """

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> Array:
        b, h, w, c = x.shape
        if c % 8 or h % 2 or w % 2:
            raise ValueError(f"SelfAttention needs channels divisible by 8 and an even size, got {x.shape[1:]}")

        def conv(features, name):
            return SNConv(features, 1, use_bias=False, kernel_init=_ORTHO, name=name)

        def pool(y):
            return nn.max_pool(y, (2, 2), strides=(2, 2))

        theta = conv(c // 8, "theta")(x, train=train).reshape(b, h * w, c // 8)
        phi = pool(conv(c // 8, "phi")(x, train=train)).reshape(b, h * w // 4, c // 8)
        g = pool(conv(c // 2, "g")(x, train=train)).reshape(b, h * w // 4, c // 2)
        beta = jax.nn.softmax(jnp.einsum("bik,bjk->bij", theta, phi), axis=-1)
        o = jnp.einsum("bij,bjc->bic", beta, g).reshape(b, h, w, c // 2)
        o = conv(c, "o")(o, train=train)
        gamma = self.param("gamma", nn.initializers.zeros_init(), (), jnp.float32)
        return x + gamma * o


class ClassConditionalBN(nn.Module):
    """BigGAN's conditional batch norm ``ccbn``: gains and biases linear in a conditioning vector.

    ``y = (1 + W_g c) * (x - mean) / sqrt(var + 1e-5) + W_b c`` with ``W_g, W_b [k, C]`` spectrally normalised
    linear maps without bias, statistics over every axis but the last (running averages with momentum 0.9,
    PyTorch's 0.1). With ``c`` a one-hot label this is de Vries et al.'s per-class batch norm.

    Attributes:
      bn_axis_name: cross-replica axis for the statistics, or ``None``.

    Call: ``x [batch, H, W, C]``, ``c [batch, k]`` -> ``[batch, H, W, C]``.
    """

    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x: Array, c: Array, *, train: bool = True) -> Array:
        features = x.shape[-1]
        x = nn.BatchNorm(
            use_running_average=not train, momentum=0.9, epsilon=1e-5, use_scale=False, use_bias=False,
            axis_name=self.bn_axis_name, name="bn",
        )(x)
        gain = 1.0 + SNDense(features, use_bias=False, kernel_init=_ORTHO, name="gain")(c, train=train)
        bias = SNDense(features, use_bias=False, kernel_init=_ORTHO, name="bias")(c, train=train)
        return x * gain[:, None, None, :] + bias[:, None, None, :]


class _Norm(nn.Module):
    """:class:`ClassConditionalBN` on ``c``, or the plain batch norm when there is nothing to condition on."""

    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x: Array, c: Array | None, *, train: bool) -> Array:
        if c is None:
            return batch_norm(train, self.bn_axis_name, name="bn")(x)
        return ClassConditionalBN(self.bn_axis_name, name="ccbn")(x, c, train=train)


class GBlock(nn.Module):
    """BigGAN's residual up-block: ``[b, H, W, c] -> [b, 2H, 2W, features]``.

    Residual: ccbn(c), ReLU, nearest ×2, SN conv3×3, ccbn(c), ReLU, SN conv3×3. Shortcut: nearest ×2,
    SN conv1×1.
    """

    features: int
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x: Array, c: Array | None, *, train: bool = True) -> Array:
        h = nn.relu(_Norm(self.bn_axis_name, name="norm1")(x, c, train=train))
        h = upsample_nearest(h)
        h = SNConv(self.features, 3, kernel_init=_ORTHO, name="conv1")(h, train=train)
        h = nn.relu(_Norm(self.bn_axis_name, name="norm2")(h, c, train=train))
        h = SNConv(self.features, 3, kernel_init=_ORTHO, name="conv2")(h, train=train)
        sc = SNConv(self.features, 1, kernel_init=_ORTHO, name="shortcut")(upsample_nearest(x), train=train)
        return h + sc


def _check_attention(resolution: int | None, allowed: tuple[int, ...], who: str) -> None:
    if resolution is not None and resolution not in allowed:
        raise ValueError(f"{who}: attention_resolution must be one of {allowed} or None, got {resolution}")


class BigGANGenerator(nn.Module):
    """BigGAN generator for 32×32: ``z [batch, latent_dim]``, ``labels [batch]`` -> ``[batch, 32, 32, channels]``.

    Attributes:
      ch: width of every block (BigGAN-PyTorch's ``4 * G_ch``: 256 for CIFAR).
      channels: image channels.
      num_classes: number of labels, or ``None`` (unconditional: the batch norms are conditioned on the z
        chunks alone when ``hierarchical``, else plain).
      shared_dim: size of the shared class embedding.
      shared_embedding: condition on the shared embedding (else on the one-hot label).
      hierarchical: split z into ``4`` chunks, one for the first layer and one per block (``latent_dim`` must
        divide by 4); else all of z goes to the first layer.
      attention_resolution: 8, 16 or 32 for a self-attention block after the block of that output size, or
        ``None``.
      bn_axis_name: cross-replica batch-norm axis, or ``None``.

    Output in [-1, 1] (tanh).
    """

    ch: int = 256
    channels: int = 3
    num_classes: int | None = 10
    shared_dim: int = 128
    shared_embedding: bool = True
    hierarchical: bool = True
    attention_resolution: int | None = 16
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, z: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        check_labels(labels, self.num_classes, "BigGANGenerator")
        _check_attention(self.attention_resolution, (8, 16, 32), "BigGANGenerator")
        slots = _NUM_BLOCKS + 1
        if self.hierarchical:
            if z.shape[-1] % slots:
                raise ValueError(f"BigGANGenerator: hierarchical z needs latent_dim divisible by {slots}, "
                                 f"got {z.shape[-1]}")
            z, *chunks = jnp.split(z, slots, axis=-1)
        else:
            chunks = [None] * _NUM_BLOCKS
        code = None
        if self.num_classes is not None:
            if self.shared_embedding:
                code = nn.Embed(self.num_classes, self.shared_dim, embedding_init=_ORTHO, name="shared")(labels)
            else:
                code = jax.nn.one_hot(labels, self.num_classes, dtype=z.dtype)  # bf16 under mixed precision
        conds = [None if not parts else jnp.concatenate(parts, -1)
                 for parts in ([p for p in (code, zc) if p is not None] for zc in chunks)]

        h = SNDense(4 * 4 * self.ch, kernel_init=_ORTHO, name="linear")(z, train=train)
        h = h.reshape(h.shape[0], 4, 4, self.ch)
        for i, c in enumerate(conds):
            h = GBlock(self.ch, self.bn_axis_name, name=f"block{i}")(h, c, train=train)
            if h.shape[1] == self.attention_resolution:
                h = SelfAttention(name="attention")(h, train=train)
        h = nn.relu(batch_norm(train, self.bn_axis_name, name="bn_out")(h))
        h = SNConv(self.channels, 3, kernel_init=_ORTHO, name="conv_out")(h, train=train)
        return jnp.tanh(h)


class BigGANDiscriminator(nn.Module):
    """BigGAN projection discriminator for 32×32: ``[batch, 32, 32, channels]``, ``labels [batch]`` -> ``[batch]``.

    Attributes:
      ch: width of every block (BigGAN-PyTorch's ``4 * D_ch``: 256 for CIFAR).
      num_classes: number of labels for the projection head, or ``None``.
      attention_resolution: 16 or 8 for a self-attention block after the first block of that output size, or
        ``None``.
      bn_axis_name: accepted for a uniform constructor; unused (no batch norm).
    """

    ch: int = 256
    num_classes: int | None = 10
    attention_resolution: int | None = 16
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        check_labels(labels, self.num_classes, "BigGANDiscriminator")
        _check_attention(self.attention_resolution, (16, 8), "BigGANDiscriminator")
        blocks = [
            DBlockOptimized(self.ch, name="block1"),  # 32 -> 16
            DBlock(self.ch, downsample=True, name="block2"),  # 16 -> 8
            DBlock(self.ch, name="block3"),
            DBlock(self.ch, name="block4"),
        ]
        h, attended = x, False
        for block in blocks:
            h = block(h, train=train)
            if not attended and h.shape[1] == self.attention_resolution:
                h, attended = SelfAttention(name="attention")(h, train=train), True
        phi = jnp.sum(nn.relu(h), axis=(1, 2))  # [batch, ch]
        logit = SNDense(1, kernel_init=_ORTHO, name="linear")(phi, train=train)[:, 0]
        if self.num_classes is not None:
            e = SNEmbed(self.num_classes, self.ch, embedding_init=_ORTHO, name="projection")(labels, train=train)
            logit = logit + jnp.sum(e * phi, axis=-1)
        return logit
