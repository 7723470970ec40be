"""ProGAN's parts and a growing generator / discriminator pair for 4 -> 8 -> 16 -> 32 (Karras et al. 2018).

"Progressive Growing of GANs for Improved Quality, Stability, and Variation", arXiv:1710.10196; layer for layer
as ``networks.py`` (``G_paper`` / ``D_paper``, ``use_wscale=True``, ``use_pixelnorm=True``, leaky ReLU 0.2,
``fused_scale=False``) of tkarras/progressive_growing_of_gans, in NHWC:

* :func:`pixel_norm` (Section 4.2): ``x / sqrt(mean_c x^2 + 1e-8)`` over the channels of each pixel, after
  every generator convolution and on the latent.
* equalised learning rate (Section 4.1): :class:`EqualizedDense` and :class:`EqualizedConv` store weights
  drawn from ``N(0, 1)`` and multiply them at run time by He's constant ``gain / sqrt(fan_in)`` (``gain =
  sqrt(2)``), so that Adam's per-parameter step sizes act on every layer at the same rate.
* minibatch standard deviation (Section 3): :class:`jaxgan.remedies.MinibatchStdDev` (group 4) before the
  discriminator's last block.

Growing. Every resolution's layers exist in the parameters from ``init`` (which builds the full network whatever
``resolution`` the module is given), so one parameter tree and one optimizer state serve every phase. A phase is
a module attribute, ``resolution`` (static: shapes change between phases, so each phase compiles its own step);
the fade-in weight ``alpha`` in [0, 1] is a call argument that may be traced. At resolution ``R > 4`` (Section 2,
Figure 2; ``lerp_clip`` in ``G_paper``'s linear structure):

* generator: ``(1 - alpha) * upscale(toRGB_{R/2}(h_{R/2})) + alpha * toRGB_R(block_R(h_{R/2}))``, images
  ``[batch, R, R, channels]`` (linear output, no tanh);
* discriminator: ``(1 - alpha) * fromRGB_{R/2}(downscale(x)) + alpha * block_R(fromRGB_R(x))`` fed to the
  blocks below;
* real images: :func:`fade_real`, ``(1 - alpha) * upscale(downsample_to(x, R/2)) + alpha * downsample_to(x, R)``
  (``process_reals`` in ``train.py``), so real and generated images go through the same cross-fade.

``alpha = 1`` is the stabilisation half of a phase. The drift term of the WGAN-GP loss, ``0.001 * E[D(x)^2]``,
is :func:`jaxgan.penalties.drift_penalty`. Through the engine's :class:`~jaxgan.models.adapters.Net` a phase's
networks are :func:`fade_net` ``(module, alpha)``.
"""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.adapters import Net
from jaxgan.models.common import upsample_nearest
from jaxgan.models.conv_forms import conv_function
from jaxgan.remedies import MinibatchStdDev

Array = jax.Array

HE_GAIN = math.sqrt(2.0)
BASE_RESOLUTION = 4


def pixel_norm(x: Array, eps: float = 1e-8) -> Array:
    """Pixelwise feature normalisation: ``x / sqrt(mean(x^2 over the last axis) + eps)``, ``[..., C]``."""
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


def _lrelu(x: Array) -> Array:
    return nn.leaky_relu(x, 0.2)


upscale = upsample_nearest  # ProGAN's ``upscale2d``: [b, H, W, c] -> [b, factor H, factor W, c]


def downsample_to(x: Array, resolution: int) -> Array:
    """Box-filter (average-pool) downsampling ``[b, H, H, c] -> [b, resolution, resolution, c]``.

    ``H / resolution`` must be an integer; pooling by ``2^k`` at once equals ``k`` ProGAN ``downscale2d`` steps.
    """
    factor = x.shape[1] // resolution
    if factor * resolution != x.shape[1] or x.shape[1] != x.shape[2]:
        raise ValueError(f"downsample_to: cannot pool a {x.shape[1]}x{x.shape[2]} image to {resolution}")
    if factor == 1:
        return x
    return nn.avg_pool(x, (factor, factor), strides=(factor, factor))


def fade_real(x: Array, resolution: int, alpha: Array | float) -> Array:
    """Real images at a phase: ``[b, H, H, c] -> [b, resolution, resolution, c]``, cross-faded like G's output.

    ``(1 - alpha) * upscale(downsample_to(x, resolution / 2)) + alpha * downsample_to(x, resolution)``; at the
    base resolution (4) there is nothing to fade from and the result is ``downsample_to(x, 4)``.
    """
    new = downsample_to(x, resolution)
    if resolution <= BASE_RESOLUTION:
        return new
    old = upscale(downsample_to(new, resolution // 2))
    return old + (new - old) * alpha


class EqualizedDense(nn.Module):
    """A dense layer with an equalised learning rate: ``y = x (W * gain / sqrt(fan_in)) + b``, ``W ~ N(0, 1)``.

    Attributes:
      features: output size.
      gain: He's gain (``sqrt(2)`` before leaky ReLU, 1 for an output layer).
      use_bias: add a bias (initialised to 0, not scaled).

    Call: ``x [batch, fan_in]`` -> ``[batch, features]``.
    """

    features: int
    gain: float = HE_GAIN
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        fan_in = x.shape[-1]
        kernel = self.param("kernel", nn.initializers.normal(1.0), (fan_in, self.features), jnp.float32)
        y = x @ (kernel * (self.gain / math.sqrt(fan_in))).astype(x.dtype)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32).astype(x.dtype)
        return y


class EqualizedConv(nn.Module):
    """A stride-1 "SAME" convolution with an equalised learning rate: kernel ``W * gain / sqrt(k * k * in)``.

    Attributes:
      features: output channels.
      kernel_size: ``k``.
      gain: He's gain.
      conv: the convolution's form, one of :data:`~jaxgan.models.conv_forms.CONV_FORMS` (``"auto"``: the one measured
        fastest on the backend for this layer; the same function whichever).

    Call: ``x [batch, H, W, in]`` -> ``[batch, H, W, features]``.
    """

    features: int
    kernel_size: int = 3
    gain: float = HE_GAIN
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k, fan_in = self.kernel_size, self.kernel_size**2 * x.shape[-1]
        kernel = self.param("kernel", nn.initializers.normal(1.0), (k, k, x.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
        y = (conv_function(self.conv) or jax.lax.conv_general_dilated)(
            x, (kernel * (self.gain / math.sqrt(fan_in))).astype(x.dtype), (1, 1), "SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        return y + bias.astype(x.dtype)


def _resolutions(max_resolution: int) -> list[int]:
    """``[4, 8, ..., max_resolution]``."""
    n = int(round(math.log2(max_resolution)))
    if max_resolution < BASE_RESOLUTION or 2**n != max_resolution:
        raise ValueError(f"ProGAN: max_resolution must be a power of two >= 4, got {max_resolution}")
    return [2**i for i in range(2, n + 1)]


def _check_phase(resolution: int, max_resolution: int, who: str) -> list[int]:
    resolutions = _resolutions(max_resolution)
    if resolution not in resolutions:
        raise ValueError(f"{who}: resolution must be one of {resolutions}, got {resolution}")
    return resolutions


def nf(r: int, fmap_base: int, fmap_max: int) -> int:
    """``nf`` of ``networks.py`` in resolutions: the width at resolution ``r`` is ``min(2 fmap_base / r, fmap_max)``."""
    return max(1, min(2 * fmap_base // r, fmap_max))


class ProGANGenerator(nn.Module):
    """ProGAN generator: ``z [batch, latent_dim]`` -> images ``[batch, resolution, resolution, channels]``.

    4×4 block: pixel norm of z, dense to ``4 * 4 * nf(4)`` (gain ``sqrt(2) / 4``), bias, leaky ReLU, pixel norm,
    conv3×3, leaky ReLU, pixel norm. Each later block: nearest ×2, two (conv3×3, leaky ReLU, pixel norm). Each
    resolution has its toRGB (conv1×1, gain 1). See the module docstring for the fade-in.

    Attributes:
      resolution: the phase's output resolution (4, 8, ... up to ``max_resolution``).
      max_resolution: the final resolution; ``init`` creates the layers of every resolution up to it.
      channels: image channels.
      fmap_base, fmap_max: widths, ``nf(r) = min(2 * fmap_base / r, fmap_max)`` (8192 and 512 in the paper).
      normalize_latents: pixel-normalise z first.

    Call: ``(z, labels=None, *, train=True, alpha=1.0)``; ``alpha`` a float or a traced scalar. Unconditional:
    labels must be ``None``.
    """

    resolution: int = 32
    max_resolution: int = 32
    channels: int = 1
    fmap_base: int = 8192
    fmap_max: int = 512
    normalize_latents: bool = True

    @nn.compact
    def __call__(self, z: Array, labels: Array | None = None, *, train: bool = True, alpha: Any = 1.0) -> Array:
        del train
        if labels is not None:
            raise ValueError("ProGANGenerator is unconditional: labels must be None")
        resolutions = _check_phase(self.resolution, self.max_resolution, "ProGANGenerator")
        build = self.is_initializing()  # every layer of every resolution, so that one param tree serves all phases
        top = self.max_resolution if build else self.resolution
        def width(r):
            return nf(r, self.fmap_base, self.fmap_max)

        to_rgb = {r: EqualizedConv(self.channels, 1, gain=1.0, name=f"to_rgb{r}") for r in resolutions}

        def act(h):
            return pixel_norm(_lrelu(h))

        h = pixel_norm(z) if self.normalize_latents else z
        nf4 = width(4)
        h = EqualizedDense(4 * 4 * nf4, gain=HE_GAIN / 4, use_bias=False, name="dense4")(h)
        h = h.reshape(h.shape[0], 4, 4, nf4) + self.param("bias4", nn.initializers.zeros_init(), (nf4,))
        h = act(EqualizedConv(nf4, 3, name="conv4")(act(h)))
        features = {4: h}
        for r in resolutions[1:]:
            if r > top:
                break
            h = upscale(h)
            h = act(EqualizedConv(width(r), 3, name=f"conv{r}_0")(h))
            h = act(EqualizedConv(width(r), 3, name=f"conv{r}_1")(h))
            features[r] = h
        if build:
            for r in resolutions:
                to_rgb[r](features[r])
        r = self.resolution
        image = to_rgb[r](features[r])
        if r == BASE_RESOLUTION:
            return image
        old = upscale(to_rgb[r // 2](features[r // 2]))
        return old + (image - old) * jnp.asarray(alpha, image.dtype)  # a float32 alpha would promote bf16


class ProGANDiscriminator(nn.Module):
    """ProGAN discriminator: images ``[batch, resolution, resolution, channels]`` -> logits ``[batch]``.

    fromRGB at each resolution: conv1×1 to ``nf(r)``, leaky ReLU. Block ``r > 4``: conv3×3 ``nf(r)``, leaky
    ReLU, conv3×3 ``nf(r / 2)``, leaky ReLU, 2×2 average pool. 4×4 block: minibatch stddev, conv3×3 ``nf(4)``,
    leaky ReLU, dense ``nf(2)``, leaky ReLU, dense 1 (gain 1). See the module docstring for the fade-in.

    Attributes:
      resolution: the phase's input resolution.
      max_resolution: the final resolution; ``init`` creates every resolution's layers.
      fmap_base, fmap_max: widths, as in :class:`ProGANGenerator`.
      mbstd_group_size: the minibatch-stddev group (4), or 0 for none.

    Call: ``(x, labels=None, *, train=True, alpha=1.0)``.
    """

    resolution: int = 32
    max_resolution: int = 32
    fmap_base: int = 8192
    fmap_max: int = 512
    mbstd_group_size: int = 4

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True, alpha: Any = 1.0) -> Array:
        del train
        if labels is not None:
            raise ValueError("ProGANDiscriminator is unconditional: labels must be None")
        resolutions = _check_phase(self.resolution, self.max_resolution, "ProGANDiscriminator")
        if x.shape[1:3] != (self.resolution, self.resolution):
            raise ValueError(f"ProGANDiscriminator at resolution {self.resolution} got images {x.shape[1:3]}")
        def width(r):
            return nf(r, self.fmap_base, self.fmap_max)

        from_rgb = {r: EqualizedConv(width(r), 1, name=f"from_rgb{r}") for r in resolutions}
        convs = {
            r: (EqualizedConv(width(r), 3, name=f"conv{r}_0"), EqualizedConv(width(r // 2), 3, name=f"conv{r}_1"))
            for r in resolutions[1:]
        }
        conv4 = EqualizedConv(width(4), 3, name="conv4")
        dense0 = EqualizedDense(width(2), name="dense0")
        dense1 = EqualizedDense(1, gain=1.0, name="dense1")

        def block(h, r):
            if r > BASE_RESOLUTION:
                h = _lrelu(convs[r][1](_lrelu(convs[r][0](h))))
                return nn.avg_pool(h, (2, 2), strides=(2, 2))
            if self.mbstd_group_size > 1:
                h = MinibatchStdDev(self.mbstd_group_size)(h)
            h = _lrelu(conv4(h))
            h = _lrelu(dense0(h.reshape(h.shape[0], -1)))
            return dense1(h)[:, 0]

        def forward(images, r, fade):
            h = block(_lrelu(from_rgb[r](images)), r)
            if r > BASE_RESOLUTION:
                old = _lrelu(from_rgb[r // 2](nn.avg_pool(images, (2, 2), strides=(2, 2))))
                h = old + (h - old) * jnp.asarray(fade, h.dtype)
                for s in reversed(resolutions):
                    if s < r:
                        h = block(h, s)
            return h

        if self.is_initializing():  # every layer of every resolution, so that one param tree serves all phases
            top = self.max_resolution
            forward(jnp.zeros((x.shape[0], top, top, x.shape[-1]), x.dtype), top, 1.0)
            for r in resolutions:
                from_rgb[r](jnp.zeros((1, r, r, x.shape[-1]), x.dtype))
        return forward(x, self.resolution, alpha)


def fade_net(module: ProGANGenerator | ProGANDiscriminator, alpha: Array | float) -> Net:
    """A :class:`jaxgan.models.adapters.Net` of one ProGAN phase at fade-in weight ``alpha``.

    ``module`` fixes the phase (its ``resolution``); ``alpha`` may be a traced scalar computed from the step
    inside a compiled step (build the Net, and the system around it, inside the traced function). The networks
    have no model state (``{}``) and are unconditional: labels passed to them (an unconditional run on a labelled
    dataset's batches) are not used, as by the other families' unconditional networks.
    """

    def init(key, x, labels=None):
        del labels  # unconditional: a labelled dataset's labels are not used
        variables = dict(module.init(key, x))
        return variables.pop("params"), variables

    def apply(params, model_state, x, labels=None, *, train, rng=None):
        del rng, labels
        return module.apply({"params": params, **model_state}, x, train=train, alpha=alpha), model_state

    return Net(init=init, apply=apply)
