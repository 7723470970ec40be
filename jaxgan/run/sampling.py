"""Samples from a run: load a workdir's latest generator and write samples (the library behind ``jaxgan sample``).

:func:`load_for_sampling` rebuilds the experiment from the config saved in the checkpoint and reads only what
sampling needs: the EMA generator params when the run kept an EMA, else the live generator params, plus the
generator's model state (batch-norm statistics). Optimizer states and the discriminator are not read.
:func:`write_samples` writes ``n`` samples: ``.npy`` (the raw ``[n, ...]`` array) for any data, a scatter over
the true modes (2-D toy data) or a histogram against real data (1-D toy data) for ``.png``.

The samplers themselves (:func:`sample`, :func:`images_from_latents`, :func:`generate`, :func:`generate_batched`)
are :mod:`jaxgan.run.sampler`'s, importable from here too.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from jaxgan import checkpoint
from jaxgan.run import experiment
from jaxgan.run.config import from_dict
from jaxgan.run.pieces import Experiment, heldout_split
from jaxgan.run.sampler import generate, generate_batched, images_from_latents, sample  # noqa: F401 - re-exported
from jaxgan.state import SamplingState  # noqa: F401 - re-exported: jaxgan.run.sampling.SamplingState


def load_for_sampling(
    workdir: str | Path, log=lambda msg: None
) -> tuple[Experiment, SamplingState]:
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
                target = exp.sampling_fields(jax.eval_shape(exp.init_state))
                got = ckpt.restore_subset(step, target, meta=meta)
            except Exception as e:  # noqa: BLE001 - skip what cannot be read, as training does
                log(f"skipping checkpoint at step {step}: {checkpoint.error_summary(e)}")
                continue
            return exp, exp.sampling_from_fields(step, got)
        raise checkpoint.NoValidCheckpointError(f"none of the checkpoints in {ckpt.directory} can be read")
    finally:
        ckpt.close()


def write_samples(
    exp: Experiment, state, out: str | Path, n: int = 1000, seed: int = 0, title: str = ""
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
        np.save(out, exp.task.samples(exp, state, n, seed))
        return out
    return exp.task.write_picture(exp, state, out, n, seed, title)


SAMPLE_MODES = ("grid", "interp", "arith", "codes", "reconstruct")


def _latents(exp: Experiment, key, n: int, truncation: float | None):
    from jaxgan import latent

    if truncation is not None:
        return latent.truncated_normal(key, (n, exp.config.latent_dim), truncation)
    return jax.vmap(exp.latent_fn)(jax.random.split(key, n))


def write_latent_picture(
    exp: Experiment,
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
      ``codes`` (InfoGAN): one block of ``K`` rows (row ``r``: categorical code ``r``) per part: first ``cols``
        noise draws with the continuous codes at 0, then for each continuous code a sweep of ``cols`` values
        from -2 to 2 (the paper's figure 2) with the noise fixed per row and the other codes at 0.
      ``reconstruct`` (BiGAN): ``rows`` rows of ``cols // 2`` pairs, a held-out digit (the digit classifier's
        split) and its reconstruction ``G(E(x))``.

    Translation runs (pix2pix, CycleGAN, StarGAN) take ``grid`` only: ``rows`` held-out inputs, one per row,
    beside their translations (:func:`jaxgan.run.translation_eval.write_rows`; ``cols`` is not read).
    """
    from jaxgan import latent
    from jaxgan.run import plots, vision

    if not exp.task.has_images:
        raise ValueError("latent pictures are for image runs; toy runs write scatters (use --mode grid)")
    if mode not in SAMPLE_MODES:
        raise ValueError(f"unknown sample mode {mode!r}; modes: {', '.join(SAMPLE_MODES)}")
    from jaxgan.run.task import TranslationTask

    if isinstance(exp.task, TranslationTask):
        if mode != "grid":
            raise ValueError(f"--mode {mode} draws from a latent space; a translation run ({exp.config.family}) "
                             "draws held-out inputs beside their translations: --mode samples or grid")
        from jaxgan.run import translation_eval

        return translation_eval.write_rows(exp, state, out, n=rows, seed=seed, rows=rows)
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
    if mode == "codes":
        return _write_codes(exp, state, out, cols, key)
    if mode == "reconstruct":
        return _write_reconstructions(exp, state, out, rows, cols, seed)
    if not groups or len(groups) != 3 or not all(groups):
        raise ValueError("arith needs three non-empty groups of seeds A:B:C, e.g. --groups 1,2,3:4,5:6,7")
    means = [np.mean(np.stack([np.asarray(_latents(exp, jax.random.PRNGKey(s), 1, truncation))[0] for s in g]), 0)
             for g in groups]
    result = np.asarray(latent.latent_arithmetic(means[0][None], means[1][None], means[2][None]))
    z = np.stack(means + [result])
    labels = None if exp.conditioning is None else exp.conditioning.sample(1, seed).repeat(4)
    return plots.image_grid(images_from_latents(exp, state, z, labels), 1, 4, out)


def _write_codes(exp: Experiment, state, out, cols: int, key) -> Path:
    from jaxgan.run import plots

    code = exp.code
    if code is None:
        raise ValueError(f"--mode codes draws InfoGAN's codes; this run's family is {exp.config.family!r}")
    k, n_cont = code.categories, code.continuous
    noise_key, fixed_key = jax.random.split(key)
    cat = np.repeat(np.arange(k), cols)
    noise = jax.vmap(code.sample)(jax.random.split(noise_key, k * cols))[:, :code.noise_dim]
    blocks = [code.join(noise, cat, np.zeros((k * cols, n_cont), np.float32))]
    row_noise = jax.vmap(code.sample)(jax.random.split(fixed_key, k))[:, :code.noise_dim]
    for j in range(n_cont):
        cont = np.zeros((k * cols, n_cont), np.float32)
        cont[:, j] = np.tile(np.linspace(-2.0, 2.0, cols, dtype=np.float32), k)
        blocks.append(code.join(np.repeat(np.asarray(row_noise), cols, 0), cat, cont))
    z = np.concatenate([np.asarray(b) for b in blocks])
    return plots.image_grid(images_from_latents(exp, state, z), k * (1 + n_cont), cols, out)


def _write_reconstructions(exp: Experiment, state, out, rows: int, cols: int, seed: int) -> Path:
    from jaxgan.run import family_eval, plots

    if exp.system is None or "e" not in exp.system.nets:
        raise ValueError(f"--mode reconstruct needs an encoder (family 'bigan'); this run's family is "
                         f"{exp.config.family!r}")
    pairs = max(1, cols // 2)
    _, held = heldout_split(exp.dataset)
    pick = np.random.default_rng(seed).choice(held, size=min(rows * pairs, len(held)), replace=False)
    x = exp.dataset.images[np.sort(pick)]
    recon = images_from_latents(exp, state, family_eval.encode(exp, state, x))
    imgs = np.stack([x, recon], 1).reshape((-1,) + x.shape[1:])
    return plots.image_grid(imgs, len(x) // pairs, 2 * pairs, out)


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


