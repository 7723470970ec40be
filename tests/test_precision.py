"""Tests for jaxgan.precision: bfloat16 compute with float32 parameters, model state, outputs and losses."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import losses, train
from jaxgan import state as state_lib
from jaxgan.models.adapters import from_linen
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.precision import cast_floating, mixed_precision

LATENT, BATCH = 8, 8
G = from_linen(DCGANGenerator(resolution=28, channels=1, base_features=4))
D = from_linen(DCGANDiscriminator(resolution=28, base_features=4))


def _z(seed=1):
    return jnp.asarray(np.random.default_rng(seed).normal(size=(BATCH, LATENT)), jnp.float32)


def _x(seed=2):
    return jnp.asarray(np.tanh(np.random.default_rng(seed).normal(size=(BATCH, 28, 28, 1))), jnp.float32)


@functools.partial(jax.jit, static_argnames=("net",))
def _apply(net, params, model_state, x):
    return net.apply(params, model_state, x, train=True)


def _dtypes(tree):
    return [x.dtype for x in jax.tree.leaves(tree)]


def test_cast_floating_leaves_ints_and_keys_alone():
    tree = {"w": jnp.ones(2), "labels": jnp.arange(3), "key": jax.random.key(0), "none": None}
    cast = cast_floating(tree, jnp.bfloat16)
    assert cast["w"].dtype == jnp.bfloat16
    assert cast["labels"].dtype == tree["labels"].dtype
    assert cast["key"].dtype == tree["key"].dtype and cast["none"] is None


@pytest.mark.parametrize("net, example", [(G, _z), (D, _x)], ids=["generator", "discriminator"])
def test_bf16_dcgan_matches_f32_within_bf16_tolerance_and_keeps_float32(net, example):
    params, model_state = net.init(jax.random.key(0), example())
    bf16 = mixed_precision(net)
    out32, state32 = _apply(net, params, model_state, example())
    out16, state16 = _apply(bf16, params, model_state, example())
    assert out16.dtype == jnp.float32 and out16.shape == out32.shape
    assert _dtypes(state16) == _dtypes(model_state) == [jnp.float32] * len(_dtypes(model_state))
    scale = float(np.max(np.abs(out32)))
    np.testing.assert_allclose(out16, out32, atol=0.03 * scale)  # bf16 has 8 significant bits: eps 2^-8
    assert not np.array_equal(out16, out32)  # it really computed in bf16
    for a, b in zip(jax.tree.leaves(state16), jax.tree.leaves(state32)):  # batch statistics
        np.testing.assert_allclose(a, b, atol=0.03 * float(np.max(np.abs(b))) + 1e-3)
    # every convolution and matrix product of the program computes in bf16
    hlo = jax.jit(functools.partial(bf16.apply, train=True)).lower(params, model_state, example()).as_text()
    ops = [line for line in hlo.splitlines() if "stablehlo.convolution" in line or "stablehlo.dot_general" in line]
    assert ops and all(line.rstrip().endswith("bf16>") for line in ops), ops


def _make(bf16: bool):
    g_opt, d_opt = optax.adam(2e-4, b1=0.5), optax.adam(2e-4, b1=0.5)
    loss = losses.get_loss("non_saturating")
    g, d = (mixed_precision(G), mixed_precision(D)) if bf16 else (G, D)
    st = state_lib.init_state(
        0, g, d, g_opt, d_opt, z=jnp.zeros((BATCH, LATENT)), x=jnp.zeros((BATCH, 28, 28, 1)),
        loss_state=loss.init_state(), ema=True,
    )
    step = train.make_train_step(g, d, loss, g_opt, d_opt, latent_dim=LATENT, ema_decay=0.9)
    return st, jax.jit(step)


def test_bf16_train_step_matches_f32_and_no_state_leaf_changes_dtype():
    st32, step32 = _make(bf16=False)
    st16, step16 = _make(bf16=True)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(np.array_equal(a, b)), st32, st16))  # same init
    batch = {"x": _x()}
    new32, m32 = step32(st32, batch)
    new16, m16 = step16(st16, batch)
    for name in ("d/loss", "g/loss", "d/real_logits_mean", "d/fake_logits_mean"):
        assert m16[name].dtype == jnp.float32
        np.testing.assert_allclose(m16[name], m32[name], rtol=0.03, atol=0.02, err_msg=name)
    for name in ("d/grad_norm", "g/grad_norm"):
        np.testing.assert_allclose(m16[name], m32[name], rtol=0.05, err_msg=name)
    # nothing in the state changes dtype: params, optimizer moments, batch statistics, EMA
    assert jax.tree.structure(new16) == jax.tree.structure(st16)
    assert _dtypes(new16) == _dtypes(st16)
    # gradients reached every network: both players' params moved, and the batch statistics
    for before, after in ((st16.g_params, new16.g_params), (st16.d_params, new16.d_params)):
        moved = [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after))]
        assert all(moved), moved
    assert not np.array_equal(jax.tree.leaves(st16.d_model_state)[0], jax.tree.leaves(new16.d_model_state)[0])
    assert int(new16.step) == 1 and not bool(m16["d/skipped"]) and not bool(m16["g/skipped"])
