"""Tests for jaxgan.models.layers and jaxgan.models.conv_forms: pixel shuffles, the exact forms of the
convolutions and the rules that choose them, spectral normalization, conditional batch norm."""

import functools
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _numpy_init import numpy_init

from jaxgan.models.adapters import from_linen
from jaxgan.models.conv_forms import (
    conv_stride2_as_s2d,
    conv_transpose_as_phases,
    conv_transpose_as_subpixel,
    depth_to_space,
    space_to_depth,
    subpixel_kernel,
    upsample_padding,
)
from jaxgan.models.layers import ConditionalBatchNorm, Downsample2x, SNConv, SNDense, SubpixelConvTranspose, Upsample2x


def _normal(seed, shape, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype(np.float32)


_init = numpy_init


def _torch_conv_transpose2d(x, w, stride, padding, output_padding=0):
    """PyTorch ``ConvTranspose2d`` from its definition (scatter), NHWC, weight ``[in, out, k, k]``."""
    b, h, wd, _ = x.shape
    _, cout, k, _ = w.shape
    full_h, full_w = (h - 1) * stride + k, (wd - 1) * stride + k
    y = np.zeros((b, full_h + output_padding, full_w + output_padding, cout))
    for i in range(h):
        for j in range(wd):
            # y[i*s + t, j*s + u, o] += sum_c x[i, j, c] * w[c, o, t, u]
            y[:, i * stride : i * stride + k, j * stride : j * stride + k, :] += np.einsum(
                "bc,cotu->btuo", x[:, i, j, :], w
            )
    oh = (h - 1) * stride - 2 * padding + k + output_padding
    ow = (wd - 1) * stride - 2 * padding + k + output_padding
    return y[:, padding : padding + oh, padding : padding + ow, :]


def test_depth_to_space_matches_tf_ordering_and_space_to_depth_inverts_it():
    x = np.arange(2 * 3 * 4 * 12, dtype=np.float32).reshape(2, 3, 4, 12)
    y = np.asarray(depth_to_space(jnp.asarray(x), 2))
    assert y.shape == (2, 6, 8, 3)
    c = 3
    for i in range(2):
        for j in range(2):
            # tf.nn.depth_to_space: out[b, h*r + i, w*r + j, c] = x[b, h, w, (i*r + j)*C + c]
            np.testing.assert_array_equal(y[:, i::2, j::2, :], x[..., (i * 2 + j) * c : (i * 2 + j + 1) * c])
    np.testing.assert_array_equal(np.asarray(space_to_depth(jnp.asarray(y), 2)), x)


def test_transpose_geometry_is_pytorch_conv_transpose2d_k4_s2_p1_with_flipped_kernel():
    x = _normal(0, (2, 5, 6, 3))
    torch_w = _normal(1, (3, 4, 4, 4)).astype(np.float64)  # [in, out, k, k]
    expected = _torch_conv_transpose2d(x.astype(np.float64), torch_w, stride=2, padding=1)
    assert expected.shape == (2, 10, 12, 4)
    kernel = torch_w.transpose(2, 3, 0, 1)[::-1, ::-1].astype(np.float32)  # -> [k, k, in, out], flipped
    layer = Upsample2x(4, 4, method="transpose")
    out = jax.jit(layer.apply)({"params": {"conv_transpose": {"kernel": kernel, "bias": np.zeros(4)}}}, x)
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-4)


@pytest.mark.parametrize("form", [conv_transpose_as_subpixel, conv_transpose_as_phases])
@pytest.mark.parametrize("k", [4, 2, 3, 6, (4, 3)])
def test_conv_transpose_as_subpixel_equals_lax_conv_transpose(k, form):
    kh, kw = (k, k) if isinstance(k, int) else k
    x = _normal(0, (2, 5, 7, 3))
    kernel = _normal(1, (kh, kw, 3, 4), 1 / np.sqrt(kh * kw * 3))
    bias = _normal(2, (4,))
    pads = (upsample_padding(kh), upsample_padding(kw))

    @jax.jit
    def both(x, kernel, bias):
        dn = ("NHWC", "HWIO", "NHWC")
        return jax.lax.conv_transpose(x, kernel, (2, 2), pads, dimension_numbers=dn) + bias, form(x, kernel, bias)

    expected, out = map(np.asarray, both(x, kernel, bias))
    assert out.shape == expected.shape == (2, 10, 14, 4)
    assert np.max(np.abs(out - expected)) < 1e-5


def test_subpixel_kernel_for_k4_is_one_3x3_conv_with_four_phases():
    kernel = _normal(0, (4, 4, 2, 5))
    k, b, padding = subpixel_kernel(kernel, np.arange(5.0, dtype=np.float32))  # numpy in, numpy kernel out
    k = np.asarray(k)
    assert k.shape == (3, 3, 2, 20)
    assert padding == ((1, 1), (1, 1))
    np.testing.assert_array_equal(np.asarray(b), np.tile(np.arange(5.0), 4))
    # each phase uses 2x2 of the 3x3 window: 4 taps per phase, 16 kernel taps in all
    nonzero = np.any(k != 0, axis=2).reshape(3, 3, 4, 5)[..., 0]
    assert nonzero.sum(axis=(0, 1)).tolist() == [4, 4, 4, 4]


def test_phases_form_multiplies_only_the_real_taps():
    """k = 4: four 2x2 convolutions (16 taps x in x out per input pixel, the transposed convolution's real
    multiply-adds), not one 3x3 convolution with 4 x out outputs (36 taps, 20 of them zero)."""
    x, kernel = _normal(0, (1, 5, 5, 3)), _normal(1, (4, 4, 3, 2))
    hlo = jax.jit(conv_transpose_as_phases).lower(x, kernel).as_text()
    shapes = re.findall(r"stablehlo.convolution.*?tensor<(\d+)x(\d+)x3x(\d+)xf32>", hlo)
    assert [tuple(map(int, s_)) for s_ in shapes] == [(2, 2, 2)] * 4


@pytest.mark.parametrize("method", ["subpixel", "phases"])
def test_upsample2x_subpixel_equals_transpose_with_the_same_params_and_gradients(method):
    x = _normal(0, (2, 6, 6, 8))
    transpose = Upsample2x(5, 4, method="transpose")
    subpixel = Upsample2x(5, 4, method=method)
    key = jax.random.key(1, impl="unsafe_rbg")  # init is PRNG-agnostic; this one compiles fast on CPU
    params_t = jax.jit(transpose.init)(key, x)["params"]
    params_s = jax.jit(subpixel.init)(key, x)["params"]
    # identical names, shapes and initial values: checkpoints are interchangeable
    assert jax.tree_util.tree_structure(params_t) == jax.tree_util.tree_structure(params_s)
    jax.tree_util.tree_map(np.testing.assert_array_equal, params_t, params_s)
    params = {"conv_transpose": {"kernel": _normal(2, (4, 4, 8, 5)), "bias": _normal(3, (5,))}}

    def loss(p, layer):
        out = layer.apply({"params": p}, x)
        return jnp.sum(jnp.sin(out)), out

    @jax.jit
    def both(p):
        return [jax.value_and_grad(functools.partial(loss, layer=m), has_aux=True)(p) for m in (transpose, subpixel)]

    ((_, out_t), g_t), ((_, out_s), g_s) = both(params)
    assert out_s.shape == (2, 12, 12, 5)
    assert np.max(np.abs(np.asarray(out_t) - np.asarray(out_s))) < 1e-5
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5), g_t, g_s)


# the shapes of the shipped stride-2 convolutions (DCGAN D at 28x28: 28->14, 14->7, a third stage's 7->4 "SAME"),
# plus odd kernels, "VALID", an odd map and an asymmetric explicit border
S2D_CASES = [
    ((2, 28, 28, 1), 4, 64, ((1, 1), (1, 1))),
    ((2, 14, 14, 64), 4, 128, ((1, 1), (1, 1))),
    ((2, 7, 7, 128), 4, 16, "SAME"),
    ((2, 9, 9, 3), 3, 5, "SAME"),
    ((2, 8, 8, 3), 3, 5, ((1, 1), (1, 1))),
    ((2, 10, 11, 2), 5, 3, "VALID"),
    ((2, 11, 11, 2), 4, 3, ((2, 0), (0, 3))),
]


def _lax_conv_s2(x, w, padding):
    return jax.lax.conv_general_dilated(x, w, (2, 2), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        precision="highest")  # fmt: skip


@pytest.mark.parametrize("x_shape, k, out, padding", S2D_CASES)
def test_conv_stride2_as_s2d_equals_the_strided_convolution_values_and_gradients(x_shape, k, out, padding):
    x, w, b = _normal(0, x_shape), _normal(1, (k, k, x_shape[-1], out), 0.3), _normal(2, (out,))
    ref = lambda x, w, b: _lax_conv_s2(x, w, padding) + b  # noqa: E731
    new = lambda x, w, b: conv_stride2_as_s2d(x, w, b, padding=padding, precision="highest")  # noqa: E731
    y_ref, vjp_ref = jax.vjp(ref, x, w, b)
    y_new, vjp_new = jax.vjp(new, x, w, b)
    assert y_new.shape == y_ref.shape
    np.testing.assert_allclose(y_new, y_ref, atol=2e-5, rtol=1e-5)
    dy = _normal(3, y_ref.shape)
    for g_new, g_ref in zip(vjp_new(dy), vjp_ref(dy)):
        np.testing.assert_allclose(g_new, g_ref, atol=1e-4, rtol=1e-5)


def test_conv_stride2_as_s2d_against_numpy_and_its_kernel_rearrangement():
    """By definition: y[o] = sum_t xpad[2o + t] w[t], from numpy, at the 28x28 -> 14x14 layer."""
    x, w = _normal(0, (2, 8, 8, 3)), _normal(1, (4, 4, 3, 5))
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.zeros((2, 4, 4, 5))
    for i in range(4):
        for j in range(4):
            want += np.einsum("bhwc,cf->bhwf", xp[:, i : i + 7 : 2, j : j + 7 : 2], w[i, j])
    np.testing.assert_allclose(conv_stride2_as_s2d(x, w, padding=((1, 1), (1, 1))), want, atol=1e-5)


def test_conv_stride2_as_s2d_lowers_to_stride1_undilated_convolutions_in_all_three_products():
    """What it claims: forward, input gradient and weight gradient are each one convolution with unit strides and
    no dilation, where the strided form's input gradient dilates the gradient by two (lhs_dilate) and its weight
    gradient dilates the window (rhs_dilate)."""
    x, w = jnp.zeros((2, 14, 14, 8)), jnp.zeros((4, 4, 8, 16))
    pad = ((1, 1), (1, 1))
    dy = jnp.ones((2, 7, 7, 16))

    def products(f):
        dx = lambda x, w: jax.vjp(lambda x: f(x, w), x)[1](dy)[0]  # noqa: E731
        dw = lambda x, w: jax.vjp(lambda w: f(x, w), w)[1](dy)[0]  # noqa: E731
        return [f, dx, dw]

    def windows(g):
        hlo = jax.jit(g).lower(x, w).as_text()
        return re.findall(r"stablehlo.convolution.*?stride = \[(\d+), (\d+)\].*?lhs_dilate = \[(\d+), (\d+)\], "
                          r"rhs_dilate = \[(\d+), (\d+)\]", hlo)  # fmt: skip

    for g in products(lambda x, w: conv_stride2_as_s2d(x, w, padding=pad)):
        assert windows(g) == [("1",) * 6]
    fwd, dx, dw = (windows(g) for g in products(lambda x, w: _lax_conv_s2(x, w, pad)))
    assert fwd == [("2", "2", "1", "1", "1", "1")]
    assert dx == [("1", "1", "2", "2", "1", "1")]
    assert dw == [("1", "1", "1", "1", "2", "2")]


def test_downsample2x_named_like_nn_conv_has_its_parameters_and_function():
    x = _normal(0, (2, 14, 14, 8))
    key = jax.random.key(1, impl="unsafe_rbg")

    class Net(nn.Module):
        kind: str

        @nn.compact
        def __call__(self, x):
            if self.kind == "nn.Conv":
                return nn.Conv(16, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)))(x)
            return Downsample2x(16, 4, padding=((1, 1), (1, 1)), method=self.kind, name="Conv_0")(x)

    ref = Net("nn.Conv")
    params = jax.jit(ref.init)(key, x)
    y_ref = ref.apply(params, x)
    for method in ("xla", "s2d", "auto"):
        mine = Net(method).init(key, x)
        jax.tree_util.tree_map(np.testing.assert_array_equal, params, mine)  # same names, shapes, values
        np.testing.assert_allclose(Net(method).apply(params, x), y_ref, atol=1e-5)
    with pytest.raises(ValueError, match=r"Downsample2x: method must be one of \('xla', 's2d', 'auto'\), got 'fast'"):
        Downsample2x(4, method="fast").init(key, x)


def test_upsample2x_resize_conv_doubles_size_and_has_differently_named_params():
    x = _normal(0, (2, 4, 4, 3))
    for resize in ("nearest", "bilinear"):
        layer = Upsample2x(6, 4, method="resize_conv", resize=resize)
        variables = _init(layer, x)
        assert set(variables["params"]) == {"conv"}
        assert jax.eval_shape(layer.apply, variables, x).shape == (2, 8, 8, 6)
    with pytest.raises(ValueError, match="method"):
        jax.eval_shape(lambda: Upsample2x(6, method="deconv").init(jax.random.key(0), x))


def _train_calls(module, x, variables, n):
    """``n`` training forward passes (one power iteration each), the eval output, and whether eval kept the
    statistics unchanged."""

    @jax.jit
    def run(variables):
        def body(_, stats):
            _, upd = module.apply({**variables, "batch_stats": stats}, x, train=True, mutable=["batch_stats"])
            return upd["batch_stats"]

        stats = jax.lax.fori_loop(0, n, body, variables["batch_stats"])
        new = {**variables, "batch_stats": stats}
        out, upd = module.apply(new, x, train=False, mutable=["batch_stats"])
        # eval calls do not update the statistics
        same = jax.tree_util.tree_map(lambda a, b: jnp.all(a == b), upd["batch_stats"], stats)
        return stats, out, jnp.all(jnp.stack(jax.tree_util.tree_leaves(same)))

    return run(variables)


def test_sn_dense_normalizes_the_kernel_to_unit_spectral_norm():
    x = _normal(0, (3, 16))
    module = SNDense(8)
    variables = _init(module, x, train=False)
    # a kernel far from unit norm
    kernel = 5.0 * _normal(2, (16, 8))
    variables = {
        "params": {"dense": {"kernel": kernel, "bias": _normal(3, (8,))}},
        "batch_stats": variables["batch_stats"],
    }
    stats, out, unchanged = _train_calls(module, x, variables, 50)
    assert bool(unchanged)
    sigma_true = np.linalg.svd(kernel, compute_uv=False)[0]
    sigma = float(stats["sn"]["dense/kernel/sigma"])
    assert abs(sigma / sigma_true - 1) < 1e-3
    w_eff = np.asarray(kernel) / sigma
    assert abs(np.linalg.svd(w_eff, compute_uv=False)[0] - 1) < 1e-3
    expected = np.asarray(x) @ w_eff + np.asarray(variables["params"]["dense"]["bias"])
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-3, rtol=1e-3)


def test_sn_conv_normalizes_the_reshaped_kernel():
    x = _normal(0, (2, 6, 6, 3))
    module = SNConv(4, 3, strides=2)
    variables = _init(module, x, train=False, seed=1)
    kernel = variables["params"]["conv"]["kernel"]
    assert kernel.shape == (3, 3, 3, 4)
    stats, out, _ = _train_calls(module, x, variables, 50)
    assert out.shape == (2, 3, 3, 4)
    sigma_true = np.linalg.svd(kernel.reshape(-1, 4), compute_uv=False)[0]
    assert abs(float(stats["sn"]["conv/kernel/sigma"]) / sigma_true - 1) < 1e-3
    conv = nn.Conv(4, (3, 3), strides=(2, 2), use_bias=False)
    unnormalized = jax.jit(conv.apply)({"params": {"kernel": kernel}}, x)
    expected = np.asarray(unnormalized) / sigma_true + variables["params"]["conv"]["bias"]
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-4, rtol=1e-3)


def test_sn_dense_through_from_linen_initialises_u_and_updates_it_in_train_mode():
    x = _normal(0, (3, 5))
    net = from_linen(SNDense(4))
    params, state = jax.jit(net.init)(jax.random.key(0, impl="unsafe_rbg"), x)  # fast-compiling PRNG
    assert jax.tree_util.tree_map(jnp.shape, state) == {
        "batch_stats": {"sn": {"dense/kernel/u": (1, 4), "dense/kernel/sigma": ()}}
    }
    assert np.linalg.norm(state["batch_stats"]["sn"]["dense/kernel/u"]) > 0
    _, new_state = jax.jit(functools.partial(net.apply, train=True))(params, state, x)
    # one power iteration from the stored u: v = l2n(u W^T), u' = l2n(v W), sigma = v W u'^T
    w = np.asarray(params["dense"]["kernel"], np.float64)
    u = np.asarray(state["batch_stats"]["sn"]["dense/kernel/u"], np.float64)
    v = u @ w.T / np.linalg.norm(u @ w.T)
    u_new = v @ w / np.linalg.norm(v @ w)
    stats = new_state["batch_stats"]["sn"]
    np.testing.assert_allclose(stats["dense/kernel/u"], u_new, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(stats["dense/kernel/sigma"], (v @ w @ u_new.T)[0, 0], rtol=1e-4)


def test_conditional_batch_norm_starts_as_batch_norm_and_uses_labels():
    x = _normal(0, (4, 3, 3, 5))
    labels = np.array([0, 1, 2, 1])
    module = ConditionalBatchNorm(3)
    key = jax.random.key(0, impl="unsafe_rbg")  # a PRNG that compiles fast on CPU
    variables = jax.jit(module.init, static_argnames="train")(key, x, labels, train=False)
    assert set(variables["params"]) == {"gamma", "beta"}  # initialised to ones and zeros
    noisy = jax.tree_util.tree_map(lambda p: p + _normal(5, p.shape, 0.1), variables["params"])

    @jax.jit
    def run(params, labels):
        return module.apply({**variables, "params": params}, x, labels, train=True, mutable=["batch_stats"])[0]

    out = np.asarray(run(variables["params"], labels))
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), atol=1e-5)
    a, b = np.asarray(run(noisy, labels)), np.asarray(run(noisy, labels[::-1]))
    assert np.max(np.abs(a - b)) > 1e-3


@pytest.mark.parametrize("k", [4, 3, 2, (4, 3)])  # 4: DCGAN, U-Net, StarGAN; 3: CycleGAN's ResNet generator
def test_conv_transpose_per_product_equals_the_transposed_convolution_to_second_order(k):
    """Values, both gradients and a gradient penalty's second derivative equal those of ``lax.conv_transpose``."""
    from jaxgan.models.conv_forms import conv_transpose_per_product

    kh, kw = (k, k) if isinstance(k, int) else k
    x, w, b = _normal(0, (2, 7, 7, 8)), _normal(1, (kh, kw, 8, 5), 0.3), _normal(2, (5,))
    pads = (upsample_padding(kh), upsample_padding(kw))
    ref = lambda x, w, b: jax.lax.conv_transpose(x, w, (2, 2), pads, dimension_numbers=("NHWC", "HWIO", "NHWC")) + b  # noqa: E731
    new = conv_transpose_per_product
    y_ref, vjp_ref = jax.vjp(ref, x, w, b)
    y_new, vjp_new = jax.vjp(new, x, w, b)
    np.testing.assert_allclose(y_new, y_ref, atol=1e-5)
    dy = _normal(3, y_ref.shape)
    for g_new, g_ref in zip(vjp_new(dy), vjp_ref(dy)):
        np.testing.assert_allclose(g_new, g_ref, atol=1e-4, rtol=1e-5)

    def penalty(f):  # WGAN-GP's shape: the weights' gradient of a norm of an input gradient
        def gp(w):
            g = jax.grad(lambda x: jnp.sum(jnp.sin(f(x, w, b))))(x)
            return jnp.sum(g**2)

        return jax.grad(gp)(w)

    np.testing.assert_allclose(penalty(new), penalty(ref), atol=1e-3, rtol=1e-4)


def test_per_product_weight_gradient_is_one_dot_per_tap_and_upsample2x_takes_it():
    """The backward pass's weight gradient lowers to ``k x k`` dots and no convolution (no zero-dilated window), equal
    to a numpy definition; Upsample2x ``"per_product"`` has the transposed layer's parameters and function."""
    from jaxgan.models.conv_forms import conv_transpose_per_product, conv_transpose_weight_grad_as_dots

    x, w = jnp.zeros((2, 7, 7, 8)), jnp.zeros((4, 4, 8, 5))
    dy = jnp.ones((2, 14, 14, 5))
    hlo = jax.jit(lambda x, w: jax.vjp(lambda w: conv_transpose_per_product(x, w), w)[1](dy)[0]).lower(x, w).as_text()
    assert len(re.findall(r"stablehlo.convolution", hlo)) == 0 and len(re.findall(r"stablehlo.dot_general", hlo)) == 16
    xn, dyn = _normal(0, (2, 3, 4, 2)), _normal(1, (2, 6, 8, 3))  # k = 3: output pixel 2p + 1 - t gets x[p] w[t]
    want = np.zeros((3, 3, 2, 3))
    for p in np.ndindex(3, 4):
        for t in np.ndindex(3, 3):
            o = (2 * p[0] + 1 - t[0], 2 * p[1] + 1 - t[1])
            if 0 <= o[0] < 6 and 0 <= o[1] < 8:
                want[t] += np.einsum("nc,no->co", xn[:, p[0], p[1]], dyn[:, o[0], o[1]])
    np.testing.assert_allclose(conv_transpose_weight_grad_as_dots(xn, dyn, (3, 3, 2, 3)), want, atol=1e-5)
    xs = _normal(4, (2, 6, 6, 8))
    key = jax.random.key(1, impl="unsafe_rbg")
    t, p = Upsample2x(5, 4, method="transpose"), Upsample2x(5, 4, method="per_product")
    params = jax.jit(t.init)(key, xs)
    jax.tree_util.tree_map(np.testing.assert_array_equal, params, jax.jit(p.init)(key, xs))
    np.testing.assert_allclose(p.apply(params, xs), t.apply(params, xs), atol=1e-5)


# the shapes of the stride-1 convolutions of the shipped sngan32 (3x3 and 1x1 at 32x32, 3 input channels) at a
# small batch, plus a rectangular kernel, "VALID", an even kernel's asymmetric "SAME" and an explicit border
DOT_DW_CASES = [
    ((2, 32, 32, 8), (3, 3), 8, "SAME"),
    ((2, 32, 32, 8), (1, 1), 8, "SAME"),
    ((2, 32, 32, 3), (3, 3), 8, "SAME"),
    ((2, 8, 8, 4), (3, 2), 5, "SAME"),
    ((2, 8, 9, 4), (4, 4), 5, "SAME"),
    ((2, 7, 7, 3), (3, 3), 4, "VALID"),
    ((2, 6, 6, 3), (2, 3), 4, ((0, 1), (2, 0))),
]


def _lax_conv_s1(x, w, padding):
    return jax.lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        precision="highest")  # fmt: skip


@pytest.mark.parametrize("x_shape, k, out, padding", DOT_DW_CASES)
def test_conv_dot_dw_equals_the_convolution_to_second_order(x_shape, k, out, padding):
    """Values, both gradients and a gradient penalty's second derivative equal ``lax.conv_general_dilated``'s."""
    from jaxgan.models.conv_forms import conv_dot_dw

    x, w, b = _normal(0, x_shape), _normal(1, (*k, x_shape[-1], out), 0.3), _normal(2, (out,))
    dn = ("NHWC", "HWIO", "NHWC")
    ref = lambda x, w: _lax_conv_s1(x, w, padding) + b  # noqa: E731
    new = lambda x, w: conv_dot_dw(x, w, (1, 1), padding, dimension_numbers=dn, precision="highest") + b  # noqa: E731
    y_ref, vjp_ref = jax.vjp(ref, x, w)
    y_new, vjp_new = jax.vjp(new, x, w)
    np.testing.assert_array_equal(y_new, y_ref)  # the forward pass is XLA's own
    dy = _normal(3, y_ref.shape)
    (dx_new, dw_new), (dx_ref, dw_ref) = vjp_new(dy), vjp_ref(dy)
    np.testing.assert_array_equal(dx_new, dx_ref)  # so is the input gradient
    np.testing.assert_allclose(dw_new, dw_ref, atol=1e-4, rtol=1e-5)

    def penalty(f):  # WGAN-GP's shape: the weights' gradient of a norm of an input gradient
        return jax.grad(lambda w: jnp.sum(jax.grad(lambda x: jnp.sum(jnp.sin(f(x, w))))(x) ** 2))(w)

    np.testing.assert_allclose(penalty(new), penalty(ref), atol=1e-3, rtol=1e-4)


def test_conv_weight_grad_as_dots_against_numpy():
    """By definition: dL/dw[i, j] = sum over batch and output pixels of xpad[a + i, b + j] dy[a, b]."""
    from jaxgan.models.conv_forms import conv_weight_grad_as_dots

    x, dy = _normal(0, (2, 5, 6, 3)), _normal(1, (2, 5, 6, 4))
    pads = ((1, 1), (2, 1))
    xp = np.pad(x, ((0, 0), *pads, (0, 0)))
    want = np.zeros((3, 4, 3, 4))
    for i in range(3):
        for j in range(4):
            want[i, j] = np.einsum("nabc,nabo->co", xp[:, i : i + 5, j : j + 6], dy)
    np.testing.assert_allclose(conv_weight_grad_as_dots(x, dy, (3, 4, 3, 4), pads), want, atol=1e-5)


def test_conv_dot_dw_weight_gradient_lowers_to_one_dot_per_tap_and_other_calls_are_lax():
    """What it claims: the weight gradient is kh * kw dots and no convolution; the forward pass and input gradient
    stay one convolution each; a strided, dilated or grouped call is ``lax.conv_general_dilated`` itself."""
    from jaxgan.models.conv_forms import conv_dot_dw

    x, w = jnp.zeros((2, 8, 8, 4)), jnp.zeros((3, 3, 4, 6))
    dy = jnp.ones((2, 8, 8, 6))
    dn = ("NHWC", "HWIO", "NHWC")
    f = lambda x, w: conv_dot_dw(x, w, (1, 1), "SAME", dimension_numbers=dn)  # noqa: E731

    def ops(g):
        hlo = jax.jit(g).lower(x, w).as_text()
        return len(re.findall(r"stablehlo.convolution", hlo)), len(re.findall(r"stablehlo.dot_general", hlo))

    assert ops(lambda x, w: jax.vjp(lambda w: f(x, w), w)[1](dy)[0]) == (0, 9)
    assert ops(f) == (1, 0)
    assert ops(lambda x, w: jax.vjp(lambda x: f(x, w), x)[1](dy)[0]) == (1, 0)
    xs, ws = _normal(0, (2, 8, 8, 4)), _normal(1, (3, 3, 4, 6))
    for kwargs in (dict(window_strides=(2, 2)), dict(rhs_dilation=(2, 2)), dict(feature_group_count=2)):
        kw = {"window_strides": (1, 1), **kwargs}
        wg = ws[:, :, :2] if "feature_group_count" in kwargs else ws
        want = jax.vjp(lambda w, kw=kw: jax.lax.conv_general_dilated(xs, w, padding="SAME", dimension_numbers=dn,
                                                                     **kw), wg)  # fmt: skip
        got = jax.vjp(lambda w, kw=kw: conv_dot_dw(xs, w, padding="SAME", dimension_numbers=dn, **kw), wg)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1](want[0])[0], want[1](want[0])[0])


def test_auto_conv_form_rule_and_conv_function(monkeypatch):
    from jaxgan.models.conv_forms import (
        CONV_FORMS,
        auto_batch_chunk,
        auto_conv_form,
        conv_auto,
        conv_dot_dw,
        conv_function,
    )

    assert auto_conv_form((8, 32, 32, 256), (3, 3, 256, 256), "cpu") == "dot_dw"  # 8192 rows
    assert auto_conv_form((64, 14, 14, 128), (3, 3, 128, 128), "cpu") == "dot_dw"  # 12544
    assert auto_conv_form((8, 16, 16, 256), (3, 3, 256, 256), "cpu") == "xla"  # 2048
    assert auto_conv_form((2, 8, 8, 256), (1, 1, 256, 256), "cpu") == "dot_dw"  # 1x1: one product
    assert auto_conv_form((8, 32, 32, 256), (3, 3, 256, 3), "cpu") == "xla"  # 3 output channels
    assert auto_conv_form((8, 32, 32, 256), (1, 1, 256, 16), "cpu") == "xla"
    assert auto_conv_form((8, 32, 32, 256), (3, 3, 256, 256), "gpu") == "xla"
    assert auto_conv_form((8, 32, 32, 256), (1, 1, 256, 256), "tpu") == "xla"
    assert [conv_function(f) for f in CONV_FORMS] == [None, conv_dot_dw, conv_auto]
    monkeypatch.setenv("JAXGAN_CPU_FORMS", "off")  # what other backends run, traced on the CPU
    assert auto_conv_form((8, 32, 32, 256), (1, 1, 256, 256), "cpu") == "xla" and auto_batch_chunk(256, "cpu") is None
    x = _normal(0, (2, 6, 6, 3))
    assert Upsample2x(4, 4).init(jax.random.key(0), x)["params"]["conv_transpose"]["kernel"].shape == (4, 4, 3, 4)
    variables = Upsample2x(4, 4).init(jax.random.key(0), x)
    up = lambda: str(jax.make_jaxpr(lambda v: Upsample2x(4, 4).apply(v, x))(variables))  # noqa: E731
    assert "custom_vjp" not in up()  # the plain transposed convolution, not per_product
    monkeypatch.setenv("JAXGAN_CPU_FORMS", "on")
    assert auto_conv_form((8, 32, 32, 256), (1, 1, 256, 256), "cpu") == "dot_dw" and auto_batch_chunk(256, "cpu") == 64
    assert "custom_vjp" in up()
    # applied per sample under vmap (pix2pix's generator): the same weight gradient as the whole batch's
    per_sample = lambda v: jnp.sum(jax.vmap(lambda xi: Upsample2x(4, 4).apply(v, xi[None]))(x) ** 2)  # noqa: E731
    whole = lambda v: jnp.sum(Upsample2x(4, 4, method="transpose").apply(v, x) ** 2)  # noqa: E731
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5),
                           jax.grad(per_sample)(variables), jax.grad(whole)(variables))  # fmt: skip
    with pytest.raises(ValueError, match=r"conv form must be one of \('xla', 'dot_dw', 'auto'\), got 'fast'"):
        conv_function("fast")


@pytest.mark.parametrize("dtype", [jnp.float32, pytest.param(jnp.bfloat16, marks=pytest.mark.slow)])
def test_sngan_conv_forms_have_the_same_parameters_function_and_gradients(dtype):
    """``conv="xla" / "dot_dw" / "auto"``: the same parameter tree and values from one key, the same outputs bit
    for bit (the forward pass is XLA's in every form), parameter gradients equal to round-off, in the input's
    dtype."""
    from jaxgan.models.sngan import SNGANDiscriminator, SNGANGenerator

    key = jax.random.key(0, impl="unsafe_rbg")
    z, img = _normal(0, (4, 16)), _normal(1, (4, 32, 32, 3))  # 4 x 32 x 32 rows: "auto" takes dot_dw there
    for cls, x, kw in ((SNGANGenerator, z, dict(ch=32)), (SNGANDiscriminator, img, dict(ch=32))):
        nets = {f: cls(**kw, conv=f) for f in ("xla", "dot_dw", "auto")}
        variables = jax.jit(lambda k, net=nets["xla"], x=x: net.init(k, x))(key)
        x_in = jnp.asarray(x, dtype)

        def loss(params, net, variables=variables, x_in=x_in):
            out, _ = net.apply({**variables, "params": params}, x_in, mutable=["batch_stats"])
            return jnp.sum(jnp.sin(out.astype(jnp.float32))), out

        forms = {lay.name: lay.form for lay in _conv_layers(nets["auto"], x)}
        assert forms["block4/conv1" if cls is SNGANGenerator else "block1/conv2/conv"] == "dot_dw", forms
        assert forms["conv_out" if cls is SNGANGenerator else "block2/conv1/conv"] == "xla", forms
        results = {}
        for form, net in nets.items():
            jax.tree_util.tree_map(np.testing.assert_array_equal, variables,
                                   jax.jit(lambda k, net=net, x=x: net.init(k, x))(key))  # fmt: skip
            params = jax.tree_util.tree_map(lambda p: p.astype(dtype), variables["params"])
            results[form] = jax.jit(jax.grad(loss, has_aux=True), static_argnums=1)(params, net)
        tol = 1e-4 if dtype == jnp.float32 else 3e-2
        for form in ("dot_dw", "auto"):
            np.testing.assert_array_equal(results[form][1], results["xla"][1])
            for a, b in zip(jax.tree_util.tree_leaves(results[form][0]), jax.tree_util.tree_leaves(results["xla"][0])):
                assert a.dtype == b.dtype == dtype
                scale = float(jnp.max(jnp.abs(b.astype(jnp.float32)))) + 1e-6
                np.testing.assert_allclose(np.asarray(a, np.float32) / scale, np.asarray(b, np.float32) / scale,
                                           atol=tol)  # fmt: skip


def _conv_layers(net, x, *more):
    """The layer profile's reading of ``net``'s convolutions (their forms as the network computes them)."""
    from jaxgan.bench import layers as bench_layers

    return bench_layers.network_layers("net", net, jnp.asarray(x), *more)


def test_auto_takes_strided_and_transposed_convolutions_in_batch_chunks_on_the_cpu():
    """Past 64 rows, ``conv_auto``'s strided convolution and the ``per_product`` upsampling run in chunks of 64
    (three convolutions for 130 rows, the last one of 2), with the values and gradients of the whole-batch form."""
    from jaxgan.models.conv_forms import auto_batch_chunk, conv_auto, conv_transpose_per_product, strided_conv_chunk

    assert [auto_batch_chunk(n, "cpu") for n in (8, 64, 65, 256)] == [None, None, 64, 64]
    assert auto_batch_chunk(256, "gpu") is None and auto_batch_chunk(256, "tpu") is None
    dn = ("NHWC", "HWIO", "NHWC")
    chunk = lambda shape, strides=(2, 2), dn=dn, backend="cpu": strided_conv_chunk(shape, strides, dn, backend)  # noqa: E731
    assert chunk((256, 14, 14, 64)) == 64 and chunk((65, 14, 14, 16)) == 64
    assert chunk((64, 14, 14, 64)) is None and chunk((256, 14, 14, 15)) is None  # 64 rows; under 16 channels
    assert chunk((256, 14, 14, 64), (1, 1)) is None and chunk((256, 14, 14, 64), backend="gpu") is None
    assert chunk((256, 64, 14, 14), dn=("NCHW", "OIHW", "NCHW")) == 64 and chunk((256, 64, 14, 14), dn=None) == 64
    assert chunk((14, 256, 14, 64), dn=("HNWC", "HWIO", "NHWC")) is None  # no leading batch axis
    pad = ((1, 1), (1, 1))
    zeros = jnp.zeros(5)
    cases = [
        (lambda x, w: conv_auto(x, w, (2, 2), pad, dimension_numbers=dn),
         lambda x, w: jax.lax.conv_general_dilated(x, w, (2, 2), pad, dimension_numbers=dn), (6, 6, 16), (4, 4, 16, 5)),
        (lambda x, w: SubpixelConvTranspose(5, 4, per_product=True).apply({"params": {"kernel": w, "bias": zeros}}, x),
         conv_transpose_per_product, (3, 3, 4), (4, 4, 4, 5)),
    ]  # fmt: skip
    for new, ref, x_shape, w_shape in cases:
        for n, convs in ((130, 3), (64, 1)):
            x, w = _normal(0, (n, *x_shape)), _normal(1, w_shape, 0.3)
            hlo = jax.jit(new).lower(x, w).as_text()
            assert len(re.findall(r"stablehlo.convolution", hlo)) == convs, (n, hlo.count("convolution"))
            y_new, vjp_new = jax.vjp(new, x, w)
            y_ref, vjp_ref = jax.vjp(ref, x, w)
            np.testing.assert_allclose(y_new, y_ref, atol=1e-5)
            dy = _normal(2, y_ref.shape)
            for a, b in zip(vjp_new(dy), vjp_ref(dy)):
                np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5)
    x, w = _normal(0, (130, 6, 6, 15)), _normal(1, (4, 4, 15, 5))  # under 16 input channels: the whole batch
    hlo = jax.jit(lambda x, w: conv_auto(x, w, (2, 2), pad, dimension_numbers=dn)).lower(x, w).as_text()
    assert len(re.findall(r"stablehlo.convolution", hlo)) == 1


def _translation_and_began_nets():
    from jaxgan.models import translation as T
    from jaxgan.models.began import BEGANDiscriminator, BEGANGenerator
    from jaxgan.models.progan import EqualizedConv

    img = _normal(5, (4, 32, 32, 3))  # 4 x 32 x 32 rows: "auto" takes dot_dw for the full-size layers
    labels = np.array([0, 1, 2, 0], np.int32)
    return {
        "BEGANGenerator": (lambda c: BEGANGenerator(32, 3, features=32, conv=c), (_normal(6, (4, 8)),)),
        "BEGANDiscriminator": (lambda c: BEGANDiscriminator(32, features=32, embed_dim=8, conv=c), (img,)),
        "UNetGenerator": (lambda c: T.UNetGenerator(3, num_downs=3, base_features=32, dropout_blocks=0, conv=c),
                          (img,)),  # fmt: skip
        "PatchGANDiscriminator": (lambda c: T.PatchGANDiscriminator(32, n_layers=1, conv=c), (img,)),
        "ResnetGenerator": (lambda c: T.ResnetGenerator(3, base_features=32, n_blocks=1, n_downsampling=1, conv=c),
                            (img,)),  # fmt: skip
        "StarGANGenerator": (lambda c: T.StarGANGenerator(3, 3, base_features=32, repeat_num=1, n_downsampling=1,
                                                          conv=c), (img, labels)),  # fmt: skip
        "StarGANDiscriminator": (lambda c: T.StarGANDiscriminator(3, base_features=32, repeat_num=2, conv=c),
                                 (img,)),  # fmt: skip
        "EqualizedConv": (lambda c: EqualizedConv(32, 3, conv=c), (img,)),
    }


@pytest.mark.parametrize("name", list(_translation_and_began_nets()))
def test_models_conv_forms_have_the_same_parameters_outputs_and_gradients(name):
    """BEGAN, the translation networks and ProGAN's convolution take ``conv``: "auto" (the default) and "xla" have
    the same parameters from one key, the same outputs bit for bit and the same gradients to round-off, and
    "auto" computes some layer's weight gradient as dots (else this test would compare XLA with itself)."""
    make, args = _translation_and_began_nets()[name]
    key = jax.random.key(0, impl="unsafe_rbg")
    auto, xla = make("auto"), make("xla")
    variables = jax.jit(lambda k: xla.init({"params": k, "dropout": k}, *args))(key)
    jax.tree_util.tree_map(np.testing.assert_array_equal, variables,
                           jax.jit(lambda k: auto.init({"params": k, "dropout": k}, *args))(key))  # fmt: skip
    if name == "EqualizedConv":  # not an nn.Conv: its weight gradient's HLO has the dots
        hlo = jax.jit(jax.grad(lambda p: jnp.sum(auto.apply({"params": p}, *args)))).lower(variables["params"])
        assert "dot_general" in hlo.as_text()
    else:  # U-Net, PatchGAN, StarGAN's D: stride 2, or stride 1 on small maps or to one output channel
        forms = {lay.form for lay in _conv_layers(auto, *args)}
        assert ("dot_dw" in forms) == (name not in ("UNetGenerator", "PatchGANDiscriminator", "StarGANDiscriminator"))

    def loss(params, net):
        out = net.apply({**variables, "params": params}, *args, mutable=["batch_stats"], rngs={"dropout": key})[0]
        out = out[0] if isinstance(out, tuple) else out
        return jnp.sum(jnp.sin(out)), out

    (g_auto, y_auto), (g_xla, y_xla) = (jax.jit(jax.grad(loss, has_aux=True), static_argnums=1)(variables["params"], n)
                                        for n in (auto, xla))  # fmt: skip
    np.testing.assert_array_equal(y_auto, y_xla)
    for a, b in zip(jax.tree_util.tree_leaves(g_auto), jax.tree_util.tree_leaves(g_xla)):
        np.testing.assert_allclose(a, b, atol=1e-4 * (float(jnp.max(jnp.abs(b))) + 1e-6), rtol=1e-4)
