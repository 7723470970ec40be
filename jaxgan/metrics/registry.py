"""Metrics named with their sample count (``fid10k``, ``kid10k``, ``pr10k``, ``is10k``), one registration each.

The naming and the registry follow StyleGAN2-ADA's ``metrics/metric_main.py`` (``register_metric``,
``fid50k_full``, ``kid50k_full``, ``pr50k3_full``, ``is50k``): a metric family and the number of generated
samples, in thousands with a ``k`` suffix or as a plain count (for quick checks). Each family registers itself
once, beside its compute function (:func:`register_metric`): its name prefix, whether it compares against real
images, whether it needs class logits, its result keys and, for a family that takes one, the default of the
number after the ``k``. :func:`parse_metric`, :func:`result_keys`, :func:`metric_values` and
:func:`compute_metrics` read the registry, so a new family is one decorated function. The families registered
here:

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

The features come from a :class:`jaxgan.metrics.features.FeatureExtractor` (the digit classifier, the FID
Inception-v3 or any function); real features are cached per dataset, extractor and count
(:class:`jaxgan.metrics.features.RealFeatures`), and generated features are computed once per sample count and
shared by every metric of that count.

:func:`compute_metrics` is the entry point; :func:`jaxgan.run.evaluate.evaluate_workdir` runs it on a trained workdir.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from jaxgan.metrics import fid as fid_lib
from jaxgan.metrics import inception_score as is_lib
from jaxgan.metrics import kid as kid_lib
from jaxgan.metrics import prdc as prdc_lib
from jaxgan.metrics.features import FeatureExtractor, Images, RealFeatures, extract, sample_batches

DEFAULT_PR_K = 5
KID_SUBSETS = 100
KID_MAX_SUBSET_SIZE = 1000
IS_SPLITS = 10

_NAME = re.compile(r"^(?P<family>[a-z]+)(?P<count>\d+)(?:(?P<k>k)(?P<nearest>\d*))?$")


class MetricSpec(NamedTuple):
    """A parsed metric name.

    Attributes:
      name: the name as written (``"pr10k3"``), the prefix of its result keys.
      family: the registered family (``"fid"``, ``"kid"``, ``"pr"``, ``"is"``, ...).
      num_samples: generated samples (``10_000`` for ``10k``).
      nearest_k: the number after the ``k`` for families that take one (precision/recall's k-NN radii),
        else ``None``.
    """

    name: str
    family: str
    num_samples: int
    nearest_k: int | None = None


class MetricInputs(NamedTuple):
    """What a metric's compute function receives.

    Attributes:
      fake_features: ``[num_samples, d]`` features of the generated images.
      fake_logits: ``[num_samples, k]`` class logits of the generated images, or ``None`` (only families
        registered with ``needs_logits`` are sure to get them).
      real: the real features and statistics (``None`` for families that do not compare against real images).
      seed: for random draws inside the metric (KID's subsets).
    """

    fake_features: np.ndarray
    fake_logits: np.ndarray | None
    real: RealFeatures | None
    seed: int


ComputeFn = Callable[[MetricSpec, MetricInputs], dict[str, float]]


class MetricFamily(NamedTuple):
    """A registered metric family (:func:`register_metric`).

    Attributes:
      name: the prefix of its metric names (``"fid"`` for ``fid10k``).
      compute: ``compute(spec, inputs) -> {key: value}`` with exactly the keys of :func:`result_keys`.
      key_suffixes: the result keys after the metric's name (``("", "_std")``: ``kid10k``, ``kid10k_std``).
      needs_real: whether it compares against real images (then ``inputs.real`` is set).
      needs_logits: whether it needs class logits (then ``inputs.fake_logits`` is set).
      default_nearest_k: for a family that takes a number after the ``k`` (``pr10k3``), its default; ``None``
        for the others.
    """

    name: str
    compute: ComputeFn
    key_suffixes: tuple[str, ...]
    needs_real: bool
    needs_logits: bool = False
    default_nearest_k: int | None = None


_FAMILIES: dict[str, MetricFamily] = {}


def register_metric(
    name: str,
    *,
    needs_real: bool,
    keys: Sequence[str] = ("",),
    needs_logits: bool = False,
    default_nearest_k: int | None = None,
) -> Callable[[ComputeFn], ComputeFn]:
    """A decorator registering ``compute(spec, inputs) -> {key: value}`` as the metric family ``name``.

    Args:
      name: lowercase letters, the prefix of the family's names (``name<N>k``, ``name<N>``).
      needs_real: see :class:`MetricFamily`.
      keys: the result key suffixes (:class:`MetricFamily` ``key_suffixes``).
      needs_logits: see :class:`MetricFamily`.
      default_nearest_k: see :class:`MetricFamily`.

    Raises:
      ValueError: a name that is not lowercase letters, or that is already registered.
    """
    if not re.fullmatch(r"[a-z]+", name):
        raise ValueError(f"a metric family's name is lowercase letters, got {name!r}")
    if name in _FAMILIES:
        raise ValueError(f"metric family {name!r} is already registered")

    def register(compute: ComputeFn) -> ComputeFn:
        _FAMILIES[name] = MetricFamily(name, compute, tuple(keys), needs_real, needs_logits, default_nearest_k)
        return compute

    return register


def unregister_metric(name: str) -> None:
    """Removes the metric family ``name`` (KeyError when it is not registered)."""
    del _FAMILIES[name]


def metric_families() -> tuple[str, ...]:
    """The registered families' names, in registration order."""
    return tuple(_FAMILIES)


def metric_family(spec: MetricSpec) -> MetricFamily:
    """The registered family of a parsed name (ValueError when it has been unregistered since)."""
    family = _FAMILIES.get(spec.family)
    if family is None:
        raise ValueError(f"unknown metric family {spec.family!r}")
    return family


def needs_real(spec: MetricSpec) -> bool:
    """Whether a metric compares against real images."""
    return metric_family(spec).needs_real


def valid_names_help() -> str:
    """The list of valid names that the errors of :func:`parse_metric` end with."""
    names = []
    for f in _FAMILIES.values():
        names.append(f"{f.name}<N>k")
        if f.default_nearest_k is not None:
            names[-1] += f" ({f.name}<N>k<K> for K nearest neighbours, default {f.default_nearest_k})"
    return (
        f"valid metrics: {', '.join(names)}, with N thousand generated samples (e.g. fid10k, kid10k, pr10k3, is1k), "
        "or a plain sample count (fid500)"
    )


def parse_metric(name: str) -> MetricSpec:
    """Parses ``fid10k``, ``kid1k``, ``pr10k``, ``pr50k3``, ``is10k``, ``fid500``, ... (see the module docstring).

    Raises:
      ValueError: an unknown family, a malformed name or a zero count; the message lists the valid names.
    """
    m = _NAME.match(name.strip()) if isinstance(name, str) else None
    if m is None or m["family"] not in _FAMILIES:
        raise ValueError(f"unknown metric {name!r}; {valid_names_help()}")
    family, nearest = _FAMILIES[m["family"]], m["nearest"]
    count = int(m["count"]) * (1000 if m["k"] else 1)
    if count < 2:
        raise ValueError(f"metric {name!r} needs at least 2 samples; {valid_names_help()}")
    if nearest and family.default_nearest_k is None:
        takers = ", ".join(f"{f.name}<N>k" for f in _FAMILIES.values() if f.default_nearest_k is not None)
        raise ValueError(
            f"unknown metric {name!r}: only {takers} takes a neighbour count after the k; {valid_names_help()}"
        )
    nearest_k = None
    if family.default_nearest_k is not None:
        nearest_k = int(nearest) if nearest else family.default_nearest_k
        if nearest_k < 1:
            raise ValueError(f"metric {name!r}: the neighbour count must be at least 1; {valid_names_help()}")
    return MetricSpec(name.strip(), family.name, count, nearest_k)


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
        raise ValueError(f"no metrics given; {valid_names_help()}")
    return specs


def result_keys(spec: MetricSpec) -> list[str]:
    """The keys a metric writes: ``fid10k``; ``kid10k``, ``kid10k_std``; ``pr10k_precision``, ...; ``is10k``,
    ``is10k_std``."""
    return [spec.name + suffix for suffix in metric_family(spec).key_suffixes]


# ---------------------------------------------------------------------------------------- the families


@register_metric("fid", needs_real=True)
def _fid(spec: MetricSpec, inputs: MetricInputs) -> dict[str, float]:
    fake = fid_lib.FeatureStats.from_features(inputs.fake_features)
    return {spec.name: fid_lib.fid_from_stats(fake, inputs.real.stats())}


@register_metric("kid", needs_real=True, keys=("", "_std"))
def _kid(spec: MetricSpec, inputs: MetricInputs) -> dict[str, float]:
    fake, real = inputs.fake_features, inputs.real.features()
    size = min(KID_MAX_SUBSET_SIZE, len(fake), len(real))
    res = kid_lib.kernel_inception_distance(fake, real, num_subsets=KID_SUBSETS, subset_size=size, seed=inputs.seed)
    return {spec.name: res.mean, f"{spec.name}_std": res.std}


@register_metric(
    "pr", needs_real=True, keys=("_precision", "_recall", "_density", "_coverage"), default_nearest_k=DEFAULT_PR_K
)
def _pr(spec: MetricSpec, inputs: MetricInputs) -> dict[str, float]:
    fake, real = inputs.fake_features, inputs.real
    vals = prdc_lib.prdc(real.features(), fake, nearest_k=min(spec.nearest_k, len(fake) - 1, real.count - 1))
    return {f"{spec.name}_{k}": v for k, v in vals.items()}


@register_metric("is", needs_real=False, keys=("", "_std"), needs_logits=True)
def _is(spec: MetricSpec, inputs: MetricInputs) -> dict[str, float]:
    logits = inputs.fake_logits
    res = is_lib.inception_score_from_logits(logits, splits=min(IS_SPLITS, len(logits)))
    return {spec.name: res.mean, f"{spec.name}_std": res.std}


# ------------------------------------------------------------------------------------------ computing them


def metric_values(
    spec: MetricSpec,
    fake_features: np.ndarray,
    fake_logits: np.ndarray | None,
    real: RealFeatures | None,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """One metric's values from generated features/logits and the real features (see :func:`result_keys`).

    Raises:
      ValueError: an unregistered family, a family that needs logits without them, or a compute function that
        returns other keys than its registered ones.
    """
    family = metric_family(spec)
    if family.needs_logits and fake_logits is None:
        raise ValueError(f"{spec.name} needs class logits, and these features have none")
    out = family.compute(spec, MetricInputs(fake_features, fake_logits, real, seed))
    if sorted(out) != sorted(result_keys(spec)):
        raise ValueError(f"metric family {family.name!r} returned keys {sorted(out)}, not {result_keys(spec)}")
    return out


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
      extractor: the features (:func:`jaxgan.metrics.features.digits_extractor`, ``inception_extractor``,
        ``function_extractor``).
      sample_fn: ``sample_fn(start, count) -> images [count, h, w, c]``: generated images ``start`` to
        ``start + count - 1`` (called with ``count = extractor.batch_size`` but for the last batch); the same
        ``(start, count)`` must give the same images, as metrics of one sample count share them.
      real_images: ``[n_real, h, w, c]`` in [-1, 1]; may be ``None`` when no metric needs real images (``is``).
      cache_dir: where real features are cached (``None``: no caching); needs ``dataset_key`` too.
      dataset_key: names the real data in cache files (:func:`jaxgan.metrics.classifier_training.dataset_key`).
      seed: KID's subset draws.
      progress: tqdm bars over the feature batches.

    Returns:
      ``{key: float}`` for every metric's :func:`result_keys`.

    Raises:
      ValueError: an unknown metric name, ``is`` without logits, real metrics without real images.
    """
    specs = parse_metrics(metrics)
    logit_specs = [s for s in specs if metric_family(s).needs_logits]
    if logit_specs and not extractor.has_logits:
        raise ValueError(
            f"{', '.join(s.name for s in logit_specs)} needs class logits; the {extractor.name or 'user'} features "
            "give none (pass a logits function, or use the digits features, or Inception weights with the "
            "1008-way output layer: the reference FID copy inception-2015-12-05 has none)"
        )
    if any(needs_real(s) for s in specs) and (real_images is None or len(real_images) < 2):
        real_families = " / ".join(f.name for f in _FAMILIES.values() if f.needs_real)
        raise ValueError(f"{real_families} need at least 2 real images")
    out: dict[str, float] = {}
    reals: dict[int, RealFeatures] = {}
    for n in sorted({s.num_samples for s in specs}):
        group = [s for s in specs if s.num_samples == n]
        fake, fake_logits = extract(
            extractor,
            sample_batches(sample_fn, n, extractor.batch_size),
            n,
            progress=progress,
            desc=f"generated features ({'/'.join(s.name for s in group)})",
        )
        for spec in group:
            real = None
            if needs_real(spec):
                n_real = min(n, len(real_images))
                if n_real not in reals:
                    reals[n_real] = RealFeatures(
                        extractor, real_images, n_real, cache_dir=cache_dir, dataset_key=dataset_key, progress=progress
                    )
                real = reals[n_real]
            out.update(metric_values(spec, fake, fake_logits, real, seed=seed))
    return out


__all__ = [
    "MetricFamily",
    "MetricInputs",
    "MetricSpec",
    "compute_metrics",
    "metric_families",
    "metric_family",
    "metric_values",
    "needs_real",
    "parse_metric",
    "parse_metrics",
    "register_metric",
    "result_keys",
    "unregister_metric",
    "valid_names_help",
]
