"""Regularizers: gradient penalties, WGAN's weight clipping, ProGAN's drift term, BigGAN's orthogonal regularization.

A :class:`Penalty` is a weight and a pure function ``fn(d_fn, real, fake, keys) -> scalar``; the engine adds
``weight * fn(...)`` to the discriminator loss and reports the unweighted value as ``d/<name>``. ``d_fn`` maps
inputs ``[batch, ...]`` to outputs ``[batch]``, each output depending only on its own input row; ``real`` and
``fake`` are ``[batch, ...]``; ``keys`` are per-sample PRNG keys ``[batch, 2]`` (raw ``uint32`` keys, or typed
keys ``[batch]``). Each sample draws its randomness from its own key, so every penalty except DRAGAN (whose
noise scale is the batch's std) is a mean of per-sample terms and does not depend on how a batch is split
across devices.

A :class:`ParamPenalty` is a weight and a pure function ``fn(params) -> scalar`` of one network's parameter
pytree (BigGAN's orthogonal regularization of the generator, :func:`orthogonal_regularization`); the engine
would add ``weight * fn(params)`` to that network's loss.

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


def drift_value(d_real_logits: Array) -> Array:
    """ProGAN's drift term without its weight: ``E_x[D(x)^2]`` over the real logits ``[batch]``.

    Karras et al. 2018, "Progressive Growing of GANs", Appendix A.1 (``wgan_epsilon`` in ``loss.py``): the
    WGAN-GP critic's loss gets ``epsilon * E[D(x)^2]``, ``epsilon = 0.001``, to keep its outputs from drifting
    far from zero.
    """
    return jnp.mean(jnp.square(d_real_logits))


def drift_penalty(epsilon: float = 0.001) -> Penalty:
    """ProGAN's drift term as a discriminator :class:`Penalty` named ``"drift"``: ``epsilon * E[D(x)^2]``.

    Evaluates ``d_fn`` on the real batch once more (the engine's penalties see ``d_fn``, not the logits); a
    discriminator with a minibatch-stddev layer sees the real batch alone there, as in the loss itself.
    """
    epsilon = _check("epsilon", epsilon, 0.0)
    return Penalty("drift", epsilon, lambda d_fn, real, fake, keys: drift_value(d_fn(real)))


# --------------------------------------------------------------------------------------------------------
# parameter penalties


class ParamPenalty(NamedTuple):
    """A regularizer of one network's parameters.

    Attributes:
      name: metric name; an engine would report the unweighted value as ``g/<name>`` (or ``d/<name>``).
      weight: multiplies the value in that network's loss.
      fn: ``fn(params) -> scalar``, the unweighted penalty of a parameter pytree.
    """

    name: str
    weight: float
    fn: Callable[[PyTree], Array]


def is_kernel(path: tuple, leaf: Array) -> bool:
    """The default selection of :func:`orthogonal_value`: leaves named ``kernel`` with at least two dimensions.

    That is every Flax ``Dense`` / ``Conv`` / ``ConvTranspose`` weight, spectrally normalised ones included
    (``.../sn/dense/kernel``: the raw kernel, as BigGAN regularizes the raw weight). Skipped: biases, batch-norm
    scales, scalars (attention's ``gamma``) and ``nn.Embed`` tables (``embedding``), which is BigGAN-PyTorch's
    blacklisting of the shared class embedding ``G.shared`` (``train_fns.py``).
    """
    last = path[-1] if path else None
    name = getattr(last, "key", getattr(last, "name", None))
    return name == "kernel" and jnp.ndim(leaf) >= 2


def orthogonal_value(params: PyTree, include: Callable[[tuple, Array], bool] = is_kernel) -> Array:
    """BigGAN's off-diagonal orthogonality measure, unweighted: ``sum_W ||W^T W ⊙ (1 - I)||_F^2``.

    Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis", Section 3.1,
    Eq. 3 (``R_beta(W) = beta ||W^T W ⊙ (1 - 1)||_F^2``): it pushes the filters of each layer towards mutual
    orthogonality without constraining their norms. Each selected leaf ``[..., out]`` is reshaped to
    ``W [fan_in, out]`` (a conv kernel ``[kh, kw, in, out]`` to ``[kh * kw * in, out]``), whose columns are the
    filters: ``W^T W [out, out]`` is their Gram matrix, as ``w w^T`` of BigGAN-PyTorch's ``[out, fan_in]``
    view is (``utils.py``, ``ortho``).

    When ``out <= fan_in`` (convolutions) the masked ``[out, out]`` Gram matrix is summed as written. When
    ``out > fan_in`` (the first dense layer of a generator, ``[latent, 4 * 4 * ch]``) it is computed from the
    smaller ``[fan_in, fan_in]`` Gram matrix: ``||W^T W||_F^2 = ||W W^T||_F^2`` and ``diag(W^T W)_j =
    ||w_j||^2``, so the value is ``||W W^T||_F^2 - sum_j ||w_j||^4``. The subtraction loses little there:
    ``out > fan_in`` filters cannot be orthogonal, and ``||W^T W||_F^2 >= (sum_j ||w_j||^2)^2 / fan_in`` keeps
    the off-diagonal part at least ``out / fan_in - 1`` times the diagonal's for filters of equal norms.

    Its gradient is ``4 W (W^T W ⊙ (1 - I))`` per matrix. BigGAN-PyTorch's ``ortho(model, strength)`` adds
    ``2 * strength * (w w^T ⊙ (1 - I)) w`` to the gradient directly, which is the gradient of
    ``(strength / 2) * orthogonal_value``: to reproduce the reference code's update with its
    ``strength = 1e-4`` use a weight of ``5e-5``.

    Args:
      params: a parameter pytree (one network's).
      include: ``include(path, leaf) -> bool`` selects the leaves; default :func:`is_kernel`.

    Returns:
      A float32 scalar (0 when nothing is selected).
    """
    total = jnp.zeros((), jnp.float32)
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if not include(path, leaf):
            continue
        w = jnp.reshape(leaf, (-1, leaf.shape[-1])).astype(jnp.float32)
        fan_in, out = w.shape
        if out <= fan_in:
            off_diagonal = (w.T @ w) * (1.0 - jnp.eye(out, dtype=w.dtype))
            total = total + jnp.sum(jnp.square(off_diagonal))
        else:
            norms_sq = jnp.sum(jnp.square(w), axis=0)  # diag(W^T W)
            total = total + jnp.sum(jnp.square(w @ w.T)) - jnp.sum(jnp.square(norms_sq))
    return total


def orthogonal_regularization(
    beta: float = 1e-4, include: Callable[[tuple, Array], bool] = is_kernel
) -> ParamPenalty:
    """BigGAN's orthogonal regularization of the generator, named ``"ortho"``: ``beta * orthogonal_value``.

    ``beta = 1e-4`` as in the paper (Section 3.1); see :func:`orthogonal_value` for the selected leaves and the
    factor of two between the paper's formula and BigGAN-PyTorch's update.
    """
    beta = _check("beta", beta, 0.0)
    return ParamPenalty("ortho", beta, lambda params: orthogonal_value(params, include))
