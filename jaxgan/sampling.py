"""Samples from a run: load a workdir's latest generator and write samples (the library behind ``jaxgan sample``).

:func:`load_for_sampling` rebuilds the experiment from the config saved in the checkpoint and reads only what
sampling needs: the EMA generator params when the run kept an EMA, else the live generator params, plus the
generator's model state (batch-norm statistics). Optimizer states and the discriminator are not read.
:func:`write_samples` writes ``n`` samples: ``.npy`` (the raw ``[n, ...]`` array) for any data, a scatter over
the true modes (2-D toy data) or a histogram against real data (1-D toy data) for ``.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgan import checkpoint, experiment
from jaxgan.config import from_dict


class SamplingState(NamedTuple):
    """The part of a :class:`jaxgan.state.GANState` that :meth:`jaxgan.experiment.Experiment.generate` reads.

    Attributes:
      step: the checkpoint's step.
      sampling_params: the generator params to sample with (the EMA when the run kept one).
      g_model_state: the generator's non-trained collections (``{}`` if none).
      ema: whether ``sampling_params`` are the EMA params.
    """

    step: int
    sampling_params: Any
    g_model_state: Any
    ema: bool


def load_for_sampling(
    workdir: str | Path, log=lambda msg: None
) -> tuple[experiment.Experiment, SamplingState]:
    """The experiment and generator of the newest valid checkpoint in ``WORKDIR/checkpoints``.

    Args:
      workdir: a directory written by ``jaxgan train``.
      log: receives one line per checkpoint skipped because it cannot be read.

    Raises:
      FileNotFoundError: the workdir holds no checkpoint.
      jaxgan.checkpoint.NoValidCheckpointError: it holds checkpoints but none can be read.
    """
    ckpt = checkpoint.Checkpointer(Path(workdir) / "checkpoints", read_only=True)
    try:
        steps = ckpt.steps()
        if not steps:
            raise FileNotFoundError(f"no checkpoint in {ckpt.directory} (train first: jaxgan train --workdir ...)")
        for step in reversed(steps):
            try:
                meta = ckpt.read_meta(step)
                config = from_dict({**meta["config"], "parallel": "none"})
                exp = experiment.build(config)
                abstract = jax.eval_shape(exp.init_state)
                ema = abstract.ema_params is not None
                params_field = "ema_params" if ema else "g_params"
                target = {params_field: getattr(abstract, params_field), "g_model_state": abstract.g_model_state}
                got = ckpt.restore_subset(step, target, meta=meta)
            except Exception as e:  # noqa: BLE001 - skip what cannot be read, as training does
                log(f"skipping checkpoint at step {step}: {checkpoint.error_summary(e)}")
                continue
            return exp, SamplingState(step, got[params_field], got["g_model_state"], ema)
        raise checkpoint.NoValidCheckpointError(f"none of the checkpoints in {ckpt.directory} can be read")
    finally:
        ckpt.close()


def generate(exp: experiment.Experiment, state, n: int, seed: int = 0) -> np.ndarray:
    """``n`` samples ``[n, ...]`` from ``state`` (a GANState or :class:`SamplingState`), as a numpy array;
    conditional models get ``exp.conditioning.sample(n, seed)`` (classes in turn, or drawn clusters)."""
    labels = None if exp.conditioning is None else exp.conditioning.sample(n, seed)
    return np.asarray(jax.jit(exp.generate, static_argnums=2)(state, jax.random.PRNGKey(seed), n, labels))


def write_samples(
    exp: experiment.Experiment, state, out: str | Path, n: int = 1000, seed: int = 0, title: str = ""
) -> Path:
    """Writes ``n`` samples of ``state`` to ``out``: ``.npy`` for the array, ``.png`` for a picture.

    Raises:
      ValueError: ``out`` ends in neither ``.npy`` nor ``.png``.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise ValueError(f"--out must end in .png or .npy, got {out.name!r}")
    if suffix == ".npy":
        np.save(out, generate(exp, state, n, seed))
        return out
    return exp.task.write_picture(exp, state, out, n, seed, title)


SAMPLE_MODES = ("grid", "interp", "arith")


def images_from_latents(exp: experiment.Experiment, state, z, labels=None) -> np.ndarray:
    """Generator outputs ``[n, ...]`` for explicit latents ``z [n, latent_dim]`` (inference mode)."""
    out, _ = jax.jit(lambda s, z, y: exp.generator.apply(s.sampling_params, s.g_model_state, z, y, train=False))(
        state, z, labels
    )
    return np.asarray(out)


def _latents(exp: experiment.Experiment, key, n: int, truncation: float | None):
    from jaxgan import latent

    if truncation is not None:
        return latent.truncated_normal(key, (n, exp.config.latent_dim), truncation)
    return jax.vmap(exp.latent_fn)(jax.random.split(key, n))


def write_latent_picture(
    exp: experiment.Experiment,
    state,
    out: str | Path,
    mode: str = "grid",
    *,
    rows: int = 8,
    cols: int = 8,
    seed: int = 0,
    truncation: float | None = None,
    method: str = "slerp",
    groups: tuple[list[int], list[int], list[int]] | None = None,
) -> Path:
    """Latent-space pictures of an image run, one PNG.

    Modes:
      ``grid``: ``rows x cols`` samples (row ``r`` is class ``r`` for class-conditional models; clusters drawn
        from their frequencies for cluster-conditional ones); ``truncation`` draws the latents from a normal
        truncated to ``[-t, t]`` (BigGAN's truncation trick).
      ``interp``: ``rows`` strips of ``cols`` images, each interpolating (``method`` ``slerp`` or ``lerp``)
        between two random latents (one class or drawn cluster per strip).
      ``arith``: latent arithmetic (Radford et al. 2016): ``groups = (A, B, C)`` are lists of seeds, each seed
        one latent; the picture's columns are mean(A), mean(B), mean(C) and mean(A) - mean(B) + mean(C) (all four
        with class 0, or with one drawn cluster).
    """
    from jaxgan import latent, plots, vision

    if not exp.task.has_images:
        raise ValueError("latent pictures are for image runs; toy runs write scatters (use --mode grid)")
    if mode not in SAMPLE_MODES:
        raise ValueError(f"unknown sample mode {mode!r}; modes: {', '.join(SAMPLE_MODES)}")
    key = jax.random.PRNGKey(seed)
    if mode == "grid":
        z = _latents(exp, key, rows * cols, truncation)
        imgs = images_from_latents(exp, state, z, vision.grid_labels(exp, rows, cols, seed))
        return plots.image_grid(imgs, rows, cols, out)
    if mode == "interp":
        ends = _latents(exp, key, 2 * rows, truncation)
        z = np.concatenate([np.asarray(latent.interpolate(ends[2 * r], ends[2 * r + 1], cols, method))
                            for r in range(rows)])
        imgs = images_from_latents(exp, state, z, vision.grid_labels(exp, rows, cols, seed, per_row=True))
        return plots.image_grid(imgs, rows, cols, out)
    if not groups or len(groups) != 3 or not all(groups):
        raise ValueError("arith needs three non-empty groups of seeds A:B:C, e.g. --groups 1,2,3:4,5:6,7")
    means = [np.mean(np.stack([np.asarray(_latents(exp, jax.random.PRNGKey(s), 1, truncation))[0] for s in g]), 0)
             for g in groups]
    result = np.asarray(latent.latent_arithmetic(means[0][None], means[1][None], means[2][None]))
    z = np.stack(means + [result])
    labels = None if exp.conditioning is None else exp.conditioning.sample(1, seed).repeat(4)
    return plots.image_grid(images_from_latents(exp, state, z, labels), 1, 4, out)


def parse_groups(text: str) -> tuple[list[int], list[int], list[int]]:
    """``"1,2,3:4,5:6"`` -> ``([1, 2, 3], [4, 5], [6])``; ValueError on anything else."""
    parts = text.split(":")
    try:
        groups = tuple([int(s) for s in p.split(",") if s.strip()] for p in parts)
    except ValueError:
        raise ValueError(f"--groups takes three comma-separated seed lists A:B:C, got {text!r}") from None
    if len(groups) != 3 or not all(groups):
        raise ValueError(f"--groups takes three non-empty seed lists A:B:C, got {text!r}")
    return groups
