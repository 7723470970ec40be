"""What the checkpoint and resume tests share: a tiny experiment, a state whose leaves all differ from init, and
checkpoints of it at given steps."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import jax
import numpy as np

from jaxgan import checkpoint
from jaxgan.run import experiment, resume
from jaxgan.run.config import Config, to_dict

TINY = dict(g_features=[16], d_features=[16], batch_size=8, pack=1)


def make_exp(**overrides) -> experiment.Experiment:
    return experiment.build(Config(**{**TINY, **overrides}))


def changed_state(exp: experiment.Experiment):
    """A host state whose leaves all differ from init (so a restore that returns init values is caught)."""
    s = jax.device_get(jax.jit(exp.init_state)())
    return jax.tree.map(lambda x: x + np.ones_like(x) if x.dtype != np.uint32 else x, s)


def with_step(state, step):
    return state.replace(step=np.asarray(step, np.int32))


def leaves_equal(a, b) -> bool:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(la) == len(lb) and all(
        np.asarray(x).dtype == np.asarray(y).dtype and np.asarray(x).tobytes() == np.asarray(y).tobytes()
        for x, y in zip(la, lb)
    )


def save_steps(directory, exp, state, steps, **kwargs) -> None:
    ckpt = checkpoint.Checkpointer(directory, **kwargs)
    for t in steps:
        ckpt.save(t, with_step(state, t), to_dict(exp.config))
    ckpt.close()


def largest_file(step_dir: Path) -> Path:
    return max((p for p in step_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)


def save_and_resume(directory, exp, state, step, again):
    """Saves ``state`` at ``step`` as ``exp``'s loop does, then restores it as a fresh process running ``again``
    (the same config rebuilt) would: read-only, onto an abstract target, checking the data order."""
    ckpt = checkpoint.Checkpointer(directory)
    ckpt.save(step, state, to_dict(exp.config), data=exp.task.data_position(step))
    ckpt.close()
    reader = checkpoint.Checkpointer(directory, read_only=True)
    try:
        return resume.restore_latest(reader, jax.eval_shape(again.init_state), to_dict(again.config),
                                     check_data=again.task.check_data)
    finally:
        reader.close()


def one_bit_changed(state):
    """``state`` with the lowest bit of the first float leaf's first element flipped: a value that decodes cleanly
    and differs from the saved one by one unit in the last place."""
    leaves, treedef = jax.tree.flatten(state)
    i = next(i for i, x in enumerate(leaves) if np.asarray(x).dtype == np.float32)
    bits = np.array(leaves[i], np.float32).view(np.uint32)
    bits.flat[0] ^= 1
    leaves[i] = bits.view(np.float32)
    return jax.tree.unflatten(treedef, leaves)


def replace_array_data(step_dir: Path, state) -> None:
    """Damages the checkpoint in ``step_dir`` the way only its checksums can catch: its array files are replaced by
    valid ones holding ``state`` (orbax restores them without complaint) while its meta record, and so the CRC-32s
    recorded at save time, stay as they were."""
    with tempfile.TemporaryDirectory() as tmp:
        writer = checkpoint.Checkpointer(tmp, async_save=False)
        writer.save(int(step_dir.name), state, {})
        writer.close()
        shutil.rmtree(step_dir / "state")
        shutil.copytree(Path(tmp) / step_dir.name / "state", step_dir / "state")
