"""What the loop does at the end of each phase of a growing run (model ``progan``, :mod:`jaxgan.progressive`).

At each phase end the loop (:mod:`jaxgan.run.loop`) stops its chunk there, writes a checkpoint, a sample grid at
the phase's resolution (``samples/phase_RxR.png``) and, for digit data, the phase's FID in the digit classifier's
features (:func:`phase_metrics`), logged to ``metrics.jsonl`` as ``phase/fid10k`` beside ``phase/resolution``.
``report.json["eval"]["phases"]`` lists them (:func:`phases_report`), read back from ``metrics.jsonl`` so that a
resumed run's report holds the phases it ran before it was stopped.

The comparison is at the phase's resolution, as the issue and the paper's Section 5 compare: generated images
``[n, r, r, c]`` and real images box-filtered to ``r`` (:func:`jaxgan.models.progan.downsample_to`) are both
brought back to the data's resolution by nearest-neighbour upscaling (what the network's own fade does) and then
go through the same classifier. At the last phase's end this is the FID of the final generator on the data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

PHASE_METRIC = "fid10k"


def _to_full(images: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour upscaling ``[n, r, r, c] -> [n, size, size, c]``."""
    f = size // images.shape[1]
    return images if f == 1 else np.repeat(np.repeat(images, f, axis=1), f, axis=2)


def real_at(images: np.ndarray, resolution: int) -> np.ndarray:
    """Real images ``[n, R, R, c]`` as the phase at ``resolution`` sees them, back at ``R``: box-filtered to
    ``resolution`` (the mean of each ``R/resolution``-square, :func:`jaxgan.models.progan.downsample_to`) and
    upscaled by repetition."""
    n, size, _, c = images.shape
    f = size // resolution
    pooled = images.reshape(n, resolution, f, resolution, f, c).mean(axis=(2, 4), dtype=np.float32)
    return _to_full(pooled, size)


def phase_metrics(exp, state, workdir: str | Path, step: int, *, seed: int = 0) -> dict[str, float]:
    """``{"phase/resolution": r, "phase/fid10k": FID}`` of ``state`` after ``step`` steps, a phase's end (see the
    module docstring); ``{"phase/resolution": r}`` alone for data without the digit classifier."""
    from jaxgan.metrics import registry
    from jaxgan.run import evaluate, sampler

    phase = exp.schedule.phase(max(step - 1, 0))
    r = phase.resolution
    out: dict[str, float] = {"phase/resolution": float(r)}
    if exp.task.default_features(None) != "digits":
        return out
    extractor = evaluate.make_extractor("digits", exp, workdir, log=None)
    real, key = exp.task.real_samples(10_000, seed)
    size = real.shape[1]
    key = f"{key}-box{r}" if r != size else key
    batch = extractor.batch_size
    base = jax.random.PRNGKey(seed)

    def sample_fn(start: int, count: int) -> np.ndarray:
        imgs = sampler.sample(exp, state, jax.random.fold_in(base, start), batch)[:count]
        return _to_full(imgs, size)

    values = registry.compute_metrics(
        [PHASE_METRIC], extractor=extractor, sample_fn=sample_fn, real_images=real_at(real, r),
        cache_dir=Path(workdir) / evaluate.EVAL_CACHE, dataset_key=key, seed=seed,
    )
    out[f"phase/{PHASE_METRIC}"] = float(values[PHASE_METRIC])
    return out


def phase_end(exp, state, workdir: Path, step: int, writer, records: list[dict[str, Any]] | None = None) -> None:
    """The loop's work at a phase's end: the grid ``samples/phase_RxR.png`` and :func:`phase_metrics` written by
    ``writer`` (a :class:`jaxgan.run.writers.MetricsWriter`); with ``records`` (``metrics.jsonl``), only when they
    do not hold them yet (a run resumed from a checkpoint at a phase's end whose run stopped before them)."""
    from jaxgan.files import write_file
    from jaxgan.run import sampling

    if records is not None and any(r["step"] == step and f"phase/{PHASE_METRIC}" in r for r in records):
        return
    r = exp.schedule.phase(step - 1).resolution
    write_file(Path(workdir) / "samples" / f"phase_{r}x{r}.png", lambda tmp: sampling.write_samples(
        exp, state, tmp, n=1000, seed=7, title=f"{exp.config.name} step {step}"))
    writer.write(step, phase_metrics(exp, state, workdir, step))


def phases_report(exp, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per phase of ``exp.schedule``: resolution, steps, and the ``phase/`` metrics logged at its end
    (from ``metrics.jsonl`` records; a phase the run has not finished has none)."""
    name = f"phase/{PHASE_METRIC}"
    logged = {int(rec["step"]): rec[name] for rec in records if name in rec}
    out = []
    for p in exp.schedule.phases:
        entry: dict[str, Any] = {"resolution": p.resolution, "start": p.start, "fade_steps": p.fade, "end": p.end}
        if p.end in logged:
            entry[PHASE_METRIC] = logged[p.end]
        out.append(entry)
    return out
