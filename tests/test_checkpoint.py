"""Tests of jaxgan.checkpoint: round trips, what is kept, atomic commits, damaged files, a full disk, config
mismatches, partial restores for sampling, and restoring across device counts (4 simulated CPU devices in a
subprocess, 1 here)."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxgan import checkpoint, experiment
from jaxgan.config import Config, to_dict

TINY = dict(g_features=[16], d_features=[16], batch_size=8, pack=1)


def _exp(**overrides):
    return experiment.build(Config(**{**TINY, **overrides}))


@pytest.fixture(scope="module")
def exp():
    return _exp()


@pytest.fixture(scope="module")
def state(exp):
    """A host state whose leaves all differ from init (so a restore that returns init values is caught)."""
    s = jax.device_get(jax.jit(exp.init_state)())
    return jax.tree.map(lambda x: x + np.ones_like(x) if x.dtype != np.uint32 else x, s)


def _with_step(state, step):
    return state.replace(step=np.asarray(step, np.int32))


def _leaves_equal(a, b) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(
        np.asarray(x).dtype == np.asarray(y).dtype and np.asarray(x).tobytes() == np.asarray(y).tobytes()
        for x, y in zip(la, lb)
    )


def _save_steps(directory, exp, state, steps, **kwargs):
    ckpt = checkpoint.Checkpointer(directory, **kwargs)
    for t in steps:
        ckpt.save(t, _with_step(state, t), to_dict(exp.config))
    ckpt.close()


def test_round_trip_restores_every_leaf_bitwise_onto_an_abstract_target(tmp_path, exp, state):
    _save_steps(tmp_path, exp, state, [5])
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    got = reader.restore_latest(jax.eval_shape(exp.init_state), to_dict(exp.config))
    assert got.step == 5 and got.skipped == ()
    assert type(got.state) is type(state)
    assert _leaves_equal(got.state, _with_step(state, 5))
    assert all(isinstance(x, np.ndarray) for x in jax.tree.leaves(got.state))  # host arrays for Runner.put
    assert got.meta["config"] == to_dict(exp.config) and got.meta["data"] == {"step": 5}
    reader.close()


def test_keeps_the_last_n_plus_every_m(tmp_path, exp, state):
    _save_steps(tmp_path, exp, state, range(1, 11), keep=2, keep_every=4)
    assert checkpoint.Checkpointer(tmp_path, read_only=True).steps() == [4, 8, 9, 10]


def test_unfinalized_directory_is_never_listed_and_is_removed_when_opened_for_writing(tmp_path, exp, state):
    _save_steps(tmp_path, exp, state, [1, 2])
    # What a kill during the write of step 3 leaves: a complete-looking copy under orbax's temporary name.
    shutil.copytree(tmp_path / "2", tmp_path / "3.orbax-checkpoint-tmp")
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    assert reader.steps() == [1, 2]
    assert reader.restore_latest(jax.eval_shape(exp.init_state), to_dict(exp.config)).step == 2
    assert (tmp_path / "3.orbax-checkpoint-tmp").exists()  # read-only: nothing touched
    checkpoint.Checkpointer(tmp_path).close()
    assert not (tmp_path / "3.orbax-checkpoint-tmp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "2"]


def _largest_file(step_dir: Path) -> Path:
    return max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def test_damaged_checkpoints_are_skipped_with_the_reason_and_set_aside(tmp_path, exp, state):
    _save_steps(tmp_path, exp, state, [1, 2, 3], keep=5)
    # Step 3: bytes flipped inside array data, which orbax alone restores as silently wrong values.
    big = _largest_file(tmp_path / "3")
    data = bytearray(big.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0x10
    big.write_bytes(bytes(data))
    # Step 2: every array file truncated.
    for p in (tmp_path / "2" / "state").rglob("*"):
        if p.is_file() and p.stat().st_size > 200:
            os.truncate(p, 100)
    logged = []
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    got = reader.restore_latest(jax.eval_shape(exp.init_state), to_dict(exp.config), log=logged.append)
    reader.close()
    assert got.step == 1 and _leaves_equal(got.state, _with_step(state, 1))
    assert [s for s, _ in got.skipped] == [3, 2]
    assert len(logged) == 2
    assert logged[0].startswith("skipping checkpoint at step 3:")
    assert "checksum" in logged[0] or "Error" in logged[0]
    assert logged[1].startswith("skipping checkpoint at step 2:")

    writer = checkpoint.Checkpointer(tmp_path, keep=5)
    moved = writer.set_aside([3, 2])
    assert [p.name for p in moved] == ["3", "2"] and moved[0].parent == tmp_path.parent / (tmp_path.name + "_skipped")
    assert writer.steps() == [1]
    writer.save(2, _with_step(state, 2), to_dict(exp.config))  # the step can be written again
    writer.close()
    assert checkpoint.Checkpointer(tmp_path, read_only=True).steps() == [1, 2]


def test_unreadable_meta_record_is_skipped(tmp_path, exp, state):
    _save_steps(tmp_path, exp, state, [1, 2])
    (tmp_path / "2" / "meta" / "metadata").write_text("{not json")
    logged = []
    got = checkpoint.Checkpointer(tmp_path, read_only=True).restore_latest(
        jax.eval_shape(exp.init_state), to_dict(exp.config), log=logged.append
    )
    assert got.step == 1 and "meta record cannot be read" in logged[0]


def test_all_checkpoints_damaged_is_an_error_not_a_silent_restart(tmp_path, exp, state):
    _save_steps(tmp_path, exp, state, [1])
    (tmp_path / "1" / "meta" / "metadata").write_text("")
    with pytest.raises(checkpoint.NoValidCheckpointError, match="none of the 1 checkpoints"):
        checkpoint.Checkpointer(tmp_path, read_only=True).restore_latest(
            jax.eval_shape(exp.init_state), to_dict(exp.config), log=lambda m: None
        )


def test_other_architecture_is_refused_naming_the_field_and_nothing_changes(tmp_path, exp, state):
    _save_steps(tmp_path, exp, state, [1, 2])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    other = _exp(g_features=[16, 16], g_lr=0.5)  # g_lr differs too but does not decide shapes
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    with pytest.raises(checkpoint.ConfigMismatchError) as err:
        reader.restore_latest(jax.eval_shape(other.init_state), to_dict(other.config))
    message = str(err.value)
    assert "'g_features' is [16] there and [16, 16] now" in message and "\n" not in message
    assert "step 2" in message
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_run_control_fields_may_change_and_other_changes_are_reported(exp):
    saved = to_dict(exp.config)
    now = {**saved, "steps": 10**6, "checkpoint_every": 7, "parallel": "mesh", "g_lr": 0.1}
    assert checkpoint.config_difference(saved, now) == ["g_lr"]


def test_full_disk_during_save_leaves_the_committed_checkpoints_intact(tmp_path, exp, state):
    ckpt = checkpoint.Checkpointer(tmp_path, keep=2)
    for t in (1, 2, 3):
        ckpt.save(t, _with_step(state, t), to_dict(exp.config))
    ckpt.wait()
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, hard))  # files past 2 kB fail with EFBIG, like ENOSPC
    try:
        with pytest.raises(checkpoint.CheckpointWriteError, match=r"steps \[2, 3\]\) are intact"):
            ckpt.save(4, _with_step(state, 4), to_dict(exp.config))
            ckpt.wait()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert ckpt.steps() == [2, 3]  # the failed save deleted nothing (keep=2 would have dropped step 2)
    ckpt.close()
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    assert reader.steps() == [2, 3]
    got = reader.restore_latest(jax.eval_shape(exp.init_state), to_dict(exp.config))
    assert got.step == 3 and got.skipped == () and _leaves_equal(got.state, _with_step(state, 3))


def test_a_write_failure_that_surfaces_only_at_close_is_a_checkpoint_error(tmp_path, exp, state):
    """orbax can report a failed background write first from ``close()`` (its async checkpointer waits again
    there); that is the same one-line CheckpointWriteError, not a raw OSError, and the manager is closed."""
    ckpt = checkpoint.Checkpointer(tmp_path, keep=2)
    ckpt.save(1, _with_step(state, 1), to_dict(exp.config))
    ckpt.wait()
    manager = ckpt._manager
    real_close = manager.close

    def failing_close():
        real_close()
        raise OSError(28, "No space left on device")

    manager.close = failing_close
    with pytest.raises(checkpoint.CheckpointWriteError) as err:
        ckpt.close()
    assert str(err.value) == (f"a checkpoint could not be written to {tmp_path} (No space left on device); "
                              "the committed checkpoints (steps [1]) are intact")
    assert ckpt._manager is None
    ckpt.close()  # a second close is a no-op


def test_a_reader_beside_a_live_writer_restores_a_step_while_retention_removes_old_ones(tmp_path):
    """jaxgan eval / sample read a workdir that a live run writes with keep_checkpoints=1: a step removed while
    it was listed or read is not a damaged checkpoint; the reader lists again and restores the newest one.
    (Before the mend about one read in eight failed here, with FileNotFoundError from orbax's listing or with
    NoValidCheckpointError naming a step that was only being replaced.)"""
    import threading

    directory = tmp_path / "ck"
    state = {"a": np.arange(4096, dtype=np.float32)}
    writer = checkpoint.Checkpointer(directory, keep=1, async_save=False)
    writer.save(0, state, {})
    stop = threading.Event()

    def write():
        step = 1
        while not stop.is_set():
            writer.save(step, {"a": state["a"] + step}, {})
            step += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        for _ in range(60):
            reader = checkpoint.Checkpointer(directory, read_only=True)
            try:
                restored = reader.restore_latest(state, {}, log=pytest.fail)
            finally:
                reader.close()
            np.testing.assert_array_equal(restored.state["a"], state["a"] + restored.step)
            assert restored.skipped == ()
    finally:
        stop.set()
        thread.join()
        writer.close()


def test_restore_subset_reads_only_the_named_fields(tmp_path, exp, state):
    _save_steps(tmp_path, exp, state, [3])
    abstract = jax.eval_shape(exp.init_state)
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    got = reader.restore_subset(3, {"g_params": abstract.g_params, "g_model_state": abstract.g_model_state})
    assert set(got) == {"g_params", "g_model_state"}
    assert _leaves_equal(got["g_params"], state.g_params)


def test_unwritable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file")
    with pytest.raises(checkpoint.CheckpointDirError, match="is not writable"):
        checkpoint.Checkpointer(blocker / "checkpoints")
    assert not (blocker / "checkpoints").exists()


_FOUR_DEVICES = textwrap.dedent(
    """
    import json, sys
    import jax
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    from jaxgan import checkpoint, experiment
    from jaxgan.config import Config, to_dict
    from jaxgan.writers import fingerprint

    directory_in, directory_out = sys.argv[1], sys.argv[2]
    assert jax.device_count() == 4, jax.devices()
    exp = experiment.build(Config(**json.loads(sys.argv[3])))
    mesh = Mesh(np.array(jax.devices()), ("data",))
    abstract = jax.eval_shape(exp.init_state)
    # Leaves with a leading axis divisible by 4 are split over the devices, the rest replicated.
    shardings = jax.tree.map(
        lambda x: NamedSharding(mesh, P("data") if x.ndim and x.shape[0] % 4 == 0 else P()), abstract)
    got = checkpoint.Checkpointer(directory_in, read_only=True).restore_latest(
        abstract, to_dict(exp.config), sharding=shardings)
    leaves = jax.tree.leaves(got.state)
    restored = {"fingerprint": fingerprint(got.state),
                "devices": min(len(x.sharding.device_set) for x in leaves),
                "split_leaves": sum(not x.sharding.is_fully_replicated for x in leaves)}
    state = jax.tree.map(lambda x: x * 2 if x.dtype == np.float32 else x, got.state)
    state = state.replace(step=jax.device_put(np.int32(7), NamedSharding(mesh, P())))
    ckpt = checkpoint.Checkpointer(directory_out)
    ckpt.save(7, state, to_dict(exp.config))
    ckpt.close()
    print(json.dumps({"restored": restored, "saved": fingerprint(jax.device_get(state))}))
    """
)


def test_save_under_four_devices_restore_under_one_and_the_reverse(tmp_path, exp, state):
    one, four = tmp_path / "saved_on_1", tmp_path / "saved_on_4"
    _save_steps(one, exp, state, [5])
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", _FOUR_DEVICES, str(one), str(four), json.dumps(TINY)],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    from jaxgan.writers import fingerprint

    # 1 -> 4: restored onto 4 devices, split and replicated, the same bits.
    restored = result["restored"]
    assert restored["fingerprint"] == fingerprint(_with_step(state, 5))
    assert restored["devices"] == 4 and restored["split_leaves"] >= 4
    # 4 -> 1: the state saved from 4 devices restores here on one, as host arrays, the same bits.
    got = checkpoint.Checkpointer(four, read_only=True).restore_latest(
        jax.eval_shape(exp.init_state), to_dict(exp.config), log=pytest.fail
    )
    assert got.step == 7
    assert fingerprint(got.state) == result["saved"]
    expected = jax.tree.map(lambda x: x * 2 if x.dtype == np.float32 else x, _with_step(state, 7))
    assert _leaves_equal(got.state, expected)


def test_fields_added_after_a_checkpoint_count_as_their_defaults_on_resume():
    from jaxgan.config import Config
    from jaxgan.loop import config_changes

    current = to_dict(Config(g_lr=0.5))
    saved = {k: v for k, v in current.items() if k not in ("top_k_gamma", "clusters", "ema_warmup")}
    assert config_changes(saved, current) == []  # written before these fields existed: nothing to warn about
    assert config_changes(saved, {**current, "clusters": 10}) == ["clusters null -> 10"]
    assert config_changes({**saved, "g_lr": 0.1}, current) == ["g_lr 0.1 -> 0.5"]
