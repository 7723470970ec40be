"""Sample quality without eyes: the project's digit classifier scoring generated images.

The classifier (:mod:`jaxgan.metrics.classifier`; trained on the run's own labelled training images on demand
and cached in the workdir by :func:`jaxgan.metrics.classifier_training.get_classifier`, never downloaded) scores
generated images (:func:`score_images`; a run's generator: :func:`jaxgan.run.vision.score_generator`):

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
from typing import Any

import numpy as np

from jaxgan.metrics.classifier import CONFIDENCE_THRESHOLD, predict_proba

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


def balanced_labels(n: int, num_classes: int) -> np.ndarray:
    """``[m]`` labels ``0, 1, ..., C-1, 0, 1, ...`` with ``m = n`` rounded up to a multiple of ``num_classes``,
    so every class gets the same count."""
    m = -(-n // num_classes) * num_classes
    return (np.arange(m) % num_classes).astype(np.int32)


__all__ = [
    "balanced_labels",
    "score_images",
    "score_probs",
]
