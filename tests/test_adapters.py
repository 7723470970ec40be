"""The engine runs the same with Flax Linen, Flax NNX and plain JAX networks."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jaxgan


class LinenG(nn.Module):
    @nn.compact
    def __call__(self, z, labels=None, *, train=True):
        h = nn.Dense(8)(z)
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
        return nn.Dense(2)(nn.relu(h))


class LinenD(nn.Module):
    @nn.compact
    def __call__(self, x, labels=None, *, train=True):
        return nn.Dense(1)(nn.leaky_relu(nn.Dense(8)(x), 0.2))[:, 0]


class NNXG(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(2, 8, rngs=rngs)
        self.bn = nnx.BatchNorm(8, momentum=0.9, rngs=rngs)
        self.l2 = nnx.Linear(8, 2, rngs=rngs)

    def __call__(self, z):
        return self.l2(nnx.relu(self.bn(self.l1(z))))


def _run(g, d, g_params, g_state, d_params, d_state, steps=3):
    opt = optax.adam(1e-2)
    st = jaxgan.create_state(jax.random.PRNGKey(0), g_params, d_params, opt, opt,
                             g_model_state=g_state, d_model_state=d_state)
    step = jax.jit(jaxgan.make_train_step(g, d, "non_saturating", opt, opt, latent_dim=2))
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 2)) + 3.0
    first = st
    for _ in range(steps):
        st, metrics = step(st, {"x": x})
    return first, st, metrics


def _changed(a, b):
    return any(not np.array_equal(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_linen_networks_train_and_update_batch_stats():
    g, d = jaxgan.from_linen(LinenG()), jaxgan.from_linen(LinenD())
    gp, gs = g.init(jax.random.PRNGKey(2), jnp.zeros((4, 2)))
    dp, ds = d.init(jax.random.PRNGKey(3), jnp.zeros((4, 2)))
    assert "batch_stats" in gs
    first, last, m = _run(g, d, gp, gs, dp, ds)
    assert _changed(first.g_params, last.g_params) and _changed(first.d_params, last.d_params)
    assert _changed(first.g_model_state, last.g_model_state)  # running statistics moved
    assert np.isfinite(float(m["g/loss"]))


def test_nnx_network_trains_and_updates_batch_stats():
    g, gp, gs = jaxgan.from_nnx(NNXG(nnx.Rngs(0)))
    d = jaxgan.from_linen(LinenD())
    dp, ds = d.init(jax.random.PRNGKey(3), jnp.zeros((4, 2)))
    first, last, m = _run(g, d, gp, gs, dp, ds)
    assert _changed(first.g_params, last.g_params)
    assert _changed(first.g_model_state, last.g_model_state)
    # eval mode uses the running statistics and leaves the state unchanged
    out, new_state = g.apply(last.g_params, last.g_model_state, jnp.ones((3, 2)), train=False)
    assert out.shape == (3, 2) and not _changed(new_state, last.g_model_state)


def test_plain_function_networks_train():
    def g_apply(p, z):
        return z @ p["w"] + p["b"]

    def d_apply(p, x):
        return (x @ p["w"])[:, 0] + p["b"]

    g = jaxgan.from_function(g_apply)
    d = jaxgan.from_function(d_apply)
    gp = {"w": jnp.eye(2), "b": jnp.zeros(2)}
    dp = {"w": jnp.ones((2, 1)), "b": jnp.zeros(())}
    first, last, _ = _run(g, d, gp, {}, dp, {})
    assert _changed(first.g_params, last.g_params)
    # the generator's offset moves towards the data (mean 3)
    assert float(jnp.mean(last.g_params["b"])) > float(jnp.mean(first.g_params["b"]))
