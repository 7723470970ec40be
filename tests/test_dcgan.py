"""Tests for jaxgan.models.dcgan: shapes, parameter counts, exact sub-pixel upsampling, conditioning.

Variables are made by ``jax.eval_shape`` and filled by numpy, and every forward pass is one jit: random
initialisation and op-by-op execution cost more compile time on CPU than the models themselves.
"""

import functools

import jax
import numpy as np
import pytest
from _numpy_init import numpy_init

from jaxgan.models.adapters import from_linen
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator


def _init(module, *args, seed=0, **kwargs):
    return numpy_init(module, *args, seed=seed, train=False, **kwargs)


def _count(tree):
    return sum(int(np.prod(x.shape)) for x in jax.tree_util.tree_leaves(tree))


@functools.partial(jax.jit, static_argnames=("module", "train"))
def _apply(module, variables, x, labels=None, train=True):
    if train:
        return module.apply(variables, x, labels, train=True, mutable=["batch_stats"])[0]
    return module.apply(variables, x, labels, train=False)


def _run(module, variables, x, labels=None, train=True):
    return np.asarray(_apply(module, variables, x, labels, train))


def _z(batch=3, dim=8, seed=1):
    return np.random.default_rng(seed).normal(size=(batch, dim)).astype(np.float32)


def _images(batch, res, ch, seed=2):
    return np.random.default_rng(seed).uniform(-1, 1, size=(batch, res, res, ch)).astype(np.float32)


def _changed(a, b):
    return [bool(np.any(np.asarray(x) != np.asarray(y))) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))]


def test_dcgan28_parameter_counts_match_hand_computation():
    g_shapes = jax.eval_shape(lambda: DCGANGenerator().init(jax.random.key(0), np.zeros((2, 100)), train=False))
    # Dense 100 -> 7*7*128 (no bias); BN(128); ConvT 4x4 128 -> 64 (no bias); BN(64); ConvT 4x4 64 -> 1 (+ bias)
    g_expected = 100 * 7 * 7 * 128 + 2 * 128 + 4 * 4 * 128 * 64 + 2 * 64 + 4 * 4 * 64 * 1 + 1
    assert _count(g_shapes["params"]) == g_expected == 759_681
    assert _count(g_shapes["batch_stats"]) == 2 * (128 + 64)
    d_shapes = jax.eval_shape(
        lambda: DCGANDiscriminator().init(jax.random.key(0), np.zeros((2, 28, 28, 1)), train=False)
    )
    # Conv 4x4 1 -> 64 (+ bias); Conv 4x4 64 -> 128 (no bias); BN(128); Dense 7*7*128 -> 1 (+ bias)
    d_expected = 4 * 4 * 1 * 64 + 64 + 4 * 4 * 64 * 128 + 2 * 128 + 7 * 7 * 128 + 1
    assert _count(d_shapes["params"]) == d_expected == 138_689


def test_deeper_options_add_the_layers_they_name():
    g_shapes = jax.eval_shape(
        lambda: DCGANGenerator(extra_convs=2).init(jax.random.key(0), np.zeros((2, 100)), train=False)
    )
    # two more [3x3 128 -> 128 conv (no bias) after a BN(128)] at 7x7
    assert _count(g_shapes["params"]) == 759_681 + 2 * (3 * 3 * 128 * 128 + 2 * 128)
    d_shapes = jax.eval_shape(
        lambda: DCGANDiscriminator(stages=3).init(jax.random.key(0), np.zeros((2, 28, 28, 1)), train=False)
    )
    # a third conv 4x4 128 -> 256 (no bias) + BN(256) taking 7x7 to 4x4 ("SAME"); the head reads 4*4*256
    expected = 138_689 - 7 * 7 * 128 + 4 * 4 * 128 * 256 + 2 * 256 + 4 * 4 * 256
    assert _count(d_shapes["params"]) == expected
    g, d = DCGANGenerator(extra_convs=1, base_features=2), DCGANDiscriminator(stages=3, base_features=2)
    z = _z(dim=100)
    images = _run(g, _init(g, z), z)
    assert images.shape == (3, 28, 28, 1)
    assert _run(d, _init(d, images), images).shape == (3,)
    with pytest.raises(ValueError, match=r"stages must be in \[1, 3\] at resolution 28, got 4"):
        jax.eval_shape(lambda: DCGANDiscriminator(stages=4).init(jax.random.key(0), np.zeros((2, 28, 28, 1))))


@pytest.mark.parametrize("res, ch", [(28, 1), (32, 3), (64, 3)])
def test_generator_and_discriminator_shapes_and_ranges(res, ch):
    g = DCGANGenerator(res, ch, base_features=2)
    d = DCGANDiscriminator(res, base_features=2)
    z = _z()
    images = _run(g, _init(g, z), z)
    assert images.shape == (3, res, res, ch)
    assert np.max(np.abs(images)) <= 1.0
    assert np.std(images) > 0
    logits = _run(d, _init(d, images), images)
    assert logits.shape == (3,)
    assert np.all(np.isfinite(logits))
    assert np.std(logits) > 0


@pytest.mark.parametrize("upsample", ["subpixel", "phases", "auto", "phases,transpose", "per_product,transpose"])
def test_subpixel_generator_equals_transpose_generator_with_the_same_params(upsample):
    z = _z()
    g_t = DCGANGenerator(28, 3, base_features=4, upsample="transpose")
    g_s = DCGANGenerator(28, 3, base_features=4, upsample=upsample)
    variables = _init(g_t, z)
    shapes_s = jax.eval_shape(lambda: g_s.init(jax.random.key(0), z, train=False))
    assert jax.tree.structure(shapes_s) == jax.tree.structure(variables)
    for train in (True, False):  # batch statistics and running averages
        out_t = _run(g_t, variables, z, train=train)
        out_s = _run(g_s, variables, z, train=train)
        assert np.max(np.abs(out_t - out_s)) < 1e-5


def test_per_stage_upsample_list_must_name_one_method_per_stage():
    z = _z()
    g = DCGANGenerator(28, 1, base_features=4, upsample="phases,phases,transpose")
    with pytest.raises(ValueError, match=r"names 3 methods; give one, or one per stage \(2 at resolution 28\)"):
        jax.eval_shape(lambda: g.init(jax.random.key(0), z, train=False))


@pytest.mark.parametrize("res, stages", [(28, None), (28, 3), (32, None)])
@pytest.mark.parametrize("downsample", ["s2d", "s2d,xla"])
def test_s2d_discriminator_equals_the_nn_conv_discriminator_with_the_same_params(res, stages, downsample):
    """``downsample="s2d"`` computes the same function from the same parameters (28x28's third stage: a 7x7 map
    padded "SAME"); gradients included."""
    n = stages or (2 if res == 28 else 3)
    downsample = downsample if "," not in downsample else ",".join(["s2d"] + ["xla"] * (n - 1))
    x = _images(3, res, 1)
    d_ref = DCGANDiscriminator(res, base_features=4, stages=stages)
    d_s2d = DCGANDiscriminator(res, base_features=4, stages=stages, downsample=downsample)
    variables = _init(d_ref, x)
    shapes = jax.eval_shape(lambda: d_s2d.init(jax.random.key(0), x, train=False))
    assert jax.tree.structure(shapes) == jax.tree.structure(variables)
    for train in (True, False):
        np.testing.assert_allclose(_run(d_s2d, variables, x, train=train), _run(d_ref, variables, x, train=train),
                                   atol=1e-5)  # fmt: skip

    def grads(module):
        def loss(params, x):
            out = module.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"])[0]
            return jax.numpy.sum(jax.numpy.sin(out))

        return jax.jit(jax.grad(loss, argnums=(0, 1)))(variables["params"], x)

    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4), grads(d_s2d), grads(d_ref))


def test_discriminator_downsample_errors():
    x = _images(2, 28, 1)
    for bad, msg in [
        (dict(downsample="fast"),
             r"downsample must be one of \('xla', 's2d', 'auto'\) or one per stage \(2\), got 'fast'"),
        (dict(downsample="s2d,s2d,s2d"), r"or one per stage \(2\), got 's2d,s2d,s2d'"),
        (dict(downsample="s2d", spectral_norm=True), r"downsample 's2d' needs spectral_norm=False"),
    ]:
        with pytest.raises(ValueError, match=msg):
            jax.eval_shape(lambda d=DCGANDiscriminator(28, base_features=4, **bad): d.init(jax.random.key(0), x))


def test_resize_conv_generator_has_its_own_params():
    z = _z()
    g = DCGANGenerator(28, 1, base_features=4, upsample="resize_conv")
    variables = _init(g, z)
    assert set(variables["params"]["Upsample2x_0"]) == {"conv"}
    assert jax.eval_shape(functools.partial(g.apply, train=False), variables, z).shape == (3, 28, 28, 1)


def test_conditional_generator_uses_labels():
    z = _z()
    labels = np.array([0, 1, 2])
    for embed_dim in (None, 5):  # one-hot, learned embedding
        g = DCGANGenerator(28, 1, base_features=2, num_classes=10, embed_dim=embed_dim)
        variables = _init(g, z, labels)
        expected_in = 8 + (10 if embed_dim is None else 5)
        assert variables["params"]["Dense_0"]["kernel"].shape == (expected_in, 7 * 7 * 4)
        a = _run(g, variables, z, labels)
        b = _run(g, variables, z, labels + 3)
        assert a.shape == (3, 28, 28, 1)
        assert np.max(np.abs(a - b)) > 1e-4
    with pytest.raises(ValueError, match="needs labels"):
        jax.eval_shape(lambda: g.init(jax.random.key(0), z, train=False))


@pytest.mark.parametrize(
    "conditioning, spectral_norm", [("concat", False), ("projection", False), ("projection", True)]
)
def test_conditional_discriminator_uses_labels(conditioning, spectral_norm):
    x = _images(3, 28, 1)
    labels = np.array([0, 1, 2])
    d = DCGANDiscriminator(
        28,
        base_features=2,
        num_classes=10,
        conditioning=conditioning,
        spectral_norm=spectral_norm,
        use_batch_norm=not spectral_norm,
    )
    variables = _init(d, x, labels)
    if conditioning == "concat":  # one-hot label maps concatenated to the image
        assert variables["params"]["Conv_0"]["kernel"].shape == (4, 4, 1 + 10, 2)
    a = _run(d, variables, x, labels)
    b = _run(d, variables, x, labels + 3)
    assert a.shape == (3,)
    assert np.max(np.abs(a - b)) > 1e-4


def test_projection_head_adds_the_inner_product_with_the_label_embedding():
    x = _images(2, 28, 1)
    d = DCGANDiscriminator(28, base_features=2, num_classes=3, conditioning="projection", use_batch_norm=False)
    variables = _init(d, x, np.array([0, 0]))
    params = dict(variables["params"])
    params["projection"] = {"embedding": np.zeros_like(params["projection"]["embedding"])}
    unconditional = DCGANDiscriminator(28, base_features=2, use_batch_norm=False)
    expected = _run(unconditional, {"params": {k: v for k, v in params.items() if k != "projection"}}, x)
    np.testing.assert_allclose(_run(d, {"params": params}, x, np.array([1, 2])), expected, atol=1e-6)


def test_through_from_linen_batch_stats_update_in_train_mode():
    z = _z(batch=4)
    g = from_linen(DCGANGenerator(28, 1, base_features=2))
    key = jax.random.key(0, impl="unsafe_rbg")  # init is PRNG-agnostic; this PRNG compiles fast on CPU
    g_params, g_state = jax.jit(g.init)(key, z)
    assert set(g_state) == {"batch_stats"}
    images, new_g_state = jax.jit(functools.partial(g.apply, train=True))(g_params, g_state, z)
    assert images.shape == (4, 28, 28, 1)
    assert all(_changed(g_state, new_g_state))

    module = DCGANDiscriminator(28, base_features=2, spectral_norm=True)
    d = from_linen(module)
    d_params = _init(module, images)
    d_state = {"batch_stats": d_params.pop("batch_stats")}
    logits, new_d_state = jax.jit(functools.partial(d.apply, train=True))(d_params["params"], d_state, images)
    assert logits.shape == (4,)
    assert all(_changed(d_state, new_d_state))  # BN statistics and every SN vector and sigma
