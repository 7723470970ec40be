"""Discriminator regularizers: gradient penalties and WGAN's weight clipping.

A :class:`Penalty` is a weight and a pure function ``fn(d_fn, real, fake, keys) -> scalar``; the engine adds
``weight * fn(...)`` to the discriminator loss and reports the unweighted value as ``d/<name>``. ``d_fn`` maps
inputs ``[batch, ...]`` to outputs ``[batch]``, each output depending only on its own input row; ``real`` and
``fake`` are ``[batch, ...]``; ``keys`` are per-sample PRNG keys ``[batch, 2]`` (raw ``uint32`` keys, or typed
keys ``[batch]``). Each sample draws its randomness from its own key, so every penalty except DRAGAN (whose
noise scale is the batch's std) is a mean of per-sample terms and does not depend on how a batch is split
across devices.

Input gradients are ``jax.grad`` of ``sum(d_fn(x))``, which is the per-sample gradient because samples are
independent; norms are over all non-batch axes, and the norm's gradient at 0 is 0 (``optax.safe_norm``), not
NaN.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

Array = jax.Array
PyTree = Any
DFn = Callable[[Array], Array]


class Penalty(NamedTuple):
    """A discriminator regularizer.

    Attributes:
      name: metric name; the engine reports the unweighted value as ``d/<name>``.
      weight: multiplies the value in the discriminator loss.
      fn: ``fn(d_fn, real, fake, keys) -> scalar``, the unweighted penalty (see the module docstring).
    """

    name: str
    weight: float
    fn: Callable[[DFn, Array, Array, Array], Array]


def _check(name: str, value: float, lo: float = -math.inf, strict: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < lo or (strict and value == lo):
        bound = f"> {lo}" if strict else f">= {lo}"
        raise ValueError(f"{name}={value!r} must be a finite number {bound}")
    return float(value)


def input_gradients(d_fn: DFn, x: Array) -> Array:
    """``[batch, ...]`` gradients of each sample's output w.r.t. its own input: ``grad(sum(d_fn(x)))``."""
    return jax.grad(lambda inputs: jnp.sum(d_fn(inputs)))(x)


def _norms(grads: Array) -> Array:
    """Per-sample L2 norms ``[batch]`` over all non-batch axes, with a zero (not NaN) gradient at 0."""
    return optax.safe_norm(grads.reshape(grads.shape[0], -1), 0.0, axis=1)


def _per_sample_uniform(keys: Array, shape: tuple[int, ...] = ()) -> Array:
    """``[batch, *shape]`` U[0, 1) draws, row ``i`` from ``keys[i]``."""
    return jax.vmap(lambda k: jax.random.uniform(k, shape))(keys)


def _broadcast_rows(v: Array, x: Array) -> Array:
    return v.reshape(v.shape + (1,) * (x.ndim - 1))


def gradient_penalty_value(d_fn: DFn, real: Array, fake: Array, keys: Array, target: float = 1.0) -> Array:
    """WGAN-GP penalty (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", Eq. 3).

    ``E_x̂ (||∇D(x̂)||_2 - target)^2`` with ``x̂ = ε x + (1 - ε) G(z)``, ``ε ~ U[0, 1]`` per sample.

    Args:
      d_fn: ``[batch, ...] -> [batch]``.
      real: ``[batch, ...]`` real samples.
      fake: ``[batch, ...]`` generated samples.
      keys: ``[batch]`` per-sample PRNG keys (raw keys are ``[batch, 2]``).
      target: the gradient norm to pull towards (1 for a 1-Lipschitz critic).
    """
    eps = _broadcast_rows(_per_sample_uniform(keys), real)
    x_hat = eps * real + (1.0 - eps) * fake
    return jnp.mean((_norms(input_gradients(d_fn, x_hat)) - target) ** 2)


def dragan_penalty_value(d_fn: DFn, real: Array, keys: Array, target: float = 1.0, c: float = 0.5) -> Array:
    """DRAGAN penalty (Kodali et al. 2017, "On Convergence and Stability of GANs").

    Perturb the real data, ``x_p = x + c std(x) u`` with ``u ~ U[0, 1]`` elementwise, interpolate
    ``x̃ = x + α (x_p - x)`` with ``α ~ U[0, 1]`` per sample, and penalize ``E (||∇D(x̃)||_2 - target)^2``.
    ``std(x)`` is the scalar standard deviation over all elements of ``real``, i.e. of the local batch (as in
    the authors' code): under data parallelism each device uses its own shard's std.

    Args:
      d_fn: ``[batch, ...] -> [batch]``.
      real: ``[batch, ...]`` real samples.
      keys: ``[batch]`` per-sample PRNG keys.
      target: the gradient norm to pull towards.
      c: noise scale in units of the data's std.
    """

    def draw(key):
        alpha_key, u_key = jax.random.split(key)
        return jax.random.uniform(alpha_key, ()), jax.random.uniform(u_key, real.shape[1:])

    alpha, u = jax.vmap(draw)(keys)
    x_p = real + c * jnp.std(real) * u
    x_tilde = real + _broadcast_rows(alpha, real) * (x_p - real)
    return jnp.mean((_norms(input_gradients(d_fn, x_tilde)) - target) ** 2)


def squared_gradient_norm(d_fn: DFn, x: Array) -> Array:
    """``E ||∇D(x)||_2^2`` over the batch ``x: [batch, ...]``: the value of R1 (on real) and R2 (on fake)."""
    grads = input_gradients(d_fn, x)
    return jnp.mean(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=1))


def gradient_penalty(weight: float = 10.0, target: float = 1.0) -> Penalty:
    """WGAN-GP's two-sided gradient penalty, named ``"gp"`` (see :func:`gradient_penalty_value`)."""
    weight, target = _check("weight", weight, 0.0), _check("target", target)
    fn = lambda d_fn, real, fake, keys: gradient_penalty_value(d_fn, real, fake, keys, target)
    return Penalty("gp", weight, fn)


def dragan_penalty(weight: float = 10.0, target: float = 1.0, c: float = 0.5) -> Penalty:
    """DRAGAN's penalty around the real data, named ``"dragan"`` (see :func:`dragan_penalty_value`)."""
    weight, target = _check("weight", weight, 0.0), _check("target", target)
    c = _check("c", c, 0.0, strict=True)
    fn = lambda d_fn, real, fake, keys: dragan_penalty_value(d_fn, real, keys, target, c)
    return Penalty("dragan", weight, fn)


def r1_penalty(gamma: float = 10.0) -> Penalty:
    """R1 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?"), named ``"r1"``.

    ``gamma / 2 * E_x ||∇D(x)||^2`` on real data: ``weight = gamma / 2``, value :func:`squared_gradient_norm`.
    """
    gamma = _check("gamma", gamma, 0.0)
    return Penalty("r1", gamma / 2, lambda d_fn, real, fake, keys: squared_gradient_norm(d_fn, real))


def r2_penalty(gamma: float = 10.0) -> Penalty:
    """R2 (Mescheder et al. 2018), named ``"r2"``: ``gamma / 2 * E ||∇D(G(z))||^2`` on generated data."""
    gamma = _check("gamma", gamma, 0.0)
    return Penalty("r2", gamma / 2, lambda d_fn, real, fake, keys: squared_gradient_norm(d_fn, fake))


def weight_clipping(c: float = 0.01) -> Callable[[PyTree], PyTree]:
    """WGAN's Lipschitz constraint (Arjovsky et al. 2017, Algorithm 1): clip every parameter to ``[-c, c]``.

    Returns:
      ``params -> params`` with every leaf clipped; the engine applies it after each discriminator update.
    """
    c = _check("c", c, 0.0, strict=True)
    return lambda params: jax.tree.map(lambda p: jnp.clip(p, -c, c), params)
