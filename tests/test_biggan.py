"""Tests for jaxgan.models.biggan: conditional BN and attention against numpy, hierarchical z, the 32x32 pair."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _numpy_init import numpy_init

from jaxgan.models.adapters import from_linen
from jaxgan.models.biggan import BigGANDiscriminator, BigGANGenerator, ClassConditionalBN, SelfAttention
from jaxgan.penalties import orthogonal_value

RNG = np.random.default_rng(0)
TINY = dict(ch=16, num_classes=5, shared_dim=4)


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@functools.partial(jax.jit, static_argnames=("module",))
def _eval(module, variables, *args):
    return module.apply(variables, *args, train=False)


@functools.partial(jax.jit, static_argnames=("module",))
def _train(module, variables, *args):
    """A training call: (output, updated batch_stats)."""
    out, upd = module.apply(variables, *args, train=True, mutable=["batch_stats"])
    return out, upd["batch_stats"]


def _sn_kernel(params, stats, name):
    """A spectrally normalised layer's kernel divided by the sigma its training call stored."""
    kind = "conv" if "conv" in params[name] else "dense"
    return np.asarray(params[name][kind]["kernel"]) / float(stats[name]["sn"][f"{kind}/kernel/sigma"])


def test_conditional_bn_matches_numpy():
    x, c = _normal(4, 3, 3, 6, seed=1) * 2 + 1, _normal(4, 5, seed=2)
    module = ClassConditionalBN()
    variables = numpy_init(module, x, c, seed=3)
    out, stats = _train(module, variables, x, c)
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    gain = 1 + c @ _sn_kernel(variables["params"], stats, "gain")
    bias = c @ _sn_kernel(variables["params"], stats, "bias")
    expected = (x - mean) / np.sqrt(var + 1e-5) * gain[:, None, None] + bias[:, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats["bn"]["mean"], 0.1 * mean, rtol=1e-5, atol=1e-6)  # momentum 0.9 from 0
    # sigma is the power-iteration estimate of the largest singular value
    top = np.linalg.norm(np.asarray(variables["params"]["gain"]["dense"]["kernel"]), 2)
    assert 0.5 * top < float(stats["gain"]["sn"]["dense/kernel/sigma"]) <= 1.0001 * top


def _attention_reference(x, wt, wp, wg, wo, gamma):
    b, h, w, c = x.shape

    def pool(y):
        return y.reshape(b, h // 2, 2, w // 2, 2, -1).max(axis=(2, 4))

    theta = (x @ wt).reshape(b, h * w, -1)
    phi = pool(x @ wp).reshape(b, h * w // 4, -1)
    g = pool(x @ wg).reshape(b, h * w // 4, -1)
    logits = theta @ phi.transpose(0, 2, 1)
    beta = np.exp(logits - logits.max(-1, keepdims=True))
    beta /= beta.sum(-1, keepdims=True)
    return x + gamma * ((beta @ g).reshape(b, h, w, -1) @ wo)


def _attention_variables(x, gamma=0.7):
    module = SelfAttention()
    variables = numpy_init(module, x, seed=4)
    assert variables["params"]["gamma"].shape == ()
    return module, {**variables, "params": {**variables["params"], "gamma": np.float32(gamma)}}


def test_attention_matches_numpy_and_starts_as_the_identity():
    x = _normal(2, 4, 6, 16, seed=5)
    module, variables = _attention_variables(x)
    out, stats = _train(module, variables, x)
    weights = [_sn_kernel(variables["params"], stats, n)[0, 0] for n in ("theta", "phi", "g", "o")]
    assert [w.shape for w in weights] == [(16, 2), (16, 2), (16, 8), (8, 16)]
    np.testing.assert_allclose(out, _attention_reference(x, *weights, 0.7), rtol=1e-4, atol=1e-4)
    gamma = jax.jit(lambda key: SelfAttention().init(key, x)["params"]["gamma"])(jax.random.key(0))
    assert float(gamma) == 0.0
    fresh = {**variables, "params": {**variables["params"], "gamma": gamma}}
    np.testing.assert_array_equal(_eval(module, fresh, x), x)


def test_attention_is_equivariant_to_permutations_of_the_pooling_blocks():
    # 1x1 convolutions act per pixel and the max pool per 2x2 block, so permuting the 2x2 blocks of the input
    # permutes the keys (a softmax-weighted sum does not care) and the queries alike: the output is permuted
    x = _normal(2, 4, 6, 16, seed=6)
    module, variables = _attention_variables(x, gamma=1.3)

    def permute_blocks(y, order):
        b, h, w, c = y.shape
        blocks = y.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, -1, 2, 2, c)
        blocks = blocks[:, order].reshape(b, h // 2, w // 2, 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
        return blocks.reshape(b, h, w, c)

    order = np.random.default_rng(7).permutation(6)
    out = np.asarray(_eval(module, variables, x))
    out_of_permuted = np.asarray(_eval(module, variables, permute_blocks(x, order)))
    np.testing.assert_allclose(out_of_permuted, permute_blocks(out, order), rtol=1e-5, atol=1e-5)
    assert not np.allclose(out, x, atol=1e-3)  # the attention term is not negligible
    # a permutation of single pixels across blocks is not an equivariance (max pooling sees other pixels)
    swapped = x.copy()
    swapped[:, 0, 0], swapped[:, 0, 2] = x[:, 0, 2], x[:, 0, 0]
    out_swapped = np.asarray(_eval(module, variables, swapped))
    expected = out.copy()
    expected[:, 0, 0], expected[:, 0, 2] = out[:, 0, 2], out[:, 0, 0]
    assert not np.allclose(out_swapped, expected, atol=1e-5)


def _generator_params(**kwargs):
    g = BigGANGenerator(**{**TINY, **kwargs})
    shapes = jax.eval_shape(lambda: g.init(jax.random.key(0), jnp.zeros((2, 8)), jnp.zeros(2, jnp.int32)))
    return shapes["params"]


@pytest.mark.parametrize(
    "kwargs, linear_in, gain_in, attention",
    [
        ({}, 2, 4 + 2, True),  # shared embedding (4) + a z chunk (8 / 4)
        ({"shared_embedding": False}, 2, 5 + 2, True),  # one-hot label (5 classes) + chunk
        ({"hierarchical": False}, 8, 4, True),  # all of z to the first layer, the embedding alone to the blocks
        ({"attention_resolution": None}, 2, 6, False),
    ],
)
def test_generator_ablation_switches_change_the_parameter_tree(kwargs, linear_in, gain_in, attention):
    params = _generator_params(**kwargs)
    assert params["linear"]["dense"]["kernel"].shape == (linear_in, 4 * 4 * 16)
    for i in range(3):
        assert params[f"block{i}"]["norm1"]["ccbn"]["gain"]["dense"]["kernel"].shape == (gain_in, 16)
        assert params[f"block{i}"]["norm2"]["ccbn"]["bias"]["dense"]["kernel"].shape == (gain_in, 16)
    assert ("shared" in params) == kwargs.get("shared_embedding", True)
    assert ("attention" in params) == attention


def test_hierarchical_z_chunk_k_reaches_block_k_only():
    g = BigGANGenerator(**TINY)
    z, labels = _normal(2, 8, seed=8), np.array([1, 3])
    variables = numpy_init(g, z, labels, seed=9, train=False)

    @jax.jit
    def block_outputs(z):
        _, inter = g.apply(variables, z, labels, train=False, capture_intermediates=True)
        return [inter["intermediates"][f"block{i}"]["__call__"][0] for i in range(3)]

    base = block_outputs(z)
    for k in range(4):  # chunk 0 feeds the first layer, chunk k >= 1 the conditional norms of block k - 1
        z2 = z.copy()
        z2[:, 2 * k : 2 * k + 2] += 1.0
        changed = [not np.allclose(a, b) for a, b in zip(base, block_outputs(z2))]
        first = max(k - 1, 0)
        assert changed == [i >= first for i in range(3)], (k, changed)


def test_pair_through_from_linen_with_labels():
    g, d = BigGANGenerator(**TINY, channels=1), BigGANDiscriminator(ch=16, num_classes=5)
    g_net, d_net = from_linen(g), from_linen(d)
    z, labels = jnp.asarray(_normal(4, 8, seed=10)), jnp.array([0, 1, 2, 4])
    g_vars = numpy_init(g, z, labels, seed=11, train=False)  # the variables g_net.init makes (a real init is slow)
    g_params, g_state = g_vars.pop("params"), g_vars
    images, g_new = jax.jit(functools.partial(g_net.apply, train=True))(g_params, g_state, z, labels)
    assert images.shape == (4, 32, 32, 1) and float(jnp.max(jnp.abs(images))) <= 1.0
    # every spectral-norm vector and sigma and every batch statistic is model state, refreshed by training
    for (path, old), new in zip(jax.tree_util.tree_flatten_with_path(g_state)[0], jax.tree.leaves(g_new)):
        assert not np.array_equal(old, new), jax.tree_util.keystr(path)
    assert "attention" in g_params and "attention" in g_state["batch_stats"]
    assert float(orthogonal_value(g_params)) > 0.0

    d_vars = numpy_init(d, images, labels, seed=12, train=False)
    d_params, d_state = d_vars.pop("params"), d_vars
    assert {"block1", "attention", "block4", "linear", "projection"} <= set(d_params)
    apply = jax.jit(functools.partial(d_net.apply, train=False))
    logits, same_state = apply(d_params, d_state, images, labels)
    assert logits.shape == (4,)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(np.array_equal(a, b)), same_state, d_state))  # eval
    other, _ = apply(d_params, d_state, images, (labels + 1) % 5)
    assert np.all(np.asarray(logits) != np.asarray(other))  # the projection reads the labels
    with pytest.raises(ValueError, match="needs labels"):
        d_net.apply(d_params, d_state, images, None, train=False)
    with pytest.raises(ValueError, match="attention_resolution"):
        BigGANGenerator(**TINY, attention_resolution=4).init(jax.random.key(0), z, labels)
