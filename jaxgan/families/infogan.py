"""InfoGAN (Chen et al. 2016, "InfoGAN: Interpretable Representation Learning by Information Maximizing GANs",
arXiv:1606.03657).

The latent is noise and codes, ``z = [noise, one_hot(c_cat), c_cont]``; the discriminator network has a second
head ``Q(c | x)`` sharing its body and returns ``(source_logits [B], q [B, K + 2 * n_cont or K + n_cont])``. Both
players add ``-lambda * L_I`` to their GAN loss, with the variational lower bound of the mutual information
(eq. 4-5 of the paper)

    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c)  <=  I(c; G(z, c))

For the categorical code, ``log Q(c | x)`` is the log-softmax of the ``K`` code logits at ``c`` and
``H(c) = log K`` (a uniform code), so ``L_I = log K - CE``. For each continuous code ``c ~ U[-1, 1]`` Q is a
factored Gaussian with a fixed unit standard deviation (the paper's MNIST setting; openai/InfoGAN's
``fix_std=True``): ``log Q = -(c - mu)^2 / 2 - log(2 pi) / 2``, ``H(c) = log 2``. The discriminator player owns
the Q head (it shares D's body), as in the reference code.

:class:`CodeLatent` draws and splits the structured latent; the codes reach the losses by splitting ``z``
(the layout is fixed), and :mod:`jaxgan.run.sampling` draws code sweeps from the same layout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgan.context import Context
from jaxgan.losses import GANLoss, get_loss
from jaxgan.models.adapters import Net
from jaxgan.plain_gan import latents
from jaxgan.system import Player, System

Array = jax.Array


class CodeLatent(NamedTuple):
    """The layout of InfoGAN's latent ``z = [noise (noise_dim), one_hot(c) (categories), c_cont (continuous)]``.

    Attributes:
      noise_dim: noise dimensions (62 in the paper's MNIST setting), ``U[-1, 1]`` (openai/InfoGAN) or normal.
      categories: size of the categorical code (10).
      continuous: number of continuous codes ``U[-1, 1]`` (2).
      noise: ``"uniform"`` or ``"normal"``.
    """

    noise_dim: int = 62
    categories: int = 10
    continuous: int = 2
    noise: str = "uniform"

    @property
    def dim(self) -> int:
        return self.noise_dim + self.categories + self.continuous

    @property
    def q_dim(self) -> int:
        """Outputs Q needs: ``categories`` logits and one mean per continuous code."""
        return self.categories + self.continuous

    def sample(self, key: Array) -> Array:
        """One latent ``[dim]``."""
        kn, kc, ku = jax.random.split(key, 3)
        if self.noise == "uniform":
            noise = jax.random.uniform(kn, (self.noise_dim,), minval=-1.0, maxval=1.0)
        else:
            noise = jax.random.normal(kn, (self.noise_dim,))
        cat = jax.random.randint(kc, (), 0, self.categories)
        cont = jax.random.uniform(ku, (self.continuous,), minval=-1.0, maxval=1.0)
        return self.join(noise, cat, cont)

    def join(self, noise: Array, cat: Array, cont: Array) -> Array:
        """``[..., dim]`` from noise ``[..., noise_dim]``, integer codes ``[...]`` and ``cont [..., continuous]``."""
        return jnp.concatenate([noise, jax.nn.one_hot(cat, self.categories, dtype=noise.dtype), cont], -1)

    def split(self, z: Array) -> tuple[Array, Array, Array]:
        """``(noise, categorical code (int), continuous codes)`` of latents ``[..., dim]``."""
        n, k = self.noise_dim, self.categories
        return z[..., :n], jnp.argmax(z[..., n:n + k], -1), z[..., n + k:]


def mutual_information_bound(q: Array, cat: Array, cont: Array, categories: int) -> tuple[Array, Array, Array]:
    """The lower bound ``L_I`` (module docstring) for Q outputs ``q [B, categories + n_cont]`` and the codes that
    made the samples, ``cat`` int ``[B]`` and ``cont [B, n_cont]``.

    Returns ``(L_I, L_I of the categorical code, L_I of the continuous codes)``; ``L_I <= log K + n_cont *
    (log 2 - log(2 pi) / 2)`` with equality only at a perfect Q of zero variance, impossible here for the
    Gaussian part (its maximum for a perfect mean is ``n_cont * (log 2 - log(2 pi) / 2) ~ -0.226 n_cont``).
    """
    logits, mu = q[:, :categories], q[:, categories:]
    cat_term = math.log(categories) - jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, cat))
    n_cont = cont.shape[-1]
    if n_cont:
        log_q = -0.5 * jnp.square(cont - mu) - 0.5 * math.log(2 * math.pi)
        cont_term = jnp.mean(jnp.sum(log_q, -1)) + n_cont * math.log(2.0)
    else:
        cont_term = jnp.zeros(())
    return cat_term + cont_term, cat_term, cont_term


def _fake(ctx: Context, code: CodeLatent, key: Array, n: int):
    z_key, g_rng = jax.random.split(key)
    z = latents(ctx, code.sample, z_key, n)
    return z, ctx.apply("g", z, rng=g_rng)


def discriminator_loss_fn(loss: GANLoss, code: CodeLatent, info_weight: float = 1.0,
                          cont_weight: float = 1.0) -> Callable[[Context], tuple[Array, dict]]:
    """D's (and Q's) loss ``loss.discriminator - info_weight * (L_I,cat + cont_weight * L_I,cont)``.
    Metrics: ``loss`` (GAN part), ``mi`` (``L_I``), ``mi_cat``, ``mi_cont``, ``code_acc`` (Q's argmax is c)."""

    def loss_fn(ctx: Context):
        x = ctx.batch["x"]
        g_key, d_key = jax.random.split(ctx.key)
        z, fake = _fake(ctx, code, g_key, x.shape[0])
        fake = jax.lax.stop_gradient(fake)
        _, cat, cont = code.split(z)
        r_rng, f_rng = jax.random.split(d_key)
        s_real, _ = ctx.apply("d", x, rng=r_rng)
        s_fake, q = ctx.apply("d", fake, rng=f_rng)
        gan_loss = loss.discriminator(s_real, s_fake, {})
        mi, mi_cat, mi_cont = mutual_information_bound(q, cat, cont, code.categories)
        info = mi_cat + cont_weight * mi_cont
        return gan_loss - info_weight * info, {
            "loss": gan_loss, "mi": mi, "mi_cat": mi_cat, "mi_cont": mi_cont,
            "code_acc": jnp.mean((jnp.argmax(q[:, :code.categories], -1) == cat).astype(jnp.float32)),
        }

    return loss_fn


def generator_loss_fn(loss: GANLoss, code: CodeLatent, info_weight: float = 1.0,
                      cont_weight: float = 1.0) -> Callable[[Context], tuple[Array, dict]]:
    """G's loss ``loss.generator - info_weight * (L_I,cat + cont_weight * L_I,cont)``. Metrics: ``loss``, ``mi``."""

    def loss_fn(ctx: Context):
        x = ctx.batch["x"]
        g_key, d_key = jax.random.split(ctx.key)
        z, fake = _fake(ctx, code, g_key, x.shape[0])
        _, cat, cont = code.split(z)
        r_rng, f_rng = jax.random.split(d_key)
        s_real = ctx.apply("d", x, rng=r_rng)[0] if loss.generator_uses_real else None
        s_fake, q = ctx.apply("d", fake, rng=f_rng)
        gan_loss = loss.generator(s_real, s_fake, {})
        mi, mi_cat, mi_cont = mutual_information_bound(q, cat, cont, code.categories)
        return gan_loss - info_weight * (mi_cat + cont_weight * mi_cont), {"loss": gan_loss, "mi": mi}

    return loss_fn


def infogan(
    generator: Net,
    discriminator: Net,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    code: CodeLatent = CodeLatent(),
    *,
    loss: GANLoss | str = "non_saturating",
    info_weight: float = 1.0,
    cont_weight: float = 1.0,
    ema_decay: float | None = None,
) -> System:
    """The InfoGAN :class:`System`: networks ``g`` (``G(z)``, ``z`` of ``code.dim``) and ``d`` (``x -> (source,
    q [B, code.q_dim])``), players ``d`` (D and Q) then ``g``. Batches ``{"x"}`` (labels are never read)."""
    if isinstance(loss, str):
        loss = get_loss(loss)
    if loss.init_state() != {}:
        raise ValueError(f"InfoGAN takes a stateless GAN loss; {loss.name!r} keeps state")
    if code.categories < 2 or code.continuous < 0 or code.noise_dim < 0:
        raise ValueError(f"InfoGAN code needs >= 2 categories and >= 0 noise / continuous dims; got {code}")
    if code.noise not in ("uniform", "normal"):
        raise ValueError(f"InfoGAN noise must be 'uniform' or 'normal', got {code.noise!r}")
    for name, w in (("info_weight", info_weight), ("cont_weight", cont_weight)):
        if not w >= 0:
            raise ValueError(f"{name} must be >= 0, got {w}")
    return System(
        nets={"g": generator, "d": discriminator},
        players=(
            Player("d", ("d",), d_optimizer, discriminator_loss_fn(loss, code, info_weight, cont_weight)),
            Player("g", ("g",), g_optimizer, generator_loss_fn(loss, code, info_weight, cont_weight)),
        ),
        ema=("g",) if ema_decay is not None else (),
        ema_decay=ema_decay,
        batch_keys=("x",),
    )
