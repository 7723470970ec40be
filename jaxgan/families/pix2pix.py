"""pix2pix (Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial Networks",
arXiv:1611.07004) as a :class:`jaxgan.system.System`.

A generator ``G: a -> b`` (e.g. :class:`jaxgan.models.translation.UNetGenerator`, whose dropout is its noise)
and a conditional discriminator on pairs ``D(a, b)`` (e.g. a :class:`~jaxgan.models.translation.PatchGANDiscriminator`
with ``c_a + c_b`` input channels: the loss concatenates ``(a, b)`` on channels before calling it). With ``BCE``
the mean sigmoid cross-entropy over every patch logit (the reference's ``GANLoss('vanilla')``):

    L_D = 1/2 [BCE(D(a, b), 1) + BCE(D(a, G(a)), 0)]        (halved: "we divide the objective by 2 while
                                                              optimizing D", Sec. 3.3)
    L_G = adversarial_weight * BCE(D(a, G(a)), 1) + l1_weight * mean |G(a) - b|       (Eq. 4, λ_L1 = 100)

The paper trains with Adam, learning rate 2e-4, β1 = 0.5 (the optimizers are the caller's). One step updates D,
then G against the updated D (the reference's ``optimize_parameters``), each with its own pass of G (and so its
own dropout noise; the reference reuses one forward pass of G for both). ``adversarial_weight=0`` is the
L1-only baseline of the paper's Table 1 (D still trains but G ignores it).

Batches: ``{"a": [B, h, w, c_a], "b": [B, h, w, c_b]}``, row ``i`` of ``a`` and ``b`` a pair
(:class:`jaxgan.data.translation.PairedData`).

Per-sample noise. The generator is applied to each row separately (:func:`apply_per_sample`) with the key of the
row's global index (:meth:`jaxgan.context.Context.sample_keys`), so dropout masks, and every number of a step,
do not depend on how the batch is split across devices. Its model state is therefore not updated: give it a norm
without running statistics (the U-Net's default instance norm).

Metrics: ``d/loss`` (L_D), ``d/real_logits_mean``, ``d/fake_logits_mean``; ``g/loss`` (the adversarial BCE),
``g/l1``, ``g/total`` (L_G).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxgan.context import Context
from jaxgan.models.adapters import Net
from jaxgan.system import Player, System

Array = jax.Array

L1_WEIGHT = 100.0


# ---------------------------------------------------------------------------------------------------- loss terms


def bce_with_logits(logits: Array, target: float) -> Array:
    """Mean sigmoid cross-entropy of ``logits`` (any shape: one per patch) against a constant ``target`` in [0, 1]."""
    logits = jnp.asarray(logits, jnp.float32)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)))


def discriminator_loss(d_real_logits: Array, d_fake_logits: Array) -> Array:
    """pix2pix's D loss, halved: ``1/2 [BCE(D(a, b), 1) + BCE(D(a, G(a)), 0)]`` over all patch logits.

    Args:
      d_real_logits: ``[B, h', w', 1]`` logits of real pairs ``(a, b)``.
      d_fake_logits: ``[B, h', w', 1]`` logits of fake pairs ``(a, G(a))``.
    """
    return 0.5 * (bce_with_logits(d_real_logits, 1.0) + bce_with_logits(d_fake_logits, 0.0))


def generator_adversarial_loss(d_fake_logits: Array) -> Array:
    """The non-saturating adversarial term of G: ``BCE(D(a, G(a)), 1) = E softplus(-D(a, G(a)))``."""
    return bce_with_logits(d_fake_logits, 1.0)


def l1_loss(output: Array, target: Array) -> Array:
    """``mean |output - target|`` over every pixel and channel (pix2pix's L1 term; CycleGAN's cycle and identity
    terms; StarGAN's reconstruction term)."""
    return jnp.mean(jnp.abs(jnp.asarray(output, jnp.float32) - target))


# ------------------------------------------------------------------------------------------------------ the system


def apply_per_sample(ctx: Context, name: str, x: Array, key: Array, labels: Array | None = None) -> Array:
    """Network ``name`` applied to each row of ``x [B, ...]`` alone, in train mode, with the key of the row's global
    index: stochastic layers (dropout) then give the same numbers on any device count. The network's model state
    is read as the update began and not updated (use no running statistics)."""
    keys = ctx.sample_keys(key, x.shape[0])

    def one(xi, ki, li):
        li = None if li is None else li[None]
        return ctx.apply(name, xi[None], li, rng=ki, update_state=False)[0]

    return jax.vmap(one)(x, keys, labels)


def pair(a: Array, b: Array) -> Array:
    """The conditional discriminator's input: ``a`` and ``b`` concatenated on channels, ``[B, h, w, c_a + c_b]``."""
    return jnp.concatenate([a, b], axis=-1)


def discriminator_loss_fn(ctx: Context) -> tuple[Array, dict]:
    """The ``d`` player's loss: :func:`discriminator_loss` on ``D(a, b)`` and ``D(a, G(a))`` (G not trained)."""
    a, b = ctx.batch["a"], ctx.batch["b"]
    g_key, real_rng, fake_rng = jax.random.split(ctx.key, 3)
    fake = jax.lax.stop_gradient(apply_per_sample(ctx, "g", a, g_key))
    d_real = ctx.apply("d", pair(a, b), rng=real_rng)
    d_fake = ctx.apply("d", pair(a, fake), rng=fake_rng)
    value = discriminator_loss(d_real, d_fake)
    return value, {"loss": value, "real_logits_mean": jnp.mean(d_real), "fake_logits_mean": jnp.mean(d_fake)}


def make_generator_loss_fn(l1_weight: float = L1_WEIGHT, adversarial_weight: float = 1.0):
    """The ``g`` player's loss (Eq. 4): ``adversarial_weight * BCE(D(a, G(a)), 1) + l1_weight * mean |G(a) - b|``."""

    def loss_fn(ctx: Context) -> tuple[Array, dict]:
        a, b = ctx.batch["a"], ctx.batch["b"]
        g_key, d_rng = jax.random.split(ctx.key)
        fake = apply_per_sample(ctx, "g", a, g_key)
        d_fake = ctx.apply("d", pair(a, fake), rng=d_rng)
        adv, l1 = generator_adversarial_loss(d_fake), l1_loss(fake, b)
        total = adversarial_weight * adv + l1_weight * l1
        return total, {"loss": adv, "l1": l1, "total": total}

    return loss_fn


def check_weight(name: str, value: float) -> float:
    """A finite, non-negative loss weight, or a one-line ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def pix2pix(
    generator: Net,
    discriminator: Net,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    *,
    l1_weight: float = L1_WEIGHT,
    adversarial_weight: float = 1.0,
    ema_decay: float | None = None,
) -> System:
    """pix2pix as a :class:`System` (module docstring).

    Args:
      generator: ``G(a) -> b``, e.g. ``from_linen(UNetGenerator(...))``.
      discriminator: ``D(concat(a, b)) -> logits`` (one per patch), e.g. ``from_linen(PatchGANDiscriminator(...))``.
      g_optimizer, d_optimizer: e.g. ``optax.adam(2e-4, b1=0.5)`` (the paper's).
      l1_weight: λ_L1 (100).
      adversarial_weight: the weight of G's adversarial term (0: the L1-only baseline).
      ema_decay: keep an EMA of G with this decay (``None``: none).

    Returns:
      Networks ``g`` and ``d``; players ``d`` then ``g``; batch keys ``a`` and ``b``.
    """
    l1_weight = check_weight("l1_weight", l1_weight)
    adversarial_weight = check_weight("adversarial_weight", adversarial_weight)
    return System(
        nets={"g": generator, "d": discriminator},
        players=(
            Player("d", ("d",), d_optimizer, discriminator_loss_fn),
            Player("g", ("g",), g_optimizer, make_generator_loss_fn(l1_weight, adversarial_weight)),
        ),
        ema=("g",) if ema_decay is not None else (),
        ema_decay=ema_decay,
        batch_keys=("a", "b"),
    )
