"""The project's trained digit classifier as a function: class probabilities and penultimate features.

The variables of a :class:`jaxgan.models.classifier.DigitClassifier` trained by
:mod:`jaxgan.metrics.classifier_training` are enough to run it (:func:`classifier_module` reads the widths, hidden
size and classes off the parameter shapes). :func:`features_and_logits` gives the 128-d penultimate features (a
domain feature extractor for FID / KID / precision-recall on MNIST-like data, where the ImageNet Inception network
is both unavailable offline and a poor judge of digits) and the logits, in eval mode; :func:`predict_proba` the
class probabilities that :mod:`jaxgan.metrics.digits` scores generated images with. :func:`save_variables` and
:func:`load_variables` store the variables as a flat ``.npz``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import traverse_util

from jaxgan.files import write_file
from jaxgan.models.classifier import DigitClassifier

PyTree = Any

CONFIDENCE_THRESHOLD = 0.9
EVAL_BATCH = 500


def classifier_module(variables: PyTree) -> DigitClassifier:
    """The :class:`DigitClassifier` whose parameters ``variables`` holds (widths, hidden and classes read off the
    parameter shapes), so variables alone are enough to run it."""
    p = variables["params"]
    n_convs = sum(1 for k in p if k.startswith("Conv_"))
    widths = tuple(int(p[f"Conv_{2 * i}"]["kernel"].shape[-1]) for i in range(n_convs // 2))
    return DigitClassifier(
        num_classes=int(p["logits"]["kernel"].shape[-1]),
        widths=widths,
        hidden=int(p["Dense_0"]["kernel"].shape[-1]),
    )


@functools.partial(jax.jit, static_argnames="module")
def _features_and_logits(module: DigitClassifier, variables: PyTree, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    feats = module.apply(variables, x, train=False, return_features=True)
    head = variables["params"]["logits"]
    return feats, feats @ head["kernel"] + head["bias"]  # the logits layer (dropout is off in eval mode)


def features_and_logits(variables: PyTree, images: Any, batch_size: int = EVAL_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features ``[n, hidden]`` and logits ``[n, num_classes]`` of ``images`` ``[n, h, w, c]`` in
    [-1, 1], in eval mode, ``batch_size`` at a time (the last batch padded: one compilation)."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must be [n, height, width, channels], got shape {images.shape}")
    module = classifier_module(variables)
    n = images.shape[0]
    b = max(1, min(batch_size, n))
    feats = np.empty([n, module.hidden], np.float32)
    logits = np.empty([n, module.num_classes], np.float32)
    for start in range(0, n, b):
        batch = images[start : start + b]
        valid = batch.shape[0]
        if valid < b:
            batch = np.concatenate([batch, np.zeros((b - valid, *batch.shape[1:]), np.float32)])
        f, lg = _features_and_logits(module, variables, batch)
        feats[start : start + valid] = np.asarray(f)[:valid]
        logits[start : start + valid] = np.asarray(lg)[:valid]
    return feats, logits


def digit_features(variables: PyTree, images: Any) -> np.ndarray:
    """The classifier's penultimate features ``[n, hidden]`` (128-d by default) of ``images`` ``[n, h, w, c]``:
    a domain feature extractor for FID / KID / precision-recall on MNIST-like data."""
    return features_and_logits(variables, images)[0]


def predict_proba(variables: PyTree, images: Any) -> np.ndarray:
    """Class probabilities ``[n, num_classes]`` (softmax of the logits, float64)."""
    logits = features_and_logits(variables, images)[1].astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def save_variables(variables: PyTree, path: str | os.PathLike) -> None:
    """Writes variables as an npz of flat ``"params/Conv_0/kernel"`` keys, atomically (temp file + rename)."""
    flat = traverse_util.flatten_dict(jax.device_get(variables), sep="/")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, lambda tmp: _savez(tmp, {k: np.asarray(v) for k, v in flat.items()}))


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a name without it
        np.savez(f, **arrays)


def load_variables(path: str | os.PathLike) -> PyTree:
    """Reads variables written by :func:`save_variables`."""
    with np.load(path, allow_pickle=False) as data:
        flat = {k: data[k] for k in data.files}
    if not any(k.startswith("params/") for k in flat):
        raise ValueError(f"{path}: no 'params/...' arrays (keys: {sorted(flat)[:5]})")
    return traverse_util.unflatten_dict(flat, sep="/")


__all__ = [
    "CONFIDENCE_THRESHOLD",
    "classifier_module",
    "digit_features",
    "features_and_logits",
    "load_variables",
    "predict_proba",
    "save_variables",
]
