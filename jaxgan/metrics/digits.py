"""Sample quality without eyes: the project's digit classifier scoring generated images.

The classifier (:mod:`jaxgan.metrics.classifier`; trained on the run's own labelled training images on demand
and cached in the workdir by :func:`jaxgan.metrics.classifier_training.get_classifier`, never downloaded) scores
generated images (:func:`score_images`, :func:`score_generator`):

- ``confident``: the fraction classified with a max softmax probability above 0.9;
- ``class_histogram``: the fraction of samples predicted as each class, ``[num_classes]``;
- ``class_entropy``: the entropy in nats of that histogram, ``H = -sum_c p_c log p_c`` (mode coverage: 0 when
  every sample is one class, ``log num_classes`` when the classes are equally frequent), and
  ``class_entropy_ratio = H / log num_classes`` (in [0, 1]; the aim for MNIST GANs is >= 0.95);
- for class-conditional generators, ``conditional_accuracy``: the fraction of samples generated as class ``c``
  that the classifier assigns to ``c``;

beside the classifier's own figures on held-out *real* images (``classifier_real_accuracy``,
``classifier_real_confident``), so every generated-sample number can be read against what real data gets. Its
penultimate features (:func:`jaxgan.metrics.classifier.digit_features`) serve FID, KID and precision/recall on
MNIST-like data (:func:`jaxgan.metrics.features.digits_extractor`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan.metrics.classifier import CONFIDENCE_THRESHOLD, EVAL_BATCH, predict_proba
from jaxgan.metrics.classifier_training import get_classifier

PyTree = Any


# ------------------------------------------------------------------------------------------------ scoring


def score_probs(probs: Any, requested_labels: Any = None, threshold: float = CONFIDENCE_THRESHOLD) -> dict[str, Any]:
    """The sample-quality figures of :func:`score_images` from class probabilities ``[n, num_classes]``.

    Args:
      probs: ``p(y | x)`` of each sample, ``[n, num_classes]``.
      requested_labels: for conditional generators, the class each sample was generated as, ``[n]``.
      threshold: the confidence threshold of ``confident``.

    Returns:
      ``{"confident", "class_entropy", "class_entropy_ratio", "class_histogram", "num_samples"}`` and, with
      ``requested_labels``, ``"conditional_accuracy"``; Python floats, the histogram a list of fractions.
    """
    p = np.asarray(probs, np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 2:
        raise ValueError(f"probs must be [n >= 1, num_classes >= 2], got shape {p.shape}")
    n, k = p.shape
    predicted = p.argmax(axis=1)
    hist = np.bincount(predicted, minlength=k) / n
    nonzero = hist[hist > 0]
    entropy = float(-np.sum(nonzero * np.log(nonzero))) + 0.0  # + 0.0: one class gives 0.0, not -0.0
    out: dict[str, Any] = {
        "confident": float(np.mean(p.max(axis=1) > threshold)),
        "class_entropy": entropy,
        "class_entropy_ratio": entropy / math.log(k),
        "class_histogram": [float(h) for h in hist],
        "num_samples": int(n),
    }
    if requested_labels is not None:
        requested = np.asarray(requested_labels).reshape(-1)
        if requested.shape != (n,):
            raise ValueError(f"requested_labels must be [{n}], got shape {np.shape(requested_labels)}")
        out["conditional_accuracy"] = float(np.mean(predicted == requested))
    return out


def score_images(variables: PyTree, images: Any, requested_labels: Any = None) -> dict[str, Any]:
    """Classifies ``images`` ``[n, h, w, c]`` in [-1, 1] and scores them (see the module docstring).

    Args:
      variables: the classifier's variables (:func:`jaxgan.metrics.classifier_training.get_classifier`).
      images: generated (or real) images.
      requested_labels: for conditional generators, the class each image was generated as, ``[n]``.

    Returns:
      ``confident``, ``class_entropy`` (nats), ``class_entropy_ratio`` (over ``log num_classes``),
      ``class_histogram`` (fractions per predicted class), ``num_samples`` and, with ``requested_labels``,
      ``conditional_accuracy``.
    """
    return score_probs(predict_proba(variables, images), requested_labels)


# ------------------------------------------------------------------------------------------- a generator


def generate_batched(
    exp, state, n: int, *, seed: int = 0, labels: Any = None, batch_size: int = EVAL_BATCH
) -> np.ndarray:
    """``n`` samples ``[n, ...]`` of ``exp``'s generator (the sampling params: the EMA when present), generated
    ``batch_size`` at a time with one compilation; batch ``i`` uses ``fold_in(PRNGKey(seed), i)``.

    Args:
      labels: ``[n]`` classes for conditional generators (required for them), else ``None``.
    """
    from jaxgan import sampling

    b = max(1, min(batch_size, n))
    key = jax.random.PRNGKey(seed)
    out = None
    for i, start in enumerate(range(0, n, b)):
        lab = None
        if labels is not None:
            lab = np.asarray(labels[start : start + b], np.int32)
            lab = np.concatenate([lab, np.zeros(b - len(lab), np.int32)])
        batch = sampling.sample(exp, state, jax.random.fold_in(key, i), b, lab)
        if out is None:
            out = np.empty((n, *batch.shape[1:]), batch.dtype)
        out[start : start + b] = batch[: min(b, n - start)]
    return out


def balanced_labels(n: int, num_classes: int) -> np.ndarray:
    """``[m]`` labels ``0, 1, ..., C-1, 0, 1, ...`` with ``m = n`` rounded up to a multiple of ``num_classes``,
    so every class gets the same count."""
    m = -(-n // num_classes) * num_classes
    return (np.arange(m) % num_classes).astype(np.int32)


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
    variables, report = get_classifier(ds, Path(workdir) / "classifier")
    cond = exp.conditioning
    labels, requested = None, None
    if cond is not None and cond.kind == "class":
        labels = requested = balanced_labels(n, cond.num_classes)
    elif cond is not None:
        labels = cond.sample(n, seed)
    images = generate_batched(exp, state, n if labels is None else len(labels), seed=seed, labels=labels)
    out = score_images(variables, images, requested)
    out["classifier_real_accuracy"] = report["accuracy"]
    out["classifier_real_confident"] = report["confident"]
    return out


__all__ = [
    "balanced_labels",
    "generate_batched",
    "score_generator",
    "score_images",
    "score_probs",
]
