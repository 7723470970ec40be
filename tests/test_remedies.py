"""Tests for jaxgan.remedies: packing, minibatch standard deviation and instance noise."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import remedies
from jaxgan.models.adapters import from_function, from_linen
from jaxgan.models.mlp import MLPDiscriminator

KEY = jax.random.PRNGKey(0)


def _linear_d(dim):
    """A linear discriminator ``x @ w`` with ``w = 1, 2, ..., dim`` (init gives those weights)."""
    return from_function(lambda w, x: x @ w, lambda key, x: jnp.arange(1.0, x.shape[-1] + 1))


# ---------------------------------------------------------------------------------------------------- pack


def test_pack_inputs_concatenates_consecutive_samples():
    x = jnp.arange(12.0).reshape(6, 2)
    np.testing.assert_array_equal(np.asarray(remedies.pack_inputs(x, 3)), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    assert remedies.pack_inputs(jnp.arange(6.0), 2).shape == (3, 2)
    images = jnp.arange(120.0).reshape(4, 2, 3, 5)
    packed = remedies.pack_inputs(images, 2)
    assert packed.shape == (2, 2, 3, 10)  # along channels
    np.testing.assert_array_equal(np.asarray(packed[1, ..., :5]), np.asarray(images[2]))
    np.testing.assert_array_equal(np.asarray(packed[1, ..., 5:]), np.asarray(images[3]))


def test_packed_linear_discriminator_sees_the_concatenation():
    d = remedies.pack(_linear_d(2), 2)
    x = jnp.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    params, state = d.init(KEY, x)
    np.testing.assert_array_equal(np.asarray(params), [1, 2, 3, 4])  # built for 2 * 2 features
    out, _ = d.apply(params, state, x, train=True)
    # pack 0 = (1, 0, 0, 1) -> 1 + 4 = 5; pack 1 = (2, 0, 0, 0) -> 2
    np.testing.assert_array_equal(np.asarray(out), [5.0, 2.0])
    swapped, _ = d.apply(params, state, x[jnp.array([1, 0, 2, 3])], train=True)  # permute inside pack 0
    np.testing.assert_array_equal(np.asarray(swapped), [2.0 + 3.0, 2.0])


def test_pack_one_equals_the_plain_network():
    net = from_linen(MLPDiscriminator(features=(8,), maxout_pieces=2))
    packed = remedies.pack(net, 1)
    x = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
    params, state = jax.jit(net.init)(KEY, x)
    packed_params, _ = jax.jit(packed.init)(KEY, x)
    jax.tree.map(np.testing.assert_array_equal, params, packed_params)
    out, _ = jax.jit(lambda p, x: net.apply(p, state, x, train=True))(params, x)
    packed_out, _ = jax.jit(lambda p, x: packed.apply(p, state, x, train=True))(params, x)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(packed_out))


def test_packed_mlp_discriminator_shapes():
    d = remedies.pack(from_linen(MLPDiscriminator(features=(8,))), 4)
    x = jnp.ones((8, 2))
    params, _ = jax.eval_shape(d.init, KEY, x)
    assert params["Dense_0"]["kernel"].shape == (8, 8)
    out, _ = jax.eval_shape(lambda p: d.apply(p, {}, x, train=True), params)
    assert out.shape == (2,)


def test_pack_rejects_an_indivisible_batch_at_trace_time():
    d = remedies.pack(_linear_d(2), 4)
    params = jnp.ones(8)
    with pytest.raises(ValueError, match="batch size 10 is not divisible by the pack size 4"):
        jax.jit(lambda x: d.apply(params, {}, x, train=True))(jnp.ones((10, 2)))
    with pytest.raises(ValueError, match="positive int"):
        remedies.pack(_linear_d(2), 0)


def test_pack_packs_labels_too():
    seen = {}

    def apply_fn(w, x, labels):
        seen["labels"] = labels
        return x @ w

    d = remedies.pack(from_function(apply_fn, takes_labels=True), 2)
    d.apply(jnp.ones(4), {}, jnp.ones((6, 2)), jnp.arange(6), train=True)
    np.testing.assert_array_equal(np.asarray(seen["labels"]), [[0, 1], [2, 3], [4, 5]])
    with pytest.raises(ValueError, match="label batch size 5"):
        d.apply(jnp.ones(4), {}, jnp.ones((6, 2)), jnp.arange(5), train=True)
    # A conditional MLP discriminator takes the packed labels: 2 * (2 features + 3 one-hot) inputs.
    cd = remedies.pack(from_linen(MLPDiscriminator(features=(8,), num_classes=3)), 2)
    params, _ = jax.eval_shape(cd.init, KEY, jnp.ones((6, 2)), jnp.arange(6) % 3)
    assert params["Dense_0"]["kernel"].shape == (10, 8)


# ---------------------------------------------------------------------------------------- minibatch std


def test_minibatch_std_closed_form_on_features():
    x = jnp.array([[0.0, 0.0], [2.0, 4.0], [1.0, 1.0], [1.0, 1.0]])
    # group_size 2, contiguous groups: {0, 1} has per-feature std (1, 2) -> 1.5; {2, 3} has std 0 -> sqrt(1e-8).
    out = remedies.MinibatchStdDev(group_size=2).apply({}, x)
    np.testing.assert_allclose(np.asarray(out[:, :2]), np.asarray(x))
    np.testing.assert_allclose(np.asarray(out[:, 2]), [1.5, 1.5, 1e-4, 1e-4], rtol=1e-5)
    # One group of 4 (also the size for any group_size >= batch): std per feature (0.707, 1.5).
    expected = (math.sqrt(0.5) + 1.5) / 2
    for group_size in (4, 8, None):
        out = remedies.MinibatchStdDev(group_size=group_size).apply({}, x)
        np.testing.assert_allclose(np.asarray(out[:, 2]), [expected] * 4, rtol=1e-6)


def test_minibatch_std_nhwc_appends_a_constant_channel():
    x = jnp.arange(4.0)[:, None, None, None] * jnp.ones((4, 2, 3, 5))  # sample i is all i
    out = remedies.MinibatchStdDev().apply({}, x)
    assert out.shape == (4, 2, 3, 6)
    np.testing.assert_array_equal(np.asarray(out[..., :5]), np.asarray(x))
    np.testing.assert_allclose(np.asarray(out[..., 5]), math.sqrt(1.25), rtol=1e-6)  # std of 0, 1, 2, 3


def test_minibatch_std_never_mixes_the_real_and_fake_halves_of_one_call():
    real = jnp.zeros((4, 3))  # std 0
    fake = jnp.array([[0.0] * 3, [2.0] * 3, [0.0] * 3, [2.0] * 3])  # std 1
    out = remedies.MinibatchStdDev(group_size=4).apply({}, jnp.concatenate([real, fake]))
    np.testing.assert_allclose(np.asarray(out[:, 3]), [1e-4] * 4 + [1.0] * 4, rtol=1e-5)


def test_minibatch_std_rejects_an_indivisible_batch():
    with pytest.raises(ValueError, match="batch size 6 is not divisible by the group size 4"):
        remedies.MinibatchStdDev().apply({}, jnp.ones((6, 2)))


def test_minibatch_std_in_the_discriminator_couples_only_group_members():
    d = MLPDiscriminator(features=(8,), minibatch_std_group=2)
    x = jnp.array([[0.3, -1.0], [1.2, 0.4], [-0.7, 0.9], [0.1, 2.0]])
    variables = jax.jit(d.init)(KEY, x)
    assert variables["params"]["Dense_1"]["kernel"].shape == (9, 1)
    grad = jax.jit(jax.grad(lambda x: d.apply(variables, x)[0]))(x)  # sample 0 is grouped with sample 1
    assert np.all(np.asarray(grad[1]) != 0)
    np.testing.assert_array_equal(np.asarray(grad[2:]), 0.0)


# ------------------------------------------------------------------------------------------ instance noise


def test_instance_noise_only_in_training_and_a_function_of_rng():
    identity = from_function(lambda p, x: x, lambda key, x: {})
    noisy = remedies.instance_noise(identity, 0.3)
    x = jnp.zeros((100, 200))
    k1, k2 = jax.random.split(KEY)
    out_eval, _ = noisy.apply({}, {}, x, train=False, rng=k1)
    np.testing.assert_array_equal(np.asarray(out_eval), 0.0)
    a, _ = noisy.apply({}, {}, x, train=True, rng=k1)
    b, _ = noisy.apply({}, {}, x, train=True, rng=k1)
    c, _ = noisy.apply({}, {}, x, train=True, rng=k2)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(a), np.asarray(c))
    assert abs(float(a.std()) - 0.3) < 0.01  # 20000 draws: standard error 0.0015
    assert abs(float(a.mean())) < 0.01
    with pytest.raises(ValueError, match="needs an rng"):
        noisy.apply({}, {}, x, train=True)


def test_instance_noise_on_a_discriminator_keeps_init_and_eval():
    net = from_linen(MLPDiscriminator(features=(8,)))
    noisy = remedies.instance_noise(net, 0.5)
    x = jnp.array([[0.3, -1.0], [1.2, 0.4], [-0.7, 0.9], [0.1, 2.0]])
    params, state = jax.jit(noisy.init)(KEY, x)
    plain_eval, _ = net.apply(params, state, x, train=False)
    noisy_eval, _ = noisy.apply(params, state, x, train=False, rng=KEY)
    noisy_train, _ = noisy.apply(params, state, x, train=True, rng=KEY)
    np.testing.assert_array_equal(np.asarray(noisy_eval), np.asarray(plain_eval))
    assert not np.allclose(np.asarray(noisy_train), np.asarray(plain_eval))
    with pytest.raises(ValueError, match=">= 0"):
        remedies.instance_noise(net, -1.0)
