"""The training loop behind ``jaxgan train``: check, restore, run in scanned chunks, log, sample, evaluate.

Sections, in order:

1. :func:`prepare`, the checks that write nothing: build the experiment and its runner; take the workdir lock
   (:mod:`jaxgan.run.lock`; process 0 of a multi-host run), which refuses a workdir another run is using; read the
   checkpoints (newest valid one first, see :mod:`jaxgan.checkpoint`) and refuse a workdir whose checkpoints
   have another state structure; then prove the workdir and the checkpoint directory writable. Every problem
   found here is a :class:`SetupError` with a one-line message, raised before anything compiles or is written
   (the lock file, if taken, is removed again). Choosing the checkpoint and comparing configs is
   :mod:`jaxgan.run.resume`.
2. The first writes: set aside checkpoints that failed to restore, ``config.json``, ``metrics.jsonl`` cut back
   to the restored step.
3. The loop of ``steps_per_call``-step chunks with logging, samples and checkpoints (asynchronous saves).
4. The final evaluation and ``report.json`` (strict JSON: a non-finite number is ``null``, listed under
   ``"non_finite"``).

Every file is written through :func:`jaxgan.files.write_file`: a write that fails (full disk, read-only file
system) raises :class:`jaxgan.files.WriteError` naming the file, the cause and the committed checkpoints,
which stay intact. The lock is released however the run ends.

Signals. SIGTERM and SIGINT are caught from the start (the CLI catches them from its first line and hands them
over): the current chunk ends, a checkpoint of it is written and committed, and the function returns normally
(``report["stopped_early"]``), so ``jaxgan train`` exits 0. A signal before the first chunk stops without
writing a checkpoint (there is nothing new to save). A second Ctrl-C stops at once; the checkpoint being written
then is never committed and the previous ones stay valid. In multi-process runs every process stops after the
same chunk (:mod:`jaxgan.preemption`).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgan import checkpoint, preemption
from jaxgan.files import WriteError, write_file
from jaxgan.run import experiment, lock, plots, resume, sampling
from jaxgan.run.config import Config, to_dict
from jaxgan.run.runner import Runner, make_runner
from jaxgan.run.writers import (
    MetricsWriter,
    Progress,
    read_metrics,
    strict_json,
    to_python,
)


class SetupError(ValueError):
    """A problem found before training starts; the message is one line for the user."""


class WorkdirError(SetupError):
    """The workdir or its checkpoint directory cannot be used."""


class WorkdirBusyError(SetupError):
    """Another ``jaxgan train`` holds the workdir's lock."""


def check_workdir(workdir: str | Path) -> Path:
    """Creates ``workdir`` if needed and proves it writable; raises WorkdirError otherwise."""
    path = Path(workdir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{uuid.uuid4().hex}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise WorkdirError(f"workdir {path} is not writable ({e.strerror or e})") from None
    return path


class Prepared(NamedTuple):
    """What :func:`prepare` found: the pieces of the run and where it resumes."""

    exp: experiment.Experiment
    runner: Runner
    workdir: Path
    checkpointer: checkpoint.Checkpointer
    restored: resume.Restored | None
    config_changes: list[str]
    lock: lock.WorkdirLock | None  # held by process 0; release it when the run ends


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[jaxgan] {msg}", flush=True)


def _warn(msg: str) -> None:
    print(f"[jaxgan] warning: {msg}", file=sys.stderr, flush=True)


def prepare(config: Config, workdir: str | Path, *, warn=_warn) -> Prepared:
    """Section 1: every check, in an order that writes nothing until the checkpoints are known to fit.

    The workdir lock is taken once the config has built; the caller releases ``Prepared.lock`` when the run
    ends (here it is released on any error).

    Raises:
      SetupError: a bad config value, a workdir another run holds (:class:`WorkdirBusyError`), checkpoints of
        another config (naming the first differing field), a directory whose checkpoints all fail, or an
        unwritable workdir / checkpoint directory.
    """
    workdir = Path(workdir)
    try:
        exp = experiment.build(config)
        runner = make_runner(exp, exp.config.parallel)
    except (ValueError, FileNotFoundError) as e:
        raise SetupError(str(e)) from None
    created = not workdir.exists()
    held = lock_workdir(workdir, warn=warn)
    try:
        return _prepare_locked(exp, runner, workdir, held, warn)
    except BaseException:
        if held is not None:
            held.release()
        if created:
            try:
                workdir.rmdir()  # only when empty: the lock was all this run wrote
            except OSError:
                pass
        raise


def lock_workdir(workdir: Path, *, warn=_warn) -> lock.WorkdirLock | None:
    """Takes ``workdir``'s lock on process 0 and returns it (``None`` on other processes).

    Raises:
      WorkdirBusyError: another run holds it (every process raises).
      WorkdirError: the workdir is a file or cannot be created.
    """
    held, error = None, None
    if jax.process_index() == 0:
        try:
            if workdir.exists() and not workdir.is_dir():
                error = WorkdirError(f"workdir {workdir} is a file, not a directory")
            else:
                held = lock.acquire(workdir, warn=warn)
        except lock.WorkdirLockedError as e:
            error = WorkdirBusyError(str(e))
        except OSError as e:
            error = WorkdirError(f"workdir {workdir} is not writable ({e.strerror or e})")
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        if not multihost_utils.broadcast_one_to_all(np.int32(error is None)) and error is None:
            error = WorkdirBusyError(f"workdir {workdir} cannot be locked by process 0 (see its message)")
    if error is not None:
        if held is not None:
            held.release()
        raise error
    return held


def _prepare_locked(exp, runner, workdir: Path, held, warn) -> Prepared:
    c = exp.config
    current = to_dict(c)
    ckpt_dir = workdir / "checkpoints"

    # Read-only first: a workdir of another config must be left exactly as it is.
    reader = checkpoint.Checkpointer(ckpt_dir, read_only=True)
    try:
        abstract = jax.eval_shape(exp.init_state)
        restored = resume.restore_latest(
            reader,
            abstract,
            current,
            log=warn,
            check_data=exp.task.check_data,
            explain=lambda saved, leaf: resume.field_behind(exp.config, abstract, saved, leaf),
        )
    except checkpoint.CheckpointError as e:
        raise SetupError(str(e)) from None
    finally:
        reader.close()

    check_workdir(workdir)
    try:
        ckpt = checkpoint.Checkpointer(ckpt_dir, keep=c.keep_checkpoints, keep_every=c.keep_every)
    except checkpoint.CheckpointDirError as e:
        raise WorkdirError(str(e)) from None
    changes = [] if restored is None else resume.config_changes(restored.meta.get("config", {}), current)
    return Prepared(exp, runner, workdir, ckpt, restored, changes, held)


def train_and_evaluate(
    config: Config,
    workdir: str | Path,
    *,
    quiet: bool = False,
    progress: bool = True,
    pending_signals: list[int] | None = None,
) -> dict[str, Any]:
    """Trains ``config`` in ``workdir`` (resuming from its newest valid checkpoint) and returns the report.

    Writes ``config.json``, ``metrics.jsonl``, ``tensorboard/``, ``samples/step_*.png``, ``losses.png``,
    ``checkpoints/`` and ``report.json``. Returns the report dict; when a signal ended the run early it is
    ``{"stopped_early": "SIGTERM", "step": ..., "checkpoint": ...}`` instead.

    Args:
      config: the run's config.
      workdir: the output directory.
      quiet: no progress bar or messages (warnings still go to stderr).
      progress: show the progress bar.
      pending_signals: signals caught before this call (see :class:`jaxgan.preemption.StopRequest`).

    Raises:
      SetupError: before anything is written or compiled (see :func:`prepare`).
      jaxgan.checkpoint.CheckpointWriteError: a checkpoint could not be committed (e.g. a full disk).
    """
    t0 = time.time()
    with preemption.StopRequest(pending_signals) as stop:
        run = prepare(config, workdir)  # (1) checks that write nothing
        try:
            return _train(run, stop, t0, quiet=quiet, progress=progress)
        finally:
            if run.lock is not None:
                run.lock.release()


def _train(run: Prepared, stop: preemption.StopRequest, t0: float, *, quiet: bool, progress: bool) -> dict[str, Any]:
    """Sections (2) to (4) of :func:`train_and_evaluate`, in a workdir whose lock ``run`` holds.

    A :class:`WriteError` is raised again once the checkpoints being written are committed, naming them."""
    exp, runner, workdir, ckpt, restored = run.exp, run.runner, run.workdir, run.checkpointer, run.restored
    c = exp.config
    current = to_dict(c)
    primary = runner.is_primary
    writer = None
    try:
        # (2) the first writes
        if restored is not None and restored.skipped:
            moved = ckpt.set_aside([s for s, _ in restored.skipped])
            if moved:
                _warn(f"moved the checkpoints that failed to {moved[0].parent}: {', '.join(p.name for p in moved)}")
        if restored is not None:
            state, start = restored.state, restored.step
            _log(f"resumed from checkpoint at step {start} in {ckpt.directory}", quiet)
            if run.config_changes:
                _warn("resuming with changed config fields (the run will differ from an uninterrupted one): "
                      + "; ".join(run.config_changes))
        else:
            state, start = jax.device_get(jax.jit(exp.init_state)()), 0
        writer = MetricsWriter(workdir, enabled=primary, start_step=start)
        if primary:
            write_file(workdir / "config.json", json.dumps(current, indent=2) + "\n")
            _mkdir(workdir / "samples")
        if start >= c.steps:
            _log(f"workdir already holds step {start} >= steps {c.steps}: nothing to train", quiet)

        # metrics the config asks for (fid10k, ...), computed at each checkpoint and at the end
        eval_hook = None
        if c.metrics and primary:
            from jaxgan.run import evaluate

            eval_hook = evaluate.make_eval_hook(c.metrics, progress=False)

        # (3) the loop
        state = runner.put(state)
        bar = Progress(total=c.steps, initial=start, enabled=progress and primary and not quiet)
        t_loop, t_eval = time.time(), 0.0  # the loop's time, and what its evaluations took of it
        stopped = stop.name if (stop.signal is not None and runner.num_hosts == 1) else None
        last_metrics: dict[str, Any] = {}
        step, chunk = start, 0
        last_saved = start if restored is not None else None
        growing = exp.schedule
        if primary and growing is not None and 0 < step < c.steps and growing.is_phase_end(step):
            from jaxgan.run.growing import phase_end  # a run stopped at a phase's end before its evaluation

            phase_end(exp, runner.get(state), workdir, step, writer, read_metrics(workdir))
        while step < c.steps and stopped is None:
            k = min(c.steps_per_call, c.steps - step)
            if growing is not None:  # a chunk ends at a phase's end
                k = min(k, growing.next_boundary(step) - step)
            state, metrics = runner.run(state, step, k)
            prev, step, chunk = step, step + k, chunk + 1
            last_metrics = runner.metrics_to_host(metrics)
            bar.update(step, last_metrics)
            if step // c.log_every > prev // c.log_every or step == c.steps:
                writer.write(step, last_metrics)
            if primary and (step // c.sample_every > prev // c.sample_every):
                _write_samples(exp, runner.get(state), workdir / "samples" / f"step_{step:07d}.png", step)
            stop_now = preemption.should_stop(ckpt, chunk, stop.signal is not None)
            phase_end = growing is not None and growing.is_phase_end(step)
            if step // c.checkpoint_every > prev // c.checkpoint_every or stop_now or step == c.steps or phase_end:
                ckpt.save(step, runner.get(state), current, data=exp.task.data_position(step))
                last_saved = step
                if eval_hook is not None and not stop_now and step < c.steps:
                    t = time.time()
                    values = eval_hook(exp, runner.get(state), workdir)
                    t_eval += time.time() - t
                    writer.write(step, {f"eval/{k}": v for k, v in values.items()})
            if phase_end and primary and not stop_now:
                from jaxgan.run.growing import phase_end

                t = time.time()
                phase_end(exp, runner.get(state), workdir, step, writer)
                t_eval += time.time() - t
            if stop_now:
                stopped = stop.name or "SIGTERM"  # a preemption notice seen by another process
        bar.close()
        train_time = time.time() - t_loop - t_eval
        ckpt.wait()
        host_state = runner.get(state)

        if stopped is not None:
            where = f"checkpoint at step {last_saved} committed" if last_saved is not None else "no checkpoint yet"
            _log(f"received {stopped}: {where}; run the same command to resume", quiet)
            ckpt.close()
            writer.close()
            return {"stopped_early": stopped, "step": step, "checkpoint": last_saved}

        # (4) evaluation and report
        report: dict[str, Any] = {
            "config": current,
            "steps": int(host_state.step),
            "devices": runner.num_devices,
            "hosts": runner.num_hosts,
            "parallel": c.parallel,
            "wall_time_s": round(time.time() - t0, 2),
            # the loop's steps (compilation, samples, checkpoints included; evaluations during it not) this call
            "train_time_s": round(train_time, 2),
            "resumed_from": start if restored is not None else None,
            "skipped_checkpoints": [
                {"step": s, "reason": r} for s, r in (restored.skipped if restored is not None else ())
            ],
            "checkpoint": last_saved,
            "final_metrics": to_python(last_metrics),
            "fingerprint": exp.fingerprint(host_state),
            "skipped_updates": exp.skipped_updates(host_state),
        }
        if primary:
            report["eval"] = exp.task.final_eval(exp, host_state, workdir, write_file)
            if exp.schedule is not None:
                from jaxgan.run import growing

                report["eval"]["phases"] = growing.phases_report(exp, read_metrics(workdir))
            if eval_hook is not None:
                report["eval"].update(eval_hook(exp, host_state, workdir))
            _write_samples(exp, host_state, workdir / "samples" / f"step_{step:07d}.png", step)
            write_file(workdir / "losses.png", lambda tmp: plots.loss_curves(read_metrics(workdir), tmp))
            write_file(workdir / "report.json", strict_json(report, indent=2) + "\n")
        ckpt.close()
        writer.close()
        return report
    except WriteError as e:
        committed = _close_quietly(ckpt, writer)
        raise WriteError(f"{e}; {_intact(committed)}") from None
    except checkpoint.CheckpointWriteError:
        _close_quietly(ckpt, writer)
        raise


def _write_samples(exp: experiment.Experiment, state, path: Path, step: int) -> None:
    write_file(path, lambda tmp: sampling.write_samples(exp, state, tmp, n=1000, seed=7,
                                                        title=f"{exp.config.name} step {step}"))


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(exist_ok=True)
    except OSError as e:
        raise WriteError(f"cannot create {path} ({e.strerror or e})") from None


def _close_quietly(ckpt: checkpoint.Checkpointer, writer: MetricsWriter | None) -> list[int]:
    """Lets the pending checkpoint saves finish, closes, and returns the committed steps."""
    try:
        ckpt.wait()
    except checkpoint.CheckpointError:
        pass  # the failure that is being reported comes first
    committed = ckpt.steps()
    try:
        ckpt.close()
    except checkpoint.CheckpointError:
        pass
    if writer is not None:
        writer.close()
    return committed


def _intact(steps: list[int]) -> str:
    return f"the checkpoints of steps {steps} are intact" if steps else "no checkpoint had been written yet"


def summary(report: dict[str, Any]) -> str:
    """A short human summary of a report."""
    ev = report.get("eval", {})
    lines = [f"trained {report['steps']} steps in {report['wall_time_s']:.1f} s on "
             f"{report['devices']} device(s), {report['hosts']} host(s)"]
    if "modes" in ev:
        lines.append(
            f"modes captured: {ev['modes']}/{ev.get('total_modes', '?')}, high-quality samples: "
            f"{100 * ev['high_quality']:.1f}%, reverse KL: {ev['reverse_kl']:.4f}"
        )
    elif "mean" in ev:
        lines.append(f"generated mean {np.round(ev['mean'], 3).tolist()} std {np.round(ev['std'], 3).tolist()}"
                     f" (real mean {np.round(ev['real_mean'], 3).tolist()} std "
                     f"{np.round(ev['real_std'], 3).tolist()})")
    else:
        for k, v in ev.items():
            if isinstance(v, (int, float)):
                lines.append(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    lines.append(f"fingerprint: {report['fingerprint'][:16]}…")
    return "\n".join(lines)
