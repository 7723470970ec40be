"""The training loop behind ``jaxgan train``: build, restore, run in scanned chunks, log, sample, evaluate.

Sections, in order: (1) checks that cost nothing (config, workdir), (2) build, (3) restore the latest valid
checkpoint or initialise, (4) the loop of ``steps_per_call``-step chunks with logging, samples and
checkpoints, (5) the final evaluation and ``report.json``. SIGTERM / SIGINT end the current chunk, write a
checkpoint, wait for it to be committed and return normally (exit 0).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan import experiment, parallel, plots
from jaxgan.config import Config, to_dict
from jaxgan.writers import MetricsWriter, Progress, fingerprint, read_metrics, to_python


class WorkdirError(ValueError):
    """The workdir cannot be used (not writable, or holds checkpoints of another config)."""


def check_workdir(workdir: str | Path) -> Path:
    """Creates ``workdir`` if needed and proves it writable; raises WorkdirError otherwise."""
    path = Path(workdir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{uuid.uuid4().hex}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise WorkdirError(f"workdir {path} is not writable: {e.strerror or e}") from e
    return path


class _StopRequest:
    """Turns SIGTERM / SIGINT into a flag the loop checks between chunks."""

    def __init__(self):
        self.signal: int | None = None
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum, frame):
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.signal = signum

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def _log(msg: str, quiet: bool) -> None:
    if not quiet:
        print(f"[jaxgan] {msg}", flush=True)


def _write_samples(exp: experiment.Experiment, state, path: Path, step: int) -> None:
    c = exp.config
    if exp.toy is not None:
        samples = np.asarray(jax.jit(exp.generate, static_argnums=2)(state, jax.random.PRNGKey(7), 1000))
        if exp.toy.dim == 2:
            plots.scatter_2d(samples, exp.toy.means, path, title=f"{c.name} step {step}")
        else:
            real = np.asarray(exp.toy.sample(jax.random.PRNGKey(8), 1000))
            plots.histogram_1d(samples[:, 0], real[:, 0], path, title=f"{c.name} step {step}")
    else:
        from jaxgan import vision

        vision.write_sample_grid(exp, state, path)


def train_and_evaluate(
    config: Config,
    workdir: str | Path,
    *,
    quiet: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains ``config`` in ``workdir`` (resuming if it holds checkpoints) and returns the report.

    Writes ``metrics.jsonl``, ``tensorboard/``, ``samples/step_*.png``, ``losses.png``, ``checkpoints/`` and
    ``report.json``. Returns the report dict; ``report["stopped_early"]`` is set when a signal ended the run.
    """
    from jaxgan import checkpoint

    t0 = time.time()
    # (1) checks that cost nothing
    workdir = check_workdir(workdir)
    exp = experiment.build(config)
    c = exp.config
    runner = parallel.make_runner(exp, c.parallel)
    primary = runner.is_primary
    ckpt = checkpoint.Checkpointer(
        workdir / "checkpoints", keep=c.keep_checkpoints, keep_every=c.keep_every, primary=primary
    )

    # (3) restore or initialise
    state = exp.init_state()
    restored = ckpt.restore_latest(state, to_dict(c), log=lambda m: _log(m, quiet))
    if restored is not None:
        state = restored
        _log(f"resumed from checkpoint at step {int(state.step)} in {ckpt.directory}", quiet)
    start = int(state.step)
    writer = MetricsWriter(workdir, enabled=primary)
    if start:
        writer.truncate_after(start)
    if primary:
        (workdir / "config.json").write_text(json.dumps(to_dict(c), indent=2) + "\n")
        (workdir / "samples").mkdir(exist_ok=True)
    if start >= c.steps:
        _log(f"workdir already holds step {start} >= steps {c.steps}: nothing to train", quiet)

    # (4) the loop
    state = runner.put(state)
    bar = Progress(total=c.steps, initial=start, enabled=progress and primary and not quiet)
    stopped = None
    last_metrics: dict[str, Any] = {}
    step = start
    last_saved = start if restored is not None else None
    with _StopRequest() as stop:
        while step < c.steps:
            k = min(c.steps_per_call, c.steps - step)
            state, metrics = runner.run(state, step, k)
            prev, step = step, step + k
            last_metrics = runner.metrics_to_host(metrics)
            bar.update(step, last_metrics)
            if step // c.log_every > prev // c.log_every or step == c.steps:
                writer.write(step, last_metrics)
            if primary and (step // c.sample_every > prev // c.sample_every):
                _write_samples(exp, runner.get(state), workdir / "samples" / f"step_{step:07d}.png", step)
            stop_now = stop.signal is not None
            if step // c.checkpoint_every > prev // c.checkpoint_every or stop_now or step == c.steps:
                ckpt.save(step, runner.get(state), to_dict(c))
                last_saved = step
            if stop_now:
                stopped = signal.Signals(stop.signal).name
                break
    bar.close()
    ckpt.wait()
    host_state = runner.get(state)

    if stopped is not None:
        _log(f"received {stopped}: checkpoint at step {last_saved} committed; run the same command to resume",
             quiet)
        ckpt.close()
        writer.close()
        return {"stopped_early": stopped, "step": step}

    # (5) evaluation and report
    report: dict[str, Any] = {
        "config": to_dict(c),
        "steps": int(host_state.step),
        "devices": runner.num_devices,
        "hosts": runner.num_hosts,
        "parallel": c.parallel,
        "wall_time_s": round(time.time() - t0, 2),
        "resumed_from": start if restored is not None else None,
        "final_metrics": to_python(last_metrics),
        "fingerprint": fingerprint(host_state.g_params, host_state.d_params),
        "skipped_updates": {"d": int(host_state.d_skipped), "g": int(host_state.g_skipped)},
    }
    if primary:
        if exp.toy is not None:
            stats, samples = experiment.evaluate_toy(exp, host_state, c.eval_samples)
            report["eval"] = stats
            if exp.toy.dim == 2:
                plots.scatter_2d(samples, exp.toy.means, workdir / "samples.png", title=f"{c.name} final")
        else:
            from jaxgan import vision

            report["eval"] = vision.evaluate(exp, host_state, workdir)
        _write_samples(exp, host_state, workdir / "samples" / f"step_{step:07d}.png", step)
        plots.loss_curves(read_metrics(workdir), workdir / "losses.png")
        tmp = workdir / f".report.json.{os.getpid()}"
        tmp.write_text(json.dumps(to_python(report), indent=2) + "\n")
        tmp.replace(workdir / "report.json")
    ckpt.close()
    writer.close()
    return report


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
