"""Tests for progressive growing (jaxgan.progressive and the loop's phases): the schedule, alpha from the step inside
the compiled step, the optimizer reset at a new phase, bitwise resumption in the middle of a fade-in, the same numbers
on two devices, per-phase samples and FIDs, and the config's errors."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _checkpoints import leaves_equal, save_and_resume

from jaxgan import progressive
from jaxgan.models.progan import fade_real
from jaxgan.run import experiment, loop
from jaxgan.run.config import Config, validate
from jaxgan.run.runner import make_runner
from jaxgan.run.writers import Progress

ROOT = Path(__file__).resolve().parents[1]
TINY_NETS = {"fmap_base": 32, "fmap_max": 8}  # widths 8, 8, 4 at 4, 8, 16
GROWING = {"resolutions": [4, 8, 16], "fade_steps": 2, "stable_steps": 3}  # phases [0, 3), [3, 8), [8, steps)


def tiny(**overrides) -> Config:
    base = dict(
        name="tiny_progan", data="digits", image_size=16, channels=1, model="progan", batch_size=8, latent_dim=8,
        loss="wasserstein", penalties={"gp": 10.0, "drift": 0.001}, g_lr=1e-3, d_lr=1e-3, b1=0.0, b2=0.99,
        ema_decay=0.99, steps=11, steps_per_call=4, log_every=1, sample_every=1000, checkpoint_every=1000,
        eval_samples=50, model_kwargs={"generator": dict(TINY_NETS), "discriminator": dict(TINY_NETS)},
        growing=dict(GROWING),
    )
    return Config(**{**base, **overrides})


# ------------------------------------------------------------------------------------------------ the schedule


def test_schedule_phases_start_fade_and_end_where_stated():
    s = progressive.schedule([4, 8, 16, 32], fade_steps=10, stable_steps=20, total_steps=200)
    assert [(p.resolution, p.start, p.fade, p.end) for p in s.phases] == [
        (4, 0, 0, 20), (8, 20, 10, 50), (16, 50, 10, 80), (32, 80, 10, 200)]
    assert s.phase(0).resolution == 4 and s.phase(19).resolution == 4 and s.phase(20).resolution == 8
    assert s.phase(199).resolution == 32 and s.phase(200).resolution == 32
    assert [s.next_boundary(t) for t in (0, 19, 20, 79, 80, 199)] == [20, 20, 50, 80, 200, 200]
    assert [t for t in range(201) if s.is_phase_end(t)] == [20, 50, 80, 200]
    p = s.phases[1]
    assert [p.alpha(t) for t in (20, 21, 25, 30, 49)] == [0.0, 0.1, 0.5, 1.0, 1.0]
    assert s.phases[0].alpha(5) == 1.0


def test_alpha_traced_inside_jit_equals_the_python_value():
    p = progressive.schedule([4, 8], fade_steps=7, stable_steps=3, total_steps=30).phases[1]
    traced = jax.jit(lambda t: p.alpha(t))
    for t in range(0, 15):
        assert float(traced(jnp.int32(t))) == pytest.approx(p.alpha(t), abs=1e-7), t


@pytest.mark.parametrize("args, message", [
    (([4, 8, 32], 1, 1, 10), "each resolution must double the one before, got [4, 8, 32]"),
    (([4, 12], 1, 1, 10), "resolutions must be powers of two >= 4, got [4, 12]"),
    (([4, 8], 0, 1, 10), "fade_steps and stable_steps must be >= 1, got 0, 1"),
    (([4, 8, 16], 5, 5, 20), "20 steps end before the 16x16 phase has faded in (it starts at step 15 and fades "
                             "over 5); give at least 21 steps"),
])
def test_bad_schedules_are_refused_naming_the_numbers(args, message):
    with pytest.raises(ValueError) as e:
        progressive.schedule(*args)
    assert message in str(e.value)


@pytest.mark.parametrize("overrides, message", [
    (dict(model="dcgan", image_size=28), "config field growing is for model 'progan' (progressive growing), not "
                                         "'dcgan'; remove it"),
    (dict(growing={"resolutions": [4, 8, 16]}), "config field growing must hold resolutions, fade_steps, "
                                                "stable_steps"),
    (dict(growing={**GROWING, "fade_steps": 0}), "config field growing: fade_steps must be a positive integer, "
                                                 "got 0"),
    (dict(conditional=True), "model progan is unconditional: set conditional=false and clusters=null"),
])
def test_bad_growing_configs_fail_validation_with_one_line(overrides, message):
    with pytest.raises(ValueError) as e:
        validate(tiny(**overrides))
    assert message in str(e.value)


def test_a_last_resolution_other_than_the_images_is_refused_before_anything_compiles():
    with pytest.raises(ValueError, match="the last resolution must be the images' 16, got 8"):
        experiment.build(tiny(growing={**GROWING, "resolutions": [4, 8]}))
    with pytest.raises(ValueError, match="give at least 11 steps"):
        experiment.build(tiny(steps=10))


# ------------------------------------------------------------------------------------------------ the step


@pytest.fixture(scope="module")
def exp():
    return experiment.build(tiny())


_RUNNERS = {}


def _run(exp, state, start, k):
    """``k`` steps from ``start`` with one runner per experiment (its phases' steps compile once)."""
    if id(exp) not in _RUNNERS:
        _RUNNERS[id(exp)] = make_runner(exp)
    runner = _RUNNERS[id(exp)]
    state, metrics = runner.run(runner.put(state), start, k)
    return runner.get(state), runner.metrics_to_host(metrics)


@pytest.fixture(scope="module")
def straight(exp):
    """Every step of the run one at a time: the host state after each step, and its metrics (a whole run: the
    tests that use it are marked slow)."""
    state = jax.device_get(jax.jit(exp.init_state)())
    states, metrics = [state], []
    for t in range(exp.config.steps):
        state, m = _run(exp, state, t, 1)
        states.append(state)
        metrics.append(m)
    return states, metrics


@pytest.mark.slow
def test_each_step_reports_its_phase_resolution_and_the_alpha_of_its_own_step(straight):
    _, metrics = straight
    assert [m["phase/resolution"] for m in metrics] == [4] * 3 + [8] * 5 + [16] * 3
    assert [m["phase/alpha"] for m in metrics] == [1, 1, 1, 0, 0.5, 1, 1, 1, 0, 0.5, 1]


@pytest.mark.slow
def test_chunks_across_phase_ends_equal_single_steps_bitwise(exp, straight):
    states, _ = straight
    state = states[0]
    for start, k in ((0, 2), (2, 5), (7, 4)):  # chunks that straddle both phase ends
        state, _ = _run(exp, state, start, k)
    assert leaves_equal(state, states[-1])


@pytest.mark.slow
def test_resume_in_the_middle_of_a_fade_in_is_bitwise(tmp_path, exp, straight):
    states, _ = straight
    mid = 4  # the 8x8 phase fades in over steps 3 and 4: alpha 0.5 at step 4
    assert exp.schedule.phase(mid).fade and 0 < exp.schedule.phase(mid).alpha(mid) < 1
    restored = save_and_resume(tmp_path / "ckpt", exp, states[mid], mid, experiment.build(tiny()))
    assert restored.step == mid and leaves_equal(restored.state, states[mid])
    state, _ = _run(exp, restored.state, mid, exp.config.steps - mid)
    assert leaves_equal(state, states[-1])


@pytest.mark.slow
def test_a_new_phase_starts_with_fresh_optimizer_states(exp, straight):
    states, _ = straight
    before, after = states[3], states[4]  # step 3 is the 8x8 phase's first
    fresh = exp.g_optimizer.init(before.g_params)
    # Adam's moments after one update from a fresh state are (1 - b1) g and (1 - b2) g^2: the count restarts at 1
    assert int(jax.tree.leaves(after.g_opt_state)[0]) == 1 == int(jax.tree.leaves(fresh)[0]) + 1
    assert int(jax.tree.leaves(before.g_opt_state)[0]) == 3
    assert int(jax.tree.leaves(states[3 + 1 + 1].g_opt_state)[0]) == 2  # and counts on within the phase


@pytest.mark.slow
def test_the_phase_step_fades_the_real_images_like_the_generator(exp):
    phase = exp.schedule.phases[1]
    x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 1)), jnp.float32)
    seen = {}

    def nets_at(resolution, alpha):
        g, d = exp.nets_at(resolution, alpha)

        def apply(params, model_state, images, labels=None, *, train, rng=None):
            if images.shape[1] == resolution and "real" not in seen:
                seen["real"] = images
            return d.apply(params, model_state, images, labels, train=train, rng=rng)

        return g, d._replace(apply=apply)

    def make(g, d):
        from jaxgan import train

        return train.make_train_step(g, d, exp.loss, exp.g_optimizer, exp.d_optimizer, **exp.step_kwargs)

    step = progressive.make_progressive_step(phase, nets_at, make, g_optimizer=exp.g_optimizer,
                                             d_optimizer=exp.d_optimizer)
    state = jax.device_get(jax.jit(exp.init_state)()).replace(step=np.int32(4))
    step(state, {"x": jnp.concatenate([x] * 4)})
    want = np.asarray(fade_real(jnp.concatenate([x] * 4), 8, 0.5))
    np.testing.assert_allclose(np.asarray(seen["real"]), want, atol=1e-6)


@pytest.mark.slow
def test_samples_are_at_the_resolution_of_the_phase_of_the_state(exp, straight):
    from jaxgan.run import sampling

    states, _ = straight
    key = jax.random.PRNGKey(0)
    shapes = {t: sampling.sample(exp, states[t], key, 3).shape for t in (0, 3, 4, 8, 11)}
    assert shapes == {0: (3, 4, 4, 1), 3: (3, 4, 4, 1), 4: (3, 8, 8, 1), 8: (3, 8, 8, 1), 11: (3, 16, 16, 1)}
    assert exp.generator_at(11) is exp.generator and exp.generator_at(4) is exp.generator_at(4)


def test_progress_bar_shows_the_phase(capsys):
    bar = Progress(total=10)
    bar.update(3, {"phase/resolution": 16.0, "phase/alpha": 0.25, "d/loss": 1.0, "g/loss": 2.0})
    bar.close()
    assert "res=16x16, fade=0.25, d/loss=1.000, g/loss=2.000" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------ the loop


@pytest.mark.slow
def test_train_writes_phase_grids_phase_fids_and_resumes_after_a_phase_end_bitwise(tmp_path):
    straight = loop.train_and_evaluate(tiny(), tmp_path / "a", quiet=True)
    assert {p.name for p in (tmp_path / "a" / "samples").glob("phase_*")} == {
        "phase_4x4.png", "phase_8x8.png", "phase_16x16.png"}
    phases = straight["eval"]["phases"]
    assert [(p["resolution"], p["start"], p["end"]) for p in phases] == [(4, 0, 3), (8, 3, 8), (16, 8, 11)]
    assert all(np.isfinite(p["fid10k"]) and p["fid10k"] > 0 for p in phases)
    assert 0 <= straight["eval"]["confident"] <= 1

    # a run stopped at the 8x8 phase's end (where a checkpoint is written) resumes there to the same end
    import shutil

    from jaxgan import checkpoint

    ckpt = checkpoint.Checkpointer(tmp_path / "a" / "checkpoints", read_only=True)
    assert ckpt.steps() == [3, 8, 11]
    ckpt.close()
    (tmp_path / "b" / "checkpoints").mkdir(parents=True)
    for step in ("3", "8"):
        shutil.copytree(tmp_path / "a" / "checkpoints" / step, tmp_path / "b" / "checkpoints" / step)
    resumed = loop.train_and_evaluate(tiny(), tmp_path / "b", quiet=True)
    assert resumed["resumed_from"] == 8 and resumed["fingerprint"] == straight["fingerprint"]
    # the 8x8 phase's FID, not logged by the stopped run, is computed on resuming; the 4x4 one is not there
    assert [p.get("fid10k") for p in resumed["eval"]["phases"]] == [None] + [p["fid10k"] for p in phases[1:]]


@pytest.mark.slow
def test_two_devices_give_the_numbers_of_one(tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        import jax
        jax.config.update("jax_num_cpu_devices", 2)
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_progressive import tiny
        from jaxgan.run import experiment
        from jaxgan.run.runner import make_runner
        out = {{}}
        for mode in ("none", "pmap", "mesh"):
            exp = experiment.build(tiny(parallel=mode))
            r = make_runner(exp, mode)
            state, _ = r.run(r.put(jax.device_get(jax.jit(exp.init_state)())), 0, exp.config.steps)
            out[mode] = [x.tolist() for x in jax.tree.leaves(r.get(state).g_params)]
        print(json.dumps(out))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for mode in ("pmap", "mesh"):
        for a, b in zip(out["none"], out[mode]):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=2e-4, atol=2e-5)


def test_real_images_for_a_phase_fid_are_box_filtered_like_the_network_sees_them():
    from jaxgan.models.progan import downsample_to, upscale
    from jaxgan.run.growing import real_at

    x = np.random.default_rng(3).uniform(-1, 1, (5, 16, 16, 1)).astype(np.float32)
    for r in (4, 8, 16):
        want = np.asarray(upscale(downsample_to(jnp.asarray(x), r), 16 // r)) if r < 16 else x
        np.testing.assert_allclose(real_at(x, r), want, atol=1e-6)
