"""Low-dimensional toy distributions, sampled on device with pure JAX functions.

Every distribution is a Gaussian mixture with uniform mode weights, returned as a :class:`ToyDistribution`.
Sampling is a pure function of a PRNG key, so a ``lax.scan`` over training steps needs no host data:

* :func:`ring`: 8 Gaussians on the unit circle, means ``(cos 2πi/8, sin 2πi/8)``, σ = 0.01;
* :func:`grid`: 25 Gaussians with means in ``{-4, -2, 0, 2, 4}²``, σ = 0.05;
* :func:`gaussian_1d`: one 1-D Gaussian N(4, 0.5²) (the classroom exercise: learn it from n-D uniform noise);
* :func:`gaussian_2d`: one 2-D Gaussian with a full covariance (learned from 4-D noise).

The ring and the grid are the mode-collapse benchmarks of VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018); score them with :func:`jaxgan.metrics.modes.mode_collapse_stats`.

Latent samplers (:func:`normal_latent`, :func:`uniform_latent`) return ``latent_fn(key) -> [dim]`` for ONE
sample. The engine draws a batch as ``jax.vmap(latent_fn)(keys)`` with one key per sample, derived from the
sample's index in the global batch, so the numbers do not depend on how the batch is split across devices.
:attr:`ToyDistribution.sample_one` follows the same convention for data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.train import normal_latent  # noqa: F401  (re-exported: the toy latents live beside it)

Array = jax.Array


class ToyDistribution(NamedTuple):
    """A Gaussian mixture with uniform weights over its modes.

    Attributes:
      name: the registry name (``"ring"``, ``"grid"``, ...).
      dim: the dimension of one sample.
      means: ``[n_modes, dim]`` float32 numpy array of mode centres.
      std: ``[n_modes]`` float32 numpy array of per-mode σ (isotropic). For a full covariance (``cov`` set)
        it is the root-mean-square per-axis σ, ``sqrt(trace(cov) / dim)``.
      sample: ``sample(key, n) -> [n, dim]`` float32, already jitted with ``n`` static (it can be called inside
        another jit or a ``lax.scan``). Equals ``jax.vmap(sample_one)(jax.random.split(key, n))``.
      sample_one: ``sample_one(key) -> [dim]``: one sample (a uniformly chosen mode, then Gaussian noise).
      cov: ``[dim, dim]`` covariance shared by all modes when it is not isotropic, else ``None``.
    """

    name: str
    dim: int
    means: np.ndarray
    std: np.ndarray
    sample: Callable[[Array, int], Array]
    sample_one: Callable[[Array], Array]
    cov: np.ndarray | None = None


def _mixture(name: str, means: Any, std: Any, cov: Any = None) -> ToyDistribution:
    """Builds a uniform mixture of Gaussians ``N(means[i], std[i]² I)`` (or ``N(means[i], cov)``)."""
    means = np.asarray(means, np.float32)
    if means.ndim != 2:
        raise ValueError(f"{name}: means must be [n_modes, dim], got shape {means.shape}")
    n_modes, dim = means.shape
    scale_tril = None
    if cov is not None:
        cov = np.asarray(cov, np.float32)
        if cov.shape != (dim, dim) or not np.allclose(cov, cov.T):
            raise ValueError(f"{name}: cov must be a symmetric [{dim}, {dim}] matrix, got {cov.tolist()}")
        try:
            scale_tril = np.linalg.cholesky(cov.astype(np.float64)).astype(np.float32)
        except np.linalg.LinAlgError:
            raise ValueError(f"{name}: cov must be positive definite, got {cov.tolist()}") from None
        std = math.sqrt(float(np.trace(cov)) / dim)
    std = np.broadcast_to(np.asarray(std, np.float32), (n_modes,)).copy()
    if np.any(std <= 0):
        raise ValueError(f"{name}: std must be positive, got {std.tolist()}")

    def sample_one(key: Array) -> Array:
        mode_key, noise_key = jax.random.split(key)
        i = jax.random.randint(mode_key, (), 0, n_modes)
        eps = jax.random.normal(noise_key, (dim,), jnp.float32)
        if scale_tril is not None:
            return jnp.asarray(means)[i] + jnp.asarray(scale_tril) @ eps
        return jnp.asarray(means)[i] + jnp.asarray(std)[i] * eps

    def sample(key: Array, n: int) -> Array:
        return jax.vmap(sample_one)(jax.random.split(key, n))

    return ToyDistribution(name, dim, means, std, jax.jit(sample, static_argnums=1), jax.jit(sample_one), cov)


def ring(n_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> ToyDistribution:
    """``n_modes`` Gaussians with means ``radius · (cos 2πi/n_modes, sin 2πi/n_modes)`` and σ = ``std``."""
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return _mixture("ring", means, std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> ToyDistribution:
    """``side²`` Gaussians on a centred square grid (``{-4, -2, 0, 2, 4}²`` by default), σ = ``std``.

    Mode ``i * side + j`` has mean ``(c[i], c[j])`` with ``c = (arange(side) - (side - 1) / 2) * spacing``.
    """
    c = (np.arange(side) - (side - 1) / 2) * spacing
    means = np.stack(np.meshgrid(c, c, indexing="ij"), axis=-1).reshape(-1, 2)
    return _mixture("grid", means, std)


def gaussian_1d(mean: float = 4.0, std: float = 0.5) -> ToyDistribution:
    """One 1-D Gaussian N(mean, std²): samples ``[n, 1]``."""
    return _mixture("gaussian_1d", [[mean]], std)


def gaussian_2d(
    mean: tuple[float, float] = (1.0, -1.0),
    cov: tuple[tuple[float, float], tuple[float, float]] = ((1.0, 0.5), (0.5, 1.0)),
) -> ToyDistribution:
    """One 2-D Gaussian N(mean, cov) with a full covariance (correlation 0.5 by default): samples ``[n, 2]``."""
    return _mixture("gaussian_2d", [list(mean)], None, cov)


TOY_DISTRIBUTIONS: dict[str, Callable[..., ToyDistribution]] = {
    "ring": ring,
    "grid": grid,
    "gaussian_1d": gaussian_1d,
    "gaussian_2d": gaussian_2d,
}


def get_toy(name: str, **kwargs: Any) -> ToyDistribution:
    """The toy distribution registered as ``name``, built with ``kwargs`` (e.g. ``get_toy("ring", std=0.02)``).

    Raises:
      ValueError: for an unknown name; the message lists the valid ones.
    """
    if name not in TOY_DISTRIBUTIONS:
        raise ValueError(f"unknown toy distribution {name!r}; valid names: {', '.join(TOY_DISTRIBUTIONS)}")
    return TOY_DISTRIBUTIONS[name](**kwargs)


def uniform_latent(dim: int, low: float = -1.0, high: float = 1.0) -> Callable[[Array], Array]:
    """Uniform latents on ``[low, high)^dim``: returns ``latent_fn(key) -> [dim]`` for ONE sample."""
    if not high > low:
        raise ValueError(f"uniform_latent needs high > low, got low={low}, high={high}")
    return lambda key: jax.random.uniform(key, (dim,), jnp.float32, minval=low, maxval=high)
