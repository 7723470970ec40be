"""Precision, recall, density and coverage of k-nearest-neighbour manifolds, in blocks with JAX.

* Improved precision and recall: Kynkäänniemi, Karras, Laine, Lehtinen, Aila, "Improved Precision and Recall
  Metric for Assessing Generative Models", NeurIPS 2019 (https://arxiv.org/abs/1904.06991).
* Density and coverage: Naeem, Oh, Uh, Choi, Yoo, "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML 2020 (https://arxiv.org/abs/2002.09797).

With real features ``X: [N, d]``, fake features ``Y: [M, d]``, Euclidean distance ``D`` and ``r_k(x)`` the distance
from ``x`` to its k-th nearest neighbour in its own set (the point itself excluded), ``B(x, r)`` the open ball::

    precision = 1/M sum_j 1[ exists i: Y_j in B(X_i, r_k(X_i)) ]
    recall    = 1/N sum_i 1[ exists j: X_i in B(Y_j, r_k(Y_j)) ]
    density   = 1/(k M) sum_j sum_i 1[ Y_j in B(X_i, r_k(X_i)) ]
    coverage  = 1/N sum_i 1[ exists j: Y_j in B(X_i, r_k(X_i)) ]

These are the definitions of the ``prdc`` package (clovaai/generative-evaluation-prdc, ``compute_prdc``): strict
``<`` against the radius, and the radius the (k+1)-th smallest distance of a point to its own set, the first
being its zero distance to itself.

Distances are computed ``block_size`` rows at a time (a ``[block_size, N]`` or ``[block_size, M]`` slab of squared
distances; comparisons are made on squared distances), so 50k x 50k features never need a 50k^2 matrix. Features
are centred on a common point first, which leaves distances unchanged and keeps the float32 expansion
``|a|^2 + |b|^2 - 2 a.b`` accurate.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

ArrayLike = Any


def _sq_dists(a: jax.Array, b: jax.Array) -> jax.Array:
    """Squared Euclidean distances ``[p, d] x [q, d] -> [p, q]``, clipped at 0."""
    ab = jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST)
    d2 = jnp.sum(a * a, axis=1)[:, None] + jnp.sum(b * b, axis=1)[None, :] - 2.0 * ab
    return jnp.maximum(d2, 0.0)


@functools.partial(jax.jit, static_argnames="nearest_k")
def _kth_neighbour_sq_radius_block(queries: jax.Array, points: jax.Array, nearest_k: int) -> jax.Array:
    """The (k+1)-th smallest squared distance of each query ``[b, d]`` to ``points`` ``[n, d]``, ``[b]``."""
    neg_smallest, _ = jax.lax.top_k(-_sq_dists(queries, points), nearest_k + 1)
    return -neg_smallest[:, -1]


@jax.jit
def _cross_block(
    real: jax.Array, real_sq_radii: jax.Array, fake: jax.Array, fake_sq_radii: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """For real rows ``[b, d]``: per fake point the number of these real balls containing it ``[M]``, and per
    real row whether it lies in some fake ball (recall) ``[b]`` and whether its ball holds a fake (coverage)."""
    d2 = _sq_dists(real, fake)  # [b, M]
    in_real_ball = d2 < real_sq_radii[:, None]
    counts = jnp.sum(in_real_ball, axis=0, dtype=jnp.int32)
    in_fake_ball = jnp.any(d2 < fake_sq_radii[None, :], axis=1)
    return counts, in_fake_ball, jnp.any(in_real_ball, axis=1)


def _row_blocks(x: np.ndarray, block_size: int):
    """Yields ``(start, block)`` with every block padded to ``block_size`` rows (one compilation)."""
    n = x.shape[0]
    for start in range(0, n, block_size):
        block = x[start : start + block_size]
        if block.shape[0] < block_size:
            block = np.concatenate([block, np.zeros([block_size - block.shape[0], x.shape[1]], x.dtype)])
        yield start, block


def nearest_neighbour_sq_radii(features: ArrayLike, nearest_k: int = 5, block_size: int = 512) -> np.ndarray:
    """Squared distance of each row of ``features`` ``[n, d]`` to its k-th nearest other row, ``[n]`` float32."""
    x = np.asarray(features, np.float32)
    n = x.shape[0]
    if not 1 <= nearest_k < n:
        raise ValueError(f"nearest_k must be in [1, n - 1] = [1, {n - 1}], got {nearest_k}")
    block_size = min(block_size, n)
    points = jnp.asarray(x)
    out = np.empty([n], np.float32)
    for start, block in _row_blocks(x, block_size):
        r2 = _kth_neighbour_sq_radius_block(jnp.asarray(block), points, nearest_k)
        stop = min(start + block_size, n)
        out[start:stop] = np.asarray(r2)[: stop - start]
    return out


def prdc(
    real_features: ArrayLike, fake_features: ArrayLike, nearest_k: int = 5, block_size: int = 512
) -> dict[str, float]:
    """Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020).

    See the module docstring for the definitions. Peak memory is ``O(block_size * max(N, M))`` floats.

    Args:
      real_features: ``[N, d]``, e.g. Inception ``pool3`` features of real images (or VGG-16 fc2 as in
        Kynkäänniemi et al.; any embedding works).
      fake_features: ``[M, d]``, of generated images.
      nearest_k: the k of the k-NN radii: 5 as in ``prdc`` and Naeem et al.; Kynkäänniemi et al. and
        StyleGAN2-ADA's ``pr50k3`` use 3.
      block_size: rows of each distance slab; the result does not depend on it.

    Returns:
      ``{"precision", "recall", "density", "coverage"}`` as Python floats; density can exceed 1.
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected features [N, d] and [M, d], got {real.shape} and {fake.shape}")
    if block_size < 1:
        raise ValueError(f"block_size must be positive, got {block_size}")
    center = 0.5 * (real.mean(axis=0) + fake.mean(axis=0))
    real = (real - center).astype(np.float32)
    fake = (fake - center).astype(np.float32)

    real_r2 = nearest_neighbour_sq_radii(real, nearest_k, block_size)
    fake_r2 = nearest_neighbour_sq_radii(fake, nearest_k, block_size)

    n_real = real.shape[0]
    rows = min(block_size, n_real)
    fake_dev, fake_r2_dev = jnp.asarray(fake), jnp.asarray(fake_r2)
    counts = np.zeros([fake.shape[0]], np.int64)
    recalled = np.empty([n_real], bool)
    covered = np.empty([n_real], bool)
    for start, block in _row_blocks(real, rows):
        stop = min(start + rows, n_real)
        r2 = np.full([rows], -np.inf, np.float32)  # padding rows: empty balls, no effect on counts
        r2[: stop - start] = real_r2[start:stop]
        c, rec, cov = _cross_block(jnp.asarray(block), jnp.asarray(r2), fake_dev, fake_r2_dev)
        counts += np.asarray(c)
        recalled[start:stop] = np.asarray(rec)[: stop - start]
        covered[start:stop] = np.asarray(cov)[: stop - start]

    return {
        "precision": float(np.mean(counts > 0)),
        "recall": float(np.mean(recalled)),
        "density": float(np.mean(counts) / nearest_k),
        "coverage": float(np.mean(covered)),
    }
