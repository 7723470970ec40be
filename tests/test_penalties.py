"""Tests for jaxgan.penalties: closed forms for linear critics, per-sample randomness, NaN safety."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import penalties

SHAPE = (8, 2, 2, 3)  # [batch, height, width, channels]


def _keys(n=8, seed=0):
    return jax.vmap(jax.random.fold_in, (None, 0))(jax.random.PRNGKey(seed), jnp.arange(n))


def _data():
    k1, k2 = jax.random.split(jax.random.PRNGKey(1))
    return jax.random.normal(k1, SHAPE), jax.random.normal(k2, SHAPE) + 1.0


def _linear_critic(w):
    return lambda x: x.reshape(x.shape[0], -1) @ w


def _mlp_critic(x):
    w = jnp.linspace(-1.0, 1.0, 12 * 5).reshape(12, 5)
    return jnp.tanh(x.reshape(x.shape[0], -1) @ w) @ jnp.arange(1.0, 6.0)


def _unit(n, scale):
    w = jnp.arange(1.0, n + 1.0)
    return scale * w / jnp.linalg.norm(w)


def _apply(penalty, d_fn, real, fake, keys):
    return jax.jit(lambda r, f, k: penalty.fn(d_fn, r, f, k))(real, fake, keys)


@pytest.mark.parametrize("make", [penalties.gradient_penalty, penalties.dragan_penalty])
@pytest.mark.parametrize("norm", [1.0, 0.5, 3.0])
def test_two_sided_penalties_for_linear_critics(make, norm):
    real, fake = _data()
    value = _apply(make(), _linear_critic(_unit(12, norm)), real, fake, _keys())
    np.testing.assert_allclose(value, (norm - 1.0) ** 2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make, name", [(penalties.r1_penalty, "r1"), (penalties.r2_penalty, "r2")])
def test_r1_r2_for_a_linear_critic(make, name):
    real, fake = _data()
    penalty = make(gamma=4.0)
    assert penalty.name == name and penalty.weight == 2.0
    value = _apply(penalty, _linear_critic(_unit(12, 3.0)), real, fake, _keys())
    np.testing.assert_allclose(value, 9.0, rtol=1e-5)


def test_r1_and_r2_read_real_and_fake():
    real, fake = _data()
    quadratic = lambda x: 0.5 * jnp.sum(x.reshape(x.shape[0], -1) ** 2, axis=1)  # grad D(x) = x
    r1 = _apply(penalties.r1_penalty(), quadratic, real, fake, _keys())
    r2 = _apply(penalties.r2_penalty(), quadratic, real, fake, _keys())
    np.testing.assert_allclose(r1, np.mean(np.sum(np.asarray(real) ** 2, axis=(1, 2, 3))), rtol=1e-5)
    np.testing.assert_allclose(r2, np.mean(np.sum(np.asarray(fake) ** 2, axis=(1, 2, 3))), rtol=1e-5)


def test_gradient_penalty_matches_a_per_sample_reference():
    real, fake = _data()
    keys = _keys()
    got = _apply(penalties.gradient_penalty(target=0.7), _mlp_critic, real, fake, keys)
    want = []
    for i in range(SHAPE[0]):  # sample i: ε from keys[i], x̂ = ε x + (1 - ε) G(z), one sample at a time
        eps = jax.random.uniform(keys[i], ())
        x_hat = eps * real[i] + (1 - eps) * fake[i]
        grad = jax.grad(lambda x: _mlp_critic(x[None])[0])(x_hat)
        want.append((np.linalg.norm(np.asarray(grad)) - 0.7) ** 2)
    np.testing.assert_allclose(got, np.mean(want), rtol=1e-5)


def test_dragan_perturbation_scales_with_c():
    real, fake = _data()
    quadratic = lambda x: 0.5 * jnp.sum(x.reshape(x.shape[0], -1) ** 2, axis=1)  # ||grad D(x)|| = ||x||
    value = jax.jit(lambda keys, c: penalties.dragan_penalty_value(quadratic, real, keys, 1.0, c))
    at_data = np.mean((np.linalg.norm(np.asarray(real).reshape(8, -1), axis=1) - 1.0) ** 2)
    np.testing.assert_allclose(value(_keys(), 1e-6), at_data, rtol=1e-4)
    a, b = value(_keys(seed=0), 2.0), value(_keys(seed=1), 2.0)
    assert abs(float(a) - at_data) > 1e-2 and abs(float(a) - float(b)) > 1e-3


@pytest.mark.parametrize(
    "penalty",
    [penalties.gradient_penalty(), penalties.r1_penalty(), penalties.r2_penalty()],
    ids=["gp", "r1", "r2"],
)
def test_values_do_not_depend_on_batch_splitting(penalty):
    real, fake = _data()
    keys = _keys()
    whole = _apply(penalty, _mlp_critic, real, fake, keys)
    halves = [_apply(penalty, _mlp_critic, real[s], fake[s], keys[s]) for s in (slice(0, 4), slice(4, 8))]
    np.testing.assert_allclose(whole, np.mean(halves), rtol=1e-5)


@pytest.mark.parametrize("make", [penalties.gradient_penalty, penalties.dragan_penalty, penalties.r1_penalty])
def test_gradient_wrt_critic_params_is_finite_at_zero_input_gradient(make):
    real, fake = _data()
    penalty = make()

    def loss(w):
        return penalty.fn(_linear_critic(w), real, fake, _keys())

    value, grad = jax.jit(jax.value_and_grad(loss))(jnp.zeros(12))
    assert np.all(np.isfinite(grad))
    expected = 0.0 if penalty.name == "r1" else 1.0  # (0 - target)^2
    np.testing.assert_allclose(value, expected, atol=1e-6)


def test_weight_clipping_clips_every_leaf():
    params = {"dense": {"kernel": jnp.array([[-1.0, 0.005], [2.0, -0.003]])}, "bias": jnp.array([0.02])}
    clipped = jax.jit(penalties.weight_clipping(0.01))(params)
    np.testing.assert_array_equal(clipped["dense"]["kernel"], np.float32([[-0.01, 0.005], [0.01, -0.003]]))
    np.testing.assert_array_equal(clipped["bias"], np.float32([0.01]))


@pytest.mark.parametrize(
    "make, kwargs, mentions",
    [
        (penalties.gradient_penalty, {"weight": -1.0}, "weight=-1.0"),
        (penalties.gradient_penalty, {"target": float("nan")}, "target=nan"),
        (penalties.dragan_penalty, {"c": 0.0}, "c=0.0"),
        (penalties.r1_penalty, {"gamma": float("inf")}, "gamma=inf"),
        (penalties.r2_penalty, {"gamma": -2.0}, "gamma=-2.0"),
        (penalties.weight_clipping, {"c": float("nan")}, "c=nan"),
        (penalties.weight_clipping, {"c": -0.01}, "c=-0.01"),
    ],
)
def test_bad_hyperparameters_raise(make, kwargs, mentions):
    with pytest.raises(ValueError, match=mentions):
        make(**kwargs)
