"""BiGAN / ALI (Donahue, Krähenbühl & Darrell 2017, "Adversarial Feature Learning", arXiv:1605.09782; Dumoulin et
al. 2017, "Adversarially Learned Inference", arXiv:1606.00704).

An encoder ``E: x -> z`` is trained with the generator ``G: z -> x`` as one player against a discriminator on the
joint pairs: ``D(x, E(x))`` for data and ``D(G(z), z)`` for samples, ``z ~ U[-1, 1]^d`` (the BiGAN code's
choice) or ``N(0, I)``. With ``loss`` a :class:`jaxgan.losses.GANLoss` (non-saturating by default),

    d_loss  = loss.discriminator(D(x, E(x)), D(G(z), z))
    ge_loss = loss.discriminator(D(G(z), z), D(x, E(x)))     # the labels swapped (the BiGAN code's "inverted" loss)

At the optimum ``E = G^{-1}`` (Theorem 2 of the BiGAN paper). The discriminator network takes the pair as
``D(x, labels=z)`` (its second input; e.g. :class:`jaxgan.models.bigan.JointDiscriminator`). Batches
``{"x": images}``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import optax

from jaxgan.context import Context
from jaxgan.losses import GANLoss, get_loss
from jaxgan.models.adapters import Net
from jaxgan.plain_gan import latents
from jaxgan.system import Player, System

Array = jax.Array


def uniform_latent(dim: int) -> Callable[[Array], Array]:
    """``latent_fn(key) -> z [dim] ~ U[-1, 1]^dim`` (the BiGAN code's prior)."""
    return lambda key: jax.random.uniform(key, (dim,), minval=-1.0, maxval=1.0)


def joint_scores(ctx: Context, latent_fn: Callable[[Array], Array]) -> tuple[Array, Array]:
    """``(D(x, E(x)), D(G(z), z))`` for this update's batch: the encoder and generator in training mode, each
    with its own rng, latents from the global row keys."""
    x = ctx.batch["x"]
    z_key, g_rng, e_rng, d_rng = jax.random.split(ctx.key, 4)
    z = latents(ctx, latent_fn, z_key, x.shape[0])
    ex = ctx.apply("e", x, rng=e_rng)
    gz = ctx.apply("g", z, rng=g_rng)
    r_rng, f_rng = jax.random.split(d_rng)
    return ctx.apply("d", x, ex, rng=r_rng), ctx.apply("d", gz, z, rng=f_rng)


def discriminator_loss_fn(loss: GANLoss, latent_fn) -> Callable[[Context], tuple[Array, dict]]:
    """D's loss on the joint pairs. Metrics: ``loss``, ``real_logits_mean``, ``fake_logits_mean``."""

    def loss_fn(ctx: Context):
        real, fake = joint_scores(ctx, latent_fn)
        value = loss.discriminator(real, fake, {})
        return value, {"loss": value, "real_logits_mean": real.mean(), "fake_logits_mean": fake.mean()}

    return loss_fn


def encoder_generator_loss_fn(loss: GANLoss, latent_fn) -> Callable[[Context], tuple[Array, dict]]:
    """The ``ge`` player's loss: the discriminator loss with the pairs' roles swapped. Metrics: ``loss``."""

    def loss_fn(ctx: Context):
        real, fake = joint_scores(ctx, latent_fn)
        value = loss.discriminator(fake, real, {})
        return value, {"loss": value}

    return loss_fn


def bigan(
    generator: Net,
    encoder: Net,
    discriminator: Net,
    ge_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    latent_fn: Callable[[Array], Array],
    *,
    loss: GANLoss | str = "non_saturating",
    ema_decay: float | None = None,
) -> System:
    """The BiGAN :class:`System`: networks ``g``, ``e``, ``d``; players ``d`` then ``ge`` (G and E together, one
    optimizer over ``{"g": ..., "e": ...}``); an EMA of ``g`` and ``e`` when ``ema_decay`` is set."""
    if isinstance(loss, str):
        loss = get_loss(loss)
    if loss.init_state() != {}:
        raise ValueError(f"BiGAN takes a stateless GAN loss; {loss.name!r} keeps state")
    return System(
        nets={"g": generator, "e": encoder, "d": discriminator},
        players=(
            Player("d", ("d",), d_optimizer, discriminator_loss_fn(loss, latent_fn)),
            Player("ge", ("g", "e"), ge_optimizer, encoder_generator_loss_fn(loss, latent_fn)),
        ),
        ema=("g", "e") if ema_decay is not None else (),
        ema_decay=ema_decay,
        batch_keys=("x",),
    )
