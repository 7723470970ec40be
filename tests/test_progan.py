"""Tests for jaxgan.models.progan: pixel norm, equalised learning rate, the fade-in, one param tree for all phases."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _numpy_init import numpy_init

from jaxgan.models import progan
from jaxgan.models.progan import (
    EqualizedConv,
    EqualizedDense,
    ProGANDiscriminator,
    ProGANGenerator,
    downsample_to,
    fade_net,
    fade_real,
    pixel_norm,
)

TINY = dict(max_resolution=32, fmap_base=32, fmap_max=8)  # widths 8, 8, 4, 2 at 4, 8, 16, 32


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _up(x, f=2):
    return x.repeat(f, axis=1).repeat(f, axis=2)


def _pool(x, f):
    b, h, w, c = x.shape
    return x.reshape(b, h // f, f, w // f, f, c).mean(axis=(2, 4))


def test_pixel_norm_matches_numpy():
    x = _normal(2, 3, 3, 5, seed=1) * 3
    expected = x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + 1e-8)
    np.testing.assert_allclose(jax.jit(pixel_norm)(x), expected, rtol=1e-5)
    np.testing.assert_allclose(np.mean(np.asarray(pixel_norm(x)) ** 2, axis=-1), 1.0, rtol=1e-5)


def test_equalized_layers_scale_unit_normal_weights_by_he_constant():
    x = _normal(4, 6, seed=2)
    dense = EqualizedDense(5, gain=np.sqrt(2))
    variables = {"params": {"kernel": _normal(6, 5, seed=3), "bias": _normal(5, seed=4)}}
    expected = x @ (variables["params"]["kernel"] * np.sqrt(2) / np.sqrt(6)) + variables["params"]["bias"]
    np.testing.assert_allclose(jax.jit(dense.apply)(variables, x), expected, rtol=1e-5, atol=1e-5)

    images = _normal(2, 5, 5, 3, seed=5)
    kernel, bias = _normal(3, 3, 3, 4, seed=6), _normal(4, seed=7)
    out = jax.jit(EqualizedConv(4, 3, gain=0.5).apply)({"params": {"kernel": kernel, "bias": bias}}, images)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    w = kernel * 0.5 / np.sqrt(3 * 3 * 3)
    expected = sum(
        padded[:, i : i + 5, j : j + 5, :] @ w[i, j] for i in range(3) for j in range(3)
    ) + bias
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)

    # the stored weights are N(0, 1) whatever the fan-in; the bias starts at zero
    params = jax.jit(EqualizedDense(256).init)(jax.random.key(0), jnp.zeros((1, 400)))["params"]
    assert abs(float(jnp.std(params["kernel"])) - 1.0) < 0.02 and not np.any(params["bias"])


def test_downsample_to_and_fade_real():
    x = _normal(2, 32, 32, 1, seed=8)
    np.testing.assert_allclose(downsample_to(x, 8), _pool(x, 4), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(downsample_to(x, 32), x)
    new, old = _pool(x, 2), _up(_pool(x, 4))
    fade = jax.jit(fade_real, static_argnums=1)
    np.testing.assert_allclose(fade(x, 16, 1.0), new, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fade(x, 16, 0.0), old, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fade(x, 16, 0.25), 0.75 * old + 0.25 * new, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fade(x, 4, 0.0), _pool(x, 8), rtol=1e-5, atol=1e-6)  # nothing to fade from
    with pytest.raises(ValueError, match="cannot pool"):
        downsample_to(x, 12)


def _unit_init(module, x, seed=0):
    """Params as ``init`` makes them, kernels N(0, 1) (numpy_init's N(0, 1/fan_in) undone), from numpy."""
    params = numpy_init(module, x, seed=seed)["params"]
    rescale = lambda p: p * np.sqrt(np.prod(p.shape[:-1])) if p.ndim >= 2 else p
    return jax.tree.map(rescale, params)


def _shapes(module, x):
    return jax.eval_shape(lambda: module.init(jax.random.key(0), x))


@pytest.mark.parametrize("kind", ["generator", "discriminator"])
def test_one_param_tree_for_every_phase(kind):
    trees = []
    for r in (4, 8, 16, 32):
        if kind == "generator":
            trees.append(_shapes(ProGANGenerator(resolution=r, **TINY), jnp.zeros((2, 8))))
        else:
            trees.append(_shapes(ProGANDiscriminator(resolution=r, **TINY), jnp.zeros((4, r, r, 1))))
    assert all(jax.tree.structure(t) == jax.tree.structure(trees[0]) for t in trees)
    assert all(jax.tree.leaves(jax.tree.map(lambda a, b: a.shape == b.shape, t, trees[0])) for t in trees)
    names = set(trees[0]["params"])
    rgb = "to_rgb" if kind == "generator" else "from_rgb"
    assert {f"{rgb}{r}" for r in (4, 8, 16, 32)} <= names and {"conv32_0", "conv32_1"} <= names
    assert set(trees[0]) == {"params"}  # no model state


@functools.partial(jax.jit, static_argnames=("module",))
def _g(module, params, z, alpha):
    out, inter = module.apply({"params": params}, z, alpha=alpha, capture_intermediates=True)
    return out, inter["intermediates"][f"to_rgb{module.resolution}"]["__call__"][0]


def test_generator_fade_in_cross_fades_the_upsampled_old_output_with_the_new_block():
    z = _normal(3, 8, seed=9)
    params = _unit_init(ProGANGenerator(**TINY), z)
    for r in (8, 16, 32):
        old, _ = _g(ProGANGenerator(resolution=r // 2, **TINY), params, z, 1.0)
        at0, _ = _g(ProGANGenerator(resolution=r, **TINY), params, z, 0.0)
        at1, new = _g(ProGANGenerator(resolution=r, **TINY), params, z, 1.0)
        mid, _ = _g(ProGANGenerator(resolution=r, **TINY), params, z, 0.3)
        assert at1.shape == (3, r, r, 1)
        np.testing.assert_allclose(at0, _up(np.asarray(old)), rtol=1e-5, atol=1e-6)  # alpha 0: old path only
        np.testing.assert_allclose(at1, new, rtol=1e-6, atol=1e-7)  # alpha 1: the new block's toRGB only
        np.testing.assert_allclose(mid, 0.7 * _up(np.asarray(old)) + 0.3 * np.asarray(new), rtol=1e-5, atol=1e-5)
        assert not np.allclose(at1, at0, atol=1e-3)


def test_discriminator_fade_in_and_its_old_path():
    x = _normal(4, 32, 32, 1, seed=10)
    params = _unit_init(ProGANDiscriminator(**TINY), x)

    def d(r, images, alpha):
        return fade_net(ProGANDiscriminator(resolution=r, **TINY), alpha).apply(params, {}, images, train=True)[0]

    d = jax.jit(d, static_argnums=0)
    for r in (8, 16, 32):
        images = _pool(x, 32 // r)
        at0 = d(r, images, 0.0)
        assert at0.shape == (4,)
        np.testing.assert_allclose(at0, d(r // 2, _pool(images, 2), 1.0), rtol=1e-5, atol=1e-5)  # the old network
        assert not np.allclose(d(r, images, 1.0), at0, atol=1e-4)

    # at alpha = 1 the old fromRGB gets no gradient, during the fade it does; the blocks above the phase never
    def loss(p, alpha):
        net = fade_net(ProGANDiscriminator(resolution=16, **TINY), alpha)
        return jnp.sum(net.apply(p, {}, _pool(x, 2), train=True)[0])

    grad = jax.jit(jax.grad(loss))
    at1, fading = grad(params, 1.0), grad(params, 0.5)
    assert not np.any(at1["from_rgb8"]["kernel"]) and np.any(fading["from_rgb8"]["kernel"])
    assert not np.any(fading["from_rgb32"]["kernel"]) and not np.any(fading["conv32_0"]["kernel"])


def test_fade_net_trains_under_jit_with_a_traced_alpha_and_ignores_labels_the_modules_refuse():
    g = ProGANGenerator(resolution=8, **TINY)
    z = _normal(2, 8, seed=11)
    shapes, state = jax.eval_shape(fade_net(g, 1.0).init, jax.random.key(0), jnp.asarray(z))  # a real init is slow
    assert state == {} and set(shapes) == set(_shapes(g, z)["params"])
    params = _unit_init(g, z)

    @jax.jit
    def run(alpha):
        return fade_net(g, alpha).apply(params, state, z, train=True)[0]

    np.testing.assert_allclose(run(0.4), 0.6 * run(0.0) + 0.4 * run(1.0), rtol=1e-5, atol=1e-5)
    # an unconditional run on a labelled dataset passes the batch's labels: the Net does not use them
    with_labels = fade_net(g, 1.0).apply(params, state, z, jnp.zeros(2, jnp.int32), train=True)[0]
    np.testing.assert_allclose(with_labels, run(1.0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unconditional"):
        g.apply({"params": params}, z, jnp.zeros(2, jnp.int32))
    with pytest.raises(ValueError, match="resolution must be one of"):
        ProGANGenerator(resolution=12, **TINY).apply({"params": params}, z)
    assert progan.nf(4, 8192, 512) == 512 and progan.nf(32, 32, 8) == 2
