"""Image-to-image translation networks (NHWC, Flax Linen): pix2pix's U-Net and PatchGAN, CycleGAN's ResNet
generator, StarGAN's generator and two-headed discriminator.

Each follows its reference implementation layer by layer (junyanz/pytorch-CycleGAN-and-pix2pix
``models/networks.py``: ``UnetGenerator``, ``NLayerDiscriminator``, ``ResnetGenerator``; yunjey/stargan
``model.py``): kernel sizes, strides, paddings, widths, where the norms and biases go, LeakyReLU slopes, weights
from N(0, 0.02) (the reference's ``init_weights('normal', 0.02)``; StarGAN keeps PyTorch's default init, here
the same N(0, 0.02)). At the reference sizes the parameter counts equal the reference's (tested): U-Net-256
54,413,955 with batch norm, ResNet-9 11,378,179, PatchGAN-3 2,764,737, StarGAN 8,430,528 / 44,762,048.

Norms (``norm``): ``"instance"`` (``nn.InstanceNorm``, statistics of each image and channel over its pixels,
eps 1e-5), ``"batch"`` (:func:`jaxgan.models.layers.batch_norm`, running statistics in ``batch_stats``) or
``"none"``. ``norm_affine`` gives the instance norm a learned scale and offset. A convolution followed by a norm
with an offset has no bias, as in the references (their rule ``use_bias = norm is InstanceNorm2d``, whose
instance norm has no affine part). The papers: CycleGAN uses instance norm without affine parameters; StarGAN
instance norm with them; pix2pix batch norm, used with batch size 1 and test-batch statistics, i.e. an instance
norm with affine parameters, which is what the U-Net uses by default here: per-image statistics also keep a
translation independent of the other images of a batch and of the device count.

Calling convention (:func:`jaxgan.models.adapters.from_linen`): ``module(x, *, train)``, StarGAN's generator
``module(x, labels, *, train)`` with the target domain as ``labels``. A conditional PatchGAN (pix2pix) sees
the concatenation ``concat([input, output], -1)`` built by the caller, so give it ``in + out`` channels.

Forms (the same parameters and function whichever): every model takes ``conv``, the form of its convolutions
(:data:`jaxgan.models.conv_forms.CONV_FORMS`; ``"auto"``, the default, picks per layer the one measured fastest on the
backend, :func:`jaxgan.models.conv_forms.conv_auto`), and upsamples with :class:`~jaxgan.models.layers.Upsample2x`'s
default ``"auto"`` (``"per_product"`` on the CPU, the transposed convolution elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.conv_forms import conv_function
from jaxgan.models.layers import Upsample2x, batch_norm

Array = jax.Array

INIT = nn.initializers.normal(0.02)
NORMS = ("instance", "batch", "none")


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def _norm(norm: str, affine: bool, train: bool, bn_axis_name: str | None, name: str) -> Callable[[Array], Array]:
    if norm == "instance":
        return nn.InstanceNorm(epsilon=1e-5, use_scale=affine, use_bias=affine, use_fast_variance=False, name=name)
    if norm == "batch":
        return batch_norm(train, bn_axis_name, name=name)
    return lambda x: x


def _conv_bias(norm: str, affine: bool) -> bool:
    """A convolution before a norm has a bias only when the norm has no offset of its own."""
    return norm == "none" or (norm == "instance" and not affine)


def _conv(features: int, kernel: int, stride: int, pad: int | str, use_bias: bool, name: str,
          conv: str = "auto") -> nn.Conv:  # fmt: skip
    """An ``nn.Conv`` computing in the form ``conv`` (:data:`~jaxgan.models.conv_forms.CONV_FORMS`; ``"auto"``: per
    layer the one measured fastest on the backend; the same parameters whichever)."""
    padding = pad if isinstance(pad, str) else ((pad, pad), (pad, pad))
    return nn.Conv(
        features, (kernel, kernel), (stride, stride), padding, use_bias=use_bias, kernel_init=INIT, name=name,
        conv_general_dilated=conv_function(conv),
    )  # fmt: skip


def reflect_pad(x: Array, p: int) -> Array:
    """PyTorch's ``ReflectionPad2d(p)`` on ``[batch, height, width, channels]``."""
    return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")


def _check_divisible(x: Array, factor: int, who: str) -> None:
    h, w = x.shape[1:3]
    if h % factor or w % factor:
        raise ValueError(f"{who}: the image side must divide by {factor}, got {h}x{w}")


# ------------------------------------------------------------------------------------------------------ U-Net


class UNetGenerator(nn.Module):
    """pix2pix's U-Net (Isola et al. 2017, Sec. 3.2.1 and App. 6.1.1): ``[b, h, w, c_in] -> [b, h, w, channels]``.

    ``num_downs`` stride-2 4x4 convolutions (LeakyReLU 0.2 before each but the first; a norm after each but the
    first and the last) take the image to ``h / 2**num_downs``; as many stride-2 4x4 transposed convolutions
    (ReLU before each, a norm after each but the last) come back up, each concatenating the mirror-image encoder
    activation (the skip connections), and the last ends in tanh. Level ``i`` (0 outermost) has
    ``base_features * min(2**i, 8)`` channels. Dropout (rate 0.5, after the norm of the up path) in the
    ``dropout_blocks`` deepest levels above the innermost is the generator's only noise, as in the paper; it is
    active in train mode and needs the ``dropout`` rng (``from_linen`` derives it from ``rng``). The reference's
    ``unet_256`` is ``num_downs=8, dropout_blocks=3`` (its three middle 8f levels); at 28-32 px use
    ``num_downs=5`` (a 1x1 bottleneck at 32).

    Sizes that do not divide by ``2**num_downs`` (28 with ``num_downs=5``): the input is reflect-padded to the
    next multiple (28 -> 32: 2 pixels each side; an odd excess puts the extra pixel after), run through the
    network, and the output cropped back to the input's rows and columns.

    Attributes:
      channels: output channels.
      num_downs: stride-2 stages (>= 2; >= 3 with dropout).
      base_features: ``f``, the width of the outermost level (64 in the paper).
      norm, norm_affine: see the module docstring (default: instance norm with scale and offset).
      dropout_blocks: how many levels have dropout (0: a deterministic generator).
      dropout_rate: 0.5 in the paper.
      bn_axis_name: cross-replica axis of ``norm="batch"``.
    """

    channels: int = 1
    num_downs: int = 5
    base_features: int = 64
    norm: str = "instance"
    norm_affine: bool = True
    dropout_blocks: int = 3
    dropout_rate: float = 0.5
    bn_axis_name: str | None = None
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> Array:
        _check_norm(self.norm)
        d = self.num_downs
        if d < 2 or (self.dropout_blocks > 0 and d < 3):
            raise ValueError(f"UNetGenerator: num_downs must be >= 2 (>= 3 with dropout), got {d}")
        h, w = x.shape[1:3]
        m = 2**d
        ph, pw = -h % m, -w % m
        top, left = ph // 2, pw // 2
        x = jnp.pad(x, ((0, 0), (top, ph - top), (left, pw - left), (0, 0)), mode="reflect")
        bias = _conv_bias(self.norm, self.norm_affine)
        widths = [self.base_features * min(2**i, 8) for i in range(d)]
        dropout_levels = range(max(1, d - 1 - self.dropout_blocks), d - 1)

        def norm(name):
            return _norm(self.norm, self.norm_affine, train, self.bn_axis_name, name)

        skips, y = [], x
        for i in range(d):
            skips.append(y)
            if i > 0:
                y = nn.leaky_relu(y, 0.2)
            y = _conv(widths[i], 4, 2, 1, bias, f"down{i}", conv=self.conv)(y)
            if 0 < i < d - 1:
                y = norm(f"down{i}_norm")(y)
        for i in reversed(range(d)):
            y = nn.relu(y)
            out = self.channels if i == 0 else widths[i - 1]
            y = Upsample2x(out, 4, use_bias=bias or i == 0, kernel_init=INIT, name=f"up{i}")(y)
            if i == 0:
                y = jnp.tanh(y)
                break
            y = norm(f"up{i}_norm")(y)
            if i in dropout_levels:
                y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
            y = jnp.concatenate([skips[i], y], axis=-1)
        return y[:, top : top + h, left : left + w]


# --------------------------------------------------------------------------------------------------- PatchGAN


def patchgan_receptive_field(n_layers: int) -> int:
    """The side of the input patch one PatchGAN output sees: ``9 * 2**n_layers - 2`` (16, 34, 70, 142 pixels).

    Backwards from the output: the two stride-1 4x4 convolutions see 7 pixels, each stride-2 4x4 convolution
    maps ``r`` to ``2 r + 2``.
    """
    return 9 * 2**n_layers - 2


class PatchGANDiscriminator(nn.Module):
    """The PatchGAN discriminator (Isola et al. 2017, Sec. 3.2.2; the reference's ``NLayerDiscriminator``).

    ``n_layers`` stride-2 4x4 convolutions (padding 1, widths ``f * min(2**i, 8)``, a norm after each but the
    first, LeakyReLU 0.2), one stride-1 4x4 convolution (``f * min(2**n_layers, 8)``, norm, LeakyReLU) and a
    stride-1 4x4 convolution to one logit per patch. ``[b, h, w, c] -> [b, h', w', 1]`` with
    ``h' = h // 2**n_layers - 2``.

    Receptive field (:func:`patchgan_receptive_field`): each output sees a ``9 * 2**n_layers - 2`` pixel square
    of the input: 70x70 at ``n_layers=3`` (the paper's "70x70 PatchGAN", 30x30 outputs at 256 px), 34x34 at 2
    (5x5 outputs at 28 px, 6x6 at 32: each sees the whole digit and beyond, mostly padding), 16x16 at 1 (12x12
    outputs at 28 px, 14x14 at 32: local texture). Instance or batch statistics couple all pixels, so this
    is the receptive field of the convolutions; with ``norm="none"`` it is the exact gradient support.

    Conditional use (pix2pix): call it on ``concat([input, output], -1)``.

    Attributes:
      base_features: ``f`` (64).
      n_layers: stride-2 stages (3 in the paper at 256 px; 1-2 at 28-32 px).
      norm, norm_affine: see the module docstring (default: CycleGAN's instance norm without affine part).
      bn_axis_name: cross-replica axis of ``norm="batch"``.
    """

    base_features: int = 64
    n_layers: int = 3
    norm: str = "instance"
    norm_affine: bool = False
    bn_axis_name: str | None = None
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> Array:
        _check_norm(self.norm)
        if self.n_layers < 1:
            raise ValueError(f"PatchGANDiscriminator: n_layers must be >= 1, got {self.n_layers}")
        f, bias = self.base_features, _conv_bias(self.norm, self.norm_affine)
        y = nn.leaky_relu(_conv(f, 4, 2, 1, True, "conv0", conv=self.conv)(x), 0.2)
        for i in range(1, self.n_layers + 1):
            stride = 2 if i < self.n_layers else 1
            y = _conv(f * min(2**i, 8), 4, stride, 1, bias, f"conv{i}", conv=self.conv)(y)
            y = _norm(self.norm, self.norm_affine, train, self.bn_axis_name, f"norm{i}")(y)
            y = nn.leaky_relu(y, 0.2)
        return _conv(1, 4, 1, 1, True, "logits", conv=self.conv)(y)


# ----------------------------------------------------------------------------------------------- ResNet (CycleGAN)


class ResnetBlock(nn.Module):
    """``x + [pad 1, conv 3x3, norm, ReLU, (dropout), pad 1, conv 3x3, norm](x)``, the width kept.

    CycleGAN's block pads by reflection (``reflect=True``), StarGAN's with zeros.
    """

    norm: str = "instance"
    norm_affine: bool = False
    dropout_rate: float = 0.0
    bn_axis_name: str | None = None
    reflect: bool = True
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> Array:
        c, bias = x.shape[-1], _conv_bias(self.norm, self.norm_affine)
        pad = (lambda v: reflect_pad(v, 1)) if self.reflect else (lambda v: v)
        conv_pad = "VALID" if self.reflect else 1
        y = _conv(c, 3, 1, conv_pad, bias, "conv0", conv=self.conv)(pad(x))
        y = nn.relu(_norm(self.norm, self.norm_affine, train, self.bn_axis_name, "norm0")(y))
        if self.dropout_rate:
            y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
        y = _conv(c, 3, 1, conv_pad, bias, "conv1", conv=self.conv)(pad(y))
        return x + _norm(self.norm, self.norm_affine, train, self.bn_axis_name, "norm1")(y)


class ResnetGenerator(nn.Module):
    """CycleGAN's generator (Zhu et al. 2017, App. 7.2; Johnson et al. 2016): ``[b, h, w, c] -> [b, h, w, channels]``.

    ``c7s1-f`` (reflect pad 3, 7x7 conv, norm, ReLU), ``n_downsampling`` stride-2 3x3 convolutions doubling the
    width (``d2f``, ``d4f``), ``n_blocks`` :class:`ResnetBlock` s, as many stride-2 3x3 transposed convolutions
    halving it back (PyTorch's ``ConvTranspose2d(3, stride=2, padding=1, output_padding=1)``), then ``c7s1``
    to ``channels`` with a bias and tanh. The paper uses 6 blocks at 128 px and 9 at 256; at 28 px two
    downsamplings give a 7x7 middle. The side must divide by ``2**n_downsampling``.

    Attributes:
      channels: output channels.
      base_features: ``f`` (64).
      n_blocks: residual blocks.
      n_downsampling: stride-2 stages (2).
      norm, norm_affine: see the module docstring (default: instance norm without affine part, as CycleGAN).
      dropout_rate: dropout inside each block (0: the reference's default ``--no_dropout``).
      bn_axis_name: cross-replica axis of ``norm="batch"``.
    """

    channels: int = 1
    base_features: int = 64
    n_blocks: int = 9
    n_downsampling: int = 2
    norm: str = "instance"
    norm_affine: bool = False
    dropout_rate: float = 0.0
    bn_axis_name: str | None = None
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> Array:
        _check_norm(self.norm)
        _check_divisible(x, 2**self.n_downsampling, "ResnetGenerator")
        f, bias = self.base_features, _conv_bias(self.norm, self.norm_affine)

        def norm(name):
            return _norm(self.norm, self.norm_affine, train, self.bn_axis_name, name)

        y = nn.relu(norm("norm_in")(_conv(f, 7, 1, "VALID", bias, "conv_in", conv=self.conv)(reflect_pad(x, 3))))
        for i in range(self.n_downsampling):
            y = nn.relu(norm(f"down{i}_norm")(_conv(f * 2 ** (i + 1), 3, 2, 1, bias, f"down{i}", conv=self.conv)(y)))
        for i in range(self.n_blocks):
            y = ResnetBlock(self.norm, self.norm_affine, self.dropout_rate, self.bn_axis_name, conv=self.conv,
                            name=f"block{i}")(
                y, train=train
            )
        for i in reversed(range(self.n_downsampling)):
            y = Upsample2x(f * 2**i, 3, use_bias=bias, kernel_init=INIT, name=f"up{i}")(y)
            y = nn.relu(norm(f"up{i}_norm")(y))
        return jnp.tanh(_conv(self.channels, 7, 1, "VALID", True, "conv_out", conv=self.conv)(reflect_pad(y, 3)))


# ------------------------------------------------------------------------------------------------------- StarGAN


def domain_code(labels: Array, num_domains: int) -> Array:
    """``[b, num_domains]`` float codes: one-hot of int ``labels [b]``; float ``labels [b, num_domains]`` as given."""
    labels = jnp.asarray(labels)
    if labels.ndim == 1 and jnp.issubdtype(labels.dtype, jnp.integer):
        return jax.nn.one_hot(labels, num_domains)
    if labels.ndim == 2 and labels.shape[1] == num_domains:
        return labels.astype(jnp.float32)
    raise ValueError(
        f"domain labels must be int [batch] or float [batch, {num_domains}], got {labels.dtype}{list(labels.shape)}"
    )


class StarGANGenerator(nn.Module):
    """StarGAN's generator G(x, c) (Choi et al. 2018, App. 7 Table 4; yunjey/stargan ``Generator``).

    The target domain ``c`` is tiled to ``num_domains`` constant maps and concatenated to the image; then a 7x7
    convolution (``f``), ``n_downsampling`` stride-2 4x4 convolutions doubling the width, ``repeat_num`` residual
    blocks (3x3 convolutions, zero padding), as many stride-2 4x4 transposed convolutions halving it, and a 7x7
    convolution to ``channels`` with tanh. Instance norm with affine parameters after every convolution but the
    last, no biases. The reference's instance norm also tracks running statistics for its eval mode; here it
    always normalises with the image's own statistics (the reference's train mode).

    Call: ``x [b, h, w, c]``, ``labels`` (the target domain: int ``[b]`` or float ``[b, num_domains]``) ->
    ``[b, h, w, channels]``. The side must divide by ``2**n_downsampling`` (28 and 32 do).

    Attributes:
      num_domains: ``c_dim``.
      channels: output channels.
      base_features: ``f`` (``conv_dim``, 64).
      repeat_num: residual blocks (6).
      n_downsampling: stride-2 stages (2).
    """

    num_domains: int
    channels: int = 1
    base_features: int = 64
    repeat_num: int = 6
    n_downsampling: int = 2
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        if labels is None:
            raise ValueError("StarGANGenerator needs the target domain as labels")
        _check_divisible(x, 2**self.n_downsampling, "StarGANGenerator")
        b, h, w, _ = x.shape
        code = domain_code(labels, self.num_domains).astype(x.dtype)  # bf16 compute stays bf16
        y = jnp.concatenate([x, jnp.broadcast_to(code[:, None, None, :], (b, h, w, self.num_domains))], axis=-1)

        def norm(name):
            return _norm("instance", True, train, None, name)

        f = self.base_features
        y = nn.relu(norm("norm_in")(_conv(f, 7, 1, 3, False, "conv_in", conv=self.conv)(y)))
        for i in range(self.n_downsampling):
            y = nn.relu(norm(f"down{i}_norm")(_conv(f * 2 ** (i + 1), 4, 2, 1, False, f"down{i}", conv=self.conv)(y)))
        for i in range(self.repeat_num):
            y = ResnetBlock("instance", True, reflect=False, conv=self.conv, name=f"block{i}")(y, train=train)
        for i in reversed(range(self.n_downsampling)):
            y = Upsample2x(f * 2**i, 4, use_bias=False, kernel_init=INIT, name=f"up{i}")(y)
            y = nn.relu(norm(f"up{i}_norm")(y))
        return jnp.tanh(_conv(self.channels, 7, 1, 3, False, "conv_out", conv=self.conv)(y))


class StarGANDiscriminator(nn.Module):
    """StarGAN's discriminator (Choi et al. 2018; yunjey/stargan ``Discriminator``): a PatchGAN with two heads.

    ``repeat_num`` stride-2 4x4 convolutions (padding 1, bias, LeakyReLU 0.01, widths ``f, 2f, 4f, ...``, no
    norm: WGAN-GP) to ``h / 2**repeat_num``; then

    * the adversarial head: a 3x3 convolution (padding 1, no bias) to one score per patch,
      ``src [b, h / 2**repeat_num, w / 2**repeat_num, 1]``;
    * the domain head: a convolution as large as the last feature map (no padding, no bias) to
      ``cls [b, num_domains]`` logits.

    At 128 px the reference uses ``repeat_num=6`` (2x2 patches); at 28 px use 2 (7x7), at 32 px 2 or 3.

    Call: ``x [b, h, w, c]`` -> ``(src, cls)``. The side must divide by ``2**repeat_num``.

    Attributes:
      num_domains: ``c_dim``.
      base_features: ``f`` (64).
      repeat_num: stride-2 stages (6 at 128 px).
    """

    num_domains: int
    base_features: int = 64
    repeat_num: int = 6
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True) -> tuple[Array, Array]:
        _check_divisible(x, 2**self.repeat_num, "StarGANDiscriminator")
        y = x
        for i in range(self.repeat_num):
            y = nn.leaky_relu(_conv(self.base_features * 2**i, 4, 2, 1, True, f"conv{i}", conv=self.conv)(y), 0.01)
        src = _conv(1, 3, 1, 1, False, "src", conv=self.conv)(y)
        kh, kw = y.shape[1:3]
        cls = nn.Conv(self.num_domains, (kh, kw), padding="VALID", use_bias=False, kernel_init=INIT, name="cls",
                      conv_general_dilated=conv_function(self.conv))(y)  # fmt: skip
        return src, cls.reshape(cls.shape[0], self.num_domains)
