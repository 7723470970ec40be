"""Kernel Inception Distance (KID): an unbiased MMD^2 with a cubic polynomial kernel, in JAX.

Bińkowski, Sutherland, Arbel, Gretton, "Demystifying MMD GANs", ICLR 2018 (https://arxiv.org/abs/1801.01401).

For features ``x, y: [m, d]`` (Inception ``pool3``, d = 2048) and the kernel ``k(a, b) = (a . b / d + 1)^3``::

    MMD^2_u = 1/(m(m-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j) - 2/m^2 sum_{i,j} k(x_i, y_j)

KID is the mean of ``MMD^2_u`` over ``num_subsets`` random subsets of ``subset_size`` rows (without replacement)
of each set, with the standard deviation over subsets as its spread. This is ``polynomial_mmd_averages`` with
``mmd_est='unbiased'`` from the paper's code, and the same estimator as torch-fidelity's ``kid`` and clean-fid's
``kernel_distance``; the subsets are drawn exactly as torch-fidelity draws them (``np.random.RandomState(seed)``,
first set then second set per subset), so ``num_subsets=100, subset_size=1000, seed=2020`` reproduces its numbers.

The kernel matrices are computed in float32 with JAX; the three sums are rearranged so that the large, nearly
cancelling kernel values are subtracted element-wise before summation (see :func:`mmd2_unbiased`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ArrayLike = Any


class KIDResult(NamedTuple):
    """KID as the mean and standard deviation (``np.std``, ddof 0) of ``MMD^2_u`` over subsets."""

    mean: float
    std: float


def polynomial_kernel(x: jax.Array, y: jax.Array, degree: int = 3, coef0: float = 1.0) -> jax.Array:
    """The KID kernel matrix ``k(x_i, y_j) = (x_i . y_j / d + coef0)^degree``, ``[m, d] x [n, d] -> [m, n]``."""
    d = x.shape[-1]
    return (jnp.matmul(x, y.T, precision=jax.lax.Precision.HIGHEST) / d + coef0) ** degree


@jax.jit
def mmd2_unbiased(x: jax.Array, y: jax.Array) -> jax.Array:
    """The unbiased ``MMD^2_u`` between two samples ``[m, d]`` with the cubic polynomial kernel.

    See the module docstring for the formula. With ``A = sum_{i != j} (Kxx + Kyy - Kxy - Kxy^T)_ij``,
    ``C' = sum_{i != j} Kxy_ij`` and ``T = tr Kxy`` it is evaluated as
    ``A / (m(m-1)) + 2 C' / (m^2 (m-1)) - 2 T / m^2``, which equals the formula exactly but sums values of the
    size of the kernel's spread instead of its magnitude (float32 accumulation over ``m^2`` terms).

    Args:
      x: first sample, ``[m, d]``.
      y: second sample, ``[m, d]`` (the same ``m``, as in the reference implementations).

    Returns:
      A float32 scalar.
    """
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape [m, d], got {x.shape} and {y.shape}")
    m = x.shape[0]
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y, jnp.float32)
    k_xx = polynomial_kernel(x, x)
    k_yy = polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    off_diagonal = 1.0 - jnp.eye(m, dtype=jnp.float32)
    a = jnp.sum(jnp.sum((k_xx + k_yy - k_xy - k_xy.T) * off_diagonal, axis=1))
    trace = jnp.trace(k_xy)
    c_off = jnp.sum(jnp.sum(k_xy, axis=1)) - trace
    return a / (m * (m - 1)) + 2.0 * c_off / (m * m * (m - 1)) - 2.0 * trace / (m * m)


def kernel_inception_distance(
    features1: ArrayLike,
    features2: ArrayLike,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> KIDResult:
    """KID (Bińkowski et al. 2018): mean and std of :func:`mmd2_unbiased` over random subsets.

    For each of ``num_subsets`` subsets, ``subset_size`` rows of ``features1`` and then ``subset_size`` rows of
    ``features2`` are drawn without replacement with ``np.random.RandomState(seed).choice``, as torch-fidelity
    does. With ``subset_size`` equal to both set sizes every subset is the whole set (std 0).

    Args:
      features1: ``[n1, d]``, e.g. Inception ``pool3`` features of generated images.
      features2: ``[n2, d]``, e.g. of real images.
      num_subsets: number of random subsets (100 in torch-fidelity, clean-fid and StyleGAN2-ADA).
      subset_size: rows per subset, at most ``min(n1, n2)`` (1000 in the same references).
      seed: seed of the NumPy ``RandomState`` that draws the subsets (torch-fidelity uses 2020).

    Returns:
      ``KIDResult(mean, std)`` as Python floats.
    """
    f1 = np.asarray(features1, dtype=np.float32)
    f2 = np.asarray(features2, dtype=np.float32)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"expected features [n1, d] and [n2, d], got {f1.shape} and {f2.shape}")
    n1, n2 = f1.shape[0], f2.shape[0]
    if not 2 <= subset_size <= min(n1, n2):
        raise ValueError(
            f"subset_size must be in [2, min(n1, n2)] = [2, {min(n1, n2)}], got {subset_size}; "
            "pass a smaller subset_size or more samples"
        )
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be positive, got {num_subsets}")
    rng = np.random.RandomState(seed)
    mmds = np.zeros([num_subsets], np.float64)
    for i in range(num_subsets):
        x = f1[rng.choice(n1, subset_size, replace=False)]
        y = f2[rng.choice(n2, subset_size, replace=False)]
        mmds[i] = float(mmd2_unbiased(x, y))
    return KIDResult(mean=float(np.mean(mmds)), std=float(np.std(mmds)))
