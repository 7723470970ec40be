"""Resuming a run: which checkpoint to restore, whether it fits the current config, and what changed.

Resume order (:func:`restore_latest`), newest step first:

1. read the step's ``meta``; unreadable: skip the step (say which and why) and try the next older one;
2. compare its leaf shapes and dtypes with the abstract target (``jax.eval_shape(exp.init_state)``); any
   difference raises :class:`ConfigMismatchError` naming the first differing config field and the leaf, and
   nothing on disk is changed; so does a data order other than the saved one (``check_data``);
3. restore the state onto the target's structure (:meth:`jaxgan.checkpoint.Checkpointer.restore`) and check
   the CRC-32s; a failure skips the step as in 1.

The steps skipped, with their reasons, are in :attr:`Restored.skipped`; the training loop then moves them out
of the way (:meth:`jaxgan.checkpoint.Checkpointer.set_aside`, to ``DIR_skipped/<step>``) so they can be
inspected and those steps written again. A directory whose checkpoints all fail is an error
(:class:`jaxgan.checkpoint.NoValidCheckpointError`), never a silent restart from scratch.

What may change on resume is declared on the config's fields (``resume=`` in :mod:`jaxgan.run.config`):
run-control fields (:data:`RUN_CONTROL_FIELDS`: the number of steps, intervals, retention, the parallel mode,
metrics, the name) change freely; structure fields (:data:`STRUCTURE_FIELDS`) decide the state's shapes, so
a checkpoint of another value does not restore; any other field may change, and :func:`config_changes` lists
it for a warning, since the resumed run then differs from an uninterrupted one.

A reader beside a live run (``jaxgan eval`` / ``sample`` on a workdir that ``jaxgan train`` writes) may see a
step vanish while it reads it, removed by the run's retention: that is not a damaged checkpoint, so the listing
is read again and the newest step tried anew.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import jax

from jaxgan import checkpoint
from jaxgan.checkpoint import Checkpointer, NoValidCheckpointError, error_summary, leaf_signatures
from jaxgan.run import experiment
from jaxgan.run.config import RUN_CONTROL, STRUCTURE, Config, resume_fields, to_dict

PyTree = Any

# Config fields that only steer the run, not what the state is or how it evolves: they may change on resume.
RUN_CONTROL_FIELDS = frozenset(resume_fields(RUN_CONTROL))
# Config fields that decide the state's structure and shapes, in the order a mismatch message names them.
STRUCTURE_FIELDS = resume_fields(STRUCTURE)

_VANISHED = object()  # _restore_newest's marker: the step being read was removed meanwhile
_REREADS = 20  # how often restore_latest reads a listing that keeps changing before it gives up


class ConfigMismatchError(checkpoint.CheckpointError, ValueError):
    """The checkpoints in a directory were written by a config with another state structure or shapes."""


@dataclasses.dataclass(frozen=True)
class Restored:
    """What :func:`restore_latest` found.

    Attributes:
      step: the restored checkpoint's step.
      state: the restored pytree (host numpy arrays unless shardings were given).
      meta: the checkpoint's JSON record (``config``, ``data``, ``leaves``, ``checksums``, ``step``).
      skipped: ``(step, reason)`` of every newer checkpoint that failed, newest first.
    """

    step: int
    state: PyTree
    meta: dict[str, Any]
    skipped: tuple[tuple[int, str], ...] = ()


def restore_latest(
    ckpt: Checkpointer,
    target: PyTree,
    config: dict[str, Any],
    *,
    sharding: Any = None,
    log: Callable[[str], None] = print,
    check_data: Callable[[dict[str, Any]], None] | None = None,
    explain: Callable[[dict[str, Any], str], str | None] | None = None,
) -> Restored | None:
    """Restores the newest valid checkpoint of ``ckpt`` onto ``target``; ``None`` when it holds none.

    Args:
      ckpt: the checkpoints to choose from (opened read-only to leave a mismatching directory untouched).
      target: abstract (or concrete) state, e.g. ``jax.eval_shape(exp.init_state)``.
      config: the current config dict, to name the field when shapes differ.
      sharding: as in :meth:`jaxgan.checkpoint.Checkpointer.restore`.
      log: receives one line per skipped checkpoint.
      check_data: called with the saved data position; raises ValueError when the current data order
        differs (turned into :class:`ConfigMismatchError`).
      explain: ``explain(saved_config, leaf)`` names the config field behind the first mismatching
        ``leaf`` (e.g. :func:`field_behind`); without it, or when it returns ``None``, the first differing
        field of :data:`STRUCTURE_FIELDS` is named.

    Raises:
      ConfigMismatchError: the newest readable checkpoint has other leaves, shapes or dtypes.
      jaxgan.checkpoint.NoValidCheckpointError: there are checkpoints but every one failed.
    """
    expected = leaf_signatures(target)
    for attempt in range(_REREADS):  # a step that vanished while read was being removed by a live run: list again
        restored = _restore_newest(ckpt, target, config, expected, sharding, log, check_data, explain)
        if restored is None and attempt < _REREADS - 1 and _being_written(ckpt):
            time.sleep(0.05)  # a live run removed its old step before committing the new one: wait for it
        elif restored is not _VANISHED:
            return restored
        ckpt.reload()
    raise NoValidCheckpointError(
        f"the checkpoints in {ckpt.directory} were removed while being read, {_REREADS} times: the run "
        "writing there keeps too few of them (keep_checkpoints) for a reader to keep up"
    )


def _restore_newest(ckpt: Checkpointer, target, config, expected, sharding, log, check_data, explain):
    skipped: list[tuple[int, str]] = []
    steps = ckpt.steps()
    for step in reversed(steps):
        try:
            meta = ckpt.read_meta(step)
        except Exception as e:  # noqa: BLE001 - any unreadable record means: skip this checkpoint
            if _listing_changed(ckpt, steps):
                return _VANISHED
            skipped.append((step, f"its meta record cannot be read ({error_summary(e)})"))
            log(f"skipping checkpoint at step {step}: {skipped[-1][1]}")
            continue
        if meta["leaves"] != expected:
            raise ConfigMismatchError(_mismatch_message(ckpt, step, meta, expected, config, explain))
        if check_data is not None:
            try:
                check_data(meta.get("data", {}))
            except ValueError as e:
                raise ConfigMismatchError(
                    f"the checkpoint of step {step} in {ckpt.directory} was trained on another data order "
                    f"({e}); nothing was changed: use another --workdir or the config that wrote it"
                ) from None
        try:
            state = ckpt.restore(step, target, sharding=sharding, meta=meta)
        except Exception as e:  # noqa: BLE001
            if _listing_changed(ckpt, steps):
                return _VANISHED
            skipped.append((step, f"it cannot be restored ({error_summary(e)})"))
            log(f"skipping checkpoint at step {step}: {skipped[-1][1]}")
            continue
        return Restored(step=step, state=state, meta=meta, skipped=tuple(skipped))
    if steps:
        raise NoValidCheckpointError(
            f"none of the {len(steps)} checkpoints in {ckpt.directory} can be restored (steps {steps}); "
            "move them away to start from scratch or point --workdir elsewhere"
        )
    return None


def _being_written(ckpt: Checkpointer) -> bool:
    """Whether a read-only ``ckpt`` that lists no committed step has entries in its directory: a live run may be
    between removing its old step and committing the new one (newer orbax releases leave that gap)."""
    return ckpt.read_only and ckpt.directory.is_dir() and any(ckpt.directory.iterdir())


def _listing_changed(ckpt: Checkpointer, steps: list[int]) -> bool:
    """Whether a read-only ``ckpt`` no longer lists ``steps`` (a live run writing there saved or removed one)."""
    return ckpt.read_only and ckpt.reload() != steps


def _mismatch_message(ckpt: Checkpointer, step: int, meta: dict, expected: dict[str, str], config: dict,
                      explain) -> str:
    saved = meta["leaves"]
    leaf = next((k for k in expected if saved.get(k) != expected[k]), None)
    leaf = leaf or sorted(set(saved) - set(expected))[0]
    saved_config = meta.get("config", {})
    field = explain(saved_config, leaf) if explain is not None else None
    field = field or _first_structure_field(saved_config, config)
    what = (
        f"config field {field!r} is {json.dumps(saved_config.get(field))} there and "
        f"{json.dumps(config.get(field))} now"
        if field
        else "the config fields agree but the model code differs"
    )
    return (
        f"workdir checkpoints do not match this config: {what} (state leaf {leaf} is "
        f"{saved.get(leaf, 'absent')} in the checkpoint of step {step}, {expected.get(leaf, 'absent')} now); "
        f"nothing was changed in {ckpt.directory.parent}: use another --workdir or the config that wrote it"
    )


def config_difference(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Names of the config fields (besides run-control ones) whose values differ, in field order."""
    keys = list(current) + [k for k in saved if k not in current]
    return [k for k in keys if k not in RUN_CONTROL_FIELDS and saved.get(k) != current.get(k)]


def _first_structure_field(saved: dict[str, Any], current: dict[str, Any]) -> str | None:
    differ = config_difference(saved, current)
    return next((k for k in STRUCTURE_FIELDS if k in differ), differ[0] if differ else None)


def config_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``"field old -> new"`` for each field (besides run-control ones) that differs between a checkpoint's saved
    config and the current one. A field the saved config lacks (added to :class:`Config` after it was written)
    counts as its default, which by this project's rule keeps the earlier behaviour."""
    defaults = to_dict(Config())
    saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}
    changes = [
        f"{k} {json.dumps(saved.get(k))} -> {json.dumps(current.get(k))}"
        for k in config_difference(saved, current)
    ]
    if saved.get("steps") != current["steps"] and current.get("lr_schedule", "constant") != "constant":
        changes.append(f"steps {saved.get('steps')} -> {current['steps']} (the {current['lr_schedule']} "
                       "learning-rate schedule decays over the steps)")
    return changes


def field_behind(config: Config, abstract: PyTree, saved: dict[str, Any], leaf: str) -> str | None:
    """The first config field whose saved value, put back alone, gives ``leaf`` its saved signature.

    Args:
      config: the current config.
      abstract: its abstract state, ``jax.eval_shape(experiment.build(config).init_state)``.
      saved: the checkpoint's config dict.
      leaf: a state leaf path whose signature differs between the checkpoint and ``abstract``.
    """
    now = leaf_signatures(abstract).get(leaf)
    names = {f.name for f in dataclasses.fields(Config)}
    for name in config_difference(saved, to_dict(config)):
        if name not in names or name not in saved:
            continue
        try:
            trial = experiment.build(dataclasses.replace(config, **{name: saved[name]}))
            got = leaf_signatures(jax.eval_shape(trial.init_state)).get(leaf)
        except Exception:  # noqa: BLE001 - a value this code no longer accepts cannot be the answer
            continue
        if got != now:
            return name
    return None
