"""Checkpoints: the one module that imports orbax.

A checkpoint at step ``t`` holds the whole :class:`jaxgan.state.GANState` (both param sets, both optimizer
states, model state, EMA, loss state, step, base key, skipped-update counters) and a JSON record with the config,
the data position and the shape of every state leaf. Saves are asynchronous and atomic (orbax writes into a
temporary directory and renames it when finalized; an unfinalized one is never listed). Restoring goes against
an abstract target from ``jax.eval_shape``, so it works whatever device count or parallel mode saved it.

Resume order (:meth:`Checkpointer.restore_latest`): newest step first; a checkpoint that fails to restore
(truncated, corrupted) is skipped with a message saying which and why, and the next older one is tried. A
checkpoint whose state shapes do not match the current config raises :class:`ConfigMismatchError` naming the
first mismatching leaf and config field, and nothing in the directory is changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

# Config fields that only steer the run, not what the state is: they may change on resume.
RUN_CONTROL_FIELDS = frozenset({
    "steps", "parallel", "steps_per_call", "log_every", "sample_every", "checkpoint_every",
    "keep_checkpoints", "keep_every", "eval_samples", "metrics", "name",
})


class ConfigMismatchError(ValueError):
    """The checkpoints in a workdir were written by a config with other shapes or structure."""


def _shapes(tree: Any) -> dict[str, list[int]]:
    return {
        jax.tree_util.keystr(path): list(np.shape(leaf))
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    }


def _first_config_difference(saved: dict[str, Any], current: dict[str, Any]) -> str | None:
    for key in current:
        if key in RUN_CONTROL_FIELDS:
            continue
        if saved.get(key) != current.get(key):
            return f"config field {key!r} is {saved.get(key)!r} in the checkpoint and {current.get(key)!r} now"
    return None


class Checkpointer:
    """Saves and restores training states in ``directory`` with orbax's ``CheckpointManager``.

    Args:
      directory: where checkpoints live (``WORKDIR/checkpoints``).
      keep: how many of the most recent checkpoints to keep.
      keep_every: also keep every checkpoint whose step is a multiple of this (``None``: none extra).
      primary: whether this process is the one that writes (multi-host runs write from all processes
        through orbax, which coordinates them; ``primary`` only steers messages).
      async_save: write in a background thread while training goes on.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        keep: int = 3,
        keep_every: int | None = None,
        primary: bool = True,
        async_save: bool = True,
    ):
        self.directory = Path(directory).absolute()
        self.primary = primary
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            keep_period=keep_every,
            enable_async_checkpointing=async_save,
            create=True,
        )
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        """Finalized checkpoint steps, oldest first."""
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, config: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
        """Starts an asynchronous save of ``state`` at ``step``; call :meth:`wait` to block until committed."""
        meta = {"config": config, "shapes": _shapes(state), "step": int(step), **(extra or {})}
        self._manager.save(
            int(step),
            args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
            force=True,
        )

    def wait(self) -> None:
        """Blocks until every started save is committed."""
        self._manager.wait_until_finished()

    def read_meta(self, step: int) -> dict[str, Any]:
        restored = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return restored["meta"]

    def restore(self, step: int, target: Any) -> Any:
        """Restores the state at ``step`` onto the structure, shapes and shardings of ``target``."""
        abstract = jax.eval_shape(lambda: target) if not _is_abstract(target) else target
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
        )
        return restored["state"]

    def restore_latest(
        self, target: Any, config: dict[str, Any], log: Callable[[str], None] = print
    ) -> Any | None:
        """Restores the newest valid checkpoint onto ``target``; ``None`` when there is none.

        Raises:
          ConfigMismatchError: the newest readable checkpoint was written for other shapes.
        """
        expected = _shapes(target)
        for step in reversed(self.steps()):
            try:
                meta = self.read_meta(step)
            except Exception as e:  # noqa: BLE001 - any unreadable record means: skip this checkpoint
                log(f"skipping checkpoint at step {step}: its record cannot be read ({_reason(e)})")
                continue
            if meta.get("shapes") != expected:
                saved = meta.get("shapes", {})
                leaf = next((k for k in expected if saved.get(k) != expected[k]), None)
                leaf = leaf or next(iter(set(saved) - set(expected)), "?")
                hint = _first_config_difference(meta.get("config", {}), config)
                raise ConfigMismatchError(
                    f"the checkpoints in {self.directory} do not match this config: state leaf {leaf} has "
                    f"shape {saved.get(leaf)} in the checkpoint of step {step} and {expected.get(leaf)} now"
                    + (f"; {hint}" if hint else "")
                    + ". Nothing was changed: use another --workdir or the config that wrote them."
                )
            try:
                return self.restore(step, target)
            except Exception as e:  # noqa: BLE001
                log(f"skipping checkpoint at step {step}: it cannot be restored ({_reason(e)})")
        return None

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()


def _is_abstract(tree: Any) -> bool:
    leaves = jax.tree.leaves(tree)
    return bool(leaves) and all(isinstance(x, jax.ShapeDtypeStruct) for x in leaves)


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200] if text else ''}"


def config_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
