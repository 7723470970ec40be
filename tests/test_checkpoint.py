"""Tests of jaxgan.checkpoint: round trips, what is kept, atomic commits, a full disk, partial restores for
sampling, and restoring across device counts (4 simulated CPU devices in a subprocess, 1 here). Which checkpoint
is restored (damaged ones skipped, config mismatches) is tested in test_resume.py."""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from _checkpoints import TINY, changed_state, leaves_equal, make_exp, save_steps, with_step

from jaxgan import checkpoint
from jaxgan.run import resume
from jaxgan.run.config import to_dict


@pytest.fixture(scope="module")
def exp():
    return make_exp()


@pytest.fixture(scope="module")
def state(exp):
    return changed_state(exp)


def test_round_trip_restores_every_leaf_bitwise_onto_an_abstract_target(tmp_path, exp, state):
    save_steps(tmp_path, exp, state, [5])
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    got = resume.restore_latest(reader, jax.eval_shape(exp.init_state), to_dict(exp.config))
    assert got.step == 5 and got.skipped == ()
    assert type(got.state) is type(state)
    assert leaves_equal(got.state, with_step(state, 5))
    assert all(isinstance(x, np.ndarray) for x in jax.tree.leaves(got.state))  # host arrays for Runner.put
    assert got.meta["config"] == to_dict(exp.config) and got.meta["data"] == {"step": 5}
    reader.close()


def test_keeps_the_last_n_plus_every_m(tmp_path, exp, state):
    save_steps(tmp_path, exp, state, range(1, 11), keep=2, keep_every=4)
    assert checkpoint.Checkpointer(tmp_path, read_only=True).steps() == [4, 8, 9, 10]


def test_unfinalized_directory_is_never_listed_and_is_removed_when_opened_for_writing(tmp_path, exp, state):
    save_steps(tmp_path, exp, state, [1, 2])
    # What a kill during the write of step 3 leaves: a complete-looking copy under orbax's temporary name.
    shutil.copytree(tmp_path / "2", tmp_path / "3.orbax-checkpoint-tmp")
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    assert reader.steps() == [1, 2]
    assert resume.restore_latest(reader, jax.eval_shape(exp.init_state), to_dict(exp.config)).step == 2
    assert (tmp_path / "3.orbax-checkpoint-tmp").exists()  # read-only: nothing touched
    checkpoint.Checkpointer(tmp_path).close()
    assert not (tmp_path / "3.orbax-checkpoint-tmp").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1", "2"]


def test_full_disk_during_save_leaves_the_committed_checkpoints_intact(tmp_path, exp, state):
    ckpt = checkpoint.Checkpointer(tmp_path, keep=2)
    for t in (1, 2, 3):
        ckpt.save(t, with_step(state, t), to_dict(exp.config))
    ckpt.wait()
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, hard))  # files past 2 kB fail with EFBIG, like ENOSPC
    try:
        with pytest.raises(checkpoint.CheckpointWriteError, match=r"steps \[2, 3\]\) are intact"):
            ckpt.save(4, with_step(state, 4), to_dict(exp.config))
            ckpt.wait()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert ckpt.steps() == [2, 3]  # the failed save deleted nothing (keep=2 would have dropped step 2)
    ckpt.close()
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    assert reader.steps() == [2, 3]
    got = resume.restore_latest(reader, jax.eval_shape(exp.init_state), to_dict(exp.config))
    assert got.step == 3 and got.skipped == () and leaves_equal(got.state, with_step(state, 3))


def test_a_write_failure_that_surfaces_only_at_close_is_a_checkpoint_error(tmp_path, exp, state):
    """orbax can report a failed background write first from ``close()`` (its async checkpointer waits again
    there); that is the same one-line CheckpointWriteError, not a raw OSError, and the manager is closed."""
    ckpt = checkpoint.Checkpointer(tmp_path, keep=2)
    ckpt.save(1, with_step(state, 1), to_dict(exp.config))
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


def test_restore_subset_reads_only_the_named_fields(tmp_path, exp, state):
    save_steps(tmp_path, exp, state, [3])
    abstract = jax.eval_shape(exp.init_state)
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    got = reader.restore_subset(3, {"g_params": abstract.g_params, "g_model_state": abstract.g_model_state})
    assert set(got) == {"g_params", "g_model_state"}
    assert leaves_equal(got["g_params"], state.g_params)


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
    from jaxgan import checkpoint
    from jaxgan.run import experiment, resume
    from jaxgan.run.config import Config, to_dict
    from jaxgan.run.writers import fingerprint

    directory_in, directory_out = sys.argv[1], sys.argv[2]
    assert jax.device_count() == 4, jax.devices()
    exp = experiment.build(Config(**json.loads(sys.argv[3])))
    mesh = Mesh(np.array(jax.devices()), ("data",))
    abstract = jax.eval_shape(exp.init_state)
    # Leaves with a leading axis divisible by 4 are split over the devices, the rest replicated.
    shardings = jax.tree.map(
        lambda x: NamedSharding(mesh, P("data") if x.ndim and x.shape[0] % 4 == 0 else P()), abstract)
    got = resume.restore_latest(checkpoint.Checkpointer(directory_in, read_only=True),
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


@pytest.mark.slow
def test_save_under_four_devices_restore_under_one_and_the_reverse(tmp_path, exp, state):
    one, four = tmp_path / "saved_on_1", tmp_path / "saved_on_4"
    save_steps(one, exp, state, [5])
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-c", _FOUR_DEVICES, str(one), str(four), json.dumps(TINY)],
        capture_output=True, text=True, env=env, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    from jaxgan.run.writers import fingerprint

    # 1 -> 4: restored onto 4 devices, split and replicated, the same bits.
    restored = result["restored"]
    assert restored["fingerprint"] == fingerprint(with_step(state, 5))
    assert restored["devices"] == 4 and restored["split_leaves"] >= 4
    # 4 -> 1: the state saved from 4 devices restores here on one, as host arrays, the same bits.
    got = resume.restore_latest(
        checkpoint.Checkpointer(four, read_only=True), jax.eval_shape(exp.init_state), to_dict(exp.config),
        log=pytest.fail,
    )
    assert got.step == 7
    assert fingerprint(got.state) == result["saved"]
    expected = jax.tree.map(lambda x: x * 2 if x.dtype == np.float32 else x, with_step(state, 7))
    assert leaves_equal(got.state, expected)
