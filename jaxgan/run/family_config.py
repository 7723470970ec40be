"""What each GAN family takes from a config: the family names, their ``family_kwargs`` keys and the fields of the
plain GAN that a family refuses, checked by :func:`jaxgan.run.config.validate` before anything is built.

This module imports no JAX and no other module of :mod:`jaxgan.run` (the config imports it, to check a config
before JAX loads); what a check needs of the library (a loss's state, a translation spec, the translation
networks' fields) it imports when it runs. The families are built by :mod:`jaxgan.run.families` and, for the
translation families, :mod:`jaxgan.run.translation`.
"""

from __future__ import annotations

import dataclasses

FAMILIES = ("gan", "acgan", "infogan", "bigan", "pix2pix", "cyclegan", "stargan")
TRANSLATION_FAMILIES = ("pix2pix", "cyclegan", "stargan")
FAMILY_KWARGS = {
    "acgan": {"class_weight"},
    "infogan": {"categories", "continuous", "noise", "info_weight", "cont_weight", "q_hidden"},
    "bigan": {"encoder", "discriminator", "base_features"},
    "pix2pix": {"l1_weight", "adversarial_weight"},
    "cyclegan": {"cycle_weight", "identity_weight", "pool_size"},
    "stargan": {"cls_weight", "rec_weight", "gp_weight", "unroll_critic"},
}
SPEC_KIND = {"pix2pix": "paired", "cyclegan": "unpaired", "stargan": "domains"}
SET_BY_DATA = ("channels", "num_domains", "bn_axis_name", "parent", "name")


def check_config(c) -> None:
    """Raises ValueError naming a field the family of the :class:`jaxgan.run.config.Config` ``c`` does not take or a
    ``family_kwargs`` key it does not know."""
    if c.family == "gan":
        return
    unknown = sorted(set(c.family_kwargs) - FAMILY_KWARGS[c.family])
    if unknown:
        raise ValueError(f"config field family_kwargs: family {c.family!r} takes {sorted(FAMILY_KWARGS[c.family])}, "
                         f"not {unknown}")
    if c.family in TRANSLATION_FAMILIES:
        return check_translation_config(c)
    if c.model != "dcgan":
        raise ValueError(f"config field model: family {c.family!r} is built on model 'dcgan', got {c.model!r}")
    refused = {
        "penalties": c.penalties != {}, "n_critic": c.n_critic != 1, "pack": c.pack != 1,
        "weight_clip": c.weight_clip is not None, "top_k": c.top_k is not None, "augment": c.augment != "",
        "instance_noise": c.instance_noise != 0, "simultaneous": c.simultaneous, "clusters": c.clusters is not None,
        "minibatch_std": c.minibatch_std, "ema_warmup": c.ema_warmup,
    }
    for name, bad in refused.items():
        if bad:
            raise ValueError(f"config field {name}: family {c.family!r} does not take it (plain GAN only); "
                             f"set it back to its default")
    from jaxgan.losses import get_loss

    if get_loss(c.loss, **c.loss_kwargs).init_state() != {}:
        raise ValueError(f"config field loss: family {c.family!r} takes a stateless loss, not {c.loss!r}")
    if c.family == "acgan" and not c.conditional:
        raise ValueError("config field conditional: family 'acgan' generates from class labels; set it to true")
    if c.family in ("infogan", "bigan") and c.conditional:
        raise ValueError(f"config field conditional: family {c.family!r} is unsupervised; set it to false")


def check_translation_config(c) -> None:
    """Raises ValueError naming the first field a translation family does not take (``family_kwargs`` keys are
    checked by :func:`check_config` first)."""
    from jaxgan.data.translation import parse_spec

    fam = c.family
    try:
        kind = parse_spec(c.data).kind
    except ValueError as e:
        raise ValueError(f"config field data: family {fam!r} trains on a translation spec: {e}") from None
    if kind != SPEC_KIND[fam]:
        raise ValueError(f"config field data: family {fam!r} takes a '{SPEC_KIND[fam]}:' spec, got {c.data!r}")
    defaults = type(c)()  # the Config's defaults
    refused = {
        "model": c.model != defaults.model, "conditional": c.conditional, "loss": c.loss != defaults.loss,
        "loss_kwargs": c.loss_kwargs != {}, "penalties": c.penalties != {}, "pack": c.pack != 1,
        "n_critic": c.n_critic != 1 and fam != "stargan", "weight_clip": c.weight_clip is not None,
        "top_k": c.top_k is not None, "augment": c.augment != "", "instance_noise": c.instance_noise != 0,
        "simultaneous": c.simultaneous, "clusters": c.clusters is not None, "minibatch_std": c.minibatch_std,
        "ema_warmup": c.ema_warmup, "exclude_heldout": c.exclude_heldout, "metrics": c.metrics != [],
    }
    for name, bad in refused.items():
        if bad:
            raise ValueError(f"config field {name}: family {fam!r} does not take it (its networks, losses and "
                             f"held-out evaluation are its own); set it back to its default")
    unknown = sorted(set(c.model_kwargs) - {"generator", "discriminator"})
    if unknown:
        raise ValueError(f"config field model_kwargs: family {fam!r} takes 'generator' and 'discriminator', "
                         f"not {unknown}")
    for role, cls in zip(("generator", "discriminator"), module_classes(fam)):
        kw = c.model_kwargs.get(role, {})
        if not isinstance(kw, dict):
            raise ValueError(f"config field model_kwargs: {role} must be a JSON object, got {kw!r}")
        fields = {f.name for f in dataclasses.fields(cls)} - set(SET_BY_DATA)
        bad = sorted(set(kw) - fields)
        if bad:
            raise ValueError(f"config field model_kwargs: {role} {cls.__name__} takes {sorted(fields)}, not {bad}")


def module_classes(family: str):
    """The generator and discriminator Linen classes of a translation family (:mod:`jaxgan.models.translation`)."""
    from jaxgan.models import translation as T

    if family == "pix2pix":
        return T.UNetGenerator, T.PatchGANDiscriminator
    if family == "cyclegan":
        return T.ResnetGenerator, T.PatchGANDiscriminator
    return T.StarGANGenerator, T.StarGANDiscriminator
