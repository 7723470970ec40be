"""Features of generated and real images for the named metrics of :mod:`jaxgan.metrics.registry`.

Feature extractors (:class:`FeatureExtractor`: ``images [b, h, w, c] -> (features [b, d], logits [b, k] or
None)``):

* :func:`digits_extractor`: the project's digit classifier (:mod:`jaxgan.metrics.classifier`), 128-d
  penultimate features and 10 logits; the default for 1-channel 10-class data, computable offline;
* :func:`inception_extractor`: the FID Inception-v3 (:mod:`jaxgan.metrics.inception`) from a local weights
  file (by default the reference weights of :mod:`jaxgan.metrics.inception_weights`), 2048-d ``pool3`` and,
  when the file has the output layer, 1008 logits; grayscale images are repeated to 3 channels;
* :func:`function_extractor`: any user function ``features(images) -> [n, d]`` (and optionally
  ``logits(images) -> [n, k]`` for IS).

Real images: ``min(N, available)`` of them (all of MNIST's 10k test digits for ``fid10k``; every one of a
smaller set), the same fixed subset whenever there are more (:func:`real_subset`). Their features are computed
once per dataset, extractor and count and cached in ``cache_dir`` as
``<dataset-key>-<extractor>-<n>.features.npy`` (for KID and precision/recall) and ``...stats.npz``
(:meth:`jaxgan.metrics.fid.FeatureStats.save`: ``mu``, ``sigma``, ``count``, reusable as FID reference
statistics) by :class:`RealFeatures`. Generated images come from a ``sample_fn(start, count)``
(:func:`sample_batches`, :func:`array_sampler`) and go through :func:`extract`.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxgan.files import write_file
from jaxgan.metrics import fid as fid_lib

REAL_SUBSET_SEED = 0  # the real subset is fixed so that cached real features stay valid across seeds

Images = np.ndarray
ExtractFn = Callable[[Images], tuple[np.ndarray, np.ndarray | None]]


# ---------------------------------------------------------------------------------------- feature extractors


class FeatureExtractor(NamedTuple):
    """A feature function over image batches.

    Attributes:
      name: names the extractor in cache files; ``""`` disables caching of real features.
      fn: ``images [b, h, w, c] in [-1, 1] -> (features [b, d], logits [b, k] or None)``, NumPy out.
      has_logits: whether ``fn`` returns logits (the Inception Score needs them).
      batch_size: images per call of ``fn``.
    """

    name: str
    fn: ExtractFn
    has_logits: bool
    batch_size: int = 500


def digits_extractor(variables: Any, name: str = "digits", batch_size: int = 500) -> FeatureExtractor:
    """The project's digit classifier (variables from :func:`jaxgan.metrics.classifier_training.get_classifier`): its
    penultimate features and its logits."""
    from jaxgan.metrics import classifier

    return FeatureExtractor(
        name, lambda x: classifier.features_and_logits(variables, x, batch_size), True, batch_size
    )


def inception_extractor(
    weights: str | os.PathLike | None = None, batch_size: int = 50, pipeline: str = "reference"
) -> FeatureExtractor:
    """The FID Inception-v3 from a local weights file: ``pool3`` ``[b, 2048]`` and logits ``[b, 1008]`` (``None``
    for weights without the output layer, such as the reference ``inception-2015-12-05`` FID copy).

    Grayscale images are repeated to 3 channels (as pytorch-fid and torch-fidelity do) and every image goes
    through the input ``pipeline`` of :func:`jaxgan.metrics.inception.preprocess` (the reference FID's by default).

    Args:
      weights: an ``.npz``; ``None`` finds the reference weights
        (:func:`jaxgan.metrics.inception_weights.resolve_weights`: converted on first use, never downloaded).

    Raises:
      FileNotFoundError: no weights (the message says how to install them).
      ValueError: from :func:`jaxgan.metrics.inception.load_inception_params`, or an unknown ``pipeline``.
    """
    from jaxgan.metrics import inception, inception_weights

    if pipeline not in inception.PIPELINES:
        raise ValueError(f"unknown Inception input pipeline {pipeline!r}; use one of {inception.PIPELINES}")
    path = inception_weights.resolve_weights(weights)
    variables = inception.load_inception_params(path)

    def fn(images: Images) -> tuple[np.ndarray, np.ndarray | None]:
        images = np.asarray(images, np.float32)
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        elif images.shape[-1] != 3:
            raise ValueError(f"Inception features take 1- or 3-channel images, got shape {images.shape}")
        return inception.inception_features(variables, images, batch_size=batch_size, pipeline=pipeline)

    name = f"inception-{re.sub(r'[^A-Za-z0-9_.-]+', '_', path.stem)}-{path.stat().st_size}"
    if pipeline != "reference":
        name += f"-{pipeline}"
    return FeatureExtractor(name, fn, inception.has_logits(variables), batch_size)


def function_extractor(
    features_fn: Callable[[Images], Any],
    logits_fn: Callable[[Images], Any] | None = None,
    *,
    name: str = "",
    batch_size: int = 500,
) -> FeatureExtractor:
    """Any ``features_fn(images [b, h, w, c]) -> [b, d]`` (and ``logits_fn -> [b, k]`` for IS).

    Args:
      name: a stable name to cache real features under (``""``: no caching, as a function has no identity
        across processes).
    """

    def fn(images: Images) -> tuple[np.ndarray, np.ndarray | None]:
        f = np.asarray(features_fn(images), np.float32)
        if f.ndim != 2 or f.shape[0] != len(images):
            raise ValueError(f"features_fn must return [{len(images)}, d], got shape {f.shape}")
        lg = None if logits_fn is None else np.asarray(logits_fn(images), np.float32)
        return f, lg

    return FeatureExtractor(name, fn, logits_fn is not None, batch_size)


# ------------------------------------------------------------------------------------------------ features


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit="img", disable=not enabled, file=sys.stderr, dynamic_ncols=True, leave=False
    )


def extract(
    extractor: FeatureExtractor,
    batches: Iterable[Images],
    total: int,
    *,
    progress: bool = False,
    desc: str = "features",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Features ``[total, d]`` (and logits ``[total, k]`` or ``None``) of a stream of image batches."""
    feats, logits = [], []
    with _progress(total, desc, progress) as bar:
        for batch in batches:
            f, lg = extractor.fn(np.asarray(batch))
            feats.append(np.asarray(f, np.float32))
            if lg is not None:
                logits.append(np.asarray(lg, np.float32))
            bar.update(len(batch))
    features = np.concatenate(feats) if feats else np.zeros([0, 0], np.float32)
    if features.shape[0] != total:
        raise ValueError(f"expected {total} feature rows, got {features.shape[0]}")
    return features, (np.concatenate(logits) if logits else None)


def sample_batches(sample_fn: Callable[[int, int], Images], n: int, batch_size: int) -> Iterable[Images]:
    """Yields ``sample_fn(start, count)`` for ``start = 0, b, 2b, ...`` until ``n`` images."""
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        images = np.asarray(sample_fn(start, count))
        if images.shape[0] != count:
            raise ValueError(f"sample_fn({start}, {count}) returned {images.shape[0]} images")
        yield images


def array_sampler(images: Images) -> Callable[[int, int], Images]:
    """A ``sample_fn`` over a fixed array of images ``[n, ...]`` (for already generated samples)."""
    return lambda start, count: images[start : start + count]


def real_subset(num_available: int, n: int) -> np.ndarray:
    """The rows of the real set a metric of ``n`` samples uses: all when ``n >= num_available``, else the first
    ``n`` of a fixed permutation (sorted)."""
    if n >= num_available:
        return np.arange(num_available)
    return np.sort(np.random.default_rng(REAL_SUBSET_SEED).permutation(num_available)[:n])


class RealFeatures:
    """Real features and FID statistics for one ``(dataset, extractor, count)``, cached in ``cache_dir``."""

    def __init__(
        self,
        extractor: FeatureExtractor,
        real_images: Images,
        n: int,
        *,
        cache_dir: str | os.PathLike | None,
        dataset_key: str | None,
        progress: bool,
    ):
        self.extractor = extractor
        self.rows = real_subset(len(real_images), n)
        self.real_images = real_images
        self.progress = progress
        self._features: np.ndarray | None = None
        self._stats: fid_lib.FeatureStats | None = None
        self.features_path = self.stats_path = None
        if cache_dir is not None and dataset_key and extractor.name:
            stem = Path(cache_dir) / f"{dataset_key}-{extractor.name}-{len(self.rows)}"
            self.features_path = stem.with_name(stem.name + ".features.npy")
            self.stats_path = stem.with_name(stem.name + ".stats.npz")

    @property
    def count(self) -> int:
        return len(self.rows)

    def features(self) -> np.ndarray:
        """``[count, d]`` real features (read from the cache, else computed and cached with their statistics)."""
        if self._features is None:
            if self.features_path is not None and self.features_path.is_file():
                try:
                    f = np.load(self.features_path, allow_pickle=False)
                    if f.ndim == 2 and f.shape[0] == self.count:
                        self._features = f
                except (OSError, ValueError):
                    pass  # damaged: recompute and overwrite
            if self._features is None:
                b = self.extractor.batch_size
                batches = (self.real_images[self.rows[s : s + b]] for s in range(0, self.count, b))
                self._features, _ = extract(
                    self.extractor,
                    batches,
                    self.count,
                    progress=self.progress,
                    desc=f"real features ({self.extractor.name or 'user'})",
                )
                self._write()
        return self._features

    def stats(self) -> fid_lib.FeatureStats:
        """The :class:`FeatureStats` of the real features (from the cached ``.stats.npz`` when present)."""
        if self._stats is None:
            if self._features is None and self.stats_path is not None and self.stats_path.is_file():
                try:
                    stats = fid_lib.FeatureStats.load(self.stats_path)
                    if stats.count == self.count:
                        self._stats = stats
                except (OSError, ValueError):
                    pass
            if self._stats is None:
                self._stats = fid_lib.FeatureStats.from_features(self.features())
        return self._stats

    def _save_features(self, path: Path) -> None:
        with open(path, "wb") as f:  # a file object: np.save would append ".npy" to a name without it
            np.save(f, self._features)

    def _write(self) -> None:
        """Writes the features and their statistics, each atomically (:func:`jaxgan.files.write_file`)."""
        if self.features_path is None:
            return
        self.features_path.parent.mkdir(parents=True, exist_ok=True)
        stats = fid_lib.FeatureStats.from_features(self._features)
        write_file(self.features_path, self._save_features)
        write_file(self.stats_path, stats.save)
        self._stats = stats


__all__ = [
    "FeatureExtractor",
    "RealFeatures",
    "array_sampler",
    "digits_extractor",
    "extract",
    "function_extractor",
    "inception_extractor",
    "real_subset",
    "sample_batches",
]
