"""StarGAN (Choi, Choi, Kim, Ha, Kim & Choo 2018, "StarGAN: Unified Generative Adversarial Networks for
Multi-Domain Image-to-Image Translation", arXiv:1711.09020) as a :class:`jaxgan.system.System`.

One generator ``G(x, c)`` translates an image to target domain ``c`` (:class:`jaxgan.models.translation.
StarGANGenerator`, the domain as ``labels``); one discriminator returns ``(src, cls)``, patch scores and domain
logits (:class:`~jaxgan.models.translation.StarGANDiscriminator`). With ``c`` the image's own domain, ``c'`` a
target domain, WGAN-GP adversarial terms (Sec. 3.2, Eq. 8) and ``CE`` the softmax cross-entropy over domains
(the reference's single-label ``F.cross_entropy``, used for RaFD):

    L_D = mean D_src(G(x, c')) - mean D_src(x) + λ_cls CE(D_cls(x), c) + λ_gp E (||∇_x̂ D_src(x̂)||_2 - 1)^2
    L_G = -mean D_src(G(x, c')) + λ_cls CE(D_cls(G(x, c')), c') + λ_rec mean |G(G(x, c'), c) - x|

with ``λ_cls = 1``, ``λ_rec = 10``, ``λ_gp = 10`` and ``x̂`` a per-sample uniform interpolation of real and fake
(:func:`jaxgan.penalties.gradient_penalty_value`, the gradient of the sum of the patch scores, as the reference's
``grad_outputs=ones``). D updates ``n_critic = 5`` times per G update (``Player`` repeats: a batch is ``n_critic``
groups; D reads each, G the last). The paper: Adam 1e-4, β1 = 0.5, β2 = 0.999, linear decay over the last half.

Target domains. Each update draws ``c'`` for every row uniformly over the ``num_domains`` domains (the original
domain included) from the key of the row's global index (:meth:`jaxgan.context.Context.sample_keys`), so the
numbers do not depend on the device count; the reference permutes the batch's labels instead, and uses the same
``c'`` for a D and the following G update, where here every update draws its own.

Batches: ``{"x": [B, h, w, c], "domain": int32 [B]}`` (:class:`jaxgan.data.translation.DomainData`).

Metrics: ``d/loss`` (the Wasserstein part), ``d/cls``, ``d/gp``, ``d/cls_acc``, ``d/real_logits_mean``,
``d/fake_logits_mean``; ``g/loss`` (``-mean D_src(G(x, c'))``), ``g/cls``, ``g/rec``, ``g/cls_acc`` (D's domain
accuracy on the translations), ``g/total``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxgan.context import Context
from jaxgan.families.pix2pix import check_weight, l1_loss
from jaxgan.losses import wasserstein_discriminator_loss, wasserstein_generator_loss
from jaxgan.models.adapters import Net
from jaxgan.penalties import gradient_penalty_value
from jaxgan.system import Player, System

Array = jax.Array

CLS_WEIGHT = 1.0
REC_WEIGHT = 10.0
GP_WEIGHT = 10.0
N_CRITIC = 5


# ---------------------------------------------------------------------------------------------------- loss terms


def domain_classification_loss(logits: Array, domains: Array) -> Array:
    """StarGAN's domain term (Eq. 2-3): the mean softmax cross-entropy of ``logits [B, K]`` against int
    ``domains [B]``."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(jnp.asarray(logits, jnp.float32), domains))


def domain_accuracy(logits: Array, domains: Array) -> Array:
    """The fraction of rows whose ``argmax(logits)`` is their domain."""
    return jnp.mean((jnp.argmax(logits, -1) == domains).astype(jnp.float32))


def discriminator_loss(
    src_real: Array,
    src_fake: Array,
    cls_real: Array,
    domains: Array,
    gp: Array,
    cls_weight: float = CLS_WEIGHT,
    gp_weight: float = GP_WEIGHT,
) -> Array:
    """L_D (module docstring): ``mean src_fake - mean src_real + cls_weight CE(cls_real, c) + gp_weight gp``."""
    adv = wasserstein_discriminator_loss(src_real, src_fake)
    return adv + cls_weight * domain_classification_loss(cls_real, domains) + gp_weight * gp


def generator_loss(
    src_fake: Array,
    cls_fake: Array,
    targets: Array,
    x: Array,
    reconstructed: Array,
    cls_weight: float = CLS_WEIGHT,
    rec_weight: float = REC_WEIGHT,
) -> Array:
    """L_G (module docstring): ``-mean src_fake + cls_weight CE(cls_fake, c') + rec_weight mean |rec - x|``,
    ``rec = G(G(x, c'), c)``."""
    adv = wasserstein_generator_loss(src_fake)
    return adv + cls_weight * domain_classification_loss(cls_fake, targets) + rec_weight * l1_loss(reconstructed, x)


# ------------------------------------------------------------------------------------------------------ the system


def target_domains(ctx: Context, key: Array, num_domains: int, n: int) -> Array:
    """int32 ``[n]`` target domains, uniform over ``num_domains``, row ``i`` from the key of its global index."""
    return jax.vmap(lambda k: jax.random.randint(k, (), 0, num_domains))(ctx.sample_keys(key, n))


def make_discriminator_loss_fn(num_domains: int, cls_weight: float = CLS_WEIGHT, gp_weight: float = GP_WEIGHT):
    """The ``d`` player's loss L_D."""

    def loss_fn(ctx: Context) -> tuple[Array, dict]:
        x, c = ctx.batch["x"], ctx.batch["domain"]
        t_key, g_rng, real_rng, fake_rng, gp_key = jax.random.split(ctx.key, 5)
        targets = target_domains(ctx, t_key, num_domains, x.shape[0])
        fake = jax.lax.stop_gradient(ctx.apply("g", x, targets, rng=g_rng))
        src_real, cls_real = ctx.apply("d", x, rng=real_rng)
        src_fake, _ = ctx.apply("d", fake, rng=fake_rng)

        def d_src(inputs):
            return ctx.apply("d", inputs, rng=fake_rng, update_state=False)[0]

        gp = gradient_penalty_value(d_src, x, fake, ctx.sample_keys(gp_key, x.shape[0]))
        total = discriminator_loss(src_real, src_fake, cls_real, c, gp, cls_weight, gp_weight)
        return total, {
            "loss": wasserstein_discriminator_loss(src_real, src_fake),
            "cls": domain_classification_loss(cls_real, c),
            "gp": gp,
            "cls_acc": domain_accuracy(cls_real, c),
            "real_logits_mean": jnp.mean(src_real),
            "fake_logits_mean": jnp.mean(src_fake),
        }

    return loss_fn


def make_generator_loss_fn(num_domains: int, cls_weight: float = CLS_WEIGHT, rec_weight: float = REC_WEIGHT):
    """The ``g`` player's loss L_G."""

    def loss_fn(ctx: Context) -> tuple[Array, dict]:
        x, c = ctx.batch["x"], ctx.batch["domain"]
        t_key, g_rng, rec_rng, d_rng = jax.random.split(ctx.key, 4)
        targets = target_domains(ctx, t_key, num_domains, x.shape[0])
        fake = ctx.apply("g", x, targets, rng=g_rng)
        src_fake, cls_fake = ctx.apply("d", fake, rng=d_rng)
        reconstructed = ctx.apply("g", fake, c, rng=rec_rng)
        total = generator_loss(src_fake, cls_fake, targets, x, reconstructed, cls_weight, rec_weight)
        return total, {
            "loss": wasserstein_generator_loss(src_fake),
            "cls": domain_classification_loss(cls_fake, targets),
            "rec": l1_loss(reconstructed, x),
            "cls_acc": domain_accuracy(cls_fake, targets),
            "total": total,
        }

    return loss_fn


def stargan(
    generator: Net,
    discriminator: Net,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    *,
    num_domains: int,
    n_critic: int = N_CRITIC,
    cls_weight: float = CLS_WEIGHT,
    rec_weight: float = REC_WEIGHT,
    gp_weight: float = GP_WEIGHT,
    unroll_critic: bool = False,
    ema_decay: float | None = None,
) -> System:
    """StarGAN as a :class:`System` (module docstring).

    Args:
      generator: ``G(x, labels=c')``, e.g. ``from_linen(StarGANGenerator(num_domains, ...))``.
      discriminator: ``D(x) -> (src, cls)``, e.g. ``from_linen(StarGANDiscriminator(num_domains, ...))``.
      g_optimizer, d_optimizer: e.g. ``optax.adam(1e-4, b1=0.5, b2=0.999)`` (the paper's).
      num_domains: ``K``; batch domains and targets lie in ``[0, K)``.
      n_critic: D updates per G update (5); a batch holds ``n_critic`` groups of rows.
      cls_weight, rec_weight, gp_weight: λ_cls (1), λ_rec (10), λ_gp (10).
      unroll_critic: write D's repeats out instead of a loop (faster convolutions on CPU, longer compile).
      ema_decay: keep an EMA of G with this decay (``None``: none).

    Returns:
      Networks ``g`` and ``d``; players ``d`` (``n_critic`` repeats) then ``g``; batch keys ``x`` and ``domain``.
    """
    if isinstance(num_domains, bool) or not isinstance(num_domains, int) or num_domains < 2:
        raise ValueError(f"num_domains must be an integer >= 2, got {num_domains!r}")
    if isinstance(n_critic, bool) or not isinstance(n_critic, int) or n_critic < 1:
        raise ValueError(f"n_critic must be an integer >= 1, got {n_critic!r}")
    cls_weight = check_weight("cls_weight", cls_weight)
    rec_weight = check_weight("rec_weight", rec_weight)
    gp_weight = check_weight("gp_weight", gp_weight)
    return System(
        nets={"g": generator, "d": discriminator},
        players=(
            Player(
                "d",
                ("d",),
                d_optimizer,
                make_discriminator_loss_fn(num_domains, cls_weight, gp_weight),
                repeats=n_critic,
                unroll=unroll_critic,
            ),
            Player("g", ("g",), g_optimizer, make_generator_loss_fn(num_domains, cls_weight, rec_weight)),
        ),
        ema=("g",) if ema_decay is not None else (),
        ema_decay=ema_decay,
        batch_keys=("x", "domain"),
    )
