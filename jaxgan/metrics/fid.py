"""Fréchet Inception Distance (FID) on feature arrays, in float64 on the host.

Heusel, Ramsauer, Unterthiner, Nessler, Hochreiter, "GANs Trained by a Two Time-Scale Update Rule Converge to a
Local Nash Equilibrium", NeurIPS 2017 (https://arxiv.org/abs/1706.08500).

The Fréchet (2-Wasserstein) distance between two Gaussians fitted to features ``[n, d]`` (the 2048-d ``pool3``
features of :mod:`jaxgan.metrics.inception` for FID) is::

    FID = ||mu1 - mu2||^2 + Tr(Sigma1) + Tr(Sigma2) - 2 Tr((Sigma1 Sigma2)^(1/2))

Everything here is NumPy/SciPy in float64: the trace of a matrix square root of a product of two ``[2048, 2048]``
covariances loses digits fast in float32, and the statistics themselves are sums over 50k samples.

:class:`FeatureStats` accumulates the statistics of a stream of feature batches (count, sum and sum of outer
products in float64), so 50k generated samples never need to be held at once, and saves them to / loads them
from ``.npz`` (keys ``mu``, ``sigma``, ``count``; pytorch-fid's ``mu``/``sigma`` files load too).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import scipy.linalg

ArrayLike = Any


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """The symmetric PSD square root of a symmetric matrix ``[d, d]``, negative eigenvalues clipped to 0."""
    eigvals, eigvecs = scipy.linalg.eigh(0.5 * (sigma + sigma.T), driver="evd")
    return (eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))) @ eigvecs.T


def trace_sqrt_product(sigma1: ArrayLike, sigma2: ArrayLike) -> float:
    """``Tr((Sigma1 Sigma2)^(1/2))`` for symmetric PSD ``[d, d]`` matrices, stably and in float64.

    With ``S = Sigma^(1/2)`` (symmetric PSD, from ``eigh``), ``Sigma1 Sigma2`` is similar to the PSD matrix
    ``S1 Sigma2 S1 = (S1 S2)(S1 S2)^T``, so the eigenvalues of its principal square root are the singular values
    of ``S1 S2`` and the trace is the nuclear norm ``||S1 S2||_*``. Taking singular values of ``S1 S2`` rather
    than square roots of the eigenvalues of ``S1 Sigma2 S1`` keeps an absolute accuracy of ``eps * ||S1 S2||``
    for the zero eigenvalues of singular covariances (fewer samples than dimensions), where the square root of
    rounding noise would add ``sqrt(eps)``-sized errors; and unlike ``scipy.linalg.sqrtm(Sigma1 @ Sigma2)`` of the
    non-symmetric product it never turns complex, so pytorch-fid's ``eps * I`` fallback is not needed.
    """
    s1 = _psd_sqrt(np.asarray(sigma1, dtype=np.float64))
    s2 = _psd_sqrt(np.asarray(sigma2, dtype=np.float64))
    return float(scipy.linalg.svdvals(s1 @ s2).sum())


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike) -> float:
    """The Fréchet distance between ``N(mu1, Sigma1)`` and ``N(mu2, Sigma2)`` (Heusel et al. 2017).

    ``d^2 = ||mu1 - mu2||^2 + Tr(Sigma1) + Tr(Sigma2) - 2 Tr((Sigma1 Sigma2)^(1/2))``, computed in float64 with
    :func:`trace_sqrt_product`. It agrees with pytorch-fid's ``calculate_frechet_distance`` (``scipy.linalg.sqrtm``)
    wherever that is accurate and stays accurate for near-singular covariances.

    Args:
      mu1: mean of the first feature set, ``[d]``.
      sigma1: covariance of the first feature set, ``[d, d]``.
      mu2: mean of the second feature set, ``[d]``.
      sigma2: covariance of the second feature set, ``[d, d]``.

    Returns:
      The squared Fréchet distance as a Python float (FID when the features are Inception ``pool3``).
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,):
        raise ValueError(f"means must have the same shape [d], got {mu1.shape} and {mu2.shape}")
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"covariances must be [{d}, {d}], got {sigma1.shape} and {sigma2.shape}")
    diff = mu1 - mu2
    tr_covmean = trace_sqrt_product(sigma1, sigma2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


class FeatureStats:
    """Streaming mean and covariance of features ``[n, d]``, accumulated in float64.

    Keeps ``count``, ``sum = sum_i x_i`` ``[d]`` and ``sum_outer = sum_i x_i x_i^T`` ``[d, d]``; then
    ``mean = sum / count`` and the unbiased ``cov = (sum_outer - count * mean mean^T) / (count - 1)``, as
    ``np.cov(features, rowvar=False)``. Two accumulators over disjoint data :meth:`merge` into the statistics
    of their union (per-host or per-shard accumulation).

    Statistics loaded from a file without a count (pytorch-fid's ``mu``/``sigma`` npz) are *moments only*:
    :attr:`mean`, :attr:`cov`, :meth:`save` and FID work, :meth:`update` and :meth:`merge` raise.

    Example::

        stats = FeatureStats()
        for batch in batches:             # [b, 2048] pool3 features
            stats.update(batch)
        stats.save("cifar10_train.npz")
        fid = fid_from_stats(stats, FeatureStats.load("generated.npz"))
    """

    def __init__(self, dim: int | None = None):
        """Args: dim: the feature dimension ``d``; inferred from the first :meth:`update` when ``None``."""
        self.count = 0
        self.dim = dim
        self._sum = None if dim is None else np.zeros([dim], np.float64)
        self._sum_outer = None if dim is None else np.zeros([dim, dim], np.float64)
        self._moments: tuple[np.ndarray, np.ndarray] | None = None  # (mu, sigma) without a count

    @classmethod
    def from_features(cls, features: ArrayLike) -> FeatureStats:
        """The statistics of one array of features ``[n, d]``."""
        stats = cls()
        stats.update(features)
        return stats

    @classmethod
    def from_moments(cls, mu: ArrayLike, sigma: ArrayLike, count: int | None = None) -> FeatureStats:
        """Statistics from a mean ``[d]`` and an unbiased covariance ``[d, d]`` (``count=None``: moments only)."""
        mu = np.asarray(mu, np.float64)
        sigma = np.asarray(sigma, np.float64)
        if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise ValueError(f"expected mu [d] and sigma [d, d], got {mu.shape} and {sigma.shape}")
        stats = cls(mu.shape[0])
        if count is None:
            stats._moments = (mu, sigma)
            stats._sum = stats._sum_outer = None
        else:
            count = int(count)
            if count < 2:
                raise ValueError(f"count must be at least 2 to recover sums from an unbiased covariance, got {count}")
            stats.count = count
            stats._sum = count * mu
            stats._sum_outer = (count - 1) * sigma + count * np.outer(mu, mu)
        return stats

    @property
    def moments_only(self) -> bool:
        """True for statistics loaded without a sample count (they cannot be updated or merged)."""
        return self._moments is not None

    def _check_accumulable(self, what: str) -> None:
        if self.moments_only:
            raise ValueError(f"cannot {what} statistics loaded without a sample count (mu/sigma only)")

    def update(self, features: ArrayLike) -> None:
        """Adds a batch of features ``[b, d]`` (any float dtype; accumulated in float64)."""
        self._check_accumulable("update")
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be [batch, dim], got shape {x.shape}")
        if self.dim is None:
            self.dim = x.shape[1]
            self._sum = np.zeros([self.dim], np.float64)
            self._sum_outer = np.zeros([self.dim, self.dim], np.float64)
        if x.shape[1] != self.dim:
            raise ValueError(f"features have dimension {x.shape[1]}, these statistics have {self.dim}")
        self.count += x.shape[0]
        self._sum += x.sum(axis=0)
        self._sum_outer += x.T @ x

    def merge(self, other: FeatureStats) -> FeatureStats:
        """The statistics of the union of two disjoint feature sets (a new object; neither input changes)."""
        self._check_accumulable("merge")
        other._check_accumulable("merge")
        if self.dim is None:
            return other.copy()
        if other.dim is None:
            return self.copy()
        if self.dim != other.dim:
            raise ValueError(f"cannot merge statistics of dimension {self.dim} and {other.dim}")
        out = FeatureStats(self.dim)
        out.count = self.count + other.count
        out._sum = self._sum + other._sum
        out._sum_outer = self._sum_outer + other._sum_outer
        return out

    def copy(self) -> FeatureStats:
        out = FeatureStats(self.dim)
        out.count = self.count
        out._sum = None if self._sum is None else self._sum.copy()
        out._sum_outer = None if self._sum_outer is None else self._sum_outer.copy()
        out._moments = self._moments
        return out

    @property
    def mean(self) -> np.ndarray:
        """The mean ``[d]`` (float64)."""
        if self._moments is not None:
            return self._moments[0]
        if self.count < 1:
            raise ValueError("no features accumulated")
        return self._sum / self.count

    @property
    def cov(self) -> np.ndarray:
        """The unbiased covariance ``[d, d]`` (float64), normalised by ``count - 1`` like ``np.cov``."""
        if self._moments is not None:
            return self._moments[1]
        if self.count < 2:
            raise ValueError(f"the covariance needs at least 2 samples, have {self.count}")
        mean = self._sum / self.count
        cov = (self._sum_outer - self.count * np.outer(mean, mean)) / (self.count - 1)
        return 0.5 * (cov + cov.T)

    def save(self, path: str | os.PathLike) -> None:
        """Writes ``mu`` ``[d]``, ``sigma`` ``[d, d]`` (float64) and ``count`` (absent if unknown) to an npz."""
        arrays = {"mu": self.mean, "sigma": self.cov}
        if not self.moments_only:
            arrays["count"] = np.asarray(self.count, np.int64)
        with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a bare name
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> FeatureStats:
        """Reads an npz written by :meth:`save`, or pytorch-fid's ``mu``/``sigma`` npz (moments only)."""
        if not os.path.isfile(path):
            raise FileNotFoundError(f"feature statistics file not found: {path}")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as e:  # any parse failure means "not our format"
            raise ValueError(f"{path} is not an npz file of feature statistics: {e}") from e
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"{path} is not an npz archive (expected keys 'mu' and 'sigma')")
        with data:
            missing = [k for k in ("mu", "sigma") if k not in data.files]
            if missing:
                raise ValueError(f"{path} lacks key(s) {missing}; found {sorted(data.files)}")
            count = int(data["count"]) if "count" in data.files else None
            return cls.from_moments(data["mu"], data["sigma"], count)


def fid_from_stats(stats1: FeatureStats, stats2: FeatureStats) -> float:
    """:func:`frechet_distance` between two :class:`FeatureStats`."""
    return frechet_distance(stats1.mean, stats1.cov, stats2.mean, stats2.cov)


def fid_from_features(features1: ArrayLike, features2: ArrayLike) -> float:
    """:func:`frechet_distance` between the Gaussians fitted to two feature arrays ``[n1, d]`` and ``[n2, d]``.

    Means and unbiased covariances (``np.cov(..., rowvar=False)``) are computed in float64.
    """
    f1 = np.asarray(features1, dtype=np.float64)
    f2 = np.asarray(features2, dtype=np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"expected features [n1, d] and [n2, d], got {f1.shape} and {f2.shape}")
    return frechet_distance(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))
