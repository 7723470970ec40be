"""GAN systems (jaxgan/system.py, jaxgan/plain_gan.py, jaxgan/pool.py): the plain GAN as an instance, bitwise equal to
the engine it replaced; two systems the old engine could not express (tests/_systems.py) on 4 simulated devices
and killed with SIGKILL; bad systems refused with one line before anything compiles."""

import json
import os
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import losses, penalties, plain_gan, pool, state, train
from jaxgan.models import adapters, mlp
from jaxgan.run.writers import fingerprint
from jaxgan.system import Player, System, init_system_state, make_system_step

sys.path.insert(0, str(Path(__file__).parent))
import _systems  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


def _gan_pieces():
    G = adapters.from_linen(mlp.MLPGenerator(out_dim=2, features=(16, 16), use_batch_norm=True))
    D = adapters.from_linen(mlp.MLPDiscriminator(features=(16, 16)))
    return G, D, losses.get_loss("wasserstein"), optax.adam(1e-3, b1=0.5), optax.adam(2e-3, b1=0.5)


GAN_KW = dict(latent_dim=2, n_critic=2, ema_decay=0.99, ema_warmup=True,
              penalties=[penalties.gradient_penalty(weight=10.0)])


def _gan_batch(t):
    return {"x": jax.random.normal(jax.random.PRNGKey(t), (32, 2)) + 1.0}


# ------------------------------------------------------------------------------------ the GAN as an instance


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


# XLA's CPU code differs between processors (vector widths, FMA), and with it the last bits: the recordings of each CPU
# model, each made by running the engine before GAN systems (commit bf3a901) on such a CPU with jax 0.10.2. One model
# name can cover several: the AMD EPYC VM of 2026-12-03 (family 25 model 1, AVX2 without AVX-512) gave other bits
# than the EPYC of the earlier sessions, from the old engine and the current step alike.
PRE_SYSTEM_FINGERPRINTS = {
    "AMD EPYC": (
        "8c99efbf2df854120cc7ba776e92ae1675746ae64b93f7e691725cf3e991db5d",
        "6b08641d64c2aa2ad727ce16fad1cdc3ab8f249e00b752eacb23cd5b15bc2ecd",
    ),
    "Intel(R) Xeon(R) Processor": ("0d9165d29af7be85aa16a50ebc530044c3f28b6712bb871c4a177603f21bdd35",),
}
RECORDED = next((fps for cpu, fps in PRE_SYSTEM_FINGERPRINTS.items() if _cpu_model().startswith(cpu)), None)


@pytest.mark.skipif(jax.__version__ != "0.10.2" or RECORDED is None,
                    reason=f"fingerprints recorded with jax 0.10.2 on {', '.join(PRE_SYSTEM_FINGERPRINTS)} only "
                           f"(this CPU: {_cpu_model()!r})")
def test_make_train_step_reproduces_the_pre_system_engine_bitwise():
    """Recorded with the engine before GAN systems (commit bf3a901): 20 steps of a WGAN-GP with n_critic 2, a
    batch-norm generator and an EMA with warm-up. The system-based step must give the same bits."""
    G, D, loss, g_opt, d_opt = _gan_pieces()
    s = state.init_state(0, G, D, g_opt, d_opt, z=jnp.zeros((2, 2)), x=jnp.zeros((2, 2)),
                         loss_state=loss.init_state(), ema=True)
    step = jax.jit(train.make_train_step(G, D, loss, g_opt, d_opt, **GAN_KW))
    for t in range(20):
        s, _ = step(s, _gan_batch(t))
    assert fingerprint(s) in RECORDED


def test_gan_system_on_its_own_state_equals_make_train_step():
    G, D, loss, g_opt, d_opt = _gan_pieces()
    system = plain_gan.gan(G, D, loss, g_opt, d_opt, **GAN_KW)
    s_sys = init_system_state(0, system, {"g": (jnp.zeros((2, 2)),), "d": (jnp.zeros((2, 2)),)})
    s_gan = state.init_state(0, G, D, g_opt, d_opt, z=jnp.zeros((2, 2)), x=jnp.zeros((2, 2)),
                             loss_state=loss.init_state(), ema=True)
    assert fingerprint(plain_gan.to_gan_state(s_sys)) == fingerprint(s_gan)  # same init keys, same layout
    sys_step = jax.jit(make_system_step(system))
    gan_step = jax.jit(train.make_train_step(G, D, loss, g_opt, d_opt, **GAN_KW))
    for t in range(3):
        s_sys, m_sys = sys_step(s_sys, _gan_batch(t))
        s_gan, m_gan = gan_step(s_gan, _gan_batch(t))
    assert fingerprint(plain_gan.to_gan_state(s_sys)) == fingerprint(s_gan)
    assert sorted(m_sys) == sorted(m_gan) == sorted(
        ["d/loss", "d/gp", "d/real_logits_mean", "d/fake_logits_mean", "d/grad_norm", "g/loss", "g/grad_norm",
         "d/skipped", "g/skipped"])
    assert make_system_step(system).n_critic == train.make_train_step(G, D, loss, g_opt, d_opt, **GAN_KW).n_critic == 2


def test_gan_state_round_trips_through_the_system_state():
    G, D, loss, g_opt, d_opt = _gan_pieces()
    s = state.init_state(3, G, D, g_opt, d_opt, z=jnp.zeros((2, 2)), x=jnp.zeros((2, 2)), ema=False)
    back = plain_gan.to_gan_state(plain_gan.to_system_state(s))
    assert jax.tree.structure(back) == jax.tree.structure(s) and fingerprint(back) == fingerprint(s)


# --------------------------------------------------------------------------------------------- the engine


def _probe_system(g_loss=None, simultaneous=False, d_repeats=1, **kw):
    """Two linear 'networks' a (player pa) and b (player pb); each loss pulls its own weight towards the other's
    and reports what it saw."""
    net = adapters.from_function(lambda p, x: x * p["w"], lambda key, x: {"w": jnp.ones(())})

    def loss_a(ctx):
        seen_b = ctx.params["b"]["w"]
        out = ctx.apply("a", ctx.batch["x"])
        return jnp.mean((out - seen_b * ctx.batch["x"]) ** 2), {"seen_b": seen_b, "x": jnp.mean(ctx.batch["x"])}

    def loss_b(ctx):
        seen_a = ctx.params["a"]["w"]
        out = ctx.apply("b", ctx.batch["x"])
        return jnp.mean((out + seen_a * ctx.batch["x"]) ** 2), {"seen_a": seen_a, "x": jnp.mean(ctx.batch["x"])}

    system = System(
        nets={"a": net, "b": net},
        players=(Player("pa", ("a",), optax.sgd(0.1), loss_a, repeats=d_repeats),
                 Player("pb", ("b",), optax.sgd(0.1), g_loss or loss_b)),
        simultaneous=simultaneous, **kw,
    )
    s = init_system_state(0, system, {"a": (jnp.ones((1,)),), "b": (jnp.ones((1,)),)})
    return system, s.replace(params={"a": {"w": jnp.float32(2.0)}, "b": {"w": jnp.float32(-1.0)}})


def test_players_update_only_their_own_networks_in_order():
    system, s = _probe_system()
    x = jnp.array([1.0, 2.0])
    new, m = jax.jit(make_system_step(system))(s, {"x": x})
    # pa: d/dw mean((w - b) x)^2 = 2 (w - b) mean(x^2) = 2 * 3 * 2.5 = 15 -> w_a = 2 - 1.5 = 0.5 (b unchanged)
    np.testing.assert_allclose(new.params["a"]["w"], 0.5, rtol=1e-6)
    # pb sees the updated a (alternating): d/dw mean((w + a) x)^2 = 2 * (-1 + 0.5) * 2.5 = -2.5 -> -0.75
    np.testing.assert_allclose(m["pb/seen_a"], 0.5, rtol=1e-6)
    np.testing.assert_allclose(new.params["b"]["w"], -0.75, rtol=1e-6)
    assert int(new.step) == 1
    assert set(m) == {f"{p}/{k}" for p, keys in (("pa", ("seen_b",)), ("pb", ("seen_a",)))
                      for k in (*keys, "x", "grad_norm", "skipped")}


def test_simultaneous_players_see_the_state_the_step_began_with():
    system, s = _probe_system(simultaneous=True)
    new, m = jax.jit(make_system_step(system))(s, {"x": jnp.array([1.0, 2.0])})
    np.testing.assert_allclose(m["pb/seen_a"], 2.0)
    np.testing.assert_allclose(new.params["a"]["w"], 0.5, rtol=1e-6)
    # pb: 2 * (-1 + 2) * 2.5 = 5 -> -1 - 0.5 = -1.5
    np.testing.assert_allclose(new.params["b"]["w"], -1.5, rtol=1e-6)


def test_repeats_read_successive_groups_and_line_up_at_the_end():
    system, s = _probe_system(d_repeats=3)
    x = jnp.repeat(jnp.array([1.0, 2.0, 3.0]), 2)  # groups of 2 rows: means 1, 2, 3
    _, m = jax.jit(make_system_step(system))(s, {"x": x})
    np.testing.assert_allclose(m["pa/x"], 2.0)  # mean over its 3 updates of groups 0, 1, 2
    np.testing.assert_allclose(m["pb/x"], 3.0)  # its one update reads the last group
    assert make_system_step(system).groups == 3


def test_non_finite_guard_skips_and_counts_per_player():
    system, s = _probe_system(g_loss=lambda ctx: (jnp.float32(jnp.nan) * ctx.apply("b", ctx.batch["x"]).sum(), {}))
    new, m = jax.jit(make_system_step(system))(s, {"x": jnp.array([1.0, 2.0])})
    assert float(new.params["b"]["w"]) == -1.0 and int(m["pb/skipped"]) == 1 and int(m["pa/skipped"]) == 0
    np.testing.assert_allclose(new.params["a"]["w"], 0.5, rtol=1e-6)


def test_ema_with_warm_up_for_a_named_network():
    system, s = _probe_system(ema=("b",), ema_decay=0.9, ema_warmup=True)
    step = jax.jit(make_system_step(system))
    ema = float(s.ema["b"]["w"])
    for n in range(3):
        s, _ = step(s, {"x": jnp.array([1.0, 2.0])})
        d = min(0.9, (1 + n) / (10 + n))
        ema = d * ema + (1 - d) * float(s.params["b"]["w"])
        np.testing.assert_allclose(s.ema["b"]["w"], ema, rtol=1e-6)
    assert set(s.ema) == {"b"}


# ---------------------------------------------------------------------------------------------- bad systems


def _one_line_error(fn, message):
    with pytest.raises(ValueError) as e:
        fn()
    assert str(e.value) == message and "\n" not in str(e.value)


def test_a_network_owned_by_two_players_is_refused_when_built():
    system, _ = _probe_system()
    bad = system._replace(players=(system.players[0], system.players[1]._replace(nets=("b", "a"))))
    _one_line_error(lambda: make_system_step(bad),
                    "network 'a' is owned by two players, 'pa' and 'pb': give it one owner")


def test_a_loss_that_names_a_missing_network_is_refused_when_traced():
    system, s = _probe_system(g_loss=lambda ctx: (jnp.sum(ctx.apply("encoder", ctx.batch["x"])), {}))
    _one_line_error(lambda: jax.eval_shape(make_system_step(system), s, {"x": jnp.ones((2,))}),
                    "player 'pb''s loss applies network 'encoder', which the system does not have (['a', 'b'])")


def test_a_buffer_of_the_wrong_shape_is_refused_when_traced():
    def g_loss(ctx):
        ctx.set_buffer("pool", jnp.zeros((3, 2)))
        return jnp.sum(ctx.apply("b", ctx.batch["x"])), {}

    system, _ = _probe_system(g_loss=g_loss, buffers={"pool": jnp.zeros((4, 2))})
    s = init_system_state(0, system, {"a": (jnp.ones((1,)),), "b": (jnp.ones((1,)),)})
    _one_line_error(lambda: jax.eval_shape(make_system_step(system), s, {"x": jnp.ones((2,))}),
                    "player 'pb' sets buffer 'pool' to float32[3, 2]; the buffer is float32[4, 2]")


@pytest.mark.parametrize("change, message", [
    (dict(ema=("zz",), ema_decay=0.9), "ema names network 'zz', which no player owns (owned: ['a', 'b'])"),
    (dict(ema=("a",)), "ema of ['a'] needs ema_decay"),
    (dict(simultaneous=True, players="repeats2"),
     "simultaneous updates take one update of each player per step; got repeats {'pa': 2, 'pb': 1}"),
    (dict(players="unknown"), "player 'pa' owns network 'c', which the system does not have (['a', 'b'])"),
])
def test_other_bad_systems_are_refused_with_one_line(change, message):
    system, _ = _probe_system()
    p = change.pop("players", None)
    if p == "repeats2":
        change["players"] = (system.players[0]._replace(repeats=2), system.players[1])
    elif p == "unknown":
        change["players"] = (system.players[0]._replace(nets=("c",)), system.players[1])
    _one_line_error(lambda: make_system_step(system._replace(**change)), message)


# ------------------------------------------------------------------------------------------------ image pool


def test_image_pool_fills_then_returns_new_or_stored_images_as_the_reference():
    p = pool.init(3, (2,))
    imgs = jnp.arange(20.0).reshape(10, 2)
    keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.PRNGKey(0), jnp.arange(10))
    new, out = jax.jit(pool.query)(p, imgs, keys)
    np.testing.assert_array_equal(out[:3], imgs[:3])  # filling: each image comes back and is stored
    assert int(new["count"]) == 3
    seen = {tuple(r) for r in np.asarray(imgs)}
    swapped = [i for i in range(3, 10) if not np.array_equal(out[i], imgs[i])]
    assert swapped and all(tuple(np.asarray(out[i])) in seen and out[i][0] < imgs[i][0] for i in swapped)
    # the pool now holds 3 distinct images, each a real input, and each returned stored image left it
    assert len({tuple(r) for r in np.asarray(new["images"])}) == 3
    assert pool.query(pool.init(0, (2,)), imgs, keys)[1] is imgs


# ---------------------------------------------------------------------------- the proving systems, for real


@pytest.fixture(scope="module")
def parallel_runs():
    cmd = [sys.executable, str(ROOT / "tests" / "_systems.py"), "parallel", "--devices", "4", "--steps", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cycle", "encoder"])
@pytest.mark.parametrize("mode", ["pmap", "mesh"])
def test_proving_systems_on_4_devices_equal_one_device(parallel_runs, name, mode):
    assert parallel_runs["devices"] == 4
    one, many = parallel_runs[name]["none"], parallel_runs[name][mode]
    assert len(one["state"]) == len(many["state"]) > 10
    for a, b in zip(one["state"], many["state"]):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=2e-5, atol=2e-6)
    assert one["metrics"].keys() == many["metrics"].keys()
    for k in one["metrics"]:
        np.testing.assert_allclose(many["metrics"][k], one["metrics"][k], rtol=2e-5, atol=2e-6, err_msg=k)


def test_cycle_system_fills_its_pools_and_averages_g_ab_only():
    system, s = _systems.build("cycle")
    step = jax.jit(make_system_step(system))
    for t in range(2):
        s, m = step(s, _systems.batch("cycle", t))
    # 2 steps x 8 fakes per domain went through pools of 12: full, and holding fakes (not the zeros they began as)
    for name in ("pool_a", "pool_b"):
        assert int(s.buffers[name]["count"]) == 12
        assert np.all(np.abs(np.asarray(s.buffers[name]["images"])).sum(axis=1) > 0)
    assert set(s.ema) == {"g_ab"}
    # EMA with warm-up: after updates n = 0, 1 the average is 0.1 * (0.1 * p0 + 0.9 * p1) + ... != the live params
    live, avg = jax.tree.leaves(s.params["g_ab"]), jax.tree.leaves(s.ema["g_ab"])
    assert any(not np.array_equal(a, b) for a, b in zip(live, avg))
    assert {"g/cycle", "g/loss", "d/loss_a", "d/loss_b", "g/skipped", "d/skipped"} <= set(m)
    assert float(m["g/cycle"]) > 0 and int(m["g/skipped"]) == int(m["d/skipped"]) == 0


def _train_args(workdir, name, steps):
    return [sys.executable, str(ROOT / "tests" / "_systems.py"), "train", "--system", name,
            "--workdir", str(workdir), "--steps", str(steps), "--every", "10"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cycle", "encoder"])
def test_proving_system_killed_with_sigkill_resumes_bitwise(tmp_path, name):
    steps = 200
    _systems.run_train(Namespace(system=name, workdir=str(tmp_path / "whole"), steps=steps, every=10))
    whole = json.loads((tmp_path / "whole" / "final.json").read_text())
    work = tmp_path / "killed"
    proc = subprocess.Popen(_train_args(work, name, steps), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ENV)
    ckpts = work / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if ckpts.is_dir() and any(p.name.isdigit() and int(p.name) >= 30 for p in ckpts.iterdir()):
            break
        time.sleep(0.01)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL) if killed else None
    proc.wait()
    assert killed, "the run finished before it could be killed"
    assert not (work / "final.json").exists()
    again = subprocess.run(_train_args(work, name, steps), capture_output=True, text=True, env=ENV, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed at step" in again.stdout
    resumed = json.loads((work / "final.json").read_text())
    assert resumed == whole
