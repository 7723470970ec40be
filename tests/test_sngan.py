"""Tests for jaxgan.models.sngan: the ResNet SNGAN pair for 32x32 images, with and without projection."""

import functools

import jax
import numpy as np
from _numpy_init import numpy_init

from jaxgan.models.adapters import from_linen
from jaxgan.models.sngan import SNGANDiscriminator, SNGANGenerator


def _init(module, *args, seed=0, **kwargs):
    return numpy_init(module, *args, seed=seed, train=False, **kwargs)


@functools.partial(jax.jit, static_argnames=("module",))
def _jit_train(module, variables, x, labels=None):
    return module.apply(variables, x, labels, train=True, mutable=["batch_stats"])[0]


def _train(module, variables, x, labels=None):
    return np.asarray(_jit_train(module, variables, x, labels))


@functools.partial(jax.jit, static_argnames=("module",))
def _train_and_eval(module, variables, x, labels=None):
    """(train output, updated batch_stats, eval output)."""
    out, upd = module.apply(variables, x, labels, train=True, mutable=["batch_stats"])
    return out, upd["batch_stats"], module.apply(variables, x, labels, train=False)


def _z(batch=3, dim=8):
    return np.random.default_rng(1).normal(size=(batch, dim)).astype(np.float32)


def test_unconditional_pair_shapes_ranges_and_structure():
    g, d = SNGANGenerator(ch=4, channels=3), SNGANDiscriminator(ch=4)
    z = _z()
    g_vars = _init(g, z)
    assert set(g_vars["params"]) == {"dense", "block2", "block3", "block4", "norm", "conv_out"}
    assert g_vars["params"]["dense"]["kernel"].shape == (8, 4 * 4 * 4)
    images, g_stats, g_eval = _train_and_eval(g, g_vars, z)
    assert images.shape == g_eval.shape == (3, 32, 32, 3)
    assert np.max(np.abs(images)) <= 1.0
    assert np.max(np.abs(g_stats["block2"]["norm1"]["bn"]["mean"])) > 0  # BN statistics move

    d_vars = _init(d, images)
    # every convolution and the head are spectrally normalised; identity shortcuts in blocks 3 and 4
    sn = d_vars["batch_stats"]
    assert set(sn["block1"]) == {"conv1", "conv2", "shortcut"}
    assert set(sn["block2"]) == {"conv1", "conv2", "shortcut"}
    assert set(sn["block3"]) == {"conv1", "conv2"}
    assert "dense/kernel/u" in sn["head"]["sn"]
    # through the engine's adapter: a training call refreshes every spectral-norm vector and sigma
    net = from_linen(d)
    state = {"batch_stats": d_vars["batch_stats"]}
    logits, new_state = jax.jit(functools.partial(net.apply, train=True))(d_vars["params"], state, images)
    assert logits.shape == (3,)
    assert all(np.any(np.asarray(a) != b) for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(new_state)))


def test_conditional_pair_uses_labels():
    g = SNGANGenerator(ch=4, channels=1, num_classes=10)
    d = SNGANDiscriminator(ch=4, num_classes=10)
    z, labels = _z(), np.array([0, 1, 2])
    g_vars = _init(g, z, labels)
    assert "cbn" in g_vars["params"]["norm"]  # class-conditional batch norms
    a = _train(g, g_vars, z, labels)
    b = _train(g, g_vars, z, labels + 3)
    assert a.shape == (3, 32, 32, 1)
    assert np.max(np.abs(a - b)) > 1e-4
    d_vars = _init(d, a, labels)
    assert d_vars["params"]["projection"]["embed"]["embedding"].shape == (10, 4)
    la = _train(d, d_vars, a, labels)
    lb = _train(d, d_vars, a, labels + 3)
    assert la.shape == (3,)
    assert np.max(np.abs(la - lb)) > 1e-4


def test_paper_sizes_parameter_counts():
    """ch = 256 / 128 and a 128-d z: 4.28 M / 1.05 M parameters, as the CIFAR-10 SNGAN of Mimicry."""
    count = lambda tree: sum(int(np.prod(a.shape)) for a in jax.tree.leaves(tree["params"]))
    g = jax.eval_shape(lambda: SNGANGenerator().init(jax.random.key(0), np.zeros((2, 128)), train=False))
    block = lambda c_in, c: 2 * c_in + 2 * c + (9 * c_in * c + c) + (9 * c * c + c) + (c_in * c + c)
    g_expected = (128 * 16 * 256 + 16 * 256) + 3 * block(256, 256) + 2 * 256 + (9 * 256 * 3 + 3)
    assert count(g) == g_expected == 4_276_739
    d = jax.eval_shape(lambda: SNGANDiscriminator().init(jax.random.key(0), np.zeros((2, 32, 32, 3)), train=False))
    conv = lambda k, c_in, c: k * k * c_in * c + c
    optimized_block = conv(3, 3, 128) + conv(3, 128, 128) + conv(1, 3, 128)
    down_block = 2 * conv(3, 128, 128) + conv(1, 128, 128)  # learned shortcut
    plain_block = 2 * conv(3, 128, 128)  # identity shortcut
    d_expected = optimized_block + down_block + 2 * plain_block + (128 + 1)  # + SN dense head
    assert count(d) == d_expected == 1_053_825
