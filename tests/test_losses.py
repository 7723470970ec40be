"""Tests for jaxgan.losses: every family against NumPy, plus closed-form checks from the papers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxgan import losses

REAL = np.array([-2.0, -0.5, 0.0, 0.3, 1.7, 3.0], np.float32)
FAKE = np.array([-3.0, -1.2, -0.1, 0.4, 0.8, 2.5], np.float32)
K0 = 0.3  # BEGAN's k for the shared suite


# NumPy references in the papers' own notation (D = sigmoid(logit), f* applied to g_f(v)), in float64.
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _f_gan(g, fstar):
    d = lambda r, f: -(np.mean(g(r)) - np.mean(fstar(g(f))))
    return d, lambda r, f: -np.mean(g(f))


def _ra_d(r, f):
    c_r, c_f = r - f.mean(), f - r.mean()
    return -np.mean(np.log(_sigmoid(c_r))) - np.mean(np.log(1 - _sigmoid(c_f)))


_MINIMAX_D = lambda r, f: -np.mean(np.log(_sigmoid(r))) - np.mean(np.log(1 - _sigmoid(f)))

# name -> (hyperparameters, numpy L_D(real, fake), numpy L_G(real, fake), transform of the shared outputs)
CASES = {
    "minimax": ({}, _MINIMAX_D, lambda r, f: np.mean(np.log(1 - _sigmoid(f))), None),
    "non_saturating": ({}, _MINIMAX_D, lambda r, f: -np.mean(np.log(_sigmoid(f))), None),
    "wasserstein": ({}, lambda r, f: f.mean() - r.mean(), lambda r, f: -f.mean(), None),
    "least_squares": (
        {"a": -1.0, "b": 1.0, "c": 0.5},
        lambda r, f: 0.5 * np.mean((r - 1) ** 2) + 0.5 * np.mean((f + 1) ** 2),
        lambda r, f: 0.5 * np.mean((f - 0.5) ** 2),
        None,
    ),
    "hinge": (
        {},
        lambda r, f: np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f)),
        lambda r, f: -f.mean(),
        None,
    ),
    "relativistic_average": ({}, _ra_d, lambda r, f: _ra_d(f, r), None),
    "fgan_kl": ({}, *_f_gan(lambda v: v, lambda t: np.exp(t - 1)), None),
    "fgan_reverse_kl": ({}, *_f_gan(lambda v: -np.exp(-v), lambda t: -1 - np.log(-t)), None),
    "fgan_pearson": ({}, *_f_gan(lambda v: v, lambda t: t**2 / 4 + t), None),
    "fgan_hellinger": ({}, *_f_gan(lambda v: 1 - np.exp(-v), lambda t: t / (1 - t)), None),
    "fgan_js": (
        {},
        *_f_gan(lambda v: np.log(2) - np.log(1 + np.exp(-v)), lambda t: -np.log(2 - np.exp(t))),
        None,
    ),
    "fgan_gan": ({}, *_f_gan(lambda v: -np.log(1 + np.exp(-v)), lambda t: -np.log(1 - np.exp(t))), None),
    "began": (
        {"k0": K0},
        lambda r, f: r.mean() - K0 * f.mean(),
        lambda r, f: f.mean(),
        np.abs,  # reconstruction errors are >= 0
    ),
}


def test_every_loss_has_a_case():
    assert set(CASES) == set(losses.LOSSES)


@pytest.mark.parametrize("name", sorted(CASES))
class TestLossSuite:
    """Shared checks for every family, each with its own NumPy reference (like TF-GAN's ``_LossesTest``)."""

    def _setup(self, name):
        kwargs, d_ref, g_ref, transform = CASES[name]
        real, fake = (REAL, FAKE) if transform is None else (transform(REAL), transform(FAKE))
        r64, f64 = real.astype(np.float64), fake.astype(np.float64)
        return losses.get_loss(name, **kwargs), real, fake, d_ref(r64, f64), g_ref(r64, f64)

    def test_values_match_numpy_under_jit(self, name):
        loss, real, fake, d_want, g_want = self._setup(name)
        state = loss.init_state()
        d_got = jax.jit(loss.discriminator)(real, fake, state)
        g_got = jax.jit(loss.generator)(real, fake, state)
        assert loss.name == name
        assert d_got.shape == g_got.shape == () and d_got.dtype == jnp.float32
        np.testing.assert_allclose(d_got, d_want, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(g_got, g_want, rtol=1e-5, atol=1e-6)

    def test_column_outputs_and_missing_real(self, name):
        loss, real, fake, d_want, g_want = self._setup(name)
        state = loss.init_state()
        np.testing.assert_allclose(loss.discriminator(real[:, None], fake[:, None], state), d_want, rtol=1e-5)
        maybe_real = real[:, None] if loss.generator_uses_real else None  # the engine passes None then
        np.testing.assert_allclose(loss.generator(maybe_real, fake[:, None], state), g_want, rtol=1e-5)

    def test_state_round_trip(self, name):
        loss, real, fake, _, _ = self._setup(name)
        state = loss.init_state()
        new_state, metrics = jax.jit(loss.update_state)(state, real, fake)
        assert jax.tree.structure(new_state) == jax.tree.structure(state)
        assert all(v.shape == () for v in metrics.values())
        if name != "began":
            assert state == {} and metrics == {}


def test_generator_uses_real_only_for_relativistic_and_untricked_fgan():
    uses = {name for name in losses.LOSSES if losses.get_loss(name).generator_uses_real}
    assert uses == {"relativistic_average"}
    assert losses.get_loss("fgan_kl", generator_trick=False).generator_uses_real


def test_hand_computed_literals():
    real, fake = jnp.array([1.0, 3.0]), jnp.array([0.0, 2.0])
    assert losses.least_squares_discriminator_loss(real, fake) == pytest.approx(2.0)  # (0+4)/4 + (0+4)/4
    assert losses.least_squares_generator_loss(fake) == pytest.approx(0.5)  # 0.5 * mean([1, 1])
    hinge = losses.hinge_discriminator_loss(jnp.array([0.5, 2.0]), jnp.array([-2.0, 0.0]))
    assert hinge == pytest.approx(0.75)  # mean([0.5, 0]) + mean([0, 1])
    assert losses.wasserstein_discriminator_loss(real, fake) == pytest.approx(-1.0)


@pytest.mark.parametrize("name", ["minimax", "non_saturating", "relativistic_average", "fgan_js", "fgan_gan"])
def test_sigmoid_losses_are_finite_for_saturated_logits(name):
    loss = losses.get_loss(name)
    real, fake = jnp.array([100.0, -100.0]), jnp.array([-100.0, 100.0])
    for fn in (loss.discriminator, loss.generator):
        value, grads = jax.value_and_grad(fn, argnums=(0, 1))(real, fake, {})
        assert np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads)
    # -log sigmoid(-100) = 100 (naive log(sigmoid(x)) would give inf).
    assert losses.non_saturating_generator_loss(jnp.array([-100.0])) == pytest.approx(100.0)


def test_one_sided_label_smoothing_closed_form():
    real, fake = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
    sp = lambda x: np.log1p(np.exp(x))
    s = 0.25
    expected = np.mean([(1 - s) * sp(-2.0) + s * sp(2.0), (1 - s) * sp(1.0) + s * sp(-1.0)]) + np.mean(
        [sp(0.5), sp(-3.0)]
    )
    for name in ("minimax", "non_saturating"):
        loss = losses.get_loss(name, label_smoothing=s)
        np.testing.assert_allclose(float(loss.discriminator(real, fake, {})), expected, rtol=1e-6)
        plain = losses.get_loss(name)  # s = 0 is the plain loss, and the generator's loss is unchanged
        np.testing.assert_allclose(
            float(plain.discriminator(real, fake, {})), float(losses.minimax_discriminator_loss(real, fake)), rtol=0
        )
        np.testing.assert_allclose(
            float(loss.generator(real, fake, {})), float(plain.generator(real, fake, {})), rtol=0
        )
    # the optimal logit on a real-only point is log((1 - s) / s): the smoothed loss's minimum over l_real
    ls = jnp.linspace(-3, 6, 9001)
    vals = jax.vmap(lambda v: losses.minimax_discriminator_loss(v[None], jnp.array([-50.0]), s))(ls)
    assert abs(float(ls[jnp.argmin(vals)]) - np.log((1 - s) / s)) < 2e-3


def test_minimax_value_is_minus_log4_at_d_one_half():
    zeros = jnp.zeros(16)
    assert -losses.minimax_discriminator_loss(zeros, zeros) == pytest.approx(-math.log(4.0), rel=1e-6)


def test_optimal_discriminator_value_is_minus_log4_plus_2jsd():
    """Goodfellow et al. 2014, Theorem 1: V(D*, G) = -log 4 + 2 JSD(p_data || p_g)."""
    p, g = stats.norm(0.0, 1.0), stats.norm(1.0, 1.5)
    logit = lambda x: p.logpdf(x) - g.logpdf(x)  # D* = p / (p + g)
    # Expectations as means over quantile midpoints: E_p h = int_0^1 h(F_p^{-1}(u)) du (midpoint rule).
    u = (np.arange(200_000) + 0.5) / 200_000
    value = -losses.minimax_discriminator_loss(logit(p.ppf(u)), logit(g.ppf(u)))
    # JSD by the trapezoid rule on a grid, independently of the loss code.
    x = np.linspace(-20.0, 20.0, 400_001)
    px, gx = p.pdf(x), g.pdf(x)
    m = 0.5 * (px + gx)
    jsd = 0.5 * np.trapezoid(px * np.log(px / m), x) + 0.5 * np.trapezoid(gx * np.log(gx / m), x)
    assert 0.05 < jsd < math.log(2)
    np.testing.assert_allclose(value, -math.log(4.0) + 2 * jsd, atol=1e-4)


def test_saturating_generator_gradient_vanishes_non_saturating_does_not():
    fake = jnp.full((8,), -20.0)  # D(G(z)) = sigmoid(-20) ~ 2e-9
    saturating = jax.jit(jax.grad(losses.minimax_generator_loss))(fake)
    non_saturating = jax.jit(jax.grad(losses.non_saturating_generator_loss))(fake)
    assert np.all(np.abs(saturating) < 1e-9)
    np.testing.assert_allclose(non_saturating, -1.0 / 8, rtol=1e-6)


# f-GAN: (f, f', g_f^{-1}) in NumPy, per Nowozin et al. 2016 Table 1/2.
F_FUNCTIONS = {
    "kl": (lambda u: u * np.log(u), lambda u: np.log(u) + 1, lambda t: t),
    "reverse_kl": (lambda u: -np.log(u), lambda u: -1 / u, lambda t: -np.log(-t)),
    "pearson": (lambda u: (u - 1) ** 2, lambda u: 2 * (u - 1), lambda t: t),
    "hellinger": (lambda u: (np.sqrt(u) - 1) ** 2, lambda u: 1 - 1 / np.sqrt(u), lambda t: -np.log(1 - t)),
    "js": (
        lambda u: u * np.log(u) - (u + 1) * np.log((u + 1) / 2),
        lambda u: np.log(2 * u / (u + 1)),
        lambda t: -np.log(2 * np.exp(-t) - 1),  # t = log 2 + log sigmoid(v)
    ),
    "gan": (
        lambda u: u * np.log(u) - (u + 1) * np.log(u + 1),
        lambda u: np.log(u / (u + 1)),
        lambda t: -np.log(np.exp(-t) - 1),  # t = log sigmoid(v)
    ),
}


@pytest.mark.parametrize("divergence", sorted(F_FUNCTIONS))
def test_fgan_bound_is_tight_at_the_optimal_critic(divergence):
    f, f_prime, g_inverse = F_FUNCTIONS[divergence]
    # P = (1/2, 1/4, 1/4), Q = (1/4, 1/4, 1/2) on atoms {0, 1, 2}; sample means are then exact expectations.
    p, q = np.array([0.5, 0.25, 0.25]), np.array([0.25, 0.25, 0.5])
    real_atoms, fake_atoms = np.array([0, 0, 1, 2]), np.array([0, 1, 2, 2])
    v_star = g_inverse(f_prime(p / q))  # V* with g_f(V*) = T* = f'(p / q)
    divergence_value = np.sum(q * f(p / q))
    loss = losses.get_loss(f"fgan_{divergence}")
    real_v, fake_v = jnp.float32(v_star[real_atoms]), jnp.float32(v_star[fake_atoms])
    objective = -jax.jit(loss.discriminator)(real_v, fake_v, {})
    np.testing.assert_allclose(objective, divergence_value, rtol=1e-5, atol=1e-6)
    # Any other critic gives a lower bound.
    assert -loss.discriminator(real_v + 0.3, fake_v + 0.3, {}) < objective
    # Without the generator trick, G minimizes F itself.
    untricked = losses.get_loss(f"fgan_{divergence}", generator_trick=False)
    np.testing.assert_allclose(untricked.generator(real_v, fake_v, {}), objective, rtol=1e-6)
    if divergence == "js":  # Table 1's f for JS gives twice the Jensen-Shannon divergence.
        m = (p + q) / 2
        jsd = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
        np.testing.assert_allclose(divergence_value, 2 * jsd, rtol=1e-12)


def test_fgan_gan_generator_trick_is_non_saturating():
    fake = jnp.array([-3.0, 0.5, 2.0])
    got = losses.get_loss("fgan_gan").generator(None, fake, {})
    np.testing.assert_allclose(got, losses.non_saturating_generator_loss(fake), rtol=1e-6)


def test_began_k_update_closed_form_and_clip():
    loss = losses.get_loss("began", gamma=0.5, lambda_k=0.1)
    update = jax.jit(loss.update_state)
    state = loss.init_state()
    assert state["k"].dtype == jnp.float32 and float(state["k"]) == 0.0
    # Step 1: E L(x) = 0.4, E L(G(z)) = 0.1: balance = 0.5 * 0.4 - 0.1 = 0.1.
    state, metrics = update(state, jnp.array([0.2, 0.6]), jnp.array([0.1, 0.1]))
    np.testing.assert_allclose(state["k"], 0.01, rtol=1e-6)
    np.testing.assert_allclose(metrics["k"], 0.01, rtol=1e-6)
    np.testing.assert_allclose(metrics["m_global"], 0.4 + 0.1, rtol=1e-6)
    # Step 2: balance = 0.5 * 1.0 - 0.0 = 0.5: k = 0.01 + 0.05.
    state, metrics = update(state, jnp.array([1.0, 1.0]), jnp.array([0.0, 0.0]))
    np.testing.assert_allclose(state["k"], 0.06, rtol=1e-5)
    np.testing.assert_allclose(metrics["m_global"], 1.5, rtol=1e-6)
    # The discriminator loss uses k_t: L_D = E L(x) - k_t E L(G(z)).
    d_loss = loss.discriminator(jnp.array([1.0]), jnp.array([2.0]), state)
    np.testing.assert_allclose(d_loss, 1 - 0.06 * 2, rtol=1e-6)
    # Clipping to [0, 1] in both directions.
    fast = losses.get_loss("began", gamma=1.0, lambda_k=1.0, k0=0.9)
    state, _ = fast.update_state(fast.init_state(), jnp.array([1.0]), jnp.array([0.5]))
    assert float(state["k"]) == 1.0
    state, _ = fast.update_state(state, jnp.array([0.0]), jnp.array([3.0]))
    assert float(state["k"]) == 0.0


def test_unknown_name_lists_every_valid_name():
    with pytest.raises(ValueError) as error:
        losses.get_loss("wgan")
    for name in losses.LOSSES:
        assert name in str(error.value)


@pytest.mark.parametrize(
    "name, kwargs, mentions",
    [
        ("least_squares", {"a": float("nan")}, "a=nan"),
        ("least_squares", {"c": float("inf")}, "c=inf"),
        ("began", {"gamma": 1.5}, "gamma=1.5"),
        ("began", {"lambda_k": -0.1}, "lambda_k=-0.1"),
        ("began", {"k0": 2.0}, "k0=2.0"),
        ("hinge", {"margin": 2.0}, "margin"),
        ("fgan_js", {"generator_trick": "yes"}, "generator_trick"),
        ("non_saturating", {"label_smoothing": 1.0}, "label_smoothing=1.0 must be below 1"),
        ("minimax", {"label_smoothing": -0.1}, r"label_smoothing=-0.1 must be a finite number in \[0.0, 1.0\]"),
    ],
)
def test_bad_hyperparameters_raise(name, kwargs, mentions):
    with pytest.raises(ValueError, match=mentions):
        losses.get_loss(name, **kwargs)


# ------------------------------------------------------------------------------------- per-sample weights

WEIGHTED = ["minimax", "non_saturating", "wasserstein", "least_squares", "hinge", "fgan_kl", "fgan_js", "began"]


@pytest.mark.parametrize("name", WEIGHTED)
def test_generator_weights_give_the_weighted_mean_of_the_per_sample_losses(name):
    loss = losses.get_loss(name)
    fake = jnp.array([0.3, -1.2, 2.0, 0.7])
    state = loss.init_state()
    per_sample = np.array([float(loss.generator(None, fake[i:i + 1], state)) for i in range(4)])
    w = jnp.array([1.0, 0.0, 2.0, 1.0])
    expected = float(np.sum(np.asarray(w) * per_sample) / 4.0)
    np.testing.assert_allclose(float(jax.jit(loss.generator)(None, fake, state, w)), expected, rtol=1e-6)
    # unit weights are the plain mean; a mask ignores a sample whose loss is not finite
    np.testing.assert_allclose(float(loss.generator(None, fake, state, jnp.ones(4))),
                               float(loss.generator(None, fake, state)), rtol=1e-6)
    bad = fake.at[1].set(jnp.inf if name != "began" else jnp.nan)
    mask = jnp.array([1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(float(loss.generator(None, bad, state, mask)),
                               float(np.mean(per_sample[[0, 2, 3]])), rtol=1e-6)
