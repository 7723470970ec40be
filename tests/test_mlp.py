"""Tests for jaxgan.models.mlp: shapes, parameter counts, maxout, batch norm, conditioning, PacGAN recipe.

Shape checks trace with ``jax.eval_shape`` (nothing compiles); value checks run under one ``jax.jit``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import mlp
from jaxgan.models.adapters import from_linen

KEY = jax.random.PRNGKey(0)


def _count(tree):
    return sum(np.prod(x.shape) for x in jax.tree.leaves(tree))


def _shapes(tree):
    return jax.tree.map(lambda x: x.shape, tree)


def test_generator_shapes_and_parameter_count():
    g = from_linen(mlp.MLPGenerator(out_dim=3, features=(16, 8)))
    z = jnp.ones((5, 4))
    params, state = jax.eval_shape(g.init, KEY, z)
    assert state == {}
    assert _count(params) == (4 * 16 + 16) + (16 * 8 + 8) + (8 * 3 + 3)
    out, _ = jax.eval_shape(lambda p: g.apply(p, state, z, train=True), params)
    assert out.shape == (5, 3)


def test_generator_output_is_linear_not_squashed():
    g = mlp.MLPGenerator(out_dim=1, features=(4,))
    params = jax.eval_shape(g.init, KEY, jnp.ones((1, 1)))["params"]
    params = jax.tree.map(lambda x: jnp.zeros(x.shape), params)
    params["Dense_1"]["bias"] = jnp.array([7.0])  # final Dense: output = bias when weights are 0
    assert float(g.apply({"params": params}, jnp.ones((1, 1)))[0, 0]) == 7.0


def test_generator_batch_norm_train_and_eval():
    g = from_linen(mlp.MLPGenerator(out_dim=2, features=(8,), use_batch_norm=True, bn_momentum=0.5))
    z = jax.random.normal(KEY, (16, 3)) * 3.0 + 1.0
    params, state = jax.jit(g.init)(KEY, z)
    assert "bias" not in params["Dense_0"]  # batch norm has the bias
    stats = state["batch_stats"]["BatchNorm_0"]
    np.testing.assert_array_equal(np.asarray(stats["mean"]), np.zeros(8))
    apply = jax.jit(g.apply, static_argnames="train")
    out_train, new_state = apply(params, state, z, train=True)
    h = z @ params["Dense_0"]["kernel"]
    np.testing.assert_allclose(
        np.asarray(new_state["batch_stats"]["BatchNorm_0"]["mean"]), 0.5 * np.asarray(h.mean(0)), rtol=1e-4
    )
    out_eval, same_state = apply(params, state, z, train=False)
    assert jax.tree.all(jax.tree.map(np.array_equal, same_state, state))
    assert not np.allclose(np.asarray(out_train), np.asarray(out_eval))


def test_discriminator_returns_logits_per_sample_and_flattens_images():
    d = from_linen(mlp.MLPDiscriminator(features=(8, 8)))
    x = jnp.ones((6, 2, 2, 3))
    params, _ = jax.eval_shape(d.init, KEY, x)
    assert params["Dense_0"]["kernel"].shape == (12, 8)
    out, _ = jax.eval_shape(lambda p: d.apply(p, {}, x, train=True), params)
    assert out.shape == (6,)
    d3 = mlp.MLPDiscriminator(features=(8,), out_features=3)
    assert jax.eval_shape(lambda: d3.apply(d3.init(KEY, x), x)).shape == (6, 3)


def test_maxout_closed_form():
    layer = mlp.Maxout(features=1, pieces=3)
    params = {"Dense_0": {"kernel": jnp.array([[1.0, -2.0, 0.5]]), "bias": jnp.array([0.0, 0.0, 1.0])}}
    x = jnp.array([[2.0], [-1.0], [0.1]])
    # pieces: (2, -4, 2), (-1, 2, 0.5), (0.1, -0.2, 1.05)
    np.testing.assert_allclose(np.asarray(layer.apply({"params": params}, x))[:, 0], [2.0, 2.0, 1.05], rtol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_max_over_pieces_equals_jnp_max_bitwise_values_and_gradients(dtype):
    """Random rows, rows with two and with five equal maxima (g / count to each), a row of zeros (an input row of
    zeros with zero biases: all pieces tie), under a cotangent that is not all ones."""
    h = jax.random.normal(KEY, (6, 7, 5)).astype(dtype)
    h = h.at[0, 0].set(jnp.array([1.0, 3.0, 3.0, -1.0, 0.0], dtype))
    h = h.at[1, 1].set(jnp.full((5,), 0.25, dtype)).at[2].set(0.0)
    g = jax.random.normal(jax.random.PRNGKey(1), (6, 7)).astype(dtype)

    def grads(f):
        return jax.jit(lambda h: jax.vjp(f, h)[1](g)[0])(h)

    ours, ref = grads(mlp.max_over_pieces), grads(lambda h: h.max(axis=-1))
    np.testing.assert_array_equal(np.asarray(mlp.max_over_pieces(h)), np.asarray(h.max(axis=-1)))
    np.testing.assert_array_equal(np.asarray(ours, np.float32), np.asarray(ref, np.float32))
    assert ours.dtype == dtype
    half = g[0, 0] * jnp.array([0, 0.5, 0.5, 0, 0], dtype)
    np.testing.assert_array_equal(np.asarray(ours[0, 0], np.float32), np.asarray(half, np.float32))
    if dtype == jnp.float32:  # a unit's gradient sums to its g, up to the rounding of g / 5
        np.testing.assert_allclose(np.asarray(ours[2].sum(-1)), np.asarray(g[2]), rtol=1e-6)


def test_max_over_pieces_second_order_equals_jnp_max():
    """A gradient penalty differentiates the discriminator twice (reverse over reverse)."""
    d = mlp.MLPDiscriminator(features=(8, 8), maxout_pieces=3)
    x = jax.random.normal(KEY, (4, 2))
    params = d.init(KEY, x)

    def penalty(params):
        def logits(x):
            return d.apply(params, x).sum()

        return (jax.grad(logits)(x) ** 2).sum()

    ours = jax.jit(jax.grad(penalty))(params)
    with pytest.MonkeyPatch.context() as mp:  # the layer with jnp.max's own gradient
        mp.setattr(mlp, "max_over_pieces", lambda h: h.max(axis=-1))
        ref = jax.jit(jax.grad(penalty))(params)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
    assert max(float(jnp.abs(a).max()) for a in jax.tree.leaves(ours)) > 0


def test_max_over_pieces_gradient_has_no_reduction():
    """What makes it faster: the backward pass sums the indicators with adds; its only reduction is the forward
    max that the vjp recomputes (jnp.max's gradient has a second one, the sum of the indicators)."""
    h = jnp.ones((4, 3, 5))
    vjp = jax.jit(lambda h, g: jax.vjp(mlp.max_over_pieces, h)[1](g)[0])
    ref = jax.jit(lambda h, g: jax.vjp(lambda h: h.max(axis=-1), h)[1](g)[0])
    g = jnp.ones((4, 3))
    assert vjp.lower(h, g).as_text("hlo").count(" reduce(") == 1
    assert ref.lower(h, g).as_text("hlo").count(" reduce(") == 2


def test_maxout_discriminator_shapes():
    d = mlp.MLPDiscriminator(features=(200, 200, 200), maxout_pieces=5)
    params = _shapes(jax.eval_shape(d.init, KEY, jnp.ones((4, 2)))["params"])
    assert params["Maxout_0"]["Dense_0"]["kernel"] == (2, 1000)
    assert params["Maxout_2"]["Dense_0"]["kernel"] == (200, 1000)
    assert params["Dense_0"]["kernel"] == (200, 1)


def test_conditional_models_concatenate_one_hot_labels():
    g = mlp.MLPGenerator(out_dim=2, features=(8,), num_classes=3)
    z, labels = jnp.ones((4, 5)), jnp.array([0, 1, 2, 0])
    variables = jax.jit(g.init)(KEY, z, labels)
    assert variables["params"]["Dense_0"]["kernel"].shape == (5 + 3, 8)
    out = jax.jit(g.apply)(variables, z, labels)
    assert out.shape == (4, 2)
    np.testing.assert_allclose(np.asarray(out[0]), np.asarray(out[3]))  # same z, same label
    assert not np.allclose(np.asarray(out[0]), np.asarray(out[1]))  # same z, other label

    d = mlp.MLPDiscriminator(features=(8,), num_classes=3)
    params = jax.eval_shape(d.init, KEY, jnp.ones((4, 2)), labels)["params"]
    assert params["Dense_0"]["kernel"].shape == (2 + 3, 8)
    # Packed labels [batch, m] give the concatenated one-hots of the pack.
    params = jax.eval_shape(d.init, KEY, jnp.ones((2, 4)), labels.reshape(2, 2))["params"]
    assert params["Dense_0"]["kernel"].shape == (4 + 6, 8)


def test_label_mismatches_raise():
    with pytest.raises(ValueError, match="num_classes is None"):
        mlp.MLPDiscriminator(features=(4,)).init(KEY, jnp.ones((2, 2)), jnp.array([0, 1]))
    with pytest.raises(ValueError, match="is conditional: pass labels"):
        mlp.MLPGenerator(out_dim=2, features=(4,), num_classes=3).init(KEY, jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="unknown activation 'sigmoidal'"):
        mlp.MLPDiscriminator(features=(4,), activation="sigmoidal").init(KEY, jnp.ones((2, 2)))


def test_pacgan_recipe():
    g, d = mlp.pacgan_generator(2), mlp.pacgan_discriminator(pack=2)
    z = jnp.ones((4, 2))
    g_params, g_state = jax.eval_shape(g.init, KEY, z)
    assert [g_params[f"Dense_{i}"]["kernel"].shape for i in range(5)] == [(2, 400)] + [(400, 400)] * 3 + [(400, 2)]
    assert set(g_state["batch_stats"]) == {f"BatchNorm_{i}" for i in range(4)}
    d_params, _ = jax.eval_shape(d.init, KEY, jnp.ones((4, 2)))
    assert d_params["Maxout_0"]["Dense_0"]["kernel"].shape == (4, 1000)  # 2 packed 2-D samples, 200 x 5 pieces

    def forward(g_params, g_state, d_params):
        x, _ = g.apply(g_params, g_state, z, train=True)
        return d.apply(d_params, {}, x, train=True)[0]

    assert jax.eval_shape(forward, g_params, g_state, d_params).shape == (2,)
