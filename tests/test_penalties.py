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


# --------------------------------------------------------------------------------------------------------
# BigGAN's orthogonal regularization and ProGAN's drift term


def _ortho_reference(matrices):
    """sum ||W^T W * (1 - I)||_F^2 and its gradients, literally, in float64 numpy."""
    value, grads = 0.0, []
    for w in matrices:
        w = np.asarray(w, np.float64).reshape(-1, w.shape[-1])
        off = (w.T @ w) * (1.0 - np.eye(w.shape[1]))
        value += np.sum(off**2)
        grads.append(4.0 * w @ off)  # d/dW sum_{i != j} (w_i . w_j)^2
    return value, grads


def _ortho_params(seed=0):
    rng = np.random.default_rng(seed)
    f = lambda *s: jnp.asarray(rng.normal(size=s), jnp.float32)
    return {
        "conv": {"kernel": f(3, 3, 2, 5), "bias": f(5)},  # [18, 5]: out <= fan_in
        "dense": {"sn": {"dense": {"kernel": f(3, 7)}}},  # [3, 7]: out > fan_in (the smaller Gram)
        "shared": {"embedding": f(4, 6)},  # an nn.Embed table: skipped
        "attention": {"gamma": f()},  # a scalar: skipped
    }


def test_orthogonal_value_and_gradient_match_numpy():
    params = _ortho_params()
    value, grads = jax.jit(jax.value_and_grad(penalties.orthogonal_value))(params)
    dense = params["dense"]["sn"]["dense"]["kernel"]
    ref_value, (g_conv, g_dense) = _ortho_reference([params["conv"]["kernel"], dense])
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    np.testing.assert_allclose(grads["conv"]["kernel"], g_conv.reshape(3, 3, 2, 5), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grads["dense"]["sn"]["dense"]["kernel"], g_dense, rtol=1e-4, atol=1e-4)
    for skipped in (grads["conv"]["bias"], grads["shared"]["embedding"], grads["attention"]["gamma"]):
        np.testing.assert_array_equal(skipped, 0.0)


def test_orthogonal_value_is_zero_for_orthogonal_filters_of_any_norm():
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(6, 4)))
    w = q * np.array([0.5, 1.0, 2.0, 3.0])  # orthogonal columns, unequal norms: the diagonal is not penalized
    value = penalties.orthogonal_value({"kernel": jnp.asarray(w, jnp.float32)})
    np.testing.assert_allclose(value, 0.0, atol=1e-5)
    assert float(penalties.orthogonal_value({"kernel": jnp.ones((6, 4))})) == pytest.approx(12 * 36.0)


def test_orthogonal_regularization_weight_and_the_reference_code_update():
    penalty = penalties.orthogonal_regularization()
    assert (penalty.name, penalty.weight) == ("ortho", 1e-4)
    w = _ortho_params(1)["conv"]["kernel"]
    # BigGAN-PyTorch's ortho(): grad += 2 * strength * (w w^T * (1 - I)) w on the [out, fan_in] view
    torch_view = np.asarray(w, np.float64).reshape(-1, 5).T
    code_update = 2 * 1e-4 * ((torch_view @ torch_view.T) * (1 - np.eye(5))) @ torch_view
    half = penalties.orthogonal_regularization(beta=5e-5)
    grad = jax.grad(lambda k: half.weight * half.fn({"kernel": k}))(w)
    np.testing.assert_allclose(np.asarray(grad).reshape(-1, 5).T, code_update, rtol=1e-4, atol=1e-9)
    include_all = penalties.orthogonal_regularization(include=lambda path, leaf: leaf.ndim >= 2)
    params = _ortho_params(2)
    assert float(include_all.fn(params)) > float(penalty.fn(params))  # the embedding counts too


def test_drift_penalty_is_epsilon_times_the_mean_square_of_the_real_logits():
    real, fake = _data()
    w = jnp.linspace(-1.0, 1.0, 12)
    penalty = penalties.drift_penalty()
    assert (penalty.name, penalty.weight) == ("drift", 0.001)
    logits = np.asarray(real).reshape(8, -1) @ np.asarray(w)
    np.testing.assert_allclose(_apply(penalty, _linear_critic(w), real, fake, _keys()), np.mean(logits**2), rtol=1e-5)
    with pytest.raises(ValueError, match="epsilon=-1.0"):
        penalties.drift_penalty(-1.0)
