"""GAN loss families as pure functions of discriminator outputs.

Every function takes discriminator outputs of shape ``[batch]`` (``[batch, 1]`` works too) and returns a float
scalar: the mean over all elements of the per-sample loss. Outputs below ``float32`` are upcast first.
Losses on probabilities ``D = sigmoid(logit)`` are written with ``softplus`` of the logit, so they are finite
for any finite logit (``-log sigmoid(v) = softplus(-v)``, ``-log(1 - sigmoid(v)) = softplus(v)``).

A family pairs a discriminator loss with a generator loss in a :class:`GANLoss`; :func:`get_loss` builds one
by name (:data:`LOSSES`) from its hyperparameters. Each family is also exposed as standalone functions
(``minimax_discriminator_loss(real_logits, fake_logits)``, ``minimax_generator_loss(fake_logits)``, ...).

Example::

    loss = get_loss("hinge")
    d_loss = loss.discriminator(d_real, d_fake, loss_state)

Size: over 400 lines, about 140 of them code; the rest is the formula and paper of every loss family. They are kept
in one module so that :func:`get_loss` and the shared test suite (``tests/test_losses.py``) see all eight families
(13 named losses) in one place.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array
PyTree = Any


class GANLoss(NamedTuple):
    """A discriminator / generator loss pair over discriminator outputs, with an optional state.

    Attributes:
      name: the family's name in :data:`LOSSES`.
      discriminator: ``(d_real, d_fake, loss_state) -> scalar`` that the discriminator minimizes.
      generator: ``(d_real, d_fake, loss_state, weights=None) -> scalar`` that the generator minimizes;
        ``d_real`` is ``None`` when ``generator_uses_real`` is False. Families whose generator loss is a mean over
        samples take per-sample ``weights [batch]`` and return the weighted mean ``sum(w l) / sum(w)`` (TF-GAN's
        losses take weights for the same reason): top-k training passes a 0/1 mask. Families whose generator
        term couples samples (``generator_uses_real``) take no weights.
      init_state: ``() -> loss_state`` (``{}`` when stateless).
      update_state: ``(loss_state, d_real, d_fake) -> (loss_state, metrics)``, called after each discriminator
        update with that update's outputs; stateless families return ``(loss_state, {})``.
      generator_uses_real: whether ``generator`` reads ``d_real`` (otherwise D(real) can be skipped).
    """

    name: str
    discriminator: Callable[[Array, Array, PyTree], Array]
    generator: Callable[[Array, Array, PyTree], Array]
    init_state: Callable[[], PyTree]
    update_state: Callable[[PyTree, Array, Array], tuple[PyTree, dict[str, Array]]]
    generator_uses_real: bool = False


def _float(x: Array) -> Array:
    x = jnp.asarray(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _mean(x: Array, weights: Array | None = None) -> Array:
    """The mean of ``x``; with per-sample ``weights [batch]`` the weighted mean ``sum(w x) / sum(w)``.

    Samples of weight 0 take no part, even when their value is not finite (a 0/1 mask selects samples: top-k).
    """
    x = _float(x)
    if weights is None:
        return jnp.mean(x)
    w = jnp.broadcast_to(jnp.reshape(_float(weights), (-1,) + (1,) * (x.ndim - 1)), x.shape)
    return jnp.sum(jnp.where(w != 0, w * x, 0.0)) / jnp.sum(w)


# ------------------------------------------------------------------------------------------ minimax / NS-GAN


def minimax_discriminator_loss(real_logits: Array, fake_logits: Array, label_smoothing: float = 0.0) -> Array:
    """Discriminator loss of the original GAN (Goodfellow et al. 2014, "Generative Adversarial Nets").

    ``L_D = -E log D(x) - E log(1 - D(G(z)))`` with ``D = sigmoid(logit)``, i.e. the binary cross-entropy with
    real labelled 1 and fake 0. ``-L_D`` is the value ``V(D, G)``; at ``D = 1/2`` it is ``-log 4``. Also the
    discriminator loss of the non-saturating game.

    One-sided label smoothing (Salimans et al. 2016, "Improved techniques for training GANs", Sec. 3.4; TF-GAN's
    ``label_smoothing``) labels real data ``1 - s`` instead of 1, keeping fakes at 0:
    ``L_D = E[(1 - s) softplus(-l_real) + s softplus(l_real)] + E softplus(l_fake)``, so the discriminator is
    not rewarded for ever larger logits on real data.

    Args:
      real_logits: ``[batch]`` logits on real data.
      fake_logits: ``[batch]`` logits on generated data.
      label_smoothing: ``s`` in [0, 1) (0: none; Salimans et al. used 0.1, TF-GAN's default is 0.25).
    """
    real = _float(real_logits)
    real_term = jax.nn.softplus(-real)
    if label_smoothing:
        real_term = (1.0 - label_smoothing) * real_term + label_smoothing * jax.nn.softplus(real)
    return _mean(real_term) + _mean(jax.nn.softplus(_float(fake_logits)))


def minimax_generator_loss(fake_logits: Array, weights: Array | None = None) -> Array:
    """Saturating generator loss of the original minimax game (Goodfellow et al. 2014).

    ``L_G = E log(1 - D(G(z)))``. Its gradient vanishes as ``D(G(z)) -> 0``, i.e. early in training; prefer
    :func:`non_saturating_generator_loss`.

    Args:
      fake_logits: ``[batch]`` logits on generated data.
    """
    return -_mean(jax.nn.softplus(_float(fake_logits)), weights)


def non_saturating_generator_loss(fake_logits: Array, weights: Array | None = None) -> Array:
    """Non-saturating generator loss (Goodfellow et al. 2014, Sec. 3; TF-GAN's ``modified_generator_loss``).

    ``L_G = -E log D(G(z))``: same fixed point as the minimax game, strong gradients when D rejects fakes.

    Args:
      fake_logits: ``[batch]`` logits on generated data.
    """
    return _mean(jax.nn.softplus(-_float(fake_logits)), weights)


# ---------------------------------------------------------------------------------------------- Wasserstein


def wasserstein_discriminator_loss(real_scores: Array, fake_scores: Array) -> Array:
    """Critic loss of WGAN (Arjovsky et al. 2017, "Wasserstein GAN").

    ``L_D = E D(G(z)) - E D(x)``; ``-L_D`` estimates the Wasserstein-1 distance when D is 1-Lipschitz
    (enforce it with :func:`jaxgan.penalties.weight_clipping` or :func:`jaxgan.penalties.gradient_penalty`).

    Args:
      real_scores: ``[batch]`` critic outputs on real data.
      fake_scores: ``[batch]`` critic outputs on generated data.
    """
    return _mean(fake_scores) - _mean(real_scores)


def wasserstein_generator_loss(fake_scores: Array, weights: Array | None = None) -> Array:
    """Generator loss of WGAN (Arjovsky et al. 2017): ``L_G = -E D(G(z))``.

    Args:
      fake_scores: ``[batch]`` critic outputs on generated data.
    """
    return -_mean(fake_scores, weights)


# -------------------------------------------------------------------------------------------- least squares


def least_squares_discriminator_loss(
    real_scores: Array, fake_scores: Array, a: float = 0.0, b: float = 1.0
) -> Array:
    """Discriminator loss of LSGAN (Mao et al. 2017, "Least Squares Generative Adversarial Networks").

    ``L_D = 1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2``: D regresses real to ``b`` and fake to ``a``.

    Args:
      real_scores: ``[batch]`` discriminator outputs on real data (no sigmoid).
      fake_scores: ``[batch]`` discriminator outputs on generated data.
      a: target for fake data.
      b: target for real data.
    """
    return 0.5 * _mean((_float(real_scores) - b) ** 2) + 0.5 * _mean((_float(fake_scores) - a) ** 2)


def least_squares_generator_loss(fake_scores: Array, c: float = 1.0, weights: Array | None = None) -> Array:
    """Generator loss of LSGAN (Mao et al. 2017): ``L_G = 1/2 E (D(G(z)) - c)^2``.

    Args:
      fake_scores: ``[batch]`` discriminator outputs on generated data.
      c: the value the generator wants D to output on fakes.
    """
    return 0.5 * _mean((_float(fake_scores) - c) ** 2, weights)


# ---------------------------------------------------------------------------------------------------- hinge


def hinge_discriminator_loss(real_scores: Array, fake_scores: Array) -> Array:
    """Hinge discriminator loss (Lim & Ye 2017, "Geometric GAN"; used by SNGAN and BigGAN).

    ``L_D = E relu(1 - D(x)) + E relu(1 + D(G(z)))``.

    Args:
      real_scores: ``[batch]`` discriminator outputs on real data.
      fake_scores: ``[batch]`` discriminator outputs on generated data.
    """
    return _mean(jax.nn.relu(1.0 - _float(real_scores))) + _mean(jax.nn.relu(1.0 + _float(fake_scores)))


def hinge_generator_loss(fake_scores: Array, weights: Array | None = None) -> Array:
    """Hinge generator loss (Lim & Ye 2017): ``L_G = -E D(G(z))``.

    Args:
      fake_scores: ``[batch]`` discriminator outputs on generated data.
    """
    return -_mean(fake_scores, weights)


# ---------------------------------------------------------------------------------- relativistic average


def relativistic_average_discriminator_loss(real_logits: Array, fake_logits: Array) -> Array:
    """RaSGAN discriminator loss (Jolicoeur-Martineau 2018, "The relativistic discriminator").

    With ``C_r = D(x) - E D(G(z))`` and ``C_f = D(G(z)) - E D(x)`` (logits, means over the batch):
    ``L_D = -E log sigmoid(C_r) - E log(1 - sigmoid(C_f))``.

    Args:
      real_logits: ``[batch]`` logits on real data.
      fake_logits: ``[batch]`` logits on generated data.
    """
    real, fake = _float(real_logits), _float(fake_logits)
    c_real, c_fake = real - jnp.mean(fake), fake - jnp.mean(real)
    return jnp.mean(jax.nn.softplus(-c_real)) + jnp.mean(jax.nn.softplus(c_fake))


def relativistic_average_generator_loss(real_logits: Array, fake_logits: Array) -> Array:
    """RaSGAN generator loss (Jolicoeur-Martineau 2018): the discriminator loss with real and fake swapped.

    ``L_G = -E log sigmoid(C_f) - E log(1 - sigmoid(C_r))``, with ``C_r``, ``C_f`` as in
    :func:`relativistic_average_discriminator_loss`. It needs ``D(x)``.

    Args:
      real_logits: ``[batch]`` logits on real data.
      fake_logits: ``[batch]`` logits on generated data.
    """
    return relativistic_average_discriminator_loss(fake_logits, real_logits)


# ---------------------------------------------------------------------------------------------------- f-GAN


class FDivergence(NamedTuple):
    """One f-GAN divergence (Nowozin et al. 2016, Table 2): ``g_f`` and ``f* o g_f``, elementwise in ``v``."""

    activation: Callable[[Array], Array]  # g_f(v)
    conjugate_of_activation: Callable[[Array], Array]  # f*(g_f(v)), in a closed form that is stable in v


_LOG2 = math.log(2.0)

F_DIVERGENCES: dict[str, FDivergence] = {
    # f(u) = u log u;  g = v, f*(t) = exp(t - 1).
    "kl": FDivergence(lambda v: v, lambda v: jnp.exp(v - 1.0)),
    # f(u) = -log u;  g = -exp(-v), f*(t) = -1 - log(-t)  =>  f*(g(v)) = v - 1.
    "reverse_kl": FDivergence(lambda v: -jnp.exp(-v), lambda v: v - 1.0),
    # f(u) = (u - 1)^2;  g = v, f*(t) = t^2 / 4 + t.
    "pearson": FDivergence(lambda v: v, lambda v: 0.25 * v**2 + v),
    # f(u) = (sqrt(u) - 1)^2;  g = 1 - exp(-v), f*(t) = t / (1 - t)  =>  f*(g(v)) = exp(v) - 1.
    "hellinger": FDivergence(lambda v: -jnp.expm1(-v), lambda v: jnp.expm1(v)),
    # f(u) = u log u - (u + 1) log((u + 1) / 2), D_f = 2 JSD;  g = log 2 - softplus(-v),
    # f*(t) = -log(2 - exp(t))  =>  f*(g(v)) = -log(2 sigmoid(-v)) = softplus(v) - log 2.
    "js": FDivergence(lambda v: _LOG2 - jax.nn.softplus(-v), lambda v: jax.nn.softplus(v) - _LOG2),
    # f(u) = u log u - (u + 1) log(u + 1), D_f = 2 JSD - log 4;  g = -softplus(-v),
    # f*(t) = -log(1 - exp(t))  =>  f*(g(v)) = softplus(v).
    "gan": FDivergence(lambda v: -jax.nn.softplus(-v), jax.nn.softplus),
}


def fgan_objective(real_scores: Array, fake_scores: Array, divergence: str) -> Array:
    """The f-GAN variational objective (Nowozin et al. 2016, "f-GAN", Eq. 6).

    ``F = E_P[g_f(V(x))] - E_Q[f*(g_f(V(G(z))))]`` with ``P`` the data and ``Q`` the generator. ``F`` is a
    lower bound on ``D_f(P || Q) = E_Q f(p / q)``, tight at ``g_f(V) = f'(p / q)``.

    Args:
      real_scores: ``[batch]`` raw outputs ``V(x)`` on real data.
      fake_scores: ``[batch]`` raw outputs ``V(G(z))`` on generated data.
      divergence: a key of :data:`F_DIVERGENCES` (``"kl"``, ``"reverse_kl"``, ``"pearson"``, ``"hellinger"``,
        ``"js"``, ``"gan"``).
    """
    f = F_DIVERGENCES[divergence]
    return _mean(f.activation(_float(real_scores))) - _mean(f.conjugate_of_activation(_float(fake_scores)))


def fgan_discriminator_loss(real_scores: Array, fake_scores: Array, divergence: str) -> Array:
    """f-GAN discriminator (variational function) loss: ``L_D = -F`` (see :func:`fgan_objective`)."""
    return -fgan_objective(real_scores, fake_scores, divergence)


def fgan_generator_loss(fake_scores: Array, divergence: str, weights: Array | None = None) -> Array:
    """f-GAN generator loss with the paper's trick (Nowozin et al. 2016, Sec. 3.2).

    ``L_G = -E_Q[g_f(V(G(z)))]``.
    For ``"gan"`` this is the non-saturating loss. Without the trick the generator minimizes ``F`` itself
    (:func:`fgan_objective`).

    Args:
      fake_scores: ``[batch]`` raw outputs ``V(G(z))`` on generated data.
      divergence: a key of :data:`F_DIVERGENCES`.
    """
    return -_mean(F_DIVERGENCES[divergence].activation(_float(fake_scores)), weights)


# ---------------------------------------------------------------------------------------------------- BEGAN


def began_discriminator_loss(real_errors: Array, fake_errors: Array, k: Array) -> Array:
    """BEGAN discriminator loss (Berthelot et al. 2017, "BEGAN: Boundary Equilibrium GANs").

    The discriminator is an autoencoder; its outputs are per-sample L1 reconstruction errors ``L(.) >= 0``.
    ``L_D = E L(x) - k_t E L(G(z))``.

    Args:
      real_errors: ``[batch]`` reconstruction errors on real data.
      fake_errors: ``[batch]`` reconstruction errors on generated data.
      k: scalar equilibrium weight ``k_t`` in [0, 1].
    """
    return _mean(real_errors) - k * _mean(fake_errors)


def began_generator_loss(fake_errors: Array, weights: Array | None = None) -> Array:
    """BEGAN generator loss (Berthelot et al. 2017): ``L_G = E L(G(z))``."""
    return _mean(fake_errors, weights)


def began_update_k(
    k: Array, real_errors: Array, fake_errors: Array, gamma: float, lambda_k: float
) -> tuple[Array, Array]:
    """BEGAN's proportional control of ``k`` and its convergence measure (Berthelot et al. 2017, Sec. 3.4).

    ``k_{t+1} = clip(k_t + lambda_k (gamma E L(x) - E L(G(z))), 0, 1)`` and
    ``M_global = E L(x) + |gamma E L(x) - E L(G(z))|``.

    Returns:
      ``(k_{t+1}, M_global)``, float32 scalars.
    """
    real, fake = _mean(real_errors), _mean(fake_errors)
    balance = gamma * real - fake
    k = jnp.clip(k + lambda_k * balance, 0.0, 1.0).astype(jnp.float32)
    return k, real + jnp.abs(balance)


# ------------------------------------------------------------------------------------------------ factories


def _no_state() -> PyTree:
    return {}


def _no_update(loss_state: PyTree, d_real: Array, d_fake: Array) -> tuple[PyTree, dict[str, Array]]:
    del d_real, d_fake
    return loss_state, {}


def _stateless(name, d_loss, g_loss, generator_uses_real=False) -> GANLoss:
    return GANLoss(
        name=name,
        discriminator=lambda d_real, d_fake, loss_state: d_loss(d_real, d_fake),
        generator=g_loss,
        init_state=_no_state,
        update_state=_no_update,
        generator_uses_real=generator_uses_real,
    )


def _check(name: str, value: float, lo: float = -math.inf, hi: float = math.inf) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"hyperparameter {name}={value!r} must be a finite number in [{lo}, {hi}]")
    return float(value)


def _smoothed_d_loss(label_smoothing: float):
    s = _check("label_smoothing", label_smoothing, 0.0, 1.0)
    if s >= 1.0:
        raise ValueError(f"hyperparameter label_smoothing={label_smoothing!r} must be below 1 (real labels 1 - s > 0)")
    return lambda r, f: minimax_discriminator_loss(r, f, s)


def _minimax(label_smoothing: float = 0.0) -> GANLoss:
    d_loss = _smoothed_d_loss(label_smoothing)
    return _stateless("minimax", d_loss, lambda r, f, s, weights=None: minimax_generator_loss(f, weights))


def _non_saturating(label_smoothing: float = 0.0) -> GANLoss:
    g_loss = lambda r, f, s, weights=None: non_saturating_generator_loss(f, weights)
    return _stateless("non_saturating", _smoothed_d_loss(label_smoothing), g_loss)


def _wasserstein() -> GANLoss:
    g_loss = lambda r, f, s, weights=None: wasserstein_generator_loss(f, weights)
    return _stateless("wasserstein", wasserstein_discriminator_loss, g_loss)


def _least_squares(a: float = 0.0, b: float = 1.0, c: float = 1.0) -> GANLoss:
    a, b, c = _check("a", a), _check("b", b), _check("c", c)
    d_loss = lambda r, f: least_squares_discriminator_loss(r, f, a, b)
    g_loss = lambda r, f, s, weights=None: least_squares_generator_loss(f, c, weights)
    return _stateless("least_squares", d_loss, g_loss)


def _hinge() -> GANLoss:
    return _stateless("hinge", hinge_discriminator_loss, lambda r, f, s, weights=None: hinge_generator_loss(f, weights))


def _relativistic_average() -> GANLoss:
    g_loss = lambda r, f, s: relativistic_average_generator_loss(r, f)
    return _stateless("relativistic_average", relativistic_average_discriminator_loss, g_loss, True)


def _fgan(divergence: str, generator_trick: bool = True) -> GANLoss:
    if not isinstance(generator_trick, bool):
        raise ValueError(f"hyperparameter generator_trick={generator_trick!r} must be a bool")
    d_loss = lambda r, f: fgan_discriminator_loss(r, f, divergence)
    if generator_trick:
        g_loss = lambda r, f, s, weights=None: fgan_generator_loss(f, divergence, weights)
    else:
        g_loss = lambda r, f, s: fgan_objective(r, f, divergence)
    return _stateless(f"fgan_{divergence}", d_loss, g_loss, generator_uses_real=not generator_trick)


def _began(gamma: float = 0.5, lambda_k: float = 0.001, k0: float = 0.0) -> GANLoss:
    gamma, lambda_k = _check("gamma", gamma, 0.0, 1.0), _check("lambda_k", lambda_k, 0.0)
    k0 = _check("k0", k0, 0.0, 1.0)

    def update_state(loss_state, d_real, d_fake):
        k, m_global = began_update_k(loss_state["k"], d_real, d_fake, gamma, lambda_k)
        return {"k": k}, {"k": k, "m_global": m_global}

    return GANLoss(
        name="began",
        discriminator=lambda r, f, s: began_discriminator_loss(r, f, s["k"]),
        generator=lambda r, f, s, weights=None: began_generator_loss(f, weights),
        init_state=lambda: {"k": jnp.asarray(k0, jnp.float32)},
        update_state=update_state,
    )


_FACTORIES: dict[str, Callable[..., GANLoss]] = {
    "minimax": _minimax,
    "non_saturating": _non_saturating,
    "wasserstein": _wasserstein,
    "least_squares": _least_squares,
    "hinge": _hinge,
    "relativistic_average": _relativistic_average,
    **{f"fgan_{d}": functools.partial(_fgan, d) for d in F_DIVERGENCES},
    "began": _began,
}

LOSSES: tuple[str, ...] = tuple(_FACTORIES)


def get_loss(name: str, **hyperparameters: Any) -> GANLoss:
    """Builds the loss family ``name`` (one of :data:`LOSSES`).

    Hyperparameters: ``minimax`` and ``non_saturating``: ``label_smoothing=0`` in [0, 1) (one-sided, on real
    labels); ``least_squares``: ``a=0, b=1, c=1``; ``fgan_*``: ``generator_trick=True`` (with False
    the generator minimizes ``F`` and the family sets ``generator_uses_real``); ``began``: ``gamma=0.5`` in
    [0, 1], ``lambda_k=0.001`` >= 0, ``k0=0`` in [0, 1]. The other families take none.

    Raises:
      ValueError: on an unknown name (the message lists the valid ones), an unknown hyperparameter, or a
        non-finite or out-of-range value (the message names the hyperparameter and its value).
    """
    if name not in _FACTORIES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(LOSSES)}")
    factory = _FACTORIES[name]
    accepted = tuple(inspect.signature(factory).parameters)
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise ValueError(f"loss {name!r} got unknown hyperparameters {unknown}; it accepts {list(accepted)}")
    return factory(**hyperparameters)
