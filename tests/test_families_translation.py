"""pix2pix, CycleGAN and StarGAN (jaxgan/families/{pix2pix,cyclegan,stargan}.py): each loss term against numpy or a
closed form; each system builds and takes a jitted step on tiny networks with finite metrics; the step's numbers on
4 simulated devices equal one device's; CycleGAN's pools are state buffers that fill.

Run as a script, in a fresh process (the device count must be set before JAX starts):

    python tests/test_families_translation.py --devices 4     # two steps of each system, one device vs mesh, JSON
"""

import argparse
import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.families import cyclegan, pix2pix, stargan
from jaxgan.models import adapters
from jaxgan.models import translation as T
from jaxgan.system import create_system_state, make_system_step

sys.path.insert(0, str(Path(__file__).parent))
from _numpy_init import numpy_init  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)
SIDE, B, K = 8, 8, 3  # image side, rows per batch group (divisible by 4 devices), StarGAN domains


def _softplus(v):
    return np.log1p(np.exp(v))


# ----------------------------------------------------------------------------------------------------- loss terms


def test_pix2pix_terms_against_numpy_and_closed_forms():
    real, fake = RNG.normal(size=(4, 3, 3, 1)), RNG.normal(size=(4, 3, 3, 1))
    want_d = 0.5 * (np.mean(_softplus(-real)) + np.mean(_softplus(fake)))
    np.testing.assert_allclose(jax.jit(pix2pix.discriminator_loss)(real, fake), want_d, rtol=1e-5)
    np.testing.assert_allclose(pix2pix.discriminator_loss(np.zeros(3), np.zeros(3)), np.log(2), rtol=1e-6)
    np.testing.assert_allclose(pix2pix.generator_adversarial_loss(fake), np.mean(_softplus(-fake)), rtol=1e-5)
    a, b = RNG.normal(size=(2, 4, 4, 1)), RNG.normal(size=(2, 4, 4, 1))
    np.testing.assert_allclose(jax.jit(pix2pix.l1_loss)(a, b), np.mean(np.abs(a - b)), rtol=1e-5)
    assert float(pix2pix.l1_loss(a, a)) == 0.0


def test_cyclegan_terms_against_numpy_and_closed_forms():
    real, fake = RNG.normal(size=(4, 3, 3, 1)), RNG.normal(size=(4, 3, 3, 1))
    np.testing.assert_allclose(
        cyclegan.lsgan_discriminator_loss(real, fake), 0.5 * (np.mean((real - 1) ** 2) + np.mean(fake**2)), rtol=1e-5
    )
    assert float(cyclegan.lsgan_discriminator_loss(np.ones(3), np.zeros(3))) == 0.0  # the optimal D
    np.testing.assert_allclose(cyclegan.lsgan_generator_loss(fake), np.mean((fake - 1) ** 2), rtol=1e-5)
    a, ra, b, rb = (RNG.normal(size=(2, 4, 4, 1)) for _ in range(4))
    want = np.mean(np.abs(ra - a)) + np.mean(np.abs(rb - b))
    np.testing.assert_allclose(cyclegan.cycle_loss(a, ra, b, rb), want, rtol=1e-5)
    np.testing.assert_allclose(cyclegan.identity_loss(a, ra, b, rb), want, rtol=1e-5)
    lr = cyclegan.linear_decay(2e-4, 100, 50)
    np.testing.assert_allclose(
        [float(lr(s)) for s in (0, 99, 100, 125, 150, 400)], [2e-4, 2e-4, 2e-4, 1e-4, 0, 0], atol=1e-10
    )
    with pytest.raises(ValueError, match="decay_steps"):
        cyclegan.linear_decay(1e-3, 10, -1)


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_stargan_terms_against_numpy_and_closed_forms():
    logits, domains = RNG.normal(size=(5, K)), RNG.integers(0, K, size=5)
    ce = -np.mean(_log_softmax(logits)[np.arange(5), domains])
    np.testing.assert_allclose(jax.jit(stargan.domain_classification_loss)(logits, domains), ce, rtol=1e-5)
    np.testing.assert_allclose(
        stargan.domain_classification_loss(np.zeros((2, K)), np.array([0, 2])), np.log(K), rtol=1e-6
    )
    np.testing.assert_allclose(stargan.domain_accuracy(np.eye(K)[[0, 1, 2]], np.array([0, 1, 1])), 2 / 3, rtol=1e-6)
    src_r, src_f = RNG.normal(size=(5, 2, 2, 1)), RNG.normal(size=(5, 2, 2, 1))
    d = stargan.discriminator_loss(src_r, src_f, logits, domains, gp=0.3)
    np.testing.assert_allclose(d, src_f.mean() - src_r.mean() + 1.0 * ce + 10.0 * 0.3, rtol=1e-5)
    x, rec = RNG.normal(size=(5, 4, 4, 1)), RNG.normal(size=(5, 4, 4, 1))
    g = stargan.generator_loss(src_f, logits, domains, x, rec)
    np.testing.assert_allclose(g, -src_f.mean() + ce + 10.0 * np.mean(np.abs(rec - x)), rtol=1e-5)


def test_stargan_gradient_penalty_of_a_linear_critic_is_its_closed_form():
    """D_src(x) = <w, x> per image: its input gradient is w everywhere, so gp = (||w|| - 1)^2 exactly."""
    w = jnp.asarray(RNG.normal(size=(SIDE, SIDE, 1)) * 0.3, jnp.float32)

    def d_apply(params, x):
        src = jnp.sum(x * params["w"], axis=(1, 2, 3))[:, None, None, None]
        return src, jnp.zeros((x.shape[0], K)) + params["c"]

    d = adapters.from_function(d_apply)
    g = adapters.from_function(lambda p, x, c: x * p["s"], takes_labels=True)
    system = stargan.stargan(g, d, optax.sgd(0.0), optax.sgd(0.0), num_domains=K, n_critic=1)
    state = create_system_state(
        jax.random.PRNGKey(0), system, {"g": {"s": jnp.float32(0.5)}, "d": {"w": w, "c": jnp.zeros(K)}}
    )
    _, metrics = jax.jit(make_system_step(system))(state, _batch("stargan", 0, groups=1))
    np.testing.assert_allclose(metrics["d/gp"], (float(jnp.linalg.norm(w)) - 1) ** 2, rtol=1e-4)
    np.testing.assert_allclose(metrics["d/cls"], np.log(K), rtol=1e-5)


# ---------------------------------------------------------------------------------------------- the tiny systems


def _linen(module, x, *labels):
    variables = dict(numpy_init(module, x, *labels, train=False))
    return adapters.from_linen(module), variables.pop("params"), variables


def build(name, pool_size=cyclegan.POOL_SIZE, optimizer=None):
    """``(system, state)`` of a tiny system on 8x8 one-channel images (the papers' Adam unless ``optimizer``)."""
    x = jnp.zeros((2, SIDE, SIDE, 1))
    adam = optax.adam(2e-4, b1=0.5) if optimizer is None else optimizer
    if name == "pix2pix":
        g = _linen(T.UNetGenerator(num_downs=3, base_features=4, dropout_blocks=1), x)
        d = _linen(T.PatchGANDiscriminator(4, n_layers=1), jnp.zeros((2, SIDE, SIDE, 2)))
        nets = {"g": g, "d": d}
        system = pix2pix.pix2pix(g[0], d[0], adam, adam)
    elif name == "cyclegan":
        gen = lambda: _linen(T.ResnetGenerator(base_features=4, n_blocks=1, n_downsampling=1), x)  # noqa: E731
        disc = lambda: _linen(T.PatchGANDiscriminator(4, n_layers=1), x)  # noqa: E731
        nets = {"g_ab": gen(), "g_ba": gen(), "d_a": disc(), "d_b": disc()}
        system = cyclegan.cyclegan(
            *(nets[n][0] for n in ("g_ab", "g_ba", "d_a", "d_b")),
            adam,
            adam,
            image_shape=(SIDE, SIDE, 1),
            pool_size=pool_size,
        )
    else:
        g = _linen(T.StarGANGenerator(K, base_features=4, repeat_num=1, n_downsampling=1), x, jnp.zeros(2, jnp.int32))
        d = _linen(T.StarGANDiscriminator(K, base_features=4, repeat_num=2), x)
        nets = {"g": g, "d": d}
        system = stargan.stargan(g[0], d[0], adam, adam, num_domains=K, n_critic=2)
    params = {n: v[1] for n, v in nets.items()}
    model_state = {n: v[2] for n, v in nets.items()}
    return system, create_system_state(jax.random.PRNGKey(0), system, params, model_state)


def _batch(name, step, groups=None):
    """The global batch of ``step``: a pure function of (name, step)."""
    rng = np.random.default_rng(step)
    if name == "stargan":
        n = B * (2 if groups is None else groups)
        return {
            "x": rng.uniform(-1, 1, (n, SIDE, SIDE, 1)).astype(np.float32),
            "domain": rng.integers(0, K, n).astype(np.int32),
        }
    return {k: rng.uniform(-1, 1, (B, SIDE, SIDE, 1)).astype(np.float32) for k in ("a", "b")}


METRICS = {
    "pix2pix": {"d/loss", "d/real_logits_mean", "g/loss", "g/l1", "g/total"},
    "cyclegan": {"g/loss", "g/cycle", "g/identity", "g/total", "d/loss", "d/loss_a", "d/loss_b"},
    "stargan": {"d/loss", "d/cls", "d/gp", "d/cls_acc", "g/loss", "g/cls", "g/rec", "g/cls_acc", "g/total"},
}


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan", "stargan"])
def test_each_system_takes_a_jitted_step_with_finite_metrics(name):
    system, state = build(name, pool_size=12)
    step = jax.jit(make_system_step(system))
    new, metrics = step(state, _batch(name, 0))
    assert METRICS[name] <= set(metrics)
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert int(new.step) == 1 and all(int(v) == 0 for v in new.skipped.values())
    for net in system.nets:  # every network trained
        before, after = jax.tree.leaves(state.params[net]), jax.tree.leaves(new.params[net])
        assert any(not np.array_equal(a, b) for a, b in zip(before, after)), net
    m = {k: float(v) for k, v in metrics.items()}
    if name == "pix2pix":
        np.testing.assert_allclose(m["g/total"], m["g/loss"] + 100.0 * m["g/l1"], rtol=1e-5)
    elif name == "cyclegan":
        np.testing.assert_allclose(m["g/total"], m["g/loss"] + 10.0 * m["g/cycle"] + 5.0 * m["g/identity"], rtol=1e-5)
        np.testing.assert_allclose(m["d/loss"], m["d/loss_a"] + m["d/loss_b"], rtol=1e-6)
        _check_pools_fill(step, new)
    else:
        assert m["d/gp"] > 0 and 0.0 <= m["g/cls_acc"] <= 1.0


def _check_pools_fill(step, state):
    """After step 0 the pools of 12 hold 8 fakes each; after step 1 they are full of generator outputs."""
    assert int(state.buffers["pool_a"]["count"]) == int(state.buffers["pool_b"]["count"]) == B
    state, _ = step(state, _batch("cyclegan", 1))
    for name in ("pool_a", "pool_b"):
        assert int(state.buffers[name]["count"]) == 12
        images = np.asarray(state.buffers[name]["images"])
        assert np.all(np.abs(images).reshape(12, -1).sum(1) > 0) and np.abs(images).max() < 1


def test_cyclegan_pools_are_state_buffers_of_50_images_by_default():
    system, state = build("cyclegan")
    for name in ("pool_a", "pool_b"):
        assert state.buffers[name]["images"].shape == (50, SIDE, SIDE, 1)  # the paper's 50 images per D
        assert int(state.buffers[name]["count"]) == 0
    assert set(system.buffers) == {"pool_a", "pool_b"}


def test_bad_settings_are_refused_with_one_line():
    g = adapters.from_function(lambda p, x: x)
    adam = optax.adam(1e-3)
    with pytest.raises(ValueError, match="l1_weight must be a finite number >= 0"):
        pix2pix.pix2pix(g, g, adam, adam, l1_weight=-1.0)
    with pytest.raises(ValueError, match="image_shape must be"):
        cyclegan.cyclegan(g, g, g, g, adam, adam, image_shape=(8, 8))
    with pytest.raises(ValueError, match="num_domains must be an integer >= 2"):
        stargan.stargan(g, g, adam, adam, num_domains=1)


# ------------------------------------------------------------------------------------------------- many devices


@pytest.fixture(scope="module")
def parallel_runs():
    cmd = [sys.executable, str(Path(__file__).resolve()), "--devices", "4"]
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=900, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pix2pix", "cyclegan", "stargan"])
def test_a_step_on_4_devices_equals_one_device(parallel_runs, name):
    assert parallel_runs["devices"] == 4
    one, many = parallel_runs[name]["none"], parallel_runs[name]["mesh"]
    assert len(one["state"]) == len(many["state"]) > 10
    for a, b in zip(one["state"], many["state"]):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=2e-5, atol=2e-6)
    assert one["metrics"].keys() == many["metrics"].keys() >= METRICS[name]
    for k in one["metrics"]:
        np.testing.assert_allclose(many["metrics"][k], one["metrics"][k], rtol=2e-5, atol=2e-6, err_msg=k)


def run_parallel(devices: int, steps: int = 2) -> dict:
    """``steps`` steps of each system on one device and on a ``devices``-device mesh, on the same global batches.

    With SGD: Adam's first update is about ``lr * sign(g)``, so a gradient that is zero but for rounding (a bias
    before an instance norm without scale and offset, which the norm removes) would move by ``+-lr`` on the
    sign of its rounding noise, which differs with the order of the cross-device sum. A small rate: after a
    large first step an instance norm over a nearly constant channel magnifies rounding differences.
    """
    from jaxgan import parallel

    out = {"devices": jax.device_count()}
    for name in METRICS:
        system, state0 = build(name, pool_size=12, optimizer=optax.sgd(0.005))
        out[name] = {}
        for mode, n in (("none", 1), ("mesh", devices)):
            dp = parallel.data_parallel(functools.partial(make_system_step, system), mode, num_devices=n, donate=False)
            s = dp.put(state0)
            for t in range(steps):
                s, metrics = dp.step(s, dp.shard(_batch(name, t)))
            leaves = [np.asarray(v).tolist() for v in jax.tree.leaves(dp.get(s))]
            out[name][mode] = {"state": leaves, "metrics": {k: float(v) for k, v in dp.get(metrics).items()}}
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=4)
    args = ap.parse_args()
    jax.config.update("jax_num_cpu_devices", args.devices)
    print(json.dumps(run_parallel(args.devices)), flush=True)
