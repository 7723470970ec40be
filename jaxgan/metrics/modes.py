"""Mode-collapse statistics for Gaussian-mixture toy data (host-side NumPy).

The protocol of VEEGAN (Srivastava et al. 2017, "VEEGAN: Reducing mode collapse in GANs using implicit
variational learning") and PacGAN (Lin et al. 2018, "PacGAN: The power of two samples in generative
adversarial networks", the 2-D ring and grid experiments):

1. each generated sample is assigned to its nearest mode ``j*`` in units of the modes' σ,
   ``d_j(x) = ||x - μ_j|| / σ_j`` (for equal σ this is the Euclidean nearest mode);
2. a sample is *high quality* if ``d_{j*}(x) < threshold`` (3 standard deviations);
3. a mode is *captured* if it is the nearest mode of at least one high-quality sample;
4. the *reverse KL* is ``KL(q || u) = Σ_j q_j log(q_j · m)``, where ``q`` is the histogram of the
   high-quality samples over the ``m`` modes (normalised to sum to 1) and ``u`` the uniform distribution over
   all ``m`` modes, with ``0 · log 0 = 0``. It is 0 when every mode gets the same share and ``log m`` when a
   single mode gets them all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_CHUNK = 8192  # rows per distance block: bounds memory at _CHUNK * n_modes * dim floats


def mode_collapse_stats(samples: Any, means: Any, std: Any, threshold: float = 3.0) -> dict[str, Any]:
    """Counts the modes a generator covers and the quality of its samples (VEEGAN / PacGAN protocol).

    Args:
      samples: ``[n, dim]`` generated samples (any array; converted to float64 NumPy).
      means: ``[m, dim]`` mode centres.
      std: the modes' σ: a float, or ``[m]`` per-mode values.
      threshold: a sample is high quality if it lies within ``threshold`` σ of its nearest mode.

    Returns:
      A dict with

      * ``"modes"``: int, the number of modes that are the nearest mode of at least one high-quality sample;
      * ``"high_quality"``: float in [0, 1], the fraction of samples that are high quality;
      * ``"reverse_kl"``: float, ``KL(q || uniform over the m modes)`` of the high-quality samples' histogram
        ``q``; ``inf`` when there is no high-quality sample (``q`` is undefined);
      * ``"counts"``: list of ``m`` ints, the number of high-quality samples assigned to each mode.

    Raises:
      ValueError: for mismatched shapes, no samples, or a non-positive σ.
    """
    samples = np.asarray(samples, np.float64)
    means = np.asarray(means, np.float64)
    if means.ndim != 2:
        raise ValueError(f"means must be [n_modes, dim], got shape {means.shape}")
    m, dim = means.shape
    if samples.ndim != 2 or samples.shape[1] != dim or samples.shape[0] == 0:
        raise ValueError(f"samples must be [n > 0, {dim}] to match means {means.shape}, got {samples.shape}")
    std = np.broadcast_to(np.asarray(std, np.float64), (m,))
    if np.any(std <= 0):
        raise ValueError(f"std must be positive, got {std.tolist()}")

    nearest = np.empty(len(samples), np.int64)
    distance = np.empty(len(samples), np.float64)  # in σ of the nearest mode
    for start in range(0, len(samples), _CHUNK):
        block = samples[start : start + _CHUNK]
        d = np.linalg.norm(block[:, None, :] - means[None, :, :], axis=-1) / std  # [chunk, m]
        j = np.argmin(d, axis=1)
        nearest[start : start + len(block)] = j
        distance[start : start + len(block)] = d[np.arange(len(block)), j]

    good = distance < threshold
    counts = np.bincount(nearest[good], minlength=m)
    n_good = int(counts.sum())
    if n_good == 0:
        reverse_kl = float("inf")
    else:
        q = counts[counts > 0] / n_good
        reverse_kl = float(np.sum(q * np.log(q * m)))
    return {
        "modes": int(np.count_nonzero(counts)),
        "high_quality": n_good / len(samples),
        "reverse_kl": reverse_kl,
        "counts": counts.tolist(),
    }
