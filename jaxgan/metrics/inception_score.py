"""Inception Score (IS) from class probabilities, in float64 NumPy.

Salimans, Goodfellow, Zaremba, Cheung, Radford, Chen, "Improved Techniques for Training GANs", NeurIPS 2016
(https://arxiv.org/abs/1606.03498); reference code ``inception_score.py`` in openai/improved-gan.

For class probabilities ``p(y|x)`` of ``n`` samples, ``[n, classes]`` (the softmax over all 1008 logits of
:mod:`jaxgan.metrics.inception`, as the original code and torch-fidelity do)::

    IS = exp( E_x KL(p(y|x) || p(y)) ),   p(y) = E_x p(y|x)

The samples are cut into ``splits`` contiguous parts (part ``i`` is rows ``i*n//splits`` to
``(i+1)*n//splits``); each part gets its own marginal ``p(y)`` and score, and the result is the mean and standard
deviation (``np.std``, ddof 0) of the per-part scores. IS ranges from 1 (every prediction equal to the marginal)
to the number of classes (confident predictions spread evenly over all classes).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.special

ArrayLike = Any


class ISResult(NamedTuple):
    """Inception Score as the mean and standard deviation over splits."""

    mean: float
    std: float


def inception_score(probs: ArrayLike, splits: int = 10) -> ISResult:
    """The Inception Score (Salimans et al. 2016) of class probabilities ``[n, classes]``.

    Follows the original code, except that ``0 * log 0`` is taken as 0 (the original returns NaN for a class
    probability of exactly zero).

    Args:
      probs: ``p(y|x)``, ``[n, classes]``, rows summing to 1.
      splits: number of contiguous parts the samples are cut into (10 in the original code).

    Returns:
      ``ISResult(mean, std)`` as Python floats.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be [n, classes], got shape {p.shape}")
    n = p.shape[0]
    if not 1 <= splits <= n:
        raise ValueError(f"splits must be in [1, n] = [1, {n}], got {splits}")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "probs must be non-negative with rows summing to 1 (for logits use inception_score_from_logits)"
        )
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(axis=0, keepdims=True)
        kl = scipy.special.xlogy(part, part) - scipy.special.xlogy(part, marginal)
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return ISResult(mean=float(np.mean(scores)), std=float(np.std(scores)))


def inception_score_from_logits(logits: ArrayLike, splits: int = 10) -> ISResult:
    """:func:`inception_score` of ``softmax(logits)``, ``[n, classes]``, with the softmax in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    return inception_score(scipy.special.softmax(logits, axis=-1), splits=splits)
