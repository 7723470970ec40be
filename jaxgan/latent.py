"""Latent-space tools: interpolation (linear and spherical), latent arithmetic, and the truncation trick.

All are pure functions on latent arrays ``[..., latent_dim]``; :mod:`jaxgan.run.sampling` renders them as images.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def lerp(z0: Array, z1: Array, t: Array) -> Array:
    """Linear interpolation ``(1 - t) z0 + t z1``; ``t`` broadcasts against the latents' leading axes."""
    t = jnp.asarray(t)[..., None]
    return (1.0 - t) * z0 + t * z1


def slerp(z0: Array, z1: Array, t: Array, eps: float = 1e-7) -> Array:
    """Spherical linear interpolation (Shoemake 1985; White 2016, "Sampling Generative Networks").

    ``slerp(z0, z1, t) = sin((1-t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1`` with ``cos Ω = <z0, z1>/(|z0||z1|)``. It keeps
    interpolants at the typical norm of Gaussian latents, where linear interpolation passes near the origin.
    Falls back to :func:`lerp` when the latents are (anti)parallel within ``eps``.
    """
    t = jnp.asarray(t)[..., None]
    n0 = jnp.linalg.norm(z0, axis=-1, keepdims=True)
    n1 = jnp.linalg.norm(z1, axis=-1, keepdims=True)
    cos = jnp.clip(jnp.sum(z0 * z1, axis=-1, keepdims=True) / (n0 * n1 + eps), -1.0, 1.0)
    omega = jnp.arccos(cos)
    so = jnp.sin(omega)
    safe = so > eps
    so_ = jnp.where(safe, so, 1.0)
    a = jnp.where(safe, jnp.sin((1.0 - t) * omega) / so_, 1.0 - t)
    b = jnp.where(safe, jnp.sin(t * omega) / so_, t)
    return a * z0 + b * z1


def interpolate(z0: Array, z1: Array, steps: int, method: str = "slerp") -> Array:
    """``steps`` latents from ``z0`` to ``z1`` inclusive, ``[steps, latent_dim]``; method ``"lerp"`` or ``"slerp"``."""
    if method not in ("lerp", "slerp"):
        raise ValueError(f"interpolation method must be lerp or slerp, got {method!r}")
    if steps < 2:
        raise ValueError(f"an interpolation needs at least 2 steps, got {steps}")
    t = jnp.linspace(0.0, 1.0, steps)
    fn = lerp if method == "lerp" else slerp
    return fn(z0[None, :], z1[None, :], t)


def latent_arithmetic(group_a: Array, group_b: Array, group_c: Array) -> Array:
    """``mean(A) - mean(B) + mean(C)`` over each group's latents ``[n_i, latent_dim]`` (Radford et al. 2016, §6.3)."""
    return jnp.mean(group_a, axis=0) - jnp.mean(group_b, axis=0) + jnp.mean(group_c, axis=0)


def truncated_normal(key: Array, shape: tuple[int, ...], threshold: float) -> Array:
    """The truncation trick of BigGAN (Brock et al. 2019): N(0, I) latents with every component whose magnitude
    exceeds ``threshold`` resampled, i.e. a standard normal truncated to ``[-threshold, threshold]``."""
    if not threshold > 0:
        raise ValueError(f"truncation threshold must be > 0, got {threshold}")
    return jax.random.truncated_normal(key, -threshold, threshold, shape)


def truncate_towards_mean(z: Array, psi: float, mean: Array | None = None) -> Array:
    """StyleGAN's form of truncation (Karras et al. 2019): ``mean + psi (z - mean)``; ``psi = 1`` is no truncation."""
    mean = jnp.zeros(z.shape[-1]) if mean is None else mean
    return mean + psi * (z - mean)
