"""bfloat16 runs from a config (``compute_dtype``, jaxgan/run/experiment.py with jaxgan/precision.py): the plain GAN
and a family (ACGAN) built in bf16 compute every convolution and matrix product in bf16, their losses match the
float32 run's within bf16 tolerance, no state leaf changes dtype, and a checkpointed + resumed bf16 run is bitwise
equal to a straight one."""

import jax
import numpy as np
import pytest
from _checkpoints import save_and_resume

from jaxgan.run import experiment
from jaxgan.run.config import Config, validate
from jaxgan.run.runner import make_runner
from jaxgan.system import SystemState

TINY = dict(data="digits", image_size=28, model="dcgan", batch_size=8, latent_dim=6, steps=4,
            model_kwargs={"generator": {"base_features": 4}, "discriminator": {"base_features": 4}},
            lr_schedule="constant", ema_decay=0.9)
# the conditional runs concatenate a one-hot label code (cast to the compute dtype by the DCGAN networks)
RUNS = {"gan": dict(), "cgan": dict(conditional=True), "acgan": dict(family="acgan", conditional=True)}
BIGGAN = dict(image_size=32, model="biggan", conditional=True, loss="hinge", latent_dim=8, model_kwargs={
    "generator": {"ch": 8, "shared_dim": 4}, "discriminator": {"ch": 8}})
PROGAN = dict(image_size=16, model="progan", loss="wasserstein", penalties={"gp": 10.0, "drift": 0.001}, steps=9,
              growing={"resolutions": [4, 8, 16], "fade_steps": 2, "stable_steps": 2},
              model_kwargs={"generator": {"fmap_base": 32, "fmap_max": 8}, "discriminator": {"fmap_base": 32,
                                                                                          "fmap_max": 8}})
OWN = {"biggan": BIGGAN, "progan": PROGAN}


def _config(run, dtype, **kw):
    return Config(**{**TINY, **OWN.get(run, RUNS.get(run, {})), "compute_dtype": dtype, **kw})


def _run(exp, state, start, k):
    runner = make_runner(exp, "none")
    s, metrics = runner.run(runner.put(state), start, k)
    return runner.get(s), {name: np.asarray(v) for name, v in runner.get(metrics).items()}


def _params(state):
    """Every network's parameters of a GANState (the plain GAN) or a SystemState (a family)."""
    return state.params if isinstance(state, SystemState) else (state.g_params, state.d_params)


def _update(before, after):
    """All parameters' change as one vector."""
    return np.concatenate([np.ravel(a - b) for a, b in zip(jax.tree.leaves(_params(after)),
                                                           jax.tree.leaves(_params(before)))])


def _dtypes(tree):
    return [x.dtype for x in jax.tree.leaves(tree)]


def test_compute_dtype_is_validated():
    with pytest.raises(ValueError, match="config field compute_dtype must be one of float32, bfloat16; got 'bf16'"):
        validate(_config("gan", "bf16"))


SLOW_TRACES = [pytest.param(m, marks=pytest.mark.slow) for m in ("biggan", "progan")]  # 5-15 s of tracing each


@pytest.mark.parametrize("run", [*sorted(RUNS), *SLOW_TRACES])
def test_every_convolution_and_matrix_product_of_a_bf16_step_is_bf16(run):
    """The step's whole program: forward and backward of every network, every player (the float32 run has none);
    BigGAN's spectral-norm power iterations and attention included; ProGAN's 8x8 phase, fading in (the gradient
    penalty's double backward included). Traced and lowered only, not compiled."""
    for dtype, expected in (("bfloat16", "bf16>"), ("float32", "f32>")):
        exp = experiment.build(_config(run, dtype))
        state = jax.eval_shape(exp.init_state)
        batch = {k: v[0] for k, v in exp.host_batches(0, 1).items()}
        step = exp.make_train_step(phase=1) if run == "progan" else exp.make_train_step()
        hlo = jax.jit(step).lower(state, batch).as_text()
        ops = [line for line in hlo.splitlines() if "stablehlo.convolution" in line or "stablehlo.dot_general" in line]
        # spectral norm's power iteration ([1, n] vectors u, v against the kernel, and sigma's gradient) runs with
        # the float32 u of the model state; every product of a batch is in the compute dtype
        power = [line for line in ops if ": (tensor<1x" in line]
        batched = [line for line in ops if line not in power]
        assert len(batched) > 10 and all(line.rstrip().endswith(expected) for line in batched), (dtype, batched)
        assert all(line.rstrip().endswith("f32>") for line in power) and (run == "biggan") == bool(power)


@pytest.mark.slow
@pytest.mark.parametrize("run", sorted(RUNS))
def test_a_bf16_run_matches_the_f32_run_within_bf16_tolerance_and_keeps_every_dtype(run):
    exp32, exp16 = experiment.build(_config(run, "float32")), experiment.build(_config(run, "bfloat16"))
    init = jax.device_get(jax.jit(exp32.init_state)())
    init16 = jax.device_get(jax.jit(exp16.init_state)())
    assert exp32.fingerprint(init) == exp16.fingerprint(init16)  # float32 parameters, the same ones
    s32, m32 = _run(exp32, init, 0, 2)
    s16, m16 = _run(exp16, init, 0, 2)
    assert sorted(m16) == sorted(m32)
    losses = [k for k in m32 if k.endswith(("loss", "logits_mean")) and m32[k].dtype.kind == "f"]
    assert {"d/loss", "g/loss"} <= set(losses) and (run == "acgan") == ("d/class_loss" in losses)
    for name in losses:
        assert m16[name].dtype == np.float32, name
        np.testing.assert_allclose(m16[name], m32[name], rtol=0.05, atol=0.03, err_msg=name)
    assert any(not np.array_equal(m16[k], m32[k]) for k in losses)  # it did compute in bf16
    # nothing in the state changes dtype: params, optimizer moments, batch statistics, EMA, buffers, step, key
    assert jax.tree.structure(s16) == jax.tree.structure(init) and _dtypes(s16) == _dtypes(init)
    assert exp16.skipped_updates(s16) == exp32.skipped_updates(s32) == {"d": 0, "g": 0}
    # the two runs' parameter updates point the same way (Adam's first steps are about lr * sign(gradient), so a
    # parameter whose gradient is near 0 may move the other way in bf16: compared as one vector)
    u16, u32 = _update(init, s16), _update(init, s32)
    assert float(u16 @ u32 / np.linalg.norm(u16) / np.linalg.norm(u32)) > 0.9


@pytest.mark.slow
@pytest.mark.parametrize("run", sorted(RUNS))
def test_a_checkpointed_and_resumed_bf16_run_is_bitwise_equal_to_a_straight_one(run, tmp_path):
    exp = experiment.build(_config(run, "bfloat16"))
    init = jax.device_get(jax.jit(exp.init_state)())
    straight, _ = _run(exp, init, 0, 4)
    half, _ = _run(exp, init, 0, 2)
    again = experiment.build(_config(run, "bfloat16"))  # a fresh process would rebuild everything from the config
    restored = save_and_resume(tmp_path / "checkpoints", exp, half, 2, again)
    resumed, _ = _run(again, restored.state, restored.step, 2)
    assert _dtypes(restored.state) == _dtypes(init)
    assert exp.fingerprint(resumed) == exp.fingerprint(straight) != exp.fingerprint(half)
    assert int(resumed.step) == 4
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight)):  # optimizer moments, statistics, EMA too
        np.testing.assert_array_equal(_bits(a), _bits(b))


def _bits(x):
    return jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else np.asarray(x)
