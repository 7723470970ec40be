"""Image runs: from a config to an image dataset and a model family, sample grids, and image evaluation.

:mod:`jaxgan.run.experiment` calls :func:`load_data` and :func:`build_modules` for any ``config.data`` that is not a
toy distribution; :mod:`jaxgan.run.loop` calls :func:`write_sample_grid` and :func:`evaluate`.

Model families (``config.model``) and what ``config.model_kwargs["generator"]`` / ``["discriminator"]`` pass on:

* ``dcgan``: :class:`jaxgan.models.dcgan.DCGANGenerator` / ``DCGANDiscriminator`` (Radford et al. 2016), with
  ``conditional=True`` the concat or projection variants;
* ``sngan``: the ResNet SNGAN pair (Miyato et al. 2018), 32x32;
* ``began``: the BEGAN generator and autoencoder discriminator (Berthelot et al. 2017), used with ``loss="began"``;
* ``biggan``: :class:`jaxgan.models.biggan.BigGANGenerator` / ``BigGANDiscriminator`` (Brock et al. 2019), 32x32,
  class-conditional through the shared embedding and the projection head (unconditional without labels). The
  ablation switches are generator kwargs (``shared_embedding``, ``hierarchical``, ``attention_resolution``;
  ``ch``, ``shared_dim``) and discriminator kwargs (``attention_resolution``, ``ch``); hierarchical latents need
  ``latent_dim`` divisible by 4. Orthogonal regularization is ``config.g_ortho``.
* ``progan``: :class:`jaxgan.models.progan.ProGANGenerator` / ``ProGANDiscriminator`` (Karras et al. 2018),
  unconditional, square power-of-two images, grown in the phases of ``config.growing``
  (:mod:`jaxgan.progressive`); kwargs ``fmap_base``, ``fmap_max`` (widths), ``mbstd_group_size`` (D).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan.data import images
from jaxgan.run import plots
from jaxgan.run.config import Config

MODEL_FAMILIES = ("dcgan", "sngan", "began", "biggan", "progan")


def load_data(c: Config) -> images.ImageDataset:
    """Loads ``config.data`` (resized to ``config.image_size`` when set); checks it holds one step's rows."""
    dataset = images.load_dataset(c.data, size=c.image_size)
    if dataset.images.shape[0] < c.batch_size * c.n_critic:
        raise ValueError(
            f"dataset {c.data!r} has {dataset.images.shape[0]} images, fewer than one step's "
            f"{c.batch_size * c.n_critic} (batch_size x n_critic)"
        )
    return dataset


def build_modules(c: Config, dataset: images.ImageDataset, num_classes: int | None = None):
    """The generator and discriminator Linen modules of ``config.model`` for ``dataset``'s image shape,
    conditioned on ``num_classes`` labels (class labels or clusters, :mod:`jaxgan.conditioning`) unless ``None``."""
    from jaxgan.parallel import bn_axis_name

    _, h, w, ch = dataset.images.shape
    if h != w:
        raise ValueError(f"image models take square images; dataset {c.data!r} has {h}x{w}")
    g_kw = dict(c.model_kwargs.get("generator", {}))
    d_kw = dict(c.model_kwargs.get("discriminator", {}))
    axis = bn_axis_name(c)
    if c.model == "dcgan":
        from jaxgan.models import dcgan

        if h not in (28, 32, 64):
            raise ValueError(f"dcgan takes 28, 32 or 64 pixel images; set image_size (data is {h}x{w})")
        g = dcgan.DCGANGenerator(resolution=h, channels=ch, num_classes=num_classes, bn_axis_name=axis, **g_kw)
        d = dcgan.DCGANDiscriminator(resolution=h, num_classes=num_classes, bn_axis_name=axis, **d_kw)
    elif c.model == "sngan":
        from jaxgan.models import sngan

        if h != 32:
            raise ValueError(f"sngan takes 32x32 images; set image_size=32 (data is {h}x{w})")
        g = sngan.SNGANGenerator(channels=ch, num_classes=num_classes, bn_axis_name=axis, **g_kw)
        d = sngan.SNGANDiscriminator(num_classes=num_classes, **d_kw)
    elif c.model == "began":
        from jaxgan.models import began

        if c.loss != "began":
            raise ValueError(f"model began goes with loss began, got loss {c.loss!r}")
        if h not in (28, 32, 64):
            raise ValueError(f"began takes 28, 32 or 64 pixel images; set image_size (data is {h}x{w})")
        g = began.BEGANGenerator(resolution=h, channels=ch, **g_kw)
        d = began.BEGANDiscriminator(resolution=h, **d_kw)
    elif c.model == "biggan":
        from jaxgan.models import biggan

        if h != 32:
            raise ValueError(f"biggan takes 32x32 images; set image_size=32 (data is {h}x{w})")
        if g_kw.get("hierarchical", True) and c.latent_dim % 4:
            raise ValueError(f"config field latent_dim: biggan's hierarchical latents split z into 4 chunks; "
                             f"latent_dim must divide by 4, got {c.latent_dim}")
        g = biggan.BigGANGenerator(channels=ch, num_classes=num_classes, bn_axis_name=axis, **g_kw)
        d = biggan.BigGANDiscriminator(num_classes=num_classes, **d_kw)
    elif c.model == "progan":
        from jaxgan.models import progan

        if h < 8 or 2 ** int(np.log2(h)) != h:
            raise ValueError(f"progan takes square images whose side is a power of two >= 8; set image_size=32 "
                             f"(data is {h}x{w})")
        if num_classes is not None:
            raise ValueError("model progan is unconditional: set conditional=false and clusters=null")
        resolutions = c.growing.get("resolutions", [h])
        if resolutions[-1] != h:
            raise ValueError(f"config field growing: the last resolution must be the images' {h}, got "
                             f"{resolutions[-1]} (set image_size or the resolutions)")
        g = progan.ProGANGenerator(resolution=h, max_resolution=h, channels=ch, **g_kw)
        d = progan.ProGANDiscriminator(resolution=h, max_resolution=h, **d_kw)
    else:
        raise ValueError(
            f"model {c.model!r} does not take image data; image models: {', '.join(MODEL_FAMILIES)}"
        )
    return g, d


def grid_labels(exp, rows: int, cols: int, seed: int = 0, per_row: bool = False) -> np.ndarray | None:
    """Labels for a sample grid (:meth:`jaxgan.conditioning.Conditioning.grid`: one row per class, or clusters
    drawn from their frequencies, one per row with ``per_row``); ``None`` for unconditional models."""
    return None if exp.conditioning is None else exp.conditioning.grid(rows, cols, seed, per_row)


def generate_images(exp, state, key: jax.Array, n: int, labels: jax.Array | None = None) -> np.ndarray:
    """``n`` images ``[n, h, w, c]`` in [-1, 1] from the sampling params (the EMA when present)."""
    if labels is None and exp.conditioning is not None:
        labels = exp.conditioning.sample(n)
    from jaxgan.run import sampler

    return sampler.sample(exp, state, key, n, labels)


def write_sample_grid(exp, state, path: str | Path, rows: int = 10, cols: int = 10, seed: int = 7) -> Path:
    """Writes a ``rows x cols`` grid PNG (:func:`grid_labels`: one row per class for class-conditional models)."""
    labels = grid_labels(exp, rows, cols, seed)
    imgs = generate_images(exp, state, jax.random.PRNGKey(seed), rows * cols, labels)
    return plots.image_grid(imgs, rows, cols, path)


def evaluate(exp, state, workdir: str | Path) -> dict[str, Any]:
    """The image evaluation that goes into ``report.json["eval"]``.

    For digit datasets (10 classes, one channel), the project's digit classifier scores generated samples
    (:func:`score_generator`); other datasets get the sample statistics only.
    """
    c = exp.config
    ds = exp.dataset
    imgs = generate_images(exp, state, jax.random.PRNGKey(1234), min(c.eval_samples, 1000))
    out: dict[str, Any] = {
        "samples_mean": float(imgs.mean()),
        "samples_std": float(imgs.std()),
        "real_mean": float(ds.images.mean()),
        "real_std": float(ds.images.std()),
    }
    if ds.num_classes == 10 and ds.images.shape[-1] == 1:
        out.update(score_generator(exp, state, Path(workdir), n=c.eval_samples))
    if exp.system is not None:
        from jaxgan.run import family_eval

        out.update(family_eval.evaluate(exp, state, workdir))
    return out


def score_generator(exp, state, workdir: str | os.PathLike, n: int, *, seed: int = 1234) -> dict[str, Any]:
    """Scores ``n`` samples of a run's generator with the run's digit classifier (trained on demand into
    ``WORKDIR/classifier``).

    Class-conditional generators get an equal number of samples per class (``n`` rounded up to a multiple of
    the class count) and ``conditional_accuracy``; cluster-conditional ones (``config.clusters``) draw each
    sample's cluster from the clusters' frequencies and are scored as unconditional generators. The
    classifier's own held-out real-image figures come along as ``classifier_real_accuracy`` and
    ``classifier_real_confident``, to read the generated figures against.

    Returns:
      The :func:`score_images` dict plus ``classifier_real_accuracy`` and ``classifier_real_confident``.
    """
    ds = exp.dataset
    from jaxgan.metrics import digits
    from jaxgan.run import sampler
    from jaxgan.run.pieces import run_classifier

    variables, report = run_classifier(ds, workdir)
    cond = exp.conditioning
    labels, requested = None, None
    if cond is not None and cond.kind == "class":
        labels = requested = digits.balanced_labels(n, cond.num_classes)
    elif cond is not None:
        labels = cond.sample(n, seed)
    images = sampler.generate_batched(exp, state, n if labels is None else len(labels), seed=seed, labels=labels)
    out = digits.score_images(variables, images, requested)
    out["classifier_real_accuracy"] = report["accuracy"]
    out["classifier_real_confident"] = report["confident"]
    return out
