"""The plain GAN as a :class:`jaxgan.system.System`: a discriminator player ``d`` and a generator player ``g``.

:func:`gan` builds the system (networks ``g`` and ``d``, players ``d`` then ``g``, the loss family's state as
buffer ``loss``, the generator's EMA). :func:`jaxgan.train.make_train_step` is the short path over it, on the
two-network :class:`jaxgan.state.GANState`; :func:`to_system_state` / :func:`to_gan_state` convert between the
two (a relabelling of the same arrays, free under ``jit``).

One step (Goodfellow et al. 2014, Algorithm 1) is ``n_critic`` discriminator updates, each on its own
minibatch and its own latents, then one generator update against the updated discriminator on the last
minibatch. The discriminator sees real and fake batches in separate calls, as DCGAN does, so that a
batch-norm discriminator normalises each by its own statistics in both phases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxgan.context import Context
from jaxgan.losses import GANLoss, get_loss
from jaxgan.models.adapters import Net
from jaxgan.penalties import ParamPenalty, Penalty
from jaxgan.state import GANState
from jaxgan.system import Player, System, SystemState

Array = jax.Array
PyTree = Any


def normal_latent(dim: int | Sequence[int]) -> Callable[[Array], Array]:
    """Standard normal latents: returns ``latent_fn(key) -> [*dim]`` for one sample."""
    shape = (dim,) if isinstance(dim, int) else tuple(dim)
    return lambda key: jax.random.normal(key, shape)


def top_k_schedule(
    min_fraction: float = 0.5, gamma: float = 0.99, steps_per_epoch: float = 1.0
) -> Callable[[Array], Array]:
    """Top-k fraction of Sinha et al. (2020): ``max(min_fraction, gamma ** (step / steps_per_epoch))``.

    The paper decays by ``gamma = 0.99`` per epoch down to ``nu = min_fraction`` (0.5 to 0.75 in its experiments).
    """
    for name, v, lo, hi in (("min_fraction", min_fraction, 0.0, 1.0), ("gamma", gamma, 0.0, 1.0)):
        if not isinstance(v, (int, float)) or not lo < v <= hi:
            raise ValueError(f"top-k {name} must be in ({lo}, {hi}], got {v!r}")
    if not isinstance(steps_per_epoch, (int, float)) or not steps_per_epoch > 0:
        raise ValueError(f"top-k steps_per_epoch must be > 0, got {steps_per_epoch!r}")

    def fraction(step):
        epochs = jnp.asarray(step, jnp.float32) / steps_per_epoch
        return jnp.maximum(jnp.float32(min_fraction), jnp.float32(gamma) ** epochs)

    return fraction


def top_k_weights(scores: Array, fraction: Array) -> Array:
    """A ``[B]`` float 0/1 mask of the ``ceil(fraction * B)`` entries of ``scores [B]`` that are highest (most real
    first; ties keep their order): the per-sample weights of top-k training."""
    scores = jnp.reshape(jax.lax.stop_gradient(scores), (-1,))
    b = scores.shape[0]
    # ceil with a tolerance, so that 0.5 * 64 is 32 although 0.5 * 64 may round above 32 in float32
    k = jnp.clip(jnp.ceil(jnp.asarray(fraction, jnp.float32) * b - 1e-4), 1, b).astype(jnp.int32)
    order = jnp.argsort(-scores)
    ranks = jnp.zeros((b,), jnp.int32).at[order].set(jnp.arange(b, dtype=jnp.int32))
    return (ranks < k).astype(jnp.float32)


def top_k_mean(per_sample: Array, scores: Array, fraction: Array) -> Array:
    """Mean of ``per_sample`` over the ``ceil(fraction * B)`` entries with the highest ``scores``."""
    w = top_k_weights(scores, fraction)
    return jnp.sum(jnp.where(w != 0, w * per_sample, 0.0)) / jnp.sum(w)


def latents(ctx: Context, latent_fn: Callable[[Array], Array], key: Array, n: int) -> Array:
    """``[n, ...]`` latents for this replica's rows, each from its global row's key."""
    return jax.vmap(latent_fn)(ctx.sample_keys(key, n))


def real_and_fake(ctx: Context, x_real: Array, fake: Array, labels: Array | None, rng: Array) -> tuple[Array, Array]:
    """D on the real and on the fake batch in two calls (model state threaded real, then fake)."""
    r_rng, f_rng = jax.random.split(rng)
    return ctx.apply("d", x_real, labels, rng=r_rng), ctx.apply("d", fake, labels, rng=f_rng)


def discriminator_loss_fn(loss: GANLoss, latent_fn: Callable[[Array], Array],
                          penalties: Sequence[Penalty] = ()) -> Callable[[Context], tuple[Array, dict]]:
    """The ``d`` player's loss: ``loss.discriminator(D(x), D(G(z)))`` plus weighted penalties.

    Metrics: ``loss`` (without penalties), each penalty's unweighted value, ``real_logits_mean``,
    ``fake_logits_mean`` and the loss family's state metrics as ``loss/<name>``. Sets buffer ``loss`` to
    ``loss.update_state(...)`` (averaged over replicas).
    """
    penalties = tuple(penalties)

    def loss_fn(ctx: Context):
        x_real, labels = ctx.batch["x"], ctx.batch.get("label")
        b = x_real.shape[0]
        z_key, g_rng, d_key = jax.random.split(ctx.key, 3)
        z = latents(ctx, latent_fn, z_key, b)
        fake = jax.lax.stop_gradient(ctx.apply("g", z, labels, rng=g_rng))
        rng, pen_key = jax.random.split(d_key)
        d_real, d_fake = real_and_fake(ctx, x_real, fake, labels, rng)
        loss_state = ctx.buffers["loss"]
        value = loss.discriminator(d_real, d_fake, loss_state)
        total, metrics = value, {"loss": value}

        def d_fn(inputs):
            return ctx.apply("d", inputs, labels, rng=rng, update_state=False)

        for i, p in enumerate(penalties):
            pv = p.fn(d_fn, x_real, fake, ctx.sample_keys(jax.random.fold_in(pen_key, i), b))
            metrics[p.name] = pv
            total = total + p.weight * pv
        metrics["real_logits_mean"] = jnp.mean(d_real)
        metrics["fake_logits_mean"] = jnp.mean(d_fake)
        new_loss_state, loss_metrics = loss.update_state(loss_state, d_real, d_fake)
        ctx.set_buffer("loss", new_loss_state)
        metrics.update({f"loss/{k}": v for k, v in loss_metrics.items()})
        return total, metrics

    return loss_fn


def generator_loss_fn(loss: GANLoss, latent_fn: Callable[[Array], Array],
                      top_k: Callable[[Array], Array] | None = None,
                      param_penalties: Sequence[ParamPenalty] = ()) -> Callable[[Context], tuple[Array, dict]]:
    """The ``g`` player's loss: ``loss.generator(D(x), D(G(z)))`` (``D(x)`` only if the family reads it) plus
    weighted penalties of G's parameters.

    With ``top_k`` (a schedule ``fraction(step)``) the mean over samples becomes the mean over the
    ``ceil(fraction * B)`` samples that D scores most real (Sinha et al. 2020). Each of ``param_penalties``
    (:class:`jaxgan.penalties.ParamPenalty`, e.g. BigGAN's orthogonal regularization) adds
    ``weight * fn(g_params)`` of G's float32 parameters. Metrics: ``loss`` (without penalties) and each
    penalty's unweighted value under its name.
    """
    param_penalties = tuple(param_penalties)

    def loss_fn(ctx: Context):
        x_real, labels = ctx.batch["x"], ctx.batch.get("label")
        z_key, rest = jax.random.split(ctx.key)
        z = latents(ctx, latent_fn, z_key, x_real.shape[0])
        g_rng, d_rng = jax.random.split(rest)
        fake = ctx.apply("g", z, labels, rng=g_rng)
        loss_state = ctx.buffers["loss"]
        if loss.generator_uses_real:
            d_real, d_fake = real_and_fake(ctx, x_real, fake, labels, d_rng)
        else:
            d_real, d_fake = None, ctx.apply("d", fake, labels, rng=jax.random.split(d_rng)[1])
        if top_k is None:
            value = loss.generator(d_real, d_fake, loss_state)
        else:  # the loss's own weighted mean over a 0/1 mask of the samples D scores most real
            value = loss.generator(d_real, d_fake, loss_state, weights=top_k_weights(d_fake, top_k(ctx.step)))
        total, metrics = value, {"loss": value}
        for p in param_penalties:
            pv = p.fn(ctx.params["g"])
            metrics[p.name] = pv
            total = total + p.weight * pv
        return total, metrics

    return loss_fn


def _check_finite(name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")


def gan(
    generator: Net,
    discriminator: Net,
    loss: GANLoss | str,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    *,
    latent_fn: Callable[[Array], Array] | None = None,
    latent_dim: int | Sequence[int] | None = None,
    n_critic: int = 1,
    unroll_critic: bool = False,
    simultaneous: bool = False,
    penalties: Sequence[Penalty] = (),
    d_constraint: Callable[[PyTree], PyTree] | None = None,
    ema_decay: float | None = None,
    ema_warmup: bool = False,
    generator_top_k: Callable[[Array], Array] | None = None,
    g_penalties: Sequence[ParamPenalty] = (),
) -> System:
    """The plain (conditional) GAN as a :class:`System`; arguments as :func:`jaxgan.train.make_train_step`.

    Networks ``g`` and ``d``; players ``d`` (``n_critic`` repeats, ``d_constraint``) then ``g``; buffer
    ``loss`` holds the loss family's state; ``ema=("g",)`` when ``ema_decay`` is set.
    """
    if isinstance(loss, str):
        loss = get_loss(loss)
    if not isinstance(n_critic, int) or isinstance(n_critic, bool) or n_critic < 1:
        raise ValueError(f"n_critic must be an integer >= 1, got {n_critic!r}")
    if simultaneous and n_critic != 1:
        raise ValueError(f"simultaneous updates take one discriminator step per step; got n_critic={n_critic}")
    _check_finite("ema_decay", ema_decay)
    if ema_warmup and ema_decay is None:
        raise ValueError("ema_warmup ramps the EMA decay up: set ema_decay too")
    if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
    if generator_top_k is not None:
        if loss.generator_uses_real or loss.name == "began":
            raise ValueError(
                f"generator_top_k needs a generator loss that is a mean over samples of a realness score; loss "
                f"{loss.name!r} {'couples samples' if loss.generator_uses_real else 'scores reconstruction errors'}"
            )
        if not callable(generator_top_k):
            raise ValueError(f"generator_top_k must be a schedule fraction(step), got {generator_top_k!r}")
    for p in (*penalties, *g_penalties):
        _check_finite(f"weight of penalty {p.name!r}", p.weight)
    if len({p.name for p in g_penalties}) != len(g_penalties) or {p.name for p in g_penalties} & {"loss"}:
        raise ValueError(f"g_penalties need distinct names other than 'loss', got {[p.name for p in g_penalties]}")
    if latent_fn is None:
        if latent_dim is None:
            raise ValueError("give latent_dim (standard normal latents) or latent_fn(key) -> z")
        latent_fn = normal_latent(latent_dim)
    return System(
        nets={"g": generator, "d": discriminator},
        players=(
            Player("d", ("d",), d_optimizer, discriminator_loss_fn(loss, latent_fn, penalties),
                   repeats=n_critic, constraint=d_constraint, unroll=unroll_critic),
            Player("g", ("g",), g_optimizer, generator_loss_fn(loss, latent_fn, generator_top_k, g_penalties)),
        ),
        ema=("g",) if ema_decay is not None else (),
        ema_decay=ema_decay,
        ema_warmup=ema_warmup,
        buffers={"loss": loss.init_state()},
        simultaneous=simultaneous,
        batch_keys=("x",),
    )


def to_system_state(state: GANState) -> SystemState:
    """The :class:`SystemState` of :func:`gan` holding the same arrays as ``state``."""
    return SystemState(
        step=state.step,
        key=state.key,
        params={"g": state.g_params, "d": state.d_params},
        model_state={"g": state.g_model_state, "d": state.d_model_state},
        opt_state={"g": state.g_opt_state, "d": state.d_opt_state},
        ema={} if state.ema_params is None else {"g": state.ema_params},
        buffers={"loss": state.loss_state},
        skipped={"d": state.d_skipped, "g": state.g_skipped},
    )


def to_gan_state(state: SystemState) -> GANState:
    """The :class:`GANState` holding the arrays of a :func:`gan` system's state."""
    return GANState(
        step=state.step,
        key=state.key,
        g_params=state.params["g"],
        d_params=state.params["d"],
        g_opt_state=state.opt_state["g"],
        d_opt_state=state.opt_state["d"],
        g_model_state=state.model_state["g"],
        d_model_state=state.model_state["d"],
        ema_params=state.ema.get("g"),
        loss_state=state.buffers["loss"],
        d_skipped=state.skipped["d"],
        g_skipped=state.skipped["g"],
    )
