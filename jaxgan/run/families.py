"""From a :class:`jaxgan.run.config.Config` with ``family`` set to a family's :class:`jaxgan.system.System`, its example
inputs, its latents and its own evaluation; :func:`jaxgan.run.experiment.build` calls :func:`build`.

``config.family`` and what ``config.family_kwargs`` pass on:

* ``"gan"``: the plain GAN (:func:`jaxgan.plain_gan.gan`; not built here).
* ``"acgan"``: :func:`jaxgan.families.acgan.acgan`; needs ``conditional=true`` (G takes the label, D does not: the
  DCGAN discriminator gets a class head, ``aux_outputs = num_classes``). ``class_weight`` (1.0).
* ``"infogan"``: :func:`jaxgan.families.infogan.infogan`; ``latent_dim`` is the noise size, the codes come on top:
  ``categories`` (10), ``continuous`` (2), ``noise`` (``"uniform"``), ``info_weight`` (1.0), ``cont_weight``
  (1.0), ``q_hidden`` (128: Q's hidden layer on D's features).
* ``"bigan"``: :func:`jaxgan.families.bigan.bigan`; ``z ~ U[-1, 1]^latent_dim`` (``latent="uniform"``) or
  normal; ``encoder`` (``"conv"``) and ``discriminator`` (``"conv"``) kinds of :mod:`jaxgan.models.bigan`, their
  ``base_features`` (64). G and E share the generator's optimizer (``g_lr``).
* ``"pix2pix"``, ``"cyclegan"``, ``"stargan"``: image-to-image translation, built by
  :func:`jaxgan.run.translation.build_translation` on a :mod:`jaxgan.data.translation` spec in
  ``config.data`` (``paired:``, ``unpaired:``, ``domains:`` respectively); their ``family_kwargs`` are the loss
  weights (:data:`jaxgan.run.family_config.FAMILY_KWARGS`), their networks' sizes ``model_kwargs``.

Fields of the plain GAN that a family does not take (penalties, ``n_critic`` > 1, packing, ...) are refused
with the field's name when the config is validated (:func:`jaxgan.run.family_config.check_config`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgan.losses import get_loss
from jaxgan.run.config import Config
from jaxgan.run.family_config import FAMILIES
from jaxgan.system import System


class FamilyParts(NamedTuple):
    """What :func:`build` returns.

    Attributes:
      system: the :class:`System`.
      init_inputs: example inputs per network for :func:`jaxgan.system.init_system_state`.
      latent_fn: ``latent_fn(key) -> z`` of one sample (what ``generate`` feeds ``g``).
      latent_dim: the size of ``z``.
      code: the InfoGAN :class:`jaxgan.families.infogan.CodeLatent`, else ``None``.
    """

    system: System
    init_inputs: dict[str, tuple]
    latent_fn: Callable[[jax.Array], jax.Array]
    latent_dim: int
    code: Any = None


def build(c: Config, g_mod, d_mod, g_opt: optax.GradientTransformation, d_opt: optax.GradientTransformation,
          data_shape: tuple[int, ...], num_classes: int | None) -> FamilyParts:
    """The family's parts (module docstring) from the plain GAN's Linen modules for the data."""
    from jaxgan.models import adapters

    kw = c.family_kwargs
    loss = get_loss(c.loss, **c.loss_kwargs)
    b = 2
    x = jnp.zeros((b,) + tuple(data_shape))
    if c.family == "acgan":
        from jaxgan.families import acgan
        from jaxgan.plain_gan import normal_latent

        latent_fn = normal_latent(c.latent_dim)
        d = d_mod.clone(num_classes=None, aux_outputs=num_classes)
        system = acgan.acgan(adapters.from_linen(g_mod), adapters.from_linen(d), g_opt, d_opt, latent_fn,
                             loss=loss, class_weight=float(kw.get("class_weight", 1.0)), ema_decay=c.ema_decay)
        labels = jnp.zeros((b,), jnp.int32)
        return FamilyParts(system, {"g": (jnp.zeros((b, c.latent_dim)), labels), "d": (x,)}, latent_fn, c.latent_dim)
    if c.family == "infogan":
        from jaxgan.families import infogan

        code = infogan.CodeLatent(noise_dim=c.latent_dim, categories=int(kw.get("categories", 10)),
                                  continuous=int(kw.get("continuous", 2)), noise=kw.get("noise", "uniform"))
        d = d_mod.clone(aux_outputs=code.q_dim, aux_hidden=int(kw.get("q_hidden", 128)))
        system = infogan.infogan(adapters.from_linen(g_mod), adapters.from_linen(d), g_opt, d_opt, code, loss=loss,
                                 info_weight=float(kw.get("info_weight", 1.0)),
                                 cont_weight=float(kw.get("cont_weight", 1.0)), ema_decay=c.ema_decay)
        return FamilyParts(system, {"g": (jnp.zeros((b, code.dim)),), "d": (x,)}, code.sample, code.dim, code)
    if c.family == "bigan":
        from jaxgan.families import bigan
        from jaxgan.models.bigan import Encoder, JointDiscriminator
        from jaxgan.parallel import bn_axis_name
        from jaxgan.plain_gan import normal_latent

        f = int(kw.get("base_features", 64))
        latent_fn = bigan.uniform_latent(c.latent_dim) if c.latent == "uniform" else normal_latent(c.latent_dim)
        e = Encoder(c.latent_dim, f, kw.get("encoder", "conv"), bn_axis_name=bn_axis_name(c))
        d = JointDiscriminator(f, kw.get("discriminator", "conv"))
        system = bigan.bigan(adapters.from_linen(g_mod), adapters.from_linen(e), adapters.from_linen(d), g_opt,
                             d_opt, latent_fn, loss=loss, ema_decay=c.ema_decay)
        z = jnp.zeros((b, c.latent_dim))
        return FamilyParts(system, {"g": (z,), "e": (x,), "d": (x, z)}, latent_fn, c.latent_dim)
    raise ValueError(f"config field family must be one of {', '.join(FAMILIES)}; got {c.family!r}")
