"""The exact forms of the image models' convolutions, and the rules that choose among them.

Each function here computes the same function as a plain ``lax`` convolution from the same kernel (float32
round-off, or bit for bit where said). Each is a different program for XLA, and some run several times faster
on its CPU. The layers of :mod:`jaxgan.models.layers` hold the parameters and call these.

* Pixel shuffles: :func:`depth_to_space`, :func:`space_to_depth`.
* The stride-2 transposed convolution (``lax.conv_transpose`` with the geometry of :func:`upsample_padding`):
  - :func:`conv_transpose_as_subpixel`: one stacked stride-1 convolution of the undilated input, then
    :func:`depth_to_space`;
  - :func:`conv_transpose_as_phases`: four per-phase convolutions with only their own taps;
  - :func:`conv_transpose_per_product`: a ``jax.custom_vjp``, lax's forward pass and input gradient, the weight
    gradient as one matrix product per tap (:func:`conv_transpose_weight_grad_as_dots`).
  The module docstring of :mod:`jaxgan.models.layers` derives them.
* The stride-2 convolution as space-to-depth then a stride-1 convolution (:func:`conv_stride2_as_s2d`).
* The stride-1 convolution with its weight gradient as per-tap matrix products (:func:`conv_dot_dw`, a drop-in
  for ``lax.conv_general_dilated``; :func:`conv_weight_grad_as_dots`).
* The rules: :func:`cpu_forms` (the CPU, unless ``JAXGAN_CPU_FORMS=off``), :func:`auto_conv_form` (per layer),
  :func:`auto_batch_chunk` / :func:`batch_chunked` (batch chunks of 64 rows on the CPU), :func:`conv_auto` (a
  drop-in that applies them) and :func:`conv_function` (a form by name, for ``nn.Conv(conv_general_dilated=...)``).
  The measurements behind each rule are in ``docs/performance.md``.

Size: about 510 lines, 220 of them code. The rest is the derivations and the measurements behind each rule.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

# --------------------------------------------------------------------------------------------------------
# pixel shuffles


def depth_to_space(x: Array, block_size: int) -> Array:
    """Moves channel blocks into spatial blocks, like ``tf.nn.depth_to_space`` (NHWC, "DCR" order).

    ``out[b, h * r + i, w * r + j, c] = x[b, h, w, (i * r + j) * C + c]`` with ``r = block_size``.

    Args:
      x: ``[batch, height, width, r * r * C]``.
      block_size: ``r``.

    Returns:
      ``[batch, height * r, width * r, C]``.
    """
    b, h, w, d = x.shape
    r = block_size
    if d % (r * r):
        raise ValueError(f"depth_to_space: {d} channels do not divide by block_size**2 = {r * r}")
    c = d // (r * r)
    x = x.reshape(b, h, w, r, r, c)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * r, w * r, c)


def space_to_depth(x: Array, block_size: int) -> Array:
    """The inverse of :func:`depth_to_space`, like ``tf.nn.space_to_depth`` (NHWC).

    Args:
      x: ``[batch, height * r, width * r, C]`` with ``r = block_size``.
      block_size: ``r``.

    Returns:
      ``[batch, height, width, r * r * C]``.
    """
    b, hr, wr, c = x.shape
    r = block_size
    if hr % r or wr % r:
        raise ValueError(f"space_to_depth: spatial size {hr}x{wr} does not divide by block_size {r}")
    x = x.reshape(b, hr // r, r, wr // r, r, c)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, hr // r, wr // r, r * r * c)


# --------------------------------------------------------------------------------------------------------
# the stride-2 transposed convolution and its sub-pixel form


def upsample_padding(kernel_size: int) -> tuple[int, int]:
    """The lax padding ``(before, after)`` of a stride-2 transposed convolution whose output is exactly 2×.

    It is PyTorch's ``ConvTranspose2d(k, stride=2, padding=(k - 1) // 2, output_padding=k % 2)``:
    ``(k // 2, k - k // 2)``, i.e. ``(2, 2)`` for ``k = 4``.
    """
    return kernel_size // 2, kernel_size - kernel_size // 2


def _phase_taps(k: int, pad_before: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """For one spatial axis: which kernel tap each output phase uses at each offset of a common window.

    Output ``y[2a + r] = sum_d x[a + d] * kernel[2d + P - r]`` over the ``d`` with ``0 <= 2d + P - r < k``.
    Returns ``taps [2, window]`` (clipped indices), ``valid [2, window]`` and the window ``[d0, d1]``.
    """
    p = pad_before
    lo = [-((p - r) // 2) for r in (0, 1)]  # ceil((r - p) / 2)
    hi = [(k - 1 + r - p) // 2 for r in (0, 1)]
    d0, d1 = min(lo), max(hi)
    d = np.arange(d0, d1 + 1)
    t = 2 * d[None, :] + p - np.arange(2)[:, None]
    valid = (t >= 0) & (t < k)
    return np.clip(t, 0, k - 1), valid, d0, d1


def subpixel_kernel(kernel: Array, bias: Array | None = None) -> tuple[Array, Array | None, tuple]:
    """Rearranges a stride-2 transposed-convolution kernel into one stride-1 sub-pixel kernel.

    Args:
      kernel: ``[kh, kw, in, out]``, as held by ``nn.ConvTranspose`` (``transpose_kernel=False``).
      bias: ``[out]`` or ``None``.

    Returns:
      ``(phase_kernel, phase_bias, padding)``: ``phase_kernel`` is ``[wh, ww, in, 4 * out]`` with output
      channel ``(ry * 2 + rx) * out + c`` computing output phase ``(ry, rx)`` (the :func:`depth_to_space`
      order), ``phase_bias`` is ``bias`` tiled to ``[4 * out]``, ``padding`` is the lax padding of the
      stride-1 convolution. The padding of the transposed convolution is :func:`upsample_padding`.
    """
    kh, kw, cin, cout = kernel.shape
    th, vh, h0, h1 = _phase_taps(kh, upsample_padding(kh)[0])
    tw, vw, w0, w1 = _phase_taps(kw, upsample_padding(kw)[0])
    # [ry, rx, jh, jw, in, out]
    k = kernel[th[:, None, :, None], tw[None, :, None, :]]
    mask = (vh[:, None, :, None] & vw[None, :, None, :]).astype(kernel.dtype)
    k = k * mask[..., None, None]
    k = k.transpose(2, 3, 4, 0, 1, 5).reshape(th.shape[1], tw.shape[1], cin, 4 * cout)
    b = None if bias is None else jnp.tile(bias, 4)
    return k, b, ((-h0, h1), (-w0, w1))


def conv_transpose_as_subpixel(x: Array, kernel: Array, bias: Array | None = None, *, precision: Any = None) -> Array:
    """A stride-2 transposed convolution computed as one stride-1 convolution plus a pixel shuffle.

    Exactly ``lax.conv_transpose(x, kernel, (2, 2), (upsample_padding(kh), upsample_padding(kw))) + bias``
    (the ``"transpose"`` flavour of :class:`Upsample2x`), up to float round-off, without convolving the
    zeros of the dilated input. Any kernel size works; for ``k = 4`` the stride-1 kernel is 3×3, for
    ``k = 2`` it is 1×1, for ``k = 6`` it is 3×3 with every tap used.

    Args:
      x: ``[batch, height, width, in]``.
      kernel: ``[kh, kw, in, out]`` (the ``nn.ConvTranspose`` layout, not flipped).
      bias: ``[out]`` or ``None``.
      precision: passed to ``lax.conv_general_dilated``.

    Returns:
      ``[batch, 2 * height, 2 * width, out]``.
    """
    k, b, padding = subpixel_kernel(kernel, bias)
    y = jax.lax.conv_general_dilated(
        x, k, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=precision
    )
    if b is not None:
        y = y + b
    return depth_to_space(y, 2)


def conv_transpose_as_phases(x: Array, kernel: Array, bias: Array | None = None, *, precision: Any = None) -> Array:
    """The same stride-2 transposed convolution as four ordinary convolutions, one per output phase.

    Output phase ``(ry, rx)`` meets only the kernel taps of its parity, a ``ceil(k / 2)``-wide window of the
    undilated input (2x2 for ``k = 4``), so each phase is one stride-1 convolution with the taps gathered from
    ``kernel``; the four results are interleaved by :func:`depth_to_space`. Unlike
    :func:`conv_transpose_as_subpixel` (one convolution over the union window, 3x3 for ``k = 4``, whose
    kernel is zero on 5 of every 9 taps of each phase) it multiplies no zeros: its multiply-adds are exactly
    the real taps of the transposed convolution. Same parameters, same function up to float32 round-off.

    Args and returns as :func:`conv_transpose_as_subpixel`.
    """
    kh, kw, _, _ = kernel.shape

    def window(k: int, r: int) -> tuple[list[int], tuple[int, int]]:
        p = upsample_padding(k)[0]
        lo, hi = -((p - r) // 2), (k - 1 + r - p) // 2  # input offsets d with 0 <= 2d + p - r < k
        return [2 * d + p - r for d in range(lo, hi + 1)], (-lo, hi)

    outs = []
    for ry in (0, 1):
        ty, pad_y = window(kh, ry)
        for rx in (0, 1):
            tx, pad_x = window(kw, rx)
            k = kernel[np.asarray(ty)][:, np.asarray(tx)]
            outs.append(
                jax.lax.conv_general_dilated(
                    x, k, (1, 1), (pad_y, pad_x), dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=precision
                )
            )
    y = jnp.concatenate(outs, axis=-1)  # channel (ry * 2 + rx) * out + c: the depth_to_space order
    if bias is not None:
        y = y + jnp.tile(bias, 4)
    return depth_to_space(y, 2)


def _conv_transpose(x: Array, kernel: Array) -> Array:
    kh, kw = kernel.shape[:2]
    return jax.lax.conv_transpose(
        x, kernel, (2, 2), (upsample_padding(kh), upsample_padding(kw)), dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


@jax.custom_vjp
def _per_product(x: Array, kernel: Array) -> Array:
    return _conv_transpose(x, kernel)


def _per_product_fwd(x: Array, kernel: Array) -> tuple[Array, tuple[Array, Array]]:
    return _conv_transpose(x, kernel), (x, kernel)


def conv_transpose_weight_grad_as_dots(x: Array, dy: Array, kernel_shape: tuple) -> Array:
    """The weight gradient of the stride-2 transposed convolution (:func:`_conv_transpose`) as one matrix product
    per kernel tap.

    Output pixel ``o`` of the transposed convolution receives ``x[p] kernel[t]`` where ``o = 2p + lo - t``
    (``lo = upsample_padding(k)[0]``), so ``dL/dkernel[t] = sum_p x[p]^T dy[2p + lo - t]``: a ``[in, batch * H * W]``
    by ``[batch * H * W, out]`` product of the input with every other row and column of the (zero-padded) output
    gradient, per tap, in the operands' dtype. Plain products also batch well under ``jax.vmap``
    (a per-sample weight gradient is then one batched product), where a convolution's weight gradient does not.
    """
    kh, kw, cin, cout = kernel_shape
    (lh, _), (lw, _) = upsample_padding(kh), upsample_padding(kw)
    n, h, w, _ = x.shape
    dyp = jnp.pad(dy, ((0, 0), (kh, kh), (kw, kw), (0, 0)))
    xs = x.reshape(-1, cin)
    taps = []
    for i in range(kh):
        for j in range(kw):
            si, sj = lh - i + kh, lw - j + kw
            d = dyp[:, si : si + 2 * h : 2, sj : sj + 2 * w : 2, :].reshape(-1, cout)
            taps.append(jax.lax.dot_general(xs, d, (((0,), (0,)), ((), ()))))
    return jnp.stack(taps).reshape(kernel_shape).astype(x.dtype)


def _per_product_bwd(res: tuple[Array, Array], dy: Array) -> tuple[Array, Array]:
    x, kernel = res
    dx = jax.vjp(lambda x: _conv_transpose(x, kernel), x)[1](dy)[0]  # a plain strided convolution of dy
    dw = conv_transpose_weight_grad_as_dots(x, dy, kernel.shape).astype(kernel.dtype)  # no zero-dilated window
    return dx, dw


_per_product.defvjp(_per_product_fwd, _per_product_bwd)


def conv_transpose_per_product(x: Array, kernel: Array, bias: Array | None = None) -> Array:
    """The same stride-2 transposed convolution, each of its three products in the form XLA's CPU runs fastest.

    A ``jax.custom_vjp``: the forward pass and the input gradient are ``lax.conv_transpose``'s (its input gradient is
    an ordinary strided convolution of the output gradient), the weight gradient is one matrix product per tap
    (:func:`conv_transpose_weight_grad_as_dots`), with no zero-dilated window: XLA's weight gradient of
    ``lax.conv_transpose`` itself ran 20x slower than the sub-pixel form's for ``dcgan28``'s hidden layer (173.9
    against 8.7 ms), the per-tap products 8.6 ms (``benchmarks/layer_profile.py``, docs/performance.md): a tie
    with the sub-pixel form there, but unlike a convolution's weight gradient they stay plain products under a
    per-sample ``jax.vmap`` (pix2pix's generator). All three are exact, so the function and its gradients
    are those of the other forms to float32 round-off; second derivatives (gradient penalties) differentiate the
    backward pass, which is plain JAX. No forward-mode derivative (``jax.jvp``), as for any ``custom_vjp``.

    Args and returns as :func:`conv_transpose_as_subpixel` (without ``precision``).
    """
    y = _per_product(x, kernel)
    return y if bias is None else y + bias


# --------------------------------------------------------------------------------------------------------
# the stride-2 convolution and its space-to-depth form

def _s2d_axis(size: int, k: int, pad: tuple[int, int]) -> tuple[int, int, int]:
    """For one spatial axis of a stride-2 convolution: ``(outputs, pad_before, pad_after)`` of the space-to-depth
    form, whose padded length is even and just long enough for an even kernel of ``k + k % 2`` taps (the extra
    tap of an odd kernel is zero). ``pad_after`` may be negative: trailing input that no output reads is cut."""
    lo, hi = pad
    out = (size + lo + hi - k) // 2 + 1
    if out < 1:
        raise ValueError(f"conv_stride2_as_s2d: a {k}-tap kernel does not fit {size} inputs padded by {pad}")
    length = 2 * (out - 1) + k + k % 2
    return out, lo, length - size - lo


def conv_stride2_as_s2d(
    x: Array, kernel: Array, bias: Array | None = None, *, padding: Any = "SAME", precision: Any = None
) -> Array:
    """A stride-2 convolution computed as :func:`space_to_depth` then one stride-1 convolution.

    Exactly ``lax.conv_general_dilated(x, kernel, (2, 2), padding) + bias`` (``nn.Conv(..., strides=2)``) up to
    float32 round-off, for any kernel size and padding. Output pixel ``o`` of a stride-2 convolution reads the
    padded input at ``2o + t``; writing the tap as ``t = 2a + r``, that is pixel ``o + a`` of the padded input's
    phase ``r``. So the 2x2 phases of the padded input become channels (``[b, H/2, W/2, 4c]``, the
    :func:`space_to_depth` order ``(ry * 2 + rx) * c + ci``), the kernel ``[k, k, c, out]`` is rearranged (not
    retrained) to ``[k/2, k/2, 4c, out]`` with ``kernel2[a_y, a_x, (r_y * 2 + r_x) * c + ci] = kernel[2a_y + r_y,
    2a_x + r_x, ci]``, and one stride-1 "VALID" convolution does the rest: the same multiply-adds, but no strided
    window for XLA's CPU backend (whose input gradient of a strided convolution is a zero-dilated convolution).
    An odd kernel gets one zero tap at the end of each axis (``k = 3`` becomes 2x2 over the phases), so it also
    multiplies those zeros.

    Args:
      x: ``[batch, height, width, in]``.
      kernel: ``[kh, kw, in, out]`` (``nn.Conv``'s layout).
      bias: ``[out]`` or ``None``.
      padding: ``"SAME"``, ``"VALID"`` or ``((top, bottom), (left, right))``, as in ``nn.Conv``.
      precision: passed to ``lax.conv_general_dilated``.

    Returns:
      ``[batch, height', width', out]``, the stride-2 convolution's output.
    """
    kh, kw, cin, cout = kernel.shape
    if isinstance(padding, str):
        padding = jax.lax.padtype_to_pads(x.shape[1:3], (kh, kw), (2, 2), padding)
    (oh, th, bh), (ow, tw, bw) = (_s2d_axis(x.shape[1], kh, tuple(padding[0])), _s2d_axis(x.shape[2], kw,
                                                                                       tuple(padding[1])))
    x = jax.lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (th, bh, 0), (tw, bw, 0), (0, 0, 0)))
    x = space_to_depth(x, 2)
    eh, ew = kh + kh % 2, kw + kw % 2
    k = jnp.pad(kernel, ((0, eh - kh), (0, ew - kw), (0, 0), (0, 0)))
    k = k.reshape(eh // 2, 2, ew // 2, 2, cin, cout).transpose(0, 2, 1, 3, 4, 5).reshape(eh // 2, ew // 2, 4 * cin,
                                                                                          cout)
    y = jax.lax.conv_general_dilated(
        x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=precision
    )
    assert y.shape[1:3] == (oh, ow), (y.shape, oh, ow)
    return y if bias is None else y + bias


# --------------------------------------------------------------------------------------------------------
# the stride-1 convolution with its weight gradient as matrix products

CONV_FORMS = ("xla", "dot_dw", "auto")


def cpu_forms(backend: str | None = None) -> bool:
    """Whether ``"auto"`` layers take the forms measured fastest on XLA's CPU: when ``backend`` (default: JAX's
    default backend, at trace time) is ``"cpu"``, unless the environment sets ``JAXGAN_CPU_FORMS=off``. With it
    off, a CPU traces what other backends run (XLA's own convolutions, whole batches, the transposed convolution):
    for comparing the forms on a whole step (``benchmarks/config_steps.py``) or chasing round-off."""
    backend = jax.default_backend() if backend is None else backend
    return backend == "cpu" and os.environ.get("JAXGAN_CPU_FORMS", "on").lower() not in ("off", "0", "false")
NHWC = ("NHWC", "HWIO", "NHWC")


def _conv_nhwc(x: Array, kernel: Array, pads: tuple, precision: Any) -> Array:
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), pads, dimension_numbers=NHWC, precision=precision)


def conv_weight_grad_as_dots(x: Array, dy: Array, kernel_shape: tuple, pads: tuple, precision: Any = None) -> Array:
    """The weight gradient of a stride-1 convolution as one matrix product per kernel tap.

    For ``y[n, a, b, o] = sum_{i, j, c} xp[n, a + i, b + j, c] kernel[i, j, c, o]`` (``xp``: ``x`` zero-padded by
    ``pads``), ``dL/dkernel[i, j] = xp[:, i:i + H', j:j + W', :]^T dy``, a ``[c, batch * H' * W']`` by
    ``[batch * H' * W', out]`` product for each of the ``kh * kw`` taps (one plain product for a 1x1 kernel), in
    the operands' dtype (bf16 products under mixed precision, as XLA's own convolutions there). The same sums as
    XLA's weight gradient, which its CPU backend computes as a convolution over the whole ``H' x W'`` window.

    Args:
      x: ``[batch, height, width, in]``.
      dy: ``[batch, height', width', out]``, the output gradient.
      kernel_shape: ``(kh, kw, in, out)``.
      pads: ``((top, bottom), (left, right))``, each >= 0.
      precision: passed to ``lax.dot_general``.
    """
    kh, kw, cin, cout = kernel_shape
    xp = jnp.pad(x, ((0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)))
    ho, wo = dy.shape[1:3]
    d = dy.reshape(-1, cout)
    taps = [
        jax.lax.dot_general(
            xp[:, i : i + ho, j : j + wo, :].reshape(-1, cin),
            d,
            (((0,), (0,)), ((), ())),
            precision=precision,
        )
        for i in range(kh)
        for j in range(kw)
    ]
    return jnp.stack(taps).reshape(kernel_shape).astype(x.dtype)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_dot_dw(x: Array, kernel: Array, pads: tuple, precision: Any) -> Array:
    return _conv_nhwc(x, kernel, pads, precision)


def _conv_dot_dw_fwd(x: Array, kernel: Array, pads: tuple, precision: Any) -> tuple[Array, tuple[Array, Array]]:
    return _conv_nhwc(x, kernel, pads, precision), (x, kernel)


def _conv_dot_dw_bwd(pads: tuple, precision: Any, res: tuple[Array, Array], dy: Array) -> tuple[Array, Array]:
    x, kernel = res
    dx = jax.vjp(lambda x: _conv_nhwc(x, kernel, pads, precision), x)[1](dy)[0]  # XLA's own input gradient
    dw = conv_weight_grad_as_dots(x, dy, kernel.shape, pads, precision).astype(kernel.dtype)
    return dx, dw


_conv_dot_dw.defvjp(_conv_dot_dw_fwd, _conv_dot_dw_bwd)


def _plain_stride1(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                   feature_group_count, batch_group_count) -> tuple | None:  # fmt: skip
    """The explicit pads when the call is a plain stride-1 NHWC/HWIO 2-D convolution with non-negative padding,
    else ``None`` (the forms below then leave it to ``lax.conv_general_dilated``)."""
    if lhs.ndim != 4 or rhs.ndim != 4 or feature_group_count != 1 or batch_group_count != 1:
        return None
    if tuple(window_strides) != (1, 1) or any(d not in (None, (1, 1), [1, 1]) for d in (lhs_dilation, rhs_dilation)):
        return None
    nhwc = jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, NHWC)
    if jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers) != nhwc:
        return None
    if isinstance(padding, str):
        padding = jax.lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], (1, 1), padding)
    pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    return pads if all(p >= 0 for pair in pads for p in pair) else None


def conv_dot_dw(lhs: Array, rhs: Array, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                dimension_numbers=None, feature_group_count: int = 1, batch_group_count: int = 1,
                precision: Any = None, preferred_element_type: Any = None) -> Array:  # fmt: skip
    """``lax.conv_general_dilated``, with a stride-1 convolution's weight gradient as matrix products.

    A drop-in for ``lax.conv_general_dilated`` (the same signature; ``nn.Conv(...,
    conv_general_dilated=conv_dot_dw)`` keeps the layer's parameters and checkpoints). For a plain stride-1 2-D
    convolution in NHWC / HWIO layout with non-negative padding and no dilation or groups, it is a
    ``jax.custom_vjp`` whose forward pass and input gradient are XLA's own and whose weight gradient is
    :func:`conv_weight_grad_as_dots`. XLA's CPU backend computes that gradient as a convolution over the whole
    output window, which ran at 56 GFLOP/s for ``sngan32``'s 32x32 3x3 layers against 148 for the per-tap
    products, and at 20 against 165 for their 1x1 shortcut (``benchmarks/layer_profile.py --model sngan32``,
    docs/performance.md). Any other call
    is passed to ``lax.conv_general_dilated`` unchanged. Exact: the same products summed in another order, so the
    values and gradients are XLA's to float32 round-off; second derivatives (gradient penalties) differentiate the
    backward pass, which is plain JAX. No forward-mode derivative (``jax.jvp``), as for any ``custom_vjp``.
    """
    pads = _plain_stride1(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                          feature_group_count, batch_group_count)  # fmt: skip
    if pads is None or preferred_element_type is not None:
        return jax.lax.conv_general_dilated(
            lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers, feature_group_count,
            batch_group_count, precision, preferred_element_type
        )  # fmt: skip
    return _conv_dot_dw(lhs, rhs, pads, precision)


def auto_conv_form(x_shape: tuple, kernel_shape: tuple, backend: str | None = None, strides: tuple = (1, 1)) -> str:
    """The form ``"auto"`` picks for a convolution with input ``x_shape`` (NHWC), kernel ``kernel_shape`` (HWIO) and
    window ``strides``: ``"dot_dw"`` on the CPU where it measured faster, else ``"xla"``.

    The rule, from ``benchmarks/conv_forms.py --sweep dw`` on the 2-core Xeon (2026-12-02; docs/performance.md,
    "The weight gradient as matrix products"), XLA's weight gradient time over the per-tap products': a 1x1 kernel
    (one plain product) 8.0x; 3x3 with ``batch x height x width`` >= 4096 rows 1.1-2.2x (sngan32's 32x32 layers
    1.5-2.2x, 28x28 and 14x14 at batch 64 1.1-1.5x); 2048 and 3136 rows 0.89x and 0.93x (so not below 4096); 3
    output channels 0.19x (so at least 32 are required). Stride-1 layers only; off the CPU always ``"xla"``: the
    forms were measured on XLA's CPU backend only."""
    kh, kw, _, cout = kernel_shape
    if not cpu_forms(backend) or cout < 32 or tuple(strides) != (1, 1):
        return "xla"
    rows = x_shape[0] * x_shape[1] * x_shape[2]
    return "dot_dw" if (kh, kw) == (1, 1) or rows >= 4096 else "xla"


AUTO_BATCH_CHUNK = 64


def auto_batch_chunk(batch: int, backend: str | None = None) -> int | None:
    """The batch chunk ``"auto"`` computes a strided or transposed convolution in: :data:`AUTO_BATCH_CHUNK` rows
    on the CPU when the batch is larger, else ``None`` (the whole batch at once).

    XLA's CPU convolutions slow down more than linearly past 64 rows. ``benchmarks/conv_forms.py --sweep chunk``,
    ``dcgan28``'s layers at batch 256 (2-core Xeon, 2026-12-02), whole batch against chunks of 64: D's 14x14
    stride-2 layer, input gradient 41.6 against 26.7 ms and weight gradient 38.9 against 25.7 (forward 16.9 against
    19.3); G's hidden ``"per_product"`` upsampling (with its earlier sub-pixel weight gradient), forward 39.4
    against 18.6 ms and weight gradient 103.0 against 40.4. Chunks of 32 or 16 were not better overall; at batch
    64 they gained nothing."""
    return AUTO_BATCH_CHUNK if cpu_forms(backend) and batch > AUTO_BATCH_CHUNK else None


def batch_chunked(f: Any, x: Array, chunk: int | None) -> Array:
    """``f(x)`` computed as ``f`` of consecutive ``chunk``-row slices of ``x``, concatenated on axis 0 (the last
    slice may be shorter); ``f(x)`` itself when ``chunk`` is ``None`` or covers the batch. For a per-row function
    (a convolution) the same values; its weight gradient is then the sum of the chunks' (round-off apart)."""
    n = x.shape[0]
    if chunk is None or chunk >= n:
        return f(x)
    return jnp.concatenate([f(x[i : i + chunk]) for i in range(0, n, chunk)], axis=0)


def strided_conv_chunk(lhs_shape: tuple, window_strides, dimension_numbers=None, backend: str | None = None):
    """The batch chunk :func:`conv_auto` computes XLA's convolution in: :func:`auto_batch_chunk` rows for a strided
    convolution with a leading batch axis and at least 16 input channels, else ``None`` (``dcgan28``'s 1-channel
    input layer ran slower in chunks at batch 256: input gradient 4.5 against 2.8 ms, weight gradient 5.3 against
    4.0, ``benchmarks/conv_forms.py``). ``dimension_numbers`` as in ``lax.conv_general_dilated`` (``None``: NCHW)."""
    nd = len(lhs_shape) - 2
    specs = jax.lax.conv_dimension_numbers(lhs_shape, (1,) * (nd + 2), dimension_numbers)
    batch_first = specs.lhs_spec[0] == 0 and specs.out_spec[0] == 0
    wide = lhs_shape[specs.lhs_spec[1]] >= 16
    if tuple(window_strides) != (1,) * nd and batch_first and wide:
        return auto_batch_chunk(lhs_shape[0], backend)
    return None


def conv_auto(lhs: Array, rhs: Array, window_strides, padding, *args, **kwargs) -> Array:
    """``lax.conv_general_dilated`` in the form ``"auto"`` picks for the call (a drop-in, as :func:`conv_dot_dw`):
    :func:`conv_dot_dw` where :func:`auto_conv_form` says so; otherwise XLA's, in batch chunks of
    :func:`strided_conv_chunk` rows where that gives a chunk (strided convolutions past 64 rows, on the CPU)."""
    if auto_conv_form(lhs.shape, rhs.shape, strides=tuple(window_strides)) == "dot_dw":
        return conv_dot_dw(lhs, rhs, window_strides, padding, *args, **kwargs)
    conv = lambda x: jax.lax.conv_general_dilated(x, rhs, window_strides, padding, *args, **kwargs)  # noqa: E731
    dn = kwargs.get("dimension_numbers", args[2] if len(args) > 2 else None)
    return batch_chunked(conv, lhs, strided_conv_chunk(lhs.shape, window_strides, dn))


def conv_function(form: str) -> Any:
    """What to pass as ``nn.Conv(conv_general_dilated=...)`` for ``form`` in :data:`CONV_FORMS` (``None`` for
    ``"xla"``: ``nn.Conv``'s own ``lax.conv_general_dilated``)."""
    if form not in CONV_FORMS:
        raise ValueError(f"conv form must be one of {CONV_FORMS}, got {form!r}")
    return {"xla": None, "dot_dw": conv_dot_dw, "auto": conv_auto}[form]
