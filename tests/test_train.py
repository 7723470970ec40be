"""Tests of the state and the train step: update counts, determinism, the non-finite guard, EMA, scan."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import losses, penalties, train
from jaxgan import state as state_lib
from jaxgan.models import adapters

LATENT = 2


def g_apply(params, z):
    return jnp.tanh(z @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]


def d_apply(params, x):
    h = jax.nn.leaky_relu(x @ params["w1"] + params["b1"], 0.2)
    return (h @ params["w2"] + params["b2"])[:, 0]


def _mlp_init(key, n_in, n_hidden, n_out):
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (n_in, n_hidden)) / np.sqrt(n_in),
        "b1": jnp.zeros(n_hidden),
        "w2": jax.random.normal(k2, (n_hidden, n_out)) / np.sqrt(n_hidden),
        "b2": jnp.zeros(n_out),
    }


G = adapters.from_function(g_apply, lambda key, z: _mlp_init(key, z.shape[-1], 16, 1))
D = adapters.from_function(d_apply, lambda key, x: _mlp_init(key, x.shape[-1], 16, 1))


def make(loss="non_saturating", ema=False, batch=32, seed=0, **kwargs):
    g_opt, d_opt = optax.adam(1e-3, b1=0.5), optax.adam(1e-3, b1=0.5)
    loss_obj = losses.get_loss(loss) if isinstance(loss, str) else loss
    st = state_lib.init_state(
        seed, G, D, g_opt, d_opt, z=jnp.zeros((batch, LATENT)), x=jnp.zeros((batch, 1)),
        loss_state=loss_obj.init_state(), ema=ema,
    )
    step = train.make_train_step(G, D, loss_obj, g_opt, d_opt, latent_dim=LATENT, **kwargs)
    return st, step


def real_batch(step, n=32, mean=3.0):
    x = mean + 0.5 * jax.random.normal(jax.random.PRNGKey(1000 + step), (n, 1))
    return {"x": x}


def tree_equal(a, b):
    return all(jax.tree.leaves(jax.tree.map(lambda u, v: bool(np.array_equal(u, v)), a, b)))


def test_n_critic_five_updates_discriminator_five_times_generator_once():
    st, step = make(n_critic=5)
    new, metrics = jax.jit(step)(st, real_batch(0, n=5 * 32))
    assert int(new.d_opt_state[0].count) == 5
    assert int(new.g_opt_state[0].count) == 1
    assert int(new.step) == 1
    new, _ = jax.jit(step)(new, real_batch(1, n=5 * 32))
    assert int(new.d_opt_state[0].count) == 10 and int(new.g_opt_state[0].count) == 2


def test_unrolled_critic_updates_equal_the_loop_and_leave_no_loop_in_the_program():
    st, unrolled = make(n_critic=3, unroll_critic=True)
    _, looped = make(n_critic=3)  # the default
    b = real_batch(0, n=3 * 32)
    a, ma = jax.jit(unrolled)(st, b)
    c, mc = jax.jit(looped)(st, b)
    for x, y in zip(jax.tree.leaves((a, ma)), jax.tree.leaves((c, mc))):
        np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=1e-5, atol=1e-6)
    loops = [jax.jit(f).lower(st, b).as_text().count("stablehlo.while") for f in (unrolled, looped)]
    assert loops[1] == loops[0] + 1  # the critic loop (the others: the PRNG's rounds)


def test_n_critic_uses_a_different_real_slice_per_update():
    """Changing only the k-th real minibatch changes the result: each D update sees its own slice."""
    st, step = make(n_critic=2)
    b = real_batch(0, n=64)
    b2 = {"x": b["x"].at[40].set(10.0)}  # row 40 lies in the second minibatch
    s1, _ = jax.jit(step)(st, b)
    s2, _ = jax.jit(step)(st, b2)
    assert not tree_equal(s1.d_params, s2.d_params)


def test_same_seed_same_state_bitwise_and_other_seed_differs():
    def run(seed):
        st, step = make(seed=seed)
        step = jax.jit(step)
        for t in range(3):
            st, _ = step(st, real_batch(t))
        return st

    a, b, c = run(0), run(0), run(1)
    assert tree_equal(a, b)
    assert not tree_equal(a.g_params, c.g_params)


def test_keys_come_from_fold_in_of_step():
    """A state moved to step t draws the same latents as a run that reached t: randomness is (seed, step)."""
    st, step = make()
    jstep = jax.jit(step)
    s5 = st.replace(step=jnp.int32(5))
    a, _ = jstep(s5, real_batch(0))
    b, _ = jstep(s5, real_batch(0))
    c, _ = jstep(st.replace(step=jnp.int32(6)), real_batch(0))
    assert tree_equal(a.g_params, b.g_params)
    assert not tree_equal(a.g_params, c.g_params)


def test_non_finite_batch_is_skipped_and_counted():
    st, step = make()
    jstep = jax.jit(step)
    bad = {"x": real_batch(0)["x"].at[3, 0].set(jnp.nan)}
    new, metrics = jstep(st, bad)
    assert int(new.d_skipped) == 1 and int(metrics["d/skipped"]) == 1
    assert tree_equal(new.d_params, st.d_params)
    assert tree_equal(new.d_opt_state, st.d_opt_state)
    # The generator loss does not see real data here, so its update is finite and applied.
    assert int(new.g_skipped) == 0
    assert not tree_equal(new.g_params, st.g_params)
    new2, metrics2 = jstep(new, real_batch(1))
    assert int(new2.d_skipped) == 1 and int(metrics2["d/skipped"]) == 1
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(new2))


def test_non_finite_generator_update_is_skipped():
    def g_bad(params, z):
        return g_apply(params, z) * jnp.where(jnp.sum(params["b2"]) > -1e9, jnp.inf, 1.0)

    bad_g = adapters.from_function(g_bad)
    st, _ = make()
    g_opt, d_opt = optax.sgd(0.1), optax.sgd(0.1)
    st = state_lib.create_state(st.key, st.g_params, st.d_params, g_opt, d_opt)
    step = jax.jit(train.make_train_step(bad_g, D, "non_saturating", g_opt, d_opt, latent_dim=LATENT))
    new, metrics = step(st, real_batch(0))
    assert int(new.g_skipped) == 1 and int(metrics["g/skipped"]) == 1
    assert tree_equal(new.g_params, st.g_params)


def test_ema_matches_closed_form():
    decay = 0.9
    st, step = make(ema=True, ema_decay=decay)
    jstep = jax.jit(step)
    expected = jax.tree.map(np.asarray, st.g_params)
    for t in range(4):
        st, _ = jstep(st, real_batch(t))
        expected = jax.tree.map(lambda e, p: decay * e + (1 - decay) * np.asarray(p), expected, st.g_params)
    for e, got in zip(jax.tree.leaves(expected), jax.tree.leaves(st.ema_params)):
        np.testing.assert_allclose(got, e, rtol=1e-6, atol=1e-7)
    assert not tree_equal(st.ema_params, st.g_params)
    assert st.sampling_params is st.ema_params


def test_ema_warmup_follows_tensorflow_num_updates_ramp():
    # decay_t = min(decay, (1 + n) / (10 + n)), n = generator updates before this one: 0.1, 2/11, 3/12, then 0.25
    decay = 0.25
    st, step = make(ema=True, ema_decay=decay, ema_warmup=True)
    jstep = jax.jit(step)
    expected = jax.tree.map(np.asarray, st.g_params)
    for t, d in enumerate([0.1, 2 / 11, 0.25, 0.25, 0.25]):
        assert d == min(decay, (1 + t) / (10 + t))
        st, _ = jstep(st, real_batch(t))
        expected = jax.tree.map(lambda e, p, d=d: d * e + (1 - d) * np.asarray(p), expected, st.g_params)
    for e, got in zip(jax.tree.leaves(expected), jax.tree.leaves(st.ema_params)):
        np.testing.assert_allclose(got, e, rtol=1e-5, atol=1e-6)


def test_ema_warmup_needs_a_decay():
    with pytest.raises(ValueError, match="ema_warmup ramps the EMA decay up: set ema_decay too"):
        train.make_train_step(G, D, "hinge", optax.sgd(1.0), optax.sgd(1.0), latent_dim=2, ema_warmup=True)


def test_ema_decay_without_ema_state_is_refused():
    st, step = make(ema=False, ema_decay=0.99)
    with pytest.raises(ValueError, match="ema=True"):
        jax.jit(step)(st, real_batch(0))


@pytest.mark.parametrize("n_critic", [1, 3])
def test_scanned_steps_equal_single_steps_bitwise(n_critic):
    k = 4
    st, step = make(n_critic=n_critic, penalties=[penalties.gradient_penalty(1.0)])
    batches = [real_batch(t, n=32 * n_critic) for t in range(k)]
    single = st
    jstep = jax.jit(step)
    for b in batches:
        single, last = jstep(single, b)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *batches)
    multi, metrics = jax.jit(train.make_multi_step(step))(st, stacked)
    assert tree_equal(single, multi)
    assert metrics["g/loss"].shape == (k,)
    np.testing.assert_array_equal(metrics["g/loss"][-1], last["g/loss"])


def test_sampled_multi_step_equals_single_steps_on_device_data():
    st, step = make()

    def sample_fn(keys):
        return {"x": 3.0 + 0.5 * jax.vmap(lambda k: jax.random.normal(k, (1,)))(keys)}

    multi, _ = jax.jit(train.make_sampled_multi_step(step, sample_fn, 32, 3))(st)
    single = st
    jstep = jax.jit(step)
    for _ in range(3):
        batch = sample_fn(train.sample_keys(train.data_key(single), 32))
        single, _ = jstep(single, batch)
    assert tree_equal(single, multi)
    assert int(multi.step) == 3


def test_simultaneous_takes_both_gradients_at_the_same_point():
    st, alt = make()
    _, sim = make(simultaneous=True)
    g_opt = optax.adam(1e-3, b1=0.5)
    frozen_d = train.make_train_step(G, D, "non_saturating", g_opt, optax.set_to_zero(), latent_dim=LATENT)
    st_frozen = st.replace(d_opt_state=optax.set_to_zero().init(st.d_params))
    b = real_batch(0)
    s_sim, _ = jax.jit(sim)(st, b)
    s_alt, _ = jax.jit(alt)(st, b)
    s_frz, _ = jax.jit(frozen_d)(st_frozen, b)
    assert tree_equal(s_sim.d_params, s_alt.d_params)  # same D update
    assert tree_equal(s_sim.g_params, s_frz.g_params)  # G saw the pre-update D
    assert not tree_equal(s_sim.g_params, s_alt.g_params)


def test_weight_clipping_constraint_is_applied_after_each_update():
    st, step = make(loss="wasserstein", d_constraint=penalties.weight_clipping(0.01))
    new, _ = jax.jit(step)(st, real_batch(0))
    assert max(float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(new.d_params)) <= 0.01 + 1e-9


def test_metrics_are_reported():
    st, step = make(penalties=[penalties.gradient_penalty(10.0), penalties.r1_penalty(1.0)])
    _, m = jax.jit(step)(st, real_batch(0))
    for key in ["d/loss", "g/loss", "d/gp", "d/r1", "d/real_logits_mean", "d/fake_logits_mean",
                "d/grad_norm", "g/grad_norm", "d/skipped", "g/skipped"]:
        assert key in m, key
        assert np.isfinite(float(m[key]))
    assert float(m["d/grad_norm"]) > 0


def test_labels_reach_both_networks():
    def g_cond(params, z, labels):
        return g_apply(params, z) + labels[:, None].astype(jnp.float32)

    def d_cond(params, x, labels):
        return d_apply(params, x - labels[:, None].astype(jnp.float32))

    Gc = adapters.from_function(g_cond, takes_labels=True)
    Dc = adapters.from_function(d_cond, takes_labels=True)
    st, _ = make()
    g_opt, d_opt = optax.sgd(0.01), optax.sgd(0.01)
    st = state_lib.create_state(st.key, st.g_params, st.d_params, g_opt, d_opt)
    step = jax.jit(train.make_train_step(Gc, Dc, "non_saturating", g_opt, d_opt, latent_dim=LATENT))
    b = real_batch(0)
    a, _ = step(st, {**b, "label": jnp.zeros(32, jnp.int32)})
    c, _ = step(st, {**b, "label": jnp.arange(32, dtype=jnp.int32) % 3})
    assert not tree_equal(a.g_params, c.g_params)
    assert not tree_equal(a.d_params, c.d_params)


# ---------------------------------------------------------------- bad input


def test_unknown_loss_name_lists_valid_ones():
    with pytest.raises(ValueError) as e:
        train.make_train_step(G, D, "nonsense", optax.sgd(1.0), optax.sgd(1.0), latent_dim=2)
    for name in losses.LOSSES:
        assert name in str(e.value)


@pytest.mark.parametrize("n_critic", [0, -1, 1.5])
def test_bad_n_critic(n_critic):
    with pytest.raises(ValueError, match="n_critic"):
        train.make_train_step(G, D, "hinge", optax.sgd(1.0), optax.sgd(1.0), latent_dim=2, n_critic=n_critic)


def test_simultaneous_with_n_critic_refused():
    with pytest.raises(ValueError, match="simultaneous"):
        train.make_train_step(
            G, D, "hinge", optax.sgd(1.0), optax.sgd(1.0), latent_dim=2, n_critic=2, simultaneous=True
        )


@pytest.mark.parametrize("decay", [float("nan"), float("inf"), 1.0, -0.1])
def test_bad_ema_decay(decay):
    with pytest.raises(ValueError, match="ema_decay"):
        train.make_train_step(G, D, "hinge", optax.sgd(1.0), optax.sgd(1.0), latent_dim=2, ema_decay=decay)


def test_missing_latent_spec():
    with pytest.raises(ValueError, match="latent_dim"):
        train.make_train_step(G, D, "hinge", optax.sgd(1.0), optax.sgd(1.0))


def test_batch_with_disagreeing_leading_dims_refused_before_compiling():
    st, step = make()
    b = {"x": jnp.zeros((32, 1)), "label": jnp.zeros((31,), jnp.int32)}
    with pytest.raises(ValueError, match=r"leading .*'label': 31, 'x': 32"):
        jax.jit(step).lower(st, b)  # raised while tracing: nothing is compiled


def test_batch_not_divisible_by_n_critic_refused():
    st, step = make(n_critic=3)
    with pytest.raises(ValueError, match="divide by 3; got 32"):
        jax.jit(step)(st, real_batch(0, n=32))


def test_batch_without_x_refused():
    st, step = make()
    with pytest.raises(ValueError, match="key 'x'"):
        jax.jit(step)(st, {"images": jnp.zeros((32, 1))})


def test_top_k_mean_keeps_the_samples_scored_most_real():
    per_sample = jnp.array([10.0, 20.0, 30.0, 40.0, 50.0])
    scores = jnp.array([0.3, -1.0, 2.0, 0.5, -0.2])  # ranks: 30 (2.0), 40 (0.5), 10 (0.3), 50, 20
    assert float(train._top_k_mean(per_sample, scores, 0.4)) == pytest.approx((30 + 40) / 2)
    assert float(train._top_k_mean(per_sample, scores, 0.5)) == pytest.approx((30 + 40 + 10) / 3)  # ceil(2.5)
    assert float(train._top_k_mean(per_sample, scores, 1.0)) == pytest.approx(30.0)
    assert float(train._top_k_mean(per_sample, scores, 1e-6)) == pytest.approx(30.0)  # at least one
    grad = jax.grad(lambda p: train._top_k_mean(p, scores, 0.4))(per_sample)
    np.testing.assert_allclose(grad, [0.0, 0.0, 0.5, 0.5, 0.0])


def test_top_k_schedule_is_the_papers_max_of_floor_and_decay():
    f = train.top_k_schedule(min_fraction=0.5, gamma=0.9, steps_per_epoch=10)
    assert float(f(0)) == 1.0
    assert float(f(10)) == pytest.approx(0.9)
    assert float(f(25)) == pytest.approx(0.9**2.5)
    assert float(f(1000)) == 0.5
    with pytest.raises(ValueError, match=r"top-k gamma must be in \(0.0, 1.0\], got 1.5"):
        train.top_k_schedule(gamma=1.5)


def test_top_k_of_the_whole_batch_is_the_plain_step_and_half_differs():
    st, plain = make(loss="hinge")
    _, full = make(loss="hinge", generator_top_k=lambda step: jnp.float32(1.0))
    _, half = make(loss="hinge", generator_top_k=lambda step: jnp.float32(0.5))
    a, ma = jax.jit(plain)(st, real_batch(0))
    b, mb = jax.jit(full)(st, real_batch(0))
    c, mc = jax.jit(half)(st, real_batch(0))
    for u, v in zip(jax.tree.leaves(a.g_params), jax.tree.leaves(b.g_params)):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)
    assert float(ma["g/loss"]) == pytest.approx(float(mb["g/loss"]), rel=1e-5)
    # the hinge G loss is -D(G(z)): the most-real half has the lower loss
    assert float(mc["g/loss"]) < float(ma["g/loss"])
    assert tree_equal(a.d_params, c.d_params) and not tree_equal(a.g_params, c.g_params)


@pytest.mark.parametrize("loss, why", [("began", "scores reconstruction errors"),
                                       ("relativistic_average", "couples samples")])
def test_top_k_refuses_losses_it_does_not_fit(loss, why):
    with pytest.raises(ValueError, match=f"generator_top_k needs .*; loss '{loss}' {why}"):
        train.make_train_step(G, D, loss, optax.sgd(1.0), optax.sgd(1.0), latent_dim=2,
                              generator_top_k=lambda step: 0.5)
