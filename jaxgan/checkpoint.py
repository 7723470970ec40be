"""Checkpoints: the one module that imports orbax.

A checkpoint at step ``t`` is a directory ``DIR/<t>`` written by orbax's ``CheckpointManager`` with two items:

* ``state``: a pytree of arrays (for a run, the whole :class:`jaxgan.state.GANState` as host arrays);
* ``meta``: a JSON record with the writer's config dict, its data position (default ``{"step": t}``), the dtype
  and shape of every state leaf, and a CRC-32 of every leaf's bytes.

Atomicity. orbax writes into ``DIR/<t>.orbax-checkpoint-tmp`` and renames it to ``DIR/<t>`` once every file is
written (``AtomicRenameTemporaryPath``, the default for local and most network file systems); unfinalized
directories are never listed as steps, are removed when :class:`Checkpointer` opens ``DIR`` for writing, and a save that
fails (full disk, I/O error) never gets renamed and never deletes older checkpoints (orbax removes old steps
only after the new one is committed). Saves are asynchronous: :meth:`Checkpointer.save` returns once the state
is handed to orbax's writer thread and :meth:`Checkpointer.wait` blocks until it is committed.

Why checksums. orbax (tensorstore OCDBT) detects truncated files and damaged index nodes, but array data that
decodes cleanly restores silently, right or wrong: bytes flipped inside a chunk (seen with orbax-checkpoint 0.12.8;
the chunks are zstd-compressed, so a flip may instead fail the decoder) or a valid file holding other values. So
each restore is compared against the CRC-32s in ``meta`` (tests/test_resume.py damages checkpoints both ways).

Restores are onto an abstract target (``jax.ShapeDtypeStruct`` s, e.g. ``jax.eval_shape(exp.init_state)``) and
come back as host arrays (or onto given shardings), so a checkpoint restores whatever device count or parallel
mode wrote it. Which checkpoint to restore, and whether it fits the current config, is :mod:`jaxgan.run.resume`'s
business; stopping every process of a run after the same chunk is :mod:`jaxgan.preemption`'s (it asks
:meth:`Checkpointer.reached_preemption`, orbax's preemption sync point).

A reader beside a live writer. ``jaxgan eval`` / ``sample`` read a directory that a live run may be writing:
its retention can remove a step while orbax lists or reads it. Listing retries when a step vanishes meanwhile,
and :meth:`Checkpointer.reload` reads the listing again for a reader that wants to know whether it changed.

Multi-host runs: every process calls :meth:`Checkpointer.save` (orbax coordinates the writes).

Size: about 400 lines, about 215 of them code: saving, restoring onto an abstract target, checksums, retention and
the read-only reader beside a live writer all wrap one orbax manager.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

PyTree = Any

SKIPPED_SUFFIX = "_skipped"  # DIR_skipped/<step>: where checkpoints that failed to restore are moved


class CheckpointError(Exception):
    """Base class of the errors this module raises on purpose."""


class NoValidCheckpointError(CheckpointError):
    """A directory holds checkpoints but none of them can be restored."""


class CheckpointDirError(CheckpointError, OSError):
    """The checkpoint directory cannot be created or written."""


class CheckpointWriteError(CheckpointError):
    """A save did not commit (full disk, I/O error); older checkpoints are untouched."""


def leaf_signatures(tree: PyTree) -> dict[str, str]:
    """``{leaf path: "float32[2, 128]"}`` for every leaf of ``tree`` (arrays or ``ShapeDtypeStruct`` s)."""
    return {
        jax.tree_util.keystr(path): f"{np.dtype(leaf.dtype).name}{list(np.shape(leaf))}"
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    }


def leaf_checksums(tree: PyTree) -> dict[str, int]:
    """``{leaf path: CRC-32 of the leaf's bytes}`` of a pytree of host-addressable arrays."""
    out = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        arr = np.ascontiguousarray(np.asarray(jax.device_get(leaf)))
        out[jax.tree_util.keystr(path)] = zlib.crc32(arr.view(np.uint8).reshape(-1)) if arr.size else 0
    return out


def error_summary(e: BaseException) -> str:
    """``"TypeName: first line of the message"`` (at most 160 characters of it), for one-line reports."""
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:160] if text else ''}".rstrip(": ")


_OS_ERROR_CODE = re.compile(r"os_error_code='?(\d+)")


def os_cause(e: BaseException) -> str | None:
    """The operating system's words for what failed (``No space left on device``): from an ``OSError`` in ``e``'s
    chain, or from the ``[os_error_code=28]`` that tensorstore puts at the end of its long messages."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        if code := _OS_ERROR_CODE.search(str(e)):
            return os.strerror(int(code.group(1)))
        e = e.__cause__ or e.__context__
    return None


def _check_retention(keep: int, keep_every: int | None) -> None:
    for name, value, optional in (("keep", keep, False), ("keep_every", keep_every, True)):
        if optional and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer{' or None' if optional else ''}, got {value!r}")


def _probe_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as e:
        raise CheckpointDirError(
            f"checkpoint directory {directory} is not writable ({e.strerror or e})"
        ) from None


def _to_restore_target(target: PyTree, sharding: Any) -> PyTree:
    """ShapeDtypeStructs for orbax with ``sharding`` (one Sharding or a matching pytree).

    ``None`` means this process's first device: orbax restores numpy targets only onto the topology that
    saved them, so a checkpoint written from device arrays on 4 devices needs a sharding to land on 1.
    """
    if sharding is None:
        sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    if isinstance(sharding, jax.sharding.Sharding):
        return jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=sharding), target)
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=s), target, sharding)


_VANISHED_RETRIES = 20


def _retry_vanished(fn: Callable[[], Any]) -> Any:
    """``fn()`` again when it fails because a step directory vanished while orbax listed the directory.

    orbax stats every step directory when it lists them; a live run's retention may remove one in between.
    """
    for attempt in range(_VANISHED_RETRIES):
        try:
            return fn()
        except (FileNotFoundError, NotADirectoryError):  # the latter from newer orbax's own path checks
            if attempt == _VANISHED_RETRIES - 1:
                raise
            time.sleep(0.05)


class Checkpointer:
    """Saves and restores training states in ``directory`` with orbax's ``CheckpointManager``.

    Args:
      directory: where checkpoints live, one ``<step>`` directory each.
      keep: how many of the most recent checkpoints to keep.
      keep_every: also keep every checkpoint whose step is a multiple of this (``None``: none).
      async_save: write in a background thread while training goes on.
      read_only: open without writing anything (no directory creation, no clean-up); for checks and sampling.

    Raises:
      ValueError: ``keep`` or ``keep_every`` is not a positive integer (``keep_every`` may be ``None``).
      CheckpointDirError: (writable mode) the directory cannot be created or written.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        keep: int = 3,
        keep_every: int | None = None,
        async_save: bool = True,
        read_only: bool = False,
    ):
        _check_retention(keep, keep_every)
        self.directory = Path(directory).absolute()
        self.read_only = read_only
        self._manager = None
        if read_only:
            if self.directory.is_dir():
                self._manager = _retry_vanished(
                    lambda: ocp.CheckpointManager(
                        self.directory, options=ocp.CheckpointManagerOptions(create=False, save_root_metadata=False)
                    )
                )
            return
        if jax.process_index() == 0:
            _probe_writable(self.directory)
            # Saves that never committed (the process was killed mid-write). orbax's own clean-up option runs
            # in the background until the first save; doing it here keeps the directory tidy from the start.
            # The training loop opens its directory for writing only under the workdir lock (jaxgan.run.lock), so
            # this never removes a save that another live run is writing.
            for name in ocp.path.step.tmp_checkpoints(self.directory):
                shutil.rmtree(self.directory / name, ignore_errors=True)
        _sync("jaxgan_checkpoint_dir")
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            keep_period=keep_every,
            enable_async_checkpointing=async_save,
            create=True,
            save_root_metadata=False,
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    # ---------------------------------------------------------------------------------------------- listing
    def steps(self) -> list[int]:
        """Committed checkpoint steps, oldest first (unfinalized ``*.orbax-checkpoint-tmp`` never appear)."""
        return sorted(self._manager.all_steps()) if self._manager is not None else []

    def reload(self) -> list[int]:
        """Reads the directory's listing again and returns :meth:`steps` (a live run may have saved or removed
        steps since this reader listed them)."""
        if self._manager is not None:
            _retry_vanished(self._manager.reload)
        return self.steps()

    def latest_step(self) -> int | None:
        steps = self.steps()
        return steps[-1] if steps else None

    # ----------------------------------------------------------------------------------------------- saving
    def save(self, step: int, state: PyTree, config: dict[str, Any], data: dict[str, Any] | None = None) -> None:
        """Starts an asynchronous save of the host ``state`` at ``step``; :meth:`wait` blocks until committed.

        Args:
          step: the training step (the number of completed steps in ``state``).
          state: the host state pytree, e.g. a :class:`jaxgan.state.GANState`.
          config: the run's config dict (JSON values), stored in ``meta`` as it is.
          data: the data position (what the run needs to feed step ``step`` again), default ``{"step": step}``.

        Raises:
          CheckpointWriteError: the previous save failed to commit (surfaced here, as orbax waits for it).
        """
        if self.read_only:
            raise RuntimeError("this Checkpointer was opened read_only")
        meta = {
            "step": int(step),
            "config": config,
            "data": data or {"step": int(step)},
            "leaves": leaf_signatures(state),
            "checksums": leaf_checksums(state),
        }
        try:
            self._manager.save(
                int(step),
                args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
                force=True,
            )
        except Exception as e:  # noqa: BLE001 - orbax re-raises the previous save's failure here
            raise self._write_error(e) from e

    def wait(self) -> None:
        """Blocks until every started save is committed.

        Raises:
          CheckpointWriteError: a save did not commit; the checkpoints listed in the message are intact.
        """
        if self._manager is None or self.read_only:
            return
        try:
            self._manager.wait_until_finished()
        except Exception as e:  # noqa: BLE001
            raise self._write_error(e) from e

    def _write_error(self, e: BaseException) -> CheckpointWriteError:
        try:
            self._manager.reload()
        except Exception:  # noqa: BLE001 - the listing below is then the last one read
            pass
        steps = self.steps()
        intact = f"the committed checkpoints (steps {steps}) are intact" if steps else "none had been committed yet"
        return CheckpointWriteError(
            f"a checkpoint could not be written to {self.directory} ({os_cause(e) or error_summary(e)}); {intact}"
        )

    def reached_preemption(self, chunk: int) -> bool:
        """Whether orbax's preemption sync point is reached at ``chunk`` (JAX's coordination service saw SIGTERM
        on some host); call it with the same consecutive ids on every process. See :mod:`jaxgan.preemption`."""
        return self._manager is not None and self._manager.reached_preemption(chunk)

    # ---------------------------------------------------------------------------------------------- reading
    def read_meta(self, step: int) -> dict[str, Any]:
        """The JSON record of the checkpoint at ``step``."""
        restored = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        meta = restored["meta"]
        if not isinstance(meta, dict) or not {"leaves", "checksums", "step"} <= set(meta):
            raise ValueError("its meta record lacks leaves / checksums / step")
        return meta

    def restore(self, step: int, target: PyTree, *, sharding: Any = None, meta: dict | None = None) -> PyTree:
        """Restores the state at ``step`` onto the structure of ``target`` and verifies its checksums.

        Args:
          step: a committed step.
          target: a pytree of arrays or ``jax.ShapeDtypeStruct`` s, e.g. ``jax.eval_shape(exp.init_state)``.
          sharding: ``None`` for host numpy arrays, else one ``jax.sharding.Sharding`` for every leaf or a
            pytree of them matching ``target`` (device arrays placed so).
          meta: the step's record if already read.

        Raises:
          ValueError: a leaf's bytes do not match the checksum recorded at save time.
        """
        meta = meta if meta is not None else self.read_meta(step)
        abstract = _to_restore_target(target, sharding)
        state = self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))[
            "state"
        ]
        if sharding is None:
            state = jax.device_get(state)
        _verify(state, meta["checksums"])
        return state

    def restore_subset(self, step: int, target: dict[str, PyTree], *, meta: dict | None = None) -> dict[str, Any]:
        """Restores only the top-level fields named in ``target`` (e.g. ``g_params``), as host numpy arrays.

        The other fields (optimizer states, the discriminator) are not read. Checksums of the restored leaves
        are verified.
        """
        meta = meta if meta is not None else self.read_meta(step)
        abstract = _to_restore_target(target, None)
        restore_args = jax.tree.map(lambda x: ocp.ArrayRestoreArgs(sharding=x.sharding), abstract)
        out = self._manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.PyTreeRestore(abstract, restore_args=restore_args, partial_restore=True)
            ),
        )["state"]
        out = jax.device_get({k: out[k] for k in target})
        for name, subtree in out.items():  # saved leaf paths are ".name[...]" (a dataclass) or "['name'][...]"
            sums = meta["checksums"]
            _verify(subtree, {p: sums.get(f".{name}{p}", sums.get(f"['{name}']{p}")) for p in leaf_signatures(subtree)})
        return out

    # ------------------------------------------------------------------------------------------ maintenance
    def set_aside(self, steps: Sequence[int]) -> list[Path]:
        """Moves the checkpoints of ``steps`` (ones that failed to restore) to ``DIR_skipped/<step>``.

        They are kept for inspection but no longer count as checkpoints, so training can write those steps
        again. Returns the new paths.
        """
        moved = []
        if self.read_only:
            raise RuntimeError("this Checkpointer was opened read_only")
        if jax.process_index() == 0:
            dest_root = self.directory.parent / (self.directory.name + SKIPPED_SUFFIX)
            for step in steps:
                src = self.directory / str(step)
                if not src.exists():
                    continue
                dest_root.mkdir(exist_ok=True)
                dest, n = dest_root / str(step), 1
                while dest.exists():
                    dest, n = dest_root / f"{step}.{n}", n + 1
                os.replace(src, dest)
                moved.append(dest)
        _sync("jaxgan_set_aside")
        self._manager.reload()
        return moved

    def close(self) -> None:
        """Waits for pending saves (raising :class:`CheckpointWriteError` if one failed) and closes."""
        if self._manager is None:
            return
        error = None
        try:
            self.wait()
        except CheckpointWriteError as e:
            error = e
        try:
            self._manager.close()
        except Exception as e:  # noqa: BLE001 - orbax re-raises a failed background write here too
            if error is None:
                error = self._write_error(e)
        finally:
            self._manager = None
        if error is not None:
            raise error


def _verify(tree: PyTree, checksums: dict[str, int | None]) -> None:
    for path, crc in leaf_checksums(tree).items():
        if checksums.get(path) is None:
            raise ValueError(f"leaf {path} has no recorded checksum")
        if checksums[path] != crc:
            raise ValueError(f"leaf {path} does not match its checksum (the files are damaged)")


def _sync(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)
