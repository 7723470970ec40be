"""bfloat16 runs of the translation families (``compute_dtype`` in jaxgan/run/translation.py, with
jaxgan/precision.py): pix2pix, CycleGAN and StarGAN compute every batched convolution and matrix product of the
step in bf16, their losses match the float32 run's within bf16 tolerance, no state leaf changes dtype (CycleGAN's
history pools included), and a checkpointed + restored bf16 run is bitwise equal to a straight one."""

import jax
import numpy as np
import pytest
from test_translation_run import FAMILIES, TINY  # the tiny networks of the float32 translation tests

from jaxgan import checkpoint
from jaxgan.run import experiment
from jaxgan.run.config import Config, to_dict


def _config(family, dtype):
    return Config(**{**TINY, **FAMILIES[family], "family": family, "compute_dtype": dtype})


def _batch(exp, step):
    return {k: v[0] for k, v in exp.host_batches(step, 1).items()}


def _run(exp, state, start, k):
    """``k`` steps from ``start``, one jitted step at a time (the same way for every run compared)."""
    step = jax.jit(exp.make_train_step())
    metrics = {}
    for i in range(start, start + k):
        state, metrics = step(state, _batch(exp, i))
    return jax.device_get(state), {name: np.asarray(v) for name, v in jax.device_get(metrics).items()}


def _dtypes(tree):
    return [x.dtype for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize(
    "family", [pytest.param(f, marks=pytest.mark.slow) if f == "cyclegan" else f for f in sorted(FAMILIES)]
)
def test_every_batched_convolution_and_matrix_product_of_a_bf16_translation_step_is_bf16(family):
    """Traced and lowered only: forward and backward of every network of every player (StarGAN's gradient
    penalty included); the float32 run has none in bf16."""
    for dtype, expected in (("bfloat16", "bf16>"), ("float32", "f32>")):
        exp = experiment.build(_config(family, dtype))
        state = jax.eval_shape(exp.init_state)
        hlo = jax.jit(exp.make_train_step()).lower(state, _batch(exp, 0)).as_text()
        ops = [line for line in hlo.splitlines() if "stablehlo.convolution" in line or "stablehlo.dot_general" in line]
        assert len(ops) > 10 and all(line.rstrip().endswith(expected) for line in ops), (dtype, ops)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_bf16_translation_run_matches_float32_within_bf16_tolerance_and_keeps_every_dtype(family):
    exp32, exp16 = experiment.build(_config(family, "float32")), experiment.build(_config(family, "bfloat16"))
    init = jax.device_get(jax.jit(exp32.init_state)())
    assert exp32.fingerprint(init) == exp16.fingerprint(jax.device_get(jax.jit(exp16.init_state)()))
    s32, m32 = _run(exp32, init, 0, 1)
    s16, m16 = _run(exp16, init, 0, 1)
    losses = [k for k in m32 if k.endswith(("loss", "l1", "cycle", "identity", "total", "gp"))]
    assert {"d/loss", "g/loss", "g/total"} <= set(losses), sorted(m32)
    for name in losses:
        assert m16[name].dtype == np.float32, name
        np.testing.assert_allclose(m16[name], m32[name], rtol=0.05, atol=0.03, err_msg=name)
    assert any(not np.array_equal(m16[k], m32[k]) for k in losses)  # it did compute in bf16
    # params, optimizer moments, EMA, CycleGAN's pools, step and key keep their dtypes
    assert jax.tree.structure(s16) == jax.tree.structure(init) and _dtypes(s16) == _dtypes(init)
    assert exp16.skipped_updates(s16) == exp32.skipped_updates(s32) == {p.name: 0 for p in exp16.system.players}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_a_checkpointed_and_restored_bf16_translation_run_is_bitwise_equal_to_a_straight_one(family, tmp_path):
    exp = experiment.build(_config(family, "bfloat16"))
    init = jax.device_get(jax.jit(exp.init_state)())
    straight, _ = _run(exp, init, 0, 3)
    half, _ = _run(exp, init, 0, 1)
    ckpt = checkpoint.Checkpointer(tmp_path / "checkpoints")
    ckpt.save(1, half, to_dict(exp.config), data=exp.task.data_position(1))
    ckpt.close()
    again = experiment.build(_config(family, "bfloat16"))  # a fresh process rebuilds everything from the config
    reader = checkpoint.Checkpointer(tmp_path / "checkpoints", read_only=True)
    restored = reader.restore(1, jax.eval_shape(again.init_state))
    reader.close()
    resumed, _ = _run(again, restored, 1, 2)
    assert _dtypes(restored) == _dtypes(init)
    assert exp.fingerprint(resumed) == exp.fingerprint(straight) != exp.fingerprint(half)
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(straight)):
        a, b = (jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x for x in (a, b))
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
