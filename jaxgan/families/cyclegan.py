"""CycleGAN (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", arXiv:1703.10593) as a :class:`jaxgan.system.System`.

Generators ``G_AB: A -> B`` and ``G_BA: B -> A`` (e.g. :class:`jaxgan.models.translation.ResnetGenerator`) are
one player ``g``; discriminators ``D_A`` (real A vs ``G_BA(b)``) and ``D_B`` (real B vs ``G_AB(a)``) are player
``d``. LSGAN losses (Sec. 4, "Training details"; the reference's ``GANLoss('lsgan')``, an MSE to 1 or 0 over
every patch), L1 cycle and identity terms with ``λ = cycle_weight`` (10) per direction:

    L_G = (D_B(G_AB(a)) - 1)^2 + (D_A(G_BA(b)) - 1)^2                                     (adversarial)
        + λ |G_BA(G_AB(a)) - a| + λ |G_AB(G_BA(b)) - b|                                    (cycle, Eq. 2)
        + identity_weight · λ (|G_AB(b) - b| + |G_BA(a) - a|)                             (identity, Sec. 5.2)
    L_D = 1/2 [(D_A(a) - 1)^2 + D_A(pool_A(G_BA(b)))^2] + 1/2 [(D_B(b) - 1)^2 + D_B(pool_B(G_AB(a)))^2]

each square or absolute value a mean over pixels (patches) and rows, ``identity_weight = 0.5``. The D loss is
halved ("we divide the objective by 2 while optimizing D"); G's adversarial terms are not (the reference's).

Image pools. Each discriminator sees fakes through a 50-image history buffer (:mod:`jaxgan.pool`, Shrivastava
et al. 2017), held in the system buffers ``pool_a`` / ``pool_b`` (``{"images": [50, h, w, c], "count"}``), so they
are part of the state that checkpoints save.

Order. As in the reference's ``optimize_parameters``, the generators update first and the discriminators
second. The reference feeds D the fakes made before G's update; here D's loss makes them again with the updated
generators (one extra generator pass, no buffer of a batch of fakes in the state).

The paper's learning rate: Adam 2e-4, β1 = 0.5, constant for the first half of training and linearly decayed to
zero over the second (:func:`linear_decay`, an optax schedule given to the optimizers).

Batches: ``{"a": [B, h, w, c], "b": [B, h, w, c]}``, unrelated rows of the two domains
(:class:`jaxgan.data.translation.PairedData` with ``paired=False``).

The generators are applied per sample (:func:`jaxgan.families.pix2pix.apply_per_sample`): any dropout noise is
the same on any device count, and their model state is not updated (use instance norm, the default).

Metrics: ``g/loss`` (adversarial sum), ``g/cycle`` (the two cycle L1s, summed, unweighted), ``g/identity``
(the two identity L1s, summed, unweighted), ``g/total`` (L_G); ``d/loss`` (L_D), ``d/loss_a``, ``d/loss_b``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import optax

from jaxgan import pool
from jaxgan.context import Context
from jaxgan.families.pix2pix import apply_per_sample, check_weight, l1_loss
from jaxgan.models.adapters import Net
from jaxgan.system import Player, System

Array = jax.Array

CYCLE_WEIGHT = 10.0
IDENTITY_WEIGHT = 0.5
POOL_SIZE = 50


# ---------------------------------------------------------------------------------------------------- loss terms


def lsgan_discriminator_loss(d_real: Array, d_fake: Array) -> Array:
    """One discriminator's LSGAN loss, halved: ``1/2 [mean (D(real) - 1)^2 + mean D(fake)^2]`` (Mao et al. 2017)."""
    d_real, d_fake = jnp.asarray(d_real, jnp.float32), jnp.asarray(d_fake, jnp.float32)
    return 0.5 * (jnp.mean((d_real - 1.0) ** 2) + jnp.mean(d_fake**2))


def lsgan_generator_loss(d_fake: Array) -> Array:
    """One generator's LSGAN adversarial term: ``mean (D(G(x)) - 1)^2`` over patches and rows."""
    return jnp.mean((jnp.asarray(d_fake, jnp.float32) - 1.0) ** 2)


def cycle_loss(a: Array, rec_a: Array, b: Array, rec_b: Array) -> Array:
    """CycleGAN's cycle-consistency loss (Eq. 2), unweighted: ``mean |rec_a - a| + mean |rec_b - b|`` with
    ``rec_a = G_BA(G_AB(a))``, ``rec_b = G_AB(G_BA(b))``."""
    return l1_loss(rec_a, a) + l1_loss(rec_b, b)


def identity_loss(a: Array, same_a: Array, b: Array, same_b: Array) -> Array:
    """CycleGAN's identity loss (Sec. 5.2; Taigman et al. 2017), unweighted: ``mean |G_BA(a) - a| + mean |G_AB(b) - b|``
    (``same_a = G_BA(a)``, ``same_b = G_AB(b)``)."""
    return l1_loss(same_a, a) + l1_loss(same_b, b)


def linear_decay(learning_rate: float, constant_steps: int, decay_steps: int) -> optax.Schedule:
    """CycleGAN's learning rate: ``learning_rate`` for ``constant_steps`` steps, then linearly to 0 over
    ``decay_steps`` (the paper's 100 + 100 epochs, counted here in optimizer updates, one per step). The
    reference decays per epoch and ends at ``learning_rate / (n_epochs_decay + 1)``; this ends at 0."""
    for name, v in (("constant_steps", constant_steps), ("decay_steps", decay_steps)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    return optax.join_schedules(
        [optax.constant_schedule(learning_rate), optax.linear_schedule(learning_rate, 0.0, max(decay_steps, 1))],
        [constant_steps],
    )


# ------------------------------------------------------------------------------------------------------ the system


def make_generator_loss_fn(cycle_weight: float = CYCLE_WEIGHT, identity_weight: float = IDENTITY_WEIGHT):
    """The ``g`` player's loss L_G (module docstring); the identity passes are skipped at ``identity_weight=0``."""

    def loss_fn(ctx: Context) -> tuple[Array, dict]:
        a, b = ctx.batch["a"], ctx.batch["b"]
        keys = jax.random.split(ctx.key, 8)
        fake_b, fake_a = apply_per_sample(ctx, "g_ab", a, keys[0]), apply_per_sample(ctx, "g_ba", b, keys[1])
        adv = lsgan_generator_loss(ctx.apply("d_b", fake_b, rng=keys[2])) + lsgan_generator_loss(
            ctx.apply("d_a", fake_a, rng=keys[3])
        )
        rec_a, rec_b = apply_per_sample(ctx, "g_ba", fake_b, keys[4]), apply_per_sample(ctx, "g_ab", fake_a, keys[5])
        cycle = cycle_loss(a, rec_a, b, rec_b)
        total = adv + cycle_weight * cycle
        metrics = {"loss": adv, "cycle": cycle}
        if identity_weight:
            same_a, same_b = apply_per_sample(ctx, "g_ba", a, keys[6]), apply_per_sample(ctx, "g_ab", b, keys[7])
            metrics["identity"] = identity_loss(a, same_a, b, same_b)
            total = total + identity_weight * cycle_weight * metrics["identity"]
        return total, {**metrics, "total": total}

    return loss_fn


def discriminator_loss_fn(ctx: Context) -> tuple[Array, dict]:
    """The ``d`` player's loss L_D: each D on its real domain and on fakes from its pool (module docstring)."""
    a, b = ctx.batch["a"], ctx.batch["b"]
    k_ab, k_ba, k_pa, k_pb, k_a, k_b = jax.random.split(ctx.key, 6)
    fake_b = pool.through(ctx, "pool_b", apply_per_sample(ctx, "g_ab", a, k_ab), k_pb)
    fake_a = pool.through(ctx, "pool_a", apply_per_sample(ctx, "g_ba", b, k_ba), k_pa)
    ra, fa = jax.random.split(k_a)
    rb, fb = jax.random.split(k_b)
    loss_a = lsgan_discriminator_loss(ctx.apply("d_a", a, rng=ra), ctx.apply("d_a", fake_a, rng=fa))
    loss_b = lsgan_discriminator_loss(ctx.apply("d_b", b, rng=rb), ctx.apply("d_b", fake_b, rng=fb))
    value = loss_a + loss_b
    return value, {"loss": value, "loss_a": loss_a, "loss_b": loss_b}


def cyclegan(
    g_ab: Net,
    g_ba: Net,
    d_a: Net,
    d_b: Net,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    *,
    image_shape: Sequence[int],
    pool_size: int = POOL_SIZE,
    cycle_weight: float = CYCLE_WEIGHT,
    identity_weight: float = IDENTITY_WEIGHT,
    ema_decay: float | None = None,
) -> System:
    """CycleGAN as a :class:`System` (module docstring).

    Args:
      g_ab, g_ba: the generators A -> B and B -> A.
      d_a, d_b: the discriminators of domains A and B (patch scores, no sigmoid).
      g_optimizer: over ``{"g_ab": ..., "g_ba": ...}``; d_optimizer: over ``{"d_a": ..., "d_b": ...}``; e.g.
        ``optax.adam(linear_decay(2e-4, n, n), b1=0.5)``.
      image_shape: ``(h, w, c)`` of one image (both domains): the shape of the pools' images.
      pool_size: images per history pool (50; 0 disables the pools).
      cycle_weight: λ, per direction (10).
      identity_weight: the identity term's weight relative to λ (0.5; 0 drops the term and its passes).
      ema_decay: keep EMAs of both generators with this decay (``None``: none).

    Returns:
      Networks ``g_ab``, ``g_ba``, ``d_a``, ``d_b``; players ``g`` then ``d``; buffers ``pool_a``, ``pool_b``;
      batch keys ``a`` and ``b``.
    """
    cycle_weight = check_weight("cycle_weight", cycle_weight)
    identity_weight = check_weight("identity_weight", identity_weight)
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"image_shape must be (height, width, channels), got {image_shape!r}")
    return System(
        nets={"g_ab": g_ab, "g_ba": g_ba, "d_a": d_a, "d_b": d_b},
        players=(
            Player("g", ("g_ab", "g_ba"), g_optimizer, make_generator_loss_fn(cycle_weight, identity_weight)),
            Player("d", ("d_a", "d_b"), d_optimizer, discriminator_loss_fn),
        ),
        ema=("g_ab", "g_ba") if ema_decay is not None else (),
        ema_decay=ema_decay,
        buffers={"pool_a": pool.init(pool_size, shape), "pool_b": pool.init(pool_size, shape)},
        batch_keys=("a", "b"),
    )
