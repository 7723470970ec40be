"""ACGAN (Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs", arXiv:1610.09585).

The generator takes a class label with its latent; the discriminator does *not* take the label: it has two
heads, a source logit (real or fake) and class logits. With ``S`` the source and ``C`` the class,

    L_S = E[log P(S = real | x_real)] + E[log P(S = fake | x_fake)]
    L_C = E[log P(C = c | x_real)] + E[log P(C = c | x_fake)]

D maximises ``L_S + L_C`` and G maximises ``L_C - L_S`` (the paper's eq. 2-3). Here both are minimised as losses
with the source terms given by any :class:`jaxgan.losses.GANLoss` (non-saturating by default, as the paper's
code does) and the class terms as cross-entropies weighted by ``class_weight``:

    d_loss = loss.discriminator(s_real, s_fake) + class_weight * (CE(c_real, y) + CE(c_fake, y_fake))
    g_loss = loss.generator(s_real, s_fake) + class_weight * CE(c_fake, y_fake)

The discriminator network returns ``(source_logits [B], class_logits [B, K])`` (e.g.
``DCGANDiscriminator(aux_outputs=K)``). The fake labels ``y_fake`` are the real batch's labels (so the generated
class distribution is the data's, as in this project's cGAN); batches are ``{"x": images, "label": int [B]}``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from jaxgan.context import Context
from jaxgan.losses import GANLoss, get_loss
from jaxgan.models.adapters import Net
from jaxgan.plain_gan import latents
from jaxgan.system import Player, System

Array = jax.Array


def class_cross_entropy(logits: Array, labels: Array) -> Array:
    """ACGAN's class term ``-E[log P(C = y | x)]``: mean softmax cross-entropy of ``logits [B, K]`` against
    integer ``labels [B]``."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def accuracy(logits: Array, labels: Array) -> Array:
    """Fraction of rows whose ``argmax(logits)`` is the label."""
    return jnp.mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32))


def _fake(ctx: Context, latent_fn, key, labels, stop: bool):
    z_key, g_rng = jax.random.split(key)
    z = latents(ctx, latent_fn, z_key, labels.shape[0])
    fake = ctx.apply("g", z, labels, rng=g_rng)
    return jax.lax.stop_gradient(fake) if stop else fake


def discriminator_loss_fn(loss: GANLoss, latent_fn: Callable[[Array], Array],
                          class_weight: float = 1.0) -> Callable[[Context], tuple[Array, dict]]:
    """D's ACGAN loss (module docstring). Metrics: ``loss`` (source part), ``class_loss`` (both CE terms),
    ``class_acc_real``, ``class_acc_fake``."""

    def loss_fn(ctx: Context):
        x, y = ctx.batch["x"], ctx.batch["label"]
        g_key, d_key = jax.random.split(ctx.key)
        fake = _fake(ctx, latent_fn, g_key, y, stop=True)
        r_rng, f_rng = jax.random.split(d_key)
        s_real, c_real = ctx.apply("d", x, rng=r_rng)
        s_fake, c_fake = ctx.apply("d", fake, rng=f_rng)
        source = loss.discriminator(s_real, s_fake, {})
        cls = class_cross_entropy(c_real, y) + class_cross_entropy(c_fake, y)
        return source + class_weight * cls, {
            "loss": source,
            "class_loss": cls,
            "class_acc_real": accuracy(c_real, y),
            "class_acc_fake": accuracy(c_fake, y),
        }

    return loss_fn


def generator_loss_fn(loss: GANLoss, latent_fn: Callable[[Array], Array],
                      class_weight: float = 1.0) -> Callable[[Context], tuple[Array, dict]]:
    """G's ACGAN loss (module docstring). Metrics: ``loss`` (source part), ``class_loss``."""

    def loss_fn(ctx: Context):
        x, y = ctx.batch["x"], ctx.batch["label"]
        g_key, d_key = jax.random.split(ctx.key)
        fake = _fake(ctx, latent_fn, g_key, y, stop=False)
        r_rng, f_rng = jax.random.split(d_key)
        s_real = ctx.apply("d", x, rng=r_rng)[0] if loss.generator_uses_real else None
        s_fake, c_fake = ctx.apply("d", fake, rng=f_rng)
        source = loss.generator(s_real, s_fake, {})
        cls = class_cross_entropy(c_fake, y)
        return source + class_weight * cls, {"loss": source, "class_loss": cls}

    return loss_fn


def acgan(
    generator: Net,
    discriminator: Net,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    latent_fn: Callable[[Array], Array],
    *,
    loss: GANLoss | str = "non_saturating",
    class_weight: float = 1.0,
    ema_decay: float | None = None,
) -> System:
    """The ACGAN :class:`System`: networks ``g`` (``G(z, y)``) and ``d`` (``x -> (source, class_logits)``),
    players ``d`` then ``g``, an EMA of ``g`` when ``ema_decay`` is set. Batches ``{"x", "label"}``."""
    if isinstance(loss, str):
        loss = get_loss(loss)
    if loss.name == "began" or loss.init_state() != {}:
        raise ValueError(f"ACGAN takes a stateless source loss; {loss.name!r} keeps state")
    if not class_weight >= 0:
        raise ValueError(f"class_weight must be >= 0, got {class_weight}")
    return System(
        nets={"g": generator, "d": discriminator},
        players=(
            Player("d", ("d",), d_optimizer, discriminator_loss_fn(loss, latent_fn, class_weight)),
            Player("g", ("g",), g_optimizer, generator_loss_fn(loss, latent_fn, class_weight)),
        ),
        ema=("g",) if ema_decay is not None else (),
        ema_decay=ema_decay,
        batch_keys=("x", "label"),
    )
