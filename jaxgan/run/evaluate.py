"""Evaluate a trained workdir with named metrics (the library behind ``jaxgan eval``).

:func:`evaluate_workdir` rebuilds the experiment from ``WORKDIR/config.json``, restores the newest valid
checkpoint (:func:`jaxgan.run.resume.restore_latest`, read-only: nothing in ``checkpoints/``
changes), computes the metrics of :mod:`jaxgan.metrics.registry` on samples of the sampling params (the EMA
generator when the run kept one) and merges the values into ``WORKDIR/report.json`` (written atomically)::

    "eval":      {"fid10k": 3.2, "kid10k": 0.0021, "kid10k_std": 0.0004, "pr10k_precision": 0.81, ...}
    "eval_info": {"fid10k": {"step": 20000, "features": "digits-1a2b3c4d", "num_generated": 10000,
                             "num_real": 10000, "sampling_params": "ema", "seed": 0, "seconds": 41.2}, ...}

Other keys of ``report.json`` (and other metrics already under ``"eval"``) are kept.

Features (``features=``): ``"auto"`` picks the project's digit classifier for 1-channel 10-class image data,
the FID Inception-v3 for other images when ``inception_weights`` is given, and the raw coordinates for toy data;
``"digits"``, ``"inception"`` (needs ``inception_weights=PATH``), ``"identity"`` (flattened pixels), a
function ``features(images [n, h, w, c]) -> [n, d]`` or a
:class:`jaxgan.metrics.features.FeatureExtractor` choose one explicitly. The digit classifier is trained on
the run's own data on first use and cached in ``WORKDIR/classifier/``; real features are cached in
``WORKDIR/eval_cache/``.

During training, :func:`make_eval_hook` gives a function ``(exp, state, workdir) -> {name: value}`` that a
loop can call at intervals.

Size: over 400 lines, about 240 of them code: the evaluation's pieces (extractor, sampler, real data, hook) and the
command that runs them on a workdir share the report's format.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan import checkpoint
from jaxgan.metrics import features as features_lib
from jaxgan.metrics import registry
from jaxgan.run import experiment, resume, sampler
from jaxgan.run.config import from_dict, to_dict

FeaturesArg = str | Callable[[np.ndarray], Any] | features_lib.FeatureExtractor
FEATURE_NAMES = ("auto", "digits", "inception", "identity")
EVAL_CACHE = "eval_cache"
CLASSIFIER_DIR = "classifier"


def _stderr(msg: str) -> None:
    print(f"[jaxgan] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------- the pieces


def make_extractor(
    features: FeaturesArg,
    exp: experiment.Experiment,
    workdir: str | Path,
    *,
    inception_weights: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
) -> features_lib.FeatureExtractor:
    """The feature extractor named by ``features`` for ``exp``'s data (see the module docstring).

    Raises:
      ValueError: an unknown name, ``"inception"`` without weights, ``"digits"`` on unlabelled data, or
        ``"auto"`` on data that has no default extractor (naming what to pass instead).
    """
    if isinstance(features, features_lib.FeatureExtractor):
        return features
    if callable(features):
        return features_lib.function_extractor(features)
    _check_features_name(features)
    ds = exp.dataset
    if features == "auto":
        features = exp.task.default_features(inception_weights)
    if features == "identity":
        return features_lib.function_extractor(lambda x: np.reshape(x, (len(x), -1)), name="identity")
    if features == "inception":
        return features_lib.inception_extractor(inception_weights)
    if ds is None or ds.labels is None:
        raise ValueError(
            "the 'digits' features need a labelled image dataset to train the classifier on; "
            f"this run's data {exp.config.data!r} has none"
        )
    from jaxgan.run.pieces import run_classifier
    from jaxgan.run.writers import fingerprint

    variables, _ = run_classifier(ds, workdir, log=log)
    return features_lib.digits_extractor(variables, name=f"digits-{fingerprint(variables)[:8]}")


def _check_features_name(features: str) -> None:
    if features not in FEATURE_NAMES:
        raise ValueError(
            f"unknown features {features!r}; use 'auto', 'digits', 'inception' (with inception_weights=PATH), "
            "'identity' or a function images -> [n, d]"
        )


def make_sampler(exp: experiment.Experiment, state, *, seed: int = 0, batch_size: int = 500,
                 truncation: float | None = None):
    """``sample_fn(start, count)`` over ``exp``'s generator (sampling params: the EMA when present).

    Every call generates ``batch_size`` samples (one compilation) from ``fold_in(PRNGKey(seed), start)`` and
    returns the first ``count``; conditional generators get ``exp.conditioning.sample(batch_size, seed, start)``:
    class-conditional ones the labels ``start, start + 1, ... mod classes`` (``n`` samples hold every class equally
    often, to within one), cluster-conditional ones clusters drawn from their frequencies. ``truncation=T``
    draws the latents from a standard normal truncated to ``[-T, T]`` (BigGAN's truncation trick,
    :func:`jaxgan.latent.truncated_normal`) instead of the run's latent distribution.
    """
    key = jax.random.PRNGKey(seed)
    cond = exp.conditioning

    def sample_fn(start: int, count: int) -> np.ndarray:
        labels = None if cond is None else cond.sample(batch_size, seed, start)
        if truncation is not None:
            from jaxgan import latent

            z = latent.truncated_normal(jax.random.fold_in(key, start), (batch_size, exp.config.latent_dim),
                                        truncation)
            return sampler.images_from_latents(exp, state, z, labels)[:count]
        return sampler.sample(exp, state, jax.random.fold_in(key, start), batch_size, labels)[:count]

    return sample_fn


def _real_data(exp: experiment.Experiment, specs, seed: int) -> tuple[np.ndarray | None, str | None]:
    """The real images (or toy samples) and their cache key."""
    if not any(registry.needs_real(s) for s in specs):
        return None, None
    return exp.task.real_samples(max(s.num_samples for s in specs), seed)


def evaluate_experiment(
    exp: experiment.Experiment,
    state,
    metrics: str | Sequence[str],
    workdir: str | Path,
    *,
    features: FeaturesArg = "auto",
    inception_weights: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    truncation: float | None = None,
) -> dict[str, float]:
    """Named metrics of a live ``state`` of ``exp`` (no files read besides the caches in ``workdir``).

    Args:
      exp: the built experiment.
      state: a :class:`jaxgan.state.GANState` (or anything with ``sampling_params`` and ``g_model_state``) on
        the host or one device.
      metrics: names (``["fid10k", "kid10k"]``) or a comma-separated string; see :mod:`jaxgan.metrics.registry`.
      workdir: where the classifier and the real features are cached.
      features, inception_weights: see the module docstring.
      seed: the latents of the generated samples and KID's subsets.
      progress: tqdm bars over feature batches.
      log: receives progress lines (classifier training); ``None``: silent.
      truncation: sample with truncated latents (see :func:`make_sampler`).

    Returns:
      ``{key: float}``: ``fid10k``, ``kid10k``, ``kid10k_std``, ``pr10k_precision``, ..., ``is10k``, ``is10k_std``.
    """
    specs = registry.parse_metrics(metrics)
    extractor = make_extractor(features, exp, workdir, inception_weights=inception_weights, log=log)
    real, key = _real_data(exp, specs, seed)
    return registry.compute_metrics(
        [s.name for s in specs],
        extractor=extractor,
        sample_fn=make_sampler(exp, state, seed=seed, batch_size=extractor.batch_size, truncation=truncation),
        real_images=real,
        cache_dir=Path(workdir) / EVAL_CACHE,
        dataset_key=key,
        seed=seed,
        progress=progress,
    )


def make_eval_hook(
    metrics: str | Sequence[str],
    *,
    features: FeaturesArg = "auto",
    inception_weights: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = False,
) -> Callable[[experiment.Experiment, Any, str | Path], dict[str, float]]:
    """A function ``hook(exp, state, workdir) -> {name: value}`` computing ``metrics`` on a live state, for a
    training loop to call at intervals (e.g. on every checkpoint, logging the values as ``eval/<name>``).

    The names are checked now (``ValueError`` before training starts); the classifier and real features are
    built on the first call and cached in ``workdir`` for the next ones.
    """
    registry.parse_metrics(metrics)

    def hook(exp: experiment.Experiment, state, workdir: str | Path) -> dict[str, float]:
        return evaluate_experiment(
            exp,
            state,
            metrics,
            workdir,
            features=features,
            inception_weights=inception_weights,
            seed=seed,
            progress=progress,
        )

    return hook


def load_workdir(
    workdir: str | Path, *, log: Callable[[str], None] | None = None
) -> tuple[experiment.Experiment, Any, int]:
    """Rebuilds a workdir's experiment from ``config.json`` and restores its newest valid checkpoint.

    Returns:
      ``(exp, state, step)``: the state as host arrays.

    Raises:
      FileNotFoundError: no workdir, no ``config.json`` or no checkpoint.
      ValueError: an unreadable ``config.json`` or a config that no longer builds.
      jaxgan.checkpoint.CheckpointError: checkpoints of another config, or none that can be restored.
    """
    workdir = Path(workdir)
    if not workdir.is_dir():
        raise FileNotFoundError(f"workdir {workdir} does not exist")
    config_path = workdir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"no config.json in {workdir}: evaluate a directory written by `jaxgan train`")
    try:
        saved = json.loads(config_path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{config_path} cannot be read ({e})") from None
    # One device: the evaluation runs the generator alone, whatever parallel mode trained it.
    exp = experiment.build(from_dict({**saved, "parallel": "none"}))
    ckpt = checkpoint.Checkpointer(workdir / "checkpoints", read_only=True)
    try:
        restored = resume.restore_latest(
            ckpt, jax.eval_shape(exp.init_state), to_dict(exp.config), log=log or (lambda msg: None)
        )
    finally:
        ckpt.close()
    if restored is None:
        raise FileNotFoundError(f"no checkpoint in {workdir / 'checkpoints'}: train first (jaxgan train --workdir ...)")
    return exp, restored.state, restored.step


def _num_real(spec: registry.MetricSpec, exp: experiment.Experiment) -> int:
    """The real images (toy: samples of the true distribution) a metric compares against."""
    if not registry.needs_real(spec):
        return 0
    return exp.task.num_real(spec.num_samples)


def _read_report(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} cannot be read as JSON ({e}); move it away to write a new one") from None
    if not isinstance(report, dict):
        raise ValueError(f"{path} does not hold a JSON object; move it away to write a new one")
    return report


def merge_report(workdir: str | Path, values: dict[str, Any], info: dict[str, Any] | None = None) -> Path:
    """Merges ``values`` into ``WORKDIR/report.json["eval"]`` (and ``info`` into ``["eval_info"]``), keeping
    every other key, and writes the file atomically as strict JSON (a non-finite value is ``null``, flagged
    under ``"non_finite"``).

    Raises:
      jaxgan.files.WriteError: the file cannot be written; it is left as it was.
    """
    from jaxgan.files import write_file
    from jaxgan.run.writers import strict_json, to_python

    path = Path(workdir) / "report.json"
    report = _read_report(path)
    report.setdefault("eval", {}).update(to_python(values))
    if info:
        report.setdefault("eval_info", {}).update(to_python(info))
    write_file(path, strict_json(report, indent=2) + "\n")
    return path


# ----------------------------------------------------------------------------------------- the command


def evaluate_workdir(workdir: str | Path, metrics: str | Sequence[str], **options: Any) -> dict[str, float]:
    """Evaluates a trained workdir and merges the metrics into ``WORKDIR/report.json``: :func:`measure_workdir`
    (which takes the same arguments: ``features``, ``inception_weights``, ``seed``, ``progress``) then
    :func:`merge_report`. Returns the values; raises what those two raise."""
    values, info = measure_workdir(workdir, metrics, **options)
    path = merge_report(workdir, values, info)
    if options.get("progress", True):
        _stderr(f"wrote {', '.join(values)} to {path}")
    return values


def measure_workdir(
    workdir: str | Path,
    metrics: str | Sequence[str],
    *,
    features: FeaturesArg = "auto",
    inception_weights: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
    truncation: float | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Computes metrics of a trained workdir's newest checkpoint and writes nothing in it but caches
    (``jaxgan eval`` prints them, then merges them into ``report.json`` with :func:`merge_report`).

    A workdir that is not writable (a read-only file system) is read as it is: the classifier and real-feature
    caches go to a temporary folder (said on stderr).

    Args:
      workdir: a directory written by ``jaxgan train`` (``config.json`` and ``checkpoints/``).
      metrics: names like ``["fid10k", "kid10k", "pr10k", "is10k"]`` or ``"fid10k,pr10k"``; see
        :mod:`jaxgan.metrics.registry`.
      features: ``"auto"``, ``"digits"``, ``"inception"``, ``"identity"``, a function ``images -> [n, d]``, or
        a :class:`jaxgan.metrics.features.FeatureExtractor`.
      inception_weights: the FID Inception-v3 ``.npz`` (needed by ``"inception"``).
      seed: the generated samples' latents and KID's subsets.
      progress: progress bars and messages on stderr.
      truncation: sample with latents from a normal truncated to ``[-T, T]`` (BigGAN's truncation trick); the
        values' names then carry it after the metric's (``pr10k_trunc0.5_precision``, ``fid10k_trunc0.5``).

    Returns:
      ``(values, info)``: the new values, ``{"fid10k": ..., "kid10k": ..., "kid10k_std": ...,
      "pr10k_precision": ..., ...}``, as :func:`merge_report` writes them under ``report.json["eval"]``, and
      ``{metric: {"step": ..., "features": ..., ...}}`` for ``["eval_info"]``. Features named explicitly that
      are not the run's default (``"auto"``) put their name in the keys: ``fid10k_inception``,
      ``kid10k_inception_std``, so that they sit beside the default's values instead of replacing them.

    Raises:
      ValueError: an unknown metric or features name (before anything is loaded), missing Inception weights,
        an unreadable ``config.json`` or ``report.json``.
      FileNotFoundError: no workdir, ``config.json``, checkpoint or weights file.
      jaxgan.checkpoint.CheckpointError: the checkpoints cannot be restored.
    """
    t0 = time.time()
    # Checks that need nothing loaded come first.
    specs = registry.parse_metrics(metrics)
    if truncation is not None and not (isinstance(truncation, (int, float)) and np.isfinite(truncation)
                                       and truncation > 0):
        raise ValueError(f"truncation must be a finite number > 0, got {truncation!r}")
    if isinstance(features, str):
        _check_features_name(features)
        if features == "inception" and inception_weights is None:
            features_lib.inception_extractor(None)  # raises the explanation
    if inception_weights is not None:
        if not Path(inception_weights).is_file():
            raise FileNotFoundError(f"Inception weights not found: {str(inception_weights)!r}")
        if not zipfile.is_zipfile(inception_weights):
            raise ValueError(
                f"Inception weights {str(inception_weights)!r} are not a .npz file (not a zip archive); convert "
                "pytorch-fid's pt_inception-2015-12-05-6726825d.pth with scripts/convert_inception_weights.py"
            )
    workdir = Path(workdir)
    _read_report(workdir / "report.json")  # an unreadable report fails now, not after the evaluation
    log = _stderr if progress else None
    exp, state, step = load_workdir(workdir, log=_stderr)
    if log is not None:
        log(f"evaluating step {step} of {workdir} ({', '.join(s.name for s in specs)})")
    caches = _cache_root(workdir)
    try:
        extractor = make_extractor(features, exp, caches, inception_weights=inception_weights, log=log)
        values = evaluate_experiment(
            exp, state, [s.name for s in specs], caches, features=extractor, seed=seed, progress=progress, log=log,
            truncation=truncation,
        )
    finally:
        if caches != workdir:
            shutil.rmtree(caches, ignore_errors=True)
    seconds = round(time.time() - t0, 2)
    values, renamed = _name_by_features(values, specs, features, exp, inception_weights)
    if truncation is not None:
        values, renamed = _rename(values, {s.name: f"{renamed.get(s.name, s.name)}_trunc{truncation:g}"
                                           for s in specs}, renamed)
    info = {
        s.name: {
            "step": int(step),
            "features": extractor.name or "user function",
            "num_generated": s.num_samples,
            "num_real": _num_real(s, exp),
            "sampling_params": "ema" if exp.sampling_state(state).ema else "generator",
            "seed": int(seed),
            "seconds": seconds,
            **({} if truncation is None else {"truncation": float(truncation)}),
        }
        for s in specs
    }
    return values, {renamed.get(k, k): v for k, v in info.items()}


def _name_by_features(values, specs, features, exp, inception_weights) -> tuple[dict[str, float], dict[str, str]]:
    """Values measured in a feature space other than the run's default get the space in their names
    (``fid10k_inception``, ``kid10k_inception_std``), so that they never overwrite the default's under the same
    key in ``report.json``. Returns the values and ``{metric: new name}``."""
    if not isinstance(features, str) or features == "auto":
        return values, {}
    try:
        default = exp.task.default_features(inception_weights)
    except ValueError:
        default = None
    if features == default:
        return values, {}
    return _rename(values, {s.name: f"{s.name}_{features}" for s in specs}, {})


def _rename(values: dict[str, float], names: dict[str, str], before: dict[str, str]):
    """``values`` with each key's metric prefix (a key of ``before``'s values, or of ``names``) replaced by
    ``names[metric]``; returns them and the metric -> name map."""
    out = {}
    current = {before.get(m, m): m for m in names}  # the prefix each metric's keys have now -> the metric
    for key, value in values.items():
        prefix = next(p for p in sorted(current, key=len, reverse=True) if key.startswith(p))
        out[names[current[prefix]] + key[len(prefix):]] = value
    return out, names


def _cache_root(workdir: Path) -> Path:
    """``workdir`` when it is writable, else a temporary folder (removed after use) holding a copy of its
    classifier."""
    if os.access(workdir, os.W_OK):
        return workdir
    root = Path(tempfile.mkdtemp(prefix="jaxgan-eval-"))
    if (workdir / CLASSIFIER_DIR).is_dir():
        shutil.copytree(workdir / CLASSIFIER_DIR, root / CLASSIFIER_DIR)
    _stderr(f"workdir {workdir} is not writable: the evaluation caches are kept in {root} until it ends")
    return root


__all__ = [
    "evaluate_experiment",
    "evaluate_workdir",
    "load_workdir",
    "make_eval_hook",
    "make_extractor",
    "make_sampler",
    "measure_workdir",
    "merge_report",
]
