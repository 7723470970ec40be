"""Tasks: what a run trains on and how it is looked at, so that the loop, sampling and evaluation never ask.

A task owns a run's data (its batches as a pure function of the seed and the step), its real samples for
evaluation, its sample pictures and its final evaluation. The training loop (:mod:`jaxgan.run.loop`), the
runner (:func:`jaxgan.run.runner.make_runner`), sampling (:mod:`jaxgan.run.sampling`) and evaluation
(:mod:`jaxgan.run.evaluate`) call these methods and do not branch on the kind of data; a new kind (paired images,
unpaired domains, multi-domain data) is a new :class:`Task`.

Two implementations:

* :class:`ToyTask`: a 2-D (or 1-D) toy distribution sampled on the device inside the compiled steps; pictures
  are scatters over the true modes (histograms in 1-D); evaluation is the PacGAN/VEEGAN mode-collapse count.
* :class:`ImageTask`: an image dataset read through a :class:`jaxgan.data.pipeline.Batcher` (host batches
  whose order depends only on the seed and the step), with optional conditioning (class labels or clusters);
  pictures are sample grids; evaluation is the sample statistics and, for digits, the classifier scores.
* :class:`TranslationTask`: image-to-image translation data (:mod:`jaxgan.data.translation`) read the same way
  (CycleGAN's two domains each in its own order, :class:`jaxgan.data.translation.UnpairedBatcher`); pictures
  are rows of held-out inputs beside their translations; evaluation is
  :func:`jaxgan.run.translation_eval.evaluate` on the held-out images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan.run import plots


class Task:
    """The interface (see the module docstring); the methods take the built :class:`jaxgan.run.pieces.Experiment`
    where they need the generator.

    Attributes:
      kind: ``"toy"`` or ``"images"``.
      rows_per_step: real rows one train step consumes (``batch_size * n_critic``), over all processes.
      has_images: whether samples are images (latent pictures, image grids, image features).
    """

    kind: str = ""
    rows_per_step: int = 0
    has_images: bool = False

    def run(self, dp, state, step: int, k: int):
        """``k`` train steps from ``step`` on :class:`jaxgan.parallel.DataParallel` ``dp``: ``(state, metrics)``."""
        raise NotImplementedError

    def data_position(self, step: int) -> dict[str, Any]:
        """What a checkpoint records of the data order at ``step``."""
        return {"step": int(step)}

    def check_data(self, saved: dict[str, Any]) -> None:
        """Raises ValueError when a checkpoint's data position belongs to another data order."""

    def real_samples(self, n: int, seed: int) -> tuple[np.ndarray, str | None]:
        """Real samples to compare generated ones with, and a cache key for their features (or ``None``)."""
        raise NotImplementedError

    def num_real(self, n: int) -> int:
        """How many of ``n`` requested real samples exist."""
        return n

    def default_features(self, inception_weights) -> str:
        """The feature space of ``features="auto"`` (raises ValueError naming what to pass when there is none)."""
        raise NotImplementedError

    def write_picture(self, exp, state, out: Path, n: int, seed: int, title: str) -> Path:
        """A picture of ``n`` samples of ``state`` at ``out`` (PNG)."""
        raise NotImplementedError

    def samples(self, exp, state, n: int, seed: int) -> np.ndarray:
        """``n`` samples ``[n, ...]`` of ``state`` as a numpy array (``jaxgan sample --out FILE.npy``)."""
        from jaxgan.run import sampler

        return sampler.generate(exp, state, n, seed)

    def final_eval(self, exp, state, workdir: Path, write) -> dict[str, Any]:
        """The evaluation in ``report.json["eval"]``; ``write(path, fn)`` writes any picture that goes with it."""
        raise NotImplementedError


class ToyTask(Task):
    """A toy distribution (:class:`jaxgan.data.toy.ToyDistribution`), sampled on the device."""

    kind = "toy"

    def __init__(self, dist, rows_per_step: int):
        self.dist = dist
        self.rows_per_step = rows_per_step

    def sample_batch(self, keys: jax.Array) -> dict[str, jax.Array]:
        """On-device real data: one row per per-sample key."""
        return {"x": jax.vmap(self.dist.sample_one)(keys)}

    def run(self, dp, state, step, k):
        del step  # the on-device data keys come from the state's own step
        return dp.sampled_multi_step(self.sample_batch, self.rows_per_step, k)(state)

    def real_samples(self, n, seed):
        return np.asarray(self.dist.sample(jax.random.PRNGKey(seed + 1), n)), None

    def default_features(self, inception_weights):
        return "identity"

    def write_picture(self, exp, state, out, n, seed, title):
        from jaxgan.run import sampler

        samples = sampler.generate(exp, state, n, seed)
        if self.dist.dim == 2:
            return plots.scatter_2d(samples, self.dist.means, out, title=title)
        real = np.asarray(self.dist.sample(jax.random.PRNGKey(seed + 1), n))
        return plots.histogram_1d(samples[:, 0], real[:, 0], out, title=title)

    def evaluate(self, exp, state, n: int, seed: int = 1234) -> tuple[dict[str, Any], np.ndarray]:
        """The PacGAN/VEEGAN mode-collapse evaluation on ``n`` generated samples (for mixtures), plus samples."""
        from jaxgan.metrics import modes
        from jaxgan.run import sampler

        samples = sampler.sample(exp, state, jax.random.PRNGKey(seed), n)
        t = self.dist
        if t.means is not None and len(t.means) > 1:
            stats = modes.mode_collapse_stats(samples, t.means, t.std)
            stats["total_modes"] = int(len(t.means))
        else:
            real = np.asarray(t.sample(jax.random.PRNGKey(seed + 1), n))
            stats = {
                "mean": samples.mean(0).tolist(),
                "std": samples.std(0).tolist(),
                "real_mean": real.mean(0).tolist(),
                "real_std": real.std(0).tolist(),
            }
        return stats, samples

    def final_eval(self, exp, state, workdir, write):
        c = exp.config
        stats, samples = self.evaluate(exp, state, c.eval_samples)
        if self.dist.dim == 2:
            write(Path(workdir) / "samples.png",
                  lambda tmp: plots.scatter_2d(samples, self.dist.means, tmp, title=f"{c.name} final"))
        return stats


class ImageTask(Task):
    """An image dataset read by a :class:`jaxgan.data.pipeline.Batcher`, optionally conditioned."""

    kind = "images"
    has_images = True

    def __init__(self, dataset, batcher, conditioning, rows_per_step: int):
        self.dataset = dataset
        self.batcher = batcher
        self.conditioning = conditioning
        self.rows_per_step = rows_per_step

    def run(self, dp, state, step, k):
        # Image steps are dispatched one by one (asynchronously, no host sync in between) rather than scanned:
        # on XLA's CPU backend convolutions inside a scan's loop body ran ~10x slower than the same step
        # called on its own (dcgan_mnist: 5.5 s against 0.45 s per step, jax 0.10.2, 2-core CPU).
        metrics = None
        for i in range(k):
            state, metrics = dp.step(state, dp.shard(self.batcher.batch(step + i)))
        return state, metrics

    def data_position(self, step):
        return self.batcher.position(step)

    def check_data(self, saved):
        self.batcher.restore(saved)

    def real_samples(self, n, seed):
        from jaxgan.metrics.classifier_training import dataset_key

        return self.dataset.images, dataset_key(self.dataset)

    def num_real(self, n):
        return min(n, len(self.dataset.images))

    def default_features(self, inception_weights):
        ds = self.dataset
        if ds.images.shape[-1] == 1 and ds.num_classes == 10:
            return "digits"
        if inception_weights is not None:
            return "inception"
        raise ValueError(
            f"no default features for dataset {ds.name!r} ({ds.images.shape[-1]} channels, "
            f"{ds.num_classes} classes): pass features='inception' with inception_weights=PATH "
            "(jaxgan eval --inception-weights PATH), features='digits' for labelled data, or a function"
        )

    def write_picture(self, exp, state, out, n, seed, title):
        """A square grid of about ``n`` samples (one row per class for class-conditional models)."""
        from jaxgan.run import vision

        side = max(1, min(int(np.sqrt(n)), 32))
        return vision.write_sample_grid(exp, state, out, rows=side, cols=side, seed=seed)

    def final_eval(self, exp, state, workdir, write):
        from jaxgan.run import vision

        return vision.evaluate(exp, state, workdir)


class TranslationTask(ImageTask):
    """Image-to-image translation (:mod:`jaxgan.data.translation`): batches of a
    :class:`~jaxgan.data.pipeline.Batcher` (paired images, or StarGAN's images and domains) or an
    :class:`~jaxgan.data.translation.UnpairedBatcher` (CycleGAN), the digit classifier of the source images.

    Attributes:
      data: the :class:`~jaxgan.data.translation.PairedData` or ``DomainData`` (training and held-out images).
      dataset: the source :class:`~jaxgan.data.images.ImageDataset` the domains were made from (its labels and
        its held-out split are the digit classifier's).
    """

    kind = "translation"

    def __init__(self, data, source, batcher, rows_per_step: int):
        super().__init__(source, batcher, None, rows_per_step)
        self.data = data

    def real_samples(self, n, seed):
        raise ValueError(_TRANSLATION_METRICS)

    def default_features(self, inception_weights):
        raise ValueError(_TRANSLATION_METRICS)

    def write_picture(self, exp, state, out, n, seed, title):
        """Held-out inputs beside their translations (:func:`jaxgan.run.translation_eval.write_rows`):
        ``min(n, 32)`` inputs in blocks of 8 rows."""
        from jaxgan.run import translation_eval

        return translation_eval.write_rows(exp, state, out, n=min(n, 32), seed=seed, rows=8)

    def samples(self, exp, state, n, seed):
        """The translations ``[n, ...]`` of ``n`` held-out inputs (:func:`jaxgan.run.translation_eval.outputs`)."""
        from jaxgan.run import translation_eval

        return translation_eval.outputs(exp, state, n, seed)

    def final_eval(self, exp, state, workdir, write):
        from jaxgan.run import translation_eval

        return translation_eval.evaluate(exp, state, Path(workdir))


_TRANSLATION_METRICS = (
    "a translation run is measured on its held-out images by its final evaluation (report.json's eval: L1, PSNR, "
    "digit and domain accuracy, FID in the digit classifier's features), not by jaxgan eval's sample metrics"
)
