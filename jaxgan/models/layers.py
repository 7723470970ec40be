"""Building blocks shared by the image models: exact ×2 upsampling, pixel shuffles, spectral normalization.

Upsampling by two (:class:`Upsample2x`) comes in three flavours:

* ``"transpose"``: a stride-2 transposed convolution (``nn.ConvTranspose``) with the geometry of PyTorch's
  ``ConvTranspose2d(k, stride=2, padding=(k - 1) // 2, output_padding=k % 2)``: ``[b, H, W, c]`` becomes
  exactly ``[b, 2H, 2W, features]``. In lax terms it is ``lax.conv_transpose(x, kernel, (2, 2),
  ((k // 2, k - k // 2),) * 2)``: the input is dilated by two, zero-padded by ``k // 2`` before and
  ``k - k // 2`` after, and correlated with ``kernel`` (not flipped: ``transpose_kernel=False``).
* ``"subpixel"``: the same function computed without the zeros of the dilated input. Output pixel
  ``2a + r`` of a transposed convolution only meets the kernel taps of parity ``r``, so the four output
  phases ``(ry, rx)`` are four ordinary stride-1 convolutions of the undilated input; they are stacked
  into one convolution with ``4 * features`` output channels and interleaved by :func:`depth_to_space`
  (a "sub-pixel convolution", Shi et al. 2016). The weights are rearranged at call time from the same
  ``kernel`` / ``bias`` parameters the transposed layer holds, so the two flavours share checkpoints and
  agree to float32 round-off (:func:`conv_transpose_as_subpixel`). For ``k = 4`` this is one 3×3
  convolution instead of a 4×4 convolution over a four-times larger, three-quarters-zero input.
* ``"phases"``: the same function again, as four ordinary convolutions, one per output phase, each with only
  the taps of its parity (2x2 for ``k = 4``), interleaved by :func:`depth_to_space`
  (:func:`conv_transpose_as_phases`): the transposed convolution's real multiply-adds and no others, where
  the single stacked convolution of ``"subpixel"`` also multiplies the 20 zero taps of every 36.
* ``"per_product"``: the same function again, each of its three products in its fastest form on XLA's CPU
  (:func:`conv_transpose_per_product`, a ``jax.custom_vjp``): ``lax.conv_transpose``'s forward pass and input
  gradient, the weight gradient as one matrix product per tap.
* ``"resize_conv"``: nearest-neighbour (or bilinear) resize ×2 then a ``k × k`` stride-1 convolution
  (Odena et al. 2016, "Deconvolution and checkerboard artifacts"). A different function with differently
  named parameters (``conv`` instead of ``conv_transpose``): not interchangeable with the other two.

Downsampling by two (:class:`Downsample2x`, a drop-in for ``nn.Conv(..., strides=2)``) comes in two: ``"xla"``
(the strided ``lax.conv_general_dilated``) and ``"s2d"`` (:func:`conv_stride2_as_s2d`: the 2x2 phases of the
padded input become channels, then one stride-1 convolution with the rearranged kernel; same parameters, same
function to float32 round-off).

Porting a PyTorch ``ConvTranspose2d`` weight ``w`` of shape ``[in, out, k, k]`` to the ``kernel``
``[k, k, in, out]`` used here: ``kernel = w.permute(2, 3, 0, 1).flip(0, 1)`` (PyTorch's transposed
convolution is the gradient of a convolution, i.e. ``transpose_kernel=True`` in lax terms).

The functions that compute these forms, and the rules that choose them on each backend (``"auto"``), are in
:mod:`jaxgan.models.conv_forms`; this module holds the layers (their parameters) and the spectral-norm and
conditional batch-norm layers that every image model shares.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.conv_forms import (
    NHWC,
    auto_batch_chunk,
    batch_chunked,
    conv_auto,
    conv_function,
    conv_stride2_as_s2d,
    conv_transpose_as_phases,
    conv_transpose_as_subpixel,
    conv_transpose_per_product,
    cpu_forms,
    upsample_padding,
)

Array = jax.Array

UPSAMPLE_METHODS = ("transpose", "subpixel", "phases", "per_product", "resize_conv", "auto")


class SubpixelConvTranspose(nn.Module):
    """A drop-in for ``nn.ConvTranspose(features, (k, k), strides=(2, 2), padding=upsample_padding(k))``.

    Same parameters (``kernel [k, k, in, features]``, ``bias [features]``), same initializers, same
    function; computed by :func:`conv_transpose_as_subpixel`.

    Attributes:
      features: output channels.
      kernel_size: ``k`` (an int or a ``(kh, kw)`` pair).
      use_bias: add a bias.
      kernel_init, bias_init: initializers, as in ``nn.ConvTranspose``.
      phases: compute it as four per-phase convolutions (:func:`conv_transpose_as_phases`) instead of one
        stacked convolution (:func:`conv_transpose_as_subpixel`).
      per_product: compute it by :func:`conv_transpose_per_product` (overrides ``phases``), on the CPU in batch
        chunks of :func:`auto_batch_chunk` rows.
    """

    features: int
    kernel_size: int | tuple[int, int] = 4
    use_bias: bool = True
    kernel_init: Any = nn.initializers.lecun_normal()
    bias_init: Any = nn.initializers.zeros_init()
    phases: bool = False
    per_product: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        kh, kw = _pair(self.kernel_size)
        kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", self.bias_init, (self.features,), jnp.float32) if self.use_bias else None
        if self.per_product:  # on the CPU, in chunks of 64 rows past 64 (auto_batch_chunk)
            return batch_chunked(lambda x: conv_transpose_per_product(x, kernel, bias), x, auto_batch_chunk(x.shape[0]))
        fn = conv_transpose_as_phases if self.phases else conv_transpose_as_subpixel
        return fn(x, kernel, bias)


# --------------------------------------------------------------------------------------------------------
# the stride-2 convolution and its space-to-depth form

DOWNSAMPLE_METHODS = ("xla", "s2d", "auto")

class Downsample2x(nn.Module):
    """A stride-2 convolution ``[b, H, W, c] -> [b, H', W', features]``, computed in a chosen exact form.

    A drop-in for ``nn.Conv(features, (k, k), strides=(2, 2), padding=padding)``: the same parameters (``kernel
    [k, k, c, features]``, ``bias [features]``), created by the same ``self.param`` calls, so that a module named
    like the ``nn.Conv`` it replaces (``name="Conv_0"``) initialises and restores the same checkpoint.

    Attributes:
      features: output channels.
      kernel_size: ``k`` (an int or a ``(kh, kw)`` pair).
      padding: as in ``nn.Conv``.
      method: ``"xla"`` (``lax.conv_general_dilated`` with window strides 2, what ``nn.Conv`` runs), ``"s2d"``
        (:func:`conv_stride2_as_s2d`) or ``"auto"`` (:func:`conv_auto`: XLA's, on the CPU in batch chunks of
        :func:`auto_batch_chunk` rows).
      use_bias: add a bias.
      kernel_init, bias_init: initializers, as in ``nn.Conv``.
    """

    features: int
    kernel_size: int | tuple[int, int] = 4
    padding: Any = "SAME"
    method: str = "xla"
    use_bias: bool = True
    kernel_init: Any = nn.initializers.lecun_normal()
    bias_init: Any = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if self.method not in DOWNSAMPLE_METHODS:
            raise ValueError(f"Downsample2x: method must be one of {DOWNSAMPLE_METHODS}, got {self.method!r}")
        kh, kw = _pair(self.kernel_size)
        kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", self.bias_init, (self.features,), jnp.float32) if self.use_bias else None
        x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias, dtype=None)
        if self.method == "s2d":
            return conv_stride2_as_s2d(x, kernel, bias, padding=self.padding)
        padding = self.padding if isinstance(self.padding, str) else tuple(map(tuple, self.padding))
        conv = conv_auto if self.method == "auto" else jax.lax.conv_general_dilated
        y = conv(x, kernel, (2, 2), padding, dimension_numbers=NHWC)
        return y if bias is None else y + bias


def _pair(k: int | tuple[int, int]) -> tuple[int, int]:
    return (k, k) if isinstance(k, int) else tuple(k)


class Upsample2x(nn.Module):
    """Upsampling by two with learned weights: ``[b, H, W, c] -> [b, 2H, 2W, features]``.

    ``"transpose"``, ``"subpixel"`` and ``"phases"`` compute the same function from the same parameters (a child
    ``conv_transpose`` with ``kernel [k, k, c, features]`` and ``bias [features]``); ``"resize_conv"`` has
    a child ``conv`` instead (see the module docstring).

    Attributes:
      features: output channels.
      kernel_size: ``k``; 4 in DCGAN.
      method: ``"transpose"``, ``"subpixel"``, ``"phases"``, ``"per_product"``, ``"resize_conv"`` or ``"auto"`` (the
        default: ``"per_product"`` on the CPU, where it measured fastest, ``"transpose"`` elsewhere).
      resize: ``"nearest"`` or ``"bilinear"``, for ``"resize_conv"`` only.
      use_bias: add a bias (drop it when a batch norm follows).
      kernel_init, bias_init: initializers.
    """

    features: int
    kernel_size: int = 4
    method: str = "auto"
    resize: str = "nearest"
    use_bias: bool = True
    kernel_init: Any = nn.initializers.lecun_normal()
    bias_init: Any = nn.initializers.zeros_init()

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k = self.kernel_size
        common = dict(use_bias=self.use_bias, kernel_init=self.kernel_init, bias_init=self.bias_init)
        method = self.method
        if method == "auto":
            method = "per_product" if cpu_forms() else "transpose"
        if method == "transpose":
            pad = upsample_padding(k)
            layer = nn.ConvTranspose(
                self.features, (k, k), strides=(2, 2), padding=(pad, pad), name="conv_transpose", **common
            )
            return layer(x)
        if method in ("subpixel", "phases", "per_product"):
            return SubpixelConvTranspose(
                self.features,
                k,
                name="conv_transpose",
                phases=method == "phases",
                per_product=method == "per_product",
                **common,
            )(x)
        if method == "resize_conv":
            b, h, w, c = x.shape
            x = jax.image.resize(x, (b, 2 * h, 2 * w, c), method=self.resize)
            return nn.Conv(self.features, (k, k), padding="SAME", name="conv", **common)(x)
        raise ValueError(f"Upsample2x: method must be one of {UPSAMPLE_METHODS}, got {self.method!r}")


# --------------------------------------------------------------------------------------------------------
# spectral normalization


def _sn_dtype(x: Array) -> Any:
    """The dtype of the normalised kernel: the input's. Flax's default promotes the kernel to the float32 of the
    ``u`` vector, which under mixed precision (:mod:`jaxgan.precision`: bf16 inputs and kernels) would run the
    layer in float32; so the power iteration stays float32 (``u`` is model state) and the layer computes in the
    input's dtype. For float32 inputs it is what Flax does."""
    return jax.dtypes.canonicalize_dtype(x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else None


class SNDense(nn.Module):
    """A dense layer with spectral normalization (Miyato et al. 2018, arXiv:1802.05957).

    The kernel ``W [in, features]`` is divided by an estimate of its largest singular value,
    ``sigma = u^T W^T v``, refreshed by one power iteration per call (``flax.linen.SpectralNorm``). The
    vector ``u`` and ``sigma`` live in the ``batch_stats`` collection
    (``{"sn": {"dense/kernel/u": [1, features], "dense/kernel/sigma": []}}``) and are stored only when
    ``train`` is true; in eval mode the iteration runs from the stored ``u`` and is discarded.

    Attributes:
      features: output size.
      use_bias: add a bias (not normalized).
      kernel_init: kernel initializer.

    Call: ``x [..., in]`` -> ``[..., features]``.
    """

    features: int
    use_bias: bool = True
    kernel_init: Any = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> Array:
        layer = nn.Dense(self.features, use_bias=self.use_bias, kernel_init=self.kernel_init, name="dense")
        return nn.SpectralNorm(layer, dtype=_sn_dtype(x), name="sn")(x, update_stats=train)


class SNConv(nn.Module):
    """A 2-D convolution with spectral normalization of its kernel reshaped to ``[kh * kw * in, features]``.

    As in Miyato et al. (2018); see :class:`SNDense` for the statistics (``{"sn": {"conv/kernel/u", ...}}``).

    Attributes:
      features: output channels.
      kernel_size: ``(kh, kw)`` or an int.
      strides: ``(sh, sw)`` or an int.
      padding: as in ``nn.Conv``.
      use_bias: add a bias.
      kernel_init: kernel initializer.
      conv: the convolution's form, one of :data:`CONV_FORMS` (:func:`conv_function`); ``"auto"`` by default.

    Call: ``x [batch, height, width, in]`` -> ``[batch, height', width', features]``.
    """

    features: int
    kernel_size: int | tuple[int, int] = 3
    strides: int | tuple[int, int] = 1
    padding: Any = "SAME"
    use_bias: bool = True
    kernel_init: Any = nn.initializers.lecun_normal()
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> Array:
        layer = nn.Conv(
            self.features,
            _pair(self.kernel_size),
            strides=_pair(self.strides),
            padding=self.padding,
            use_bias=self.use_bias,
            kernel_init=self.kernel_init,
            conv_general_dilated=conv_function(self.conv),
            name="conv",
        )
        return nn.SpectralNorm(layer, dtype=_sn_dtype(x), name="sn")(x, update_stats=train)


class SNEmbed(nn.Module):
    """A label embedding ``[num_classes, features]`` with spectral normalization (for projection heads).

    Call: ``labels [batch]`` int -> ``[batch, features]``.
    """

    num_classes: int
    features: int
    embedding_init: Any = nn.initializers.xavier_uniform()

    @nn.compact
    def __call__(self, labels: Array, *, train: bool = True) -> Array:
        layer = nn.Embed(self.num_classes, self.features, embedding_init=self.embedding_init, name="embed")
        return nn.SpectralNorm(layer, name="sn")(labels, update_stats=train)


# --------------------------------------------------------------------------------------------------------
# class-conditional batch norm


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and offset are looked up per class (de Vries et al. 2017; Miyato & Koyama 2018).

    ``y = gamma[label] * (x - mean) / sqrt(var + eps) + beta[label]``, with ``gamma`` initialised to ones
    and ``beta`` to zeros, statistics over every axis but the last.

    Attributes:
      num_classes: number of labels.
      momentum: running-average momentum.
      bn_axis_name: cross-replica axis for the statistics, or ``None``.

    Call: ``x [batch, ..., C]``, ``labels [batch]`` int -> ``[batch, ..., C]``.
    """

    num_classes: int
    momentum: float = 0.9
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x: Array, labels: Array, *, train: bool = True) -> Array:
        c = x.shape[-1]
        x = nn.BatchNorm(
            use_running_average=not train,
            momentum=self.momentum,
            use_scale=False,
            use_bias=False,
            axis_name=self.bn_axis_name,
            name="bn",
        )(x)
        gamma = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.ones_init(), name="gamma")(labels)
        beta = nn.Embed(self.num_classes, c, embedding_init=nn.initializers.zeros_init(), name="beta")(labels)
        shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (c,)
        return x * gamma.reshape(shape) + beta.reshape(shape)


def batch_norm(train: bool, axis_name: str | None, name: str | None = None) -> nn.BatchNorm:
    """The project's batch norm: ``nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=...)``."""
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=axis_name, name=name)
