"""Metrics named with their sample count (``fid10k``, ``kid10k``, ``pr10k``, ``is10k``), computed on any features.

The naming follows StyleGAN2-ADA's ``metrics/metric_main.py`` (``fid50k_full``, ``kid50k_full``, ``pr50k3_full``,
``is50k``): a metric family and the number of generated samples, in thousands with a ``k`` suffix or as a plain
count (for quick checks):

============ =========================================================================================
``fid<N>k``  Fréchet distance (:mod:`jaxgan.metrics.fid`) between ``N``\\ k generated and the real images.
``kid<N>k``  KID (:mod:`jaxgan.metrics.kid`): mean and std over 100 subsets of ``min(1000, n_fake, n_real)``
             rows; keys ``kid<N>k`` and ``kid<N>k_std``.
``pr<N>k``   improved precision/recall and density/coverage (:mod:`jaxgan.metrics.prdc`) with k = 5
             (Naeem et al.'s choice); ``pr<N>k3`` sets k = 3 (Kynkäänniemi et al., StyleGAN2-ADA's
             ``pr50k3``); keys ``pr<N>k_precision``, ``_recall``, ``_density``, ``_coverage``.
``is<N>k``   Inception Score (:mod:`jaxgan.metrics.inception_score`) over 10 splits of the generated
             samples' class probabilities; keys ``is<N>k`` and ``is<N>k_std``.
============ =========================================================================================

Real images: ``min(N, available)`` of them (all of MNIST's 10k test digits for ``fid10k``; every one of a
smaller set), the same fixed subset whenever there are more. Their features are computed once per dataset,
extractor and count and cached in ``cache_dir`` as ``<dataset-key>-<extractor>-<n>.features.npy`` (for KID and
precision/recall) and ``...stats.npz`` (:meth:`jaxgan.metrics.fid.FeatureStats.save`: ``mu``, ``sigma``,
``count``, reusable as FID reference statistics). Generated features are computed once per sample count and
shared by every metric of that count.

Feature extractors (:class:`FeatureExtractor`: ``images [b, h, w, c] -> (features [b, d], logits [b, k] or
None)``):

* :func:`digits_extractor`: the project's digit classifier (:mod:`jaxgan.metrics.digits`), 128-d penultimate
  features and 10 logits; the default for 1-channel 10-class data, computable offline;
* :func:`inception_extractor`: the FID Inception-v3 (:mod:`jaxgan.metrics.inception`) from a local weights
  file (by default the reference weights of :mod:`jaxgan.metrics.inception_weights`), 2048-d ``pool3`` and,
  when the file has the output layer, 1008 logits; grayscale images are repeated to 3 channels;
* :func:`function_extractor`: any user function ``features(images) -> [n, d]`` (and optionally
  ``logits(images) -> [n, k]`` for IS).

:func:`compute_metrics` is the entry point; :func:`jaxgan.evaluate.evaluate_workdir` runs it on a trained workdir.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxgan.metrics import fid as fid_lib
from jaxgan.metrics import inception_score as is_lib
from jaxgan.metrics import kid as kid_lib
from jaxgan.metrics import prdc as prdc_lib

METRIC_FAMILIES = ("fid", "kid", "pr", "is")
NEEDS_REAL = frozenset({"fid", "kid", "pr"})
DEFAULT_PR_K = 5
KID_SUBSETS = 100
KID_MAX_SUBSET_SIZE = 1000
IS_SPLITS = 10
REAL_SUBSET_SEED = 0  # the real subset is fixed so that cached real features stay valid across seeds

_NAME = re.compile(r"^(?P<family>[a-z]+)(?P<count>\d+)(?:(?P<k>k)(?P<nearest>\d*))?$")
VALID_NAMES_HELP = (
    "valid metrics: fid<N>k, kid<N>k, pr<N>k (pr<N>k<K> for K nearest neighbours, default 5), is<N>k, with N "
    "thousand generated samples (e.g. fid10k, kid10k, pr10k3, is1k), or a plain sample count (fid500)"
)

Images = np.ndarray
ExtractFn = Callable[[Images], tuple[np.ndarray, np.ndarray | None]]


class MetricSpec(NamedTuple):
    """A parsed metric name.

    Attributes:
      name: the name as written (``"pr10k3"``), the prefix of its result keys.
      family: ``"fid"``, ``"kid"``, ``"pr"`` or ``"is"``.
      num_samples: generated samples (``10_000`` for ``10k``).
      nearest_k: the k of precision/recall's k-NN radii (``None`` for other families).
    """

    name: str
    family: str
    num_samples: int
    nearest_k: int | None = None


def parse_metric(name: str) -> MetricSpec:
    """Parses ``fid10k``, ``kid1k``, ``pr10k``, ``pr50k3``, ``is10k``, ``fid500``, ... (see the module docstring).

    Raises:
      ValueError: an unknown family, a malformed name or a zero count; the message lists the valid names.
    """
    m = _NAME.match(name.strip()) if isinstance(name, str) else None
    if m is None or m["family"] not in METRIC_FAMILIES:
        raise ValueError(f"unknown metric {name!r}; {VALID_NAMES_HELP}")
    family, nearest = m["family"], m["nearest"]
    count = int(m["count"]) * (1000 if m["k"] else 1)
    if count < 2:
        raise ValueError(f"metric {name!r} needs at least 2 samples; {VALID_NAMES_HELP}")
    if nearest and family != "pr":
        raise ValueError(
            f"unknown metric {name!r}: only pr<N>k takes a neighbour count after the k; {VALID_NAMES_HELP}"
        )
    nearest_k = (int(nearest) if nearest else DEFAULT_PR_K) if family == "pr" else None
    if nearest_k is not None and nearest_k < 1:
        raise ValueError(f"metric {name!r}: the neighbour count must be at least 1; {VALID_NAMES_HELP}")
    return MetricSpec(name.strip(), family, count, nearest_k)


def parse_metrics(names: str | Sequence[str]) -> list[MetricSpec]:
    """Parses a list of names or one comma-separated string (``"fid10k,pr10k"``); duplicates are dropped."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    specs, seen = [], set()
    for n in names:
        spec = parse_metric(n)
        if spec.name not in seen:
            seen.add(spec.name)
            specs.append(spec)
    if not specs:
        raise ValueError(f"no metrics given; {VALID_NAMES_HELP}")
    return specs


def result_keys(spec: MetricSpec) -> list[str]:
    """The keys a metric writes: ``fid10k``; ``kid10k``, ``kid10k_std``; ``pr10k_precision``, ...; ``is10k``,
    ``is10k_std``."""
    if spec.family == "pr":
        return [f"{spec.name}_{k}" for k in ("precision", "recall", "density", "coverage")]
    if spec.family in ("kid", "is"):
        return [spec.name, f"{spec.name}_std"]
    return [spec.name]


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
    """The project's digit classifier (variables from :func:`jaxgan.metrics.digits.get_classifier`): its
    penultimate features and its logits."""
    from jaxgan.metrics import digits

    return FeatureExtractor(name, lambda x: digits.features_and_logits(variables, x, batch_size), True, batch_size)


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

    def _write(self) -> None:
        """Writes the features and their statistics, each atomically (temp file + rename)."""
        if self.features_path is None:
            return
        self.features_path.parent.mkdir(parents=True, exist_ok=True)
        stats = fid_lib.FeatureStats.from_features(self._features)
        tmp = self.features_path.with_name(f".{self.features_path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:  # a file object: np.save would append ".npy" to the temp name
            np.save(f, self._features)
        os.replace(tmp, self.features_path)
        tmp = self.stats_path.with_name(f".{self.stats_path.name}.{os.getpid()}.tmp")
        stats.save(tmp)
        os.replace(tmp, self.stats_path)
        self._stats = stats


# ------------------------------------------------------------------------------------------------ metrics


def metric_values(
    spec: MetricSpec,
    fake_features: np.ndarray,
    fake_logits: np.ndarray | None,
    real: RealFeatures | None,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """One metric's values from generated features/logits and the real features (see :func:`result_keys`)."""
    if spec.family == "fid":
        return {spec.name: fid_lib.fid_from_stats(fid_lib.FeatureStats.from_features(fake_features), real.stats())}
    if spec.family == "kid":
        r = real.features()
        size = min(KID_MAX_SUBSET_SIZE, len(fake_features), len(r))
        res = kid_lib.kernel_inception_distance(fake_features, r, num_subsets=KID_SUBSETS, subset_size=size, seed=seed)
        return {spec.name: res.mean, f"{spec.name}_std": res.std}
    if spec.family == "pr":
        nearest_k = min(spec.nearest_k, len(fake_features) - 1, real.count - 1)
        vals = prdc_lib.prdc(real.features(), fake_features, nearest_k=nearest_k)
        return {f"{spec.name}_{k}": v for k, v in vals.items()}
    if spec.family == "is":
        if fake_logits is None:
            raise ValueError(f"{spec.name} needs class logits, and these features have none")
        res = is_lib.inception_score_from_logits(fake_logits, splits=min(IS_SPLITS, len(fake_logits)))
        return {spec.name: res.mean, f"{spec.name}_std": res.std}
    raise ValueError(f"unknown metric family {spec.family!r}")


def compute_metrics(
    metrics: str | Sequence[str],
    *,
    extractor: FeatureExtractor,
    sample_fn: Callable[[int, int], Images],
    real_images: Images | None,
    cache_dir: str | os.PathLike | None = None,
    dataset_key: str | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, float]:
    """Computes named metrics on ``extractor``'s features of generated and real images.

    Args:
      metrics: names (``["fid10k", "pr10k"]``) or one comma-separated string.
      extractor: the features (:func:`digits_extractor`, :func:`inception_extractor`, :func:`function_extractor`).
      sample_fn: ``sample_fn(start, count) -> images [count, h, w, c]``: generated images ``start`` to
        ``start + count - 1`` (called with ``count = extractor.batch_size`` but for the last batch); the same
        ``(start, count)`` must give the same images, as metrics of one sample count share them.
      real_images: ``[n_real, h, w, c]`` in [-1, 1]; may be ``None`` when only ``is`` metrics are asked for.
      cache_dir: where real features are cached (``None``: no caching); needs ``dataset_key`` too.
      dataset_key: names the real data in cache files (:func:`jaxgan.metrics.digits.dataset_key`).
      seed: KID's subset draws.
      progress: tqdm bars over the feature batches.

    Returns:
      ``{key: float}`` for every metric's :func:`result_keys`.

    Raises:
      ValueError: an unknown metric name, ``is`` without logits, real metrics without real images.
    """
    specs = parse_metrics(metrics)
    if any(s.family == "is" for s in specs) and not extractor.has_logits:
        names = ", ".join(s.name for s in specs if s.family == "is")
        raise ValueError(
            f"{names} needs class logits; the {extractor.name or 'user'} features give none (pass a logits "
            "function, or use the digits features, or Inception weights with the 1008-way output layer: the "
            "reference FID copy inception-2015-12-05 has none)"
        )
    if any(s.family in NEEDS_REAL for s in specs) and (real_images is None or len(real_images) < 2):
        raise ValueError("fid / kid / pr need at least 2 real images")
    out: dict[str, float] = {}
    reals: dict[int, RealFeatures] = {}
    for n in sorted({s.num_samples for s in specs}):
        group = [s for s in specs if s.num_samples == n]
        b = extractor.batch_size
        fake, fake_logits = extract(
            extractor,
            sample_batches(sample_fn, n, b),
            n,
            progress=progress,
            desc=f"generated features ({'/'.join(s.name for s in group)})",
        )
        for spec in group:
            real = None
            if spec.family in NEEDS_REAL:
                n_real = min(n, len(real_images))
                if n_real not in reals:
                    reals[n_real] = RealFeatures(
                        extractor, real_images, n_real, cache_dir=cache_dir, dataset_key=dataset_key, progress=progress
                    )
                real = reals[n_real]
            out.update(metric_values(spec, fake, fake_logits, real, seed=seed))
    return out


__all__ = [
    "FeatureExtractor",
    "METRIC_FAMILIES",
    "MetricSpec",
    "RealFeatures",
    "VALID_NAMES_HELP",
    "array_sampler",
    "compute_metrics",
    "digits_extractor",
    "extract",
    "function_extractor",
    "inception_extractor",
    "metric_values",
    "parse_metric",
    "parse_metrics",
    "real_subset",
    "result_keys",
    "sample_batches",
]
