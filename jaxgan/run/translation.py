"""Translation runs from a config: pix2pix, CycleGAN and StarGAN on :mod:`jaxgan.data.translation` data.

:func:`jaxgan.run.experiment.build` hands a config whose ``family`` is ``"pix2pix"``, ``"cyclegan"`` or ``"stargan"``
to :func:`build_translation`, which returns a :class:`TranslationExperiment`: the family's
:class:`jaxgan.system.System`, its example inputs and a :class:`jaxgan.run.task.TranslationTask` that owns the data,
the pictures and the final evaluation (:mod:`jaxgan.run.translation_eval`).

What the config sets, per family:

* ``pix2pix`` on ``paired:SRC:A->B``: ``model_kwargs["generator"]`` for the
  :class:`~jaxgan.models.translation.UNetGenerator`, ``["discriminator"]`` for the conditional
  ``PatchGANDiscriminator`` on ``(a, b)`` (``n_layers`` 2 unless given); ``family_kwargs``: ``l1_weight`` (100),
  ``adversarial_weight`` (1; 0 is the paper's L1-only baseline).
* ``cyclegan`` on ``unpaired:SRC:A->B``: two ``ResnetGenerator`` s and two PatchGANs (``n_layers`` 2 unless
  given), each pair from the same kwargs; ``family_kwargs``: ``cycle_weight`` (10), ``identity_weight`` (0.5),
  ``pool_size`` (50).
* ``stargan`` on ``domains:SRC:T1,T2,...``: ``StarGANGenerator`` and ``StarGANDiscriminator`` (``repeat_num`` 2
  unless given); ``family_kwargs``: ``cls_weight`` (1), ``rec_weight`` (10), ``gp_weight`` (10),
  ``unroll_critic`` (true: D's ``n_critic`` updates written out, faster convolutions on CPU).

The optimizers are the config's (``optimizer``, ``g_lr``, ``d_lr``, ``b1``, ``b2``, ``lr_schedule``,
``lr_decay_fraction``: CycleGAN's decay over the second half is ``lr_schedule="linear"``,
``lr_decay_fraction=0.5``); StarGAN's ``n_critic`` is ``config.n_critic``. ``ema_decay`` keeps an EMA of the
generators. ``model`` is not read (it stays at its default); the output channels and domain count come from the
data. Everything of the plain GAN that these families do not take is refused naming its field when the config is
validated (:func:`jaxgan.run.family_config.check_translation_config`).

Samples. ``exp.generate(state, key, n)`` translates ``n`` held-out inputs drawn at random (domain A, or
StarGAN's first domain, whose targets are then ``labels``): the translation's "latent" is its input image.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxgan import losses
from jaxgan.models import adapters
from jaxgan.run.config import Config
from jaxgan.run.family_config import module_classes
from jaxgan.run.pieces import Experiment, check_channels, lr_schedule, optimizer, with_compute_dtype
from jaxgan.state import SamplingState

GENERATOR_NET = {"pix2pix": "g", "cyclegan": "g_ab", "stargan": "g"}
DISCRIMINATOR_NET = {"pix2pix": "d", "cyclegan": "d_b", "stargan": "d"}


class TranslationExperiment(Experiment):
    """An :class:`jaxgan.run.pieces.Experiment` whose sampling generator is ``GENERATOR_NET[family]`` (CycleGAN's
    ``g_ab``; the plain families' ``g``)."""

    __slots__ = ()

    def _sampling(self, step, params, model_state, ema, nets) -> SamplingState:
        name = GENERATOR_NET[self.config.family]
        kept = name in ema
        return SamplingState(step, ema[name] if kept else params[name], model_state[name], kept, nets=nets)

    def sampling_state(self, state) -> SamplingState:
        if isinstance(state, SamplingState):
            return state
        nets = {"params": state.params, "model_state": state.model_state, "ema": state.ema}
        return self._sampling(state.step, state.params, state.model_state, state.ema, nets)

    def sampling_from_fields(self, step: int, got: dict[str, Any]) -> SamplingState:
        return self._sampling(step, got["params"], got["model_state"], got["ema"], got)


def load_data(c: Config):
    """``(data, source)``: the :class:`~jaxgan.data.translation.PairedData` / ``DomainData`` of ``config.data`` and
    the source :class:`~jaxgan.data.images.ImageDataset` (resized to ``image_size``) it was made from."""
    from jaxgan.data.images import load_dataset
    from jaxgan.data.translation import make_translation, parse_spec

    spec = parse_spec(c.data)
    try:
        source = load_dataset(spec.source, c.image_size, channels=1)
    except ValueError as e:
        raise ValueError(f"config field data: the source of {c.data!r}: {e}") from None
    data = make_translation(spec, source.images, source.labels, name=c.data)
    check_channels(c, source.images.shape)
    _, h, w, _ = source.images.shape
    if h != w:
        raise ValueError(f"config field data: translation networks take square images, got {h}x{w}")
    return data, source


def _batcher(c: Config, data, rows: int):
    from jaxgan.data.pipeline import Batcher
    from jaxgan.data.translation import UnpairedBatcher

    arrays = data.arrays()
    n = min(len(v) for v in arrays.values())
    if n < rows:
        raise ValueError(f"config field batch_size: {c.data!r} has {n} training images per domain, fewer than "
                         f"one step's {rows} (batch_size x n_critic)")
    kw = dict(process_index=jax.process_index(), process_count=jax.process_count())
    if c.family == "cyclegan":
        return UnpairedBatcher(data.train_a, data.train_b, rows, c.seed, **kw)
    return Batcher(arrays, rows, c.seed, **kw)


def _system(c: Config, data, shape: tuple[int, ...]):
    """``(system, init_inputs)`` of the family for images of ``shape = (h, w, c)``."""
    from jaxgan.families import cyclegan, pix2pix, stargan
    from jaxgan.parallel import bn_axis_name

    fam, kw, ch = c.family, c.family_kwargs, shape[-1]
    g_cls, d_cls = module_classes(fam)
    g_kw, d_kw = dict(c.model_kwargs.get("generator", {})), dict(c.model_kwargs.get("discriminator", {}))
    g_opt = optimizer(c, lr_schedule(c, c.g_lr, c.steps))
    d_opt = optimizer(c, lr_schedule(c, c.d_lr, c.steps * c.n_critic))
    x = jnp.zeros((2,) + shape)

    def net(cls, **kwargs):
        if "bn_axis_name" in {f.name for f in dataclasses.fields(cls)}:
            kwargs["bn_axis_name"] = bn_axis_name(c)
        return with_compute_dtype(c, adapters.from_linen(cls(**kwargs)))

    if fam == "pix2pix":
        g, d = net(g_cls, channels=ch, **g_kw), net(d_cls, **{"n_layers": 2, **d_kw})
        system = pix2pix.pix2pix(g, d, g_opt, d_opt, l1_weight=kw.get("l1_weight", pix2pix.L1_WEIGHT),
                                 adversarial_weight=kw.get("adversarial_weight", 1.0), ema_decay=c.ema_decay)
        return system, {"g": (x,), "d": (jnp.zeros((2,) + shape[:-1] + (2 * ch,)),)}
    if fam == "cyclegan":
        gens = [net(g_cls, channels=ch, **g_kw) for _ in range(2)]
        discs = [net(d_cls, **{"n_layers": 2, **d_kw}) for _ in range(2)]
        system = cyclegan.cyclegan(*gens, *discs, g_opt, d_opt, image_shape=shape,
                                   pool_size=kw.get("pool_size", cyclegan.POOL_SIZE),
                                   cycle_weight=kw.get("cycle_weight", cyclegan.CYCLE_WEIGHT),
                                   identity_weight=kw.get("identity_weight", cyclegan.IDENTITY_WEIGHT),
                                   ema_decay=c.ema_decay)
        return system, {"g_ab": (x,), "g_ba": (x,), "d_a": (x,), "d_b": (x,)}
    k = data.num_domains
    g = net(g_cls, num_domains=k, channels=ch, **g_kw)
    d = net(d_cls, num_domains=k, **{"repeat_num": 2, **d_kw})
    system = stargan.stargan(g, d, g_opt, d_opt, num_domains=k, n_critic=c.n_critic,
                             cls_weight=kw.get("cls_weight", stargan.CLS_WEIGHT),
                             rec_weight=kw.get("rec_weight", stargan.REC_WEIGHT),
                             gp_weight=kw.get("gp_weight", stargan.GP_WEIGHT),
                             unroll_critic=bool(kw.get("unroll_critic", True)), ema_decay=c.ema_decay)
    return system, {"g": (x, jnp.zeros((2,), jnp.int32)), "d": (x,)}


def heldout_inputs(data):
    """The held-out inputs ``[m, h, w, c]``: domain A's (``test_a``), or StarGAN's first domain's."""
    return data.test_a if hasattr(data, "test_a") else data.test_x[0]


def build_translation(c: Config) -> TranslationExperiment:
    """The :class:`TranslationExperiment` of a validated config of a translation family (module docstring).

    Raises:
      ValueError: naming the config field, for data that does not load or fit and for networks that do not fit
        the images (found by tracing the initialisation, nothing compiles).
    """
    from jaxgan.run.task import TranslationTask
    from jaxgan.system import init_system_state

    data, source = load_data(c)
    shape = tuple(source.images.shape[1:])
    rows = c.batch_size * c.n_critic
    batcher = _batcher(c, data, rows)
    try:
        system, init_inputs = _system(c, data, shape)
    except ValueError as e:
        raise ValueError(f"config field family_kwargs: {e}") from None
    try:
        jax.eval_shape(lambda: init_system_state(c.seed, system, init_inputs))
    except (ValueError, TypeError) as e:
        raise ValueError(f"config field model_kwargs: the networks do not fit {shape} images: {e}") from None
    held = jnp.asarray(heldout_inputs(data))
    optimizers = {p.name: p.optimizer for p in system.players}

    def latent_fn(key):
        return held[jax.random.randint(key, (), 0, held.shape[0])]

    return TranslationExperiment(
        config=c, generator=system.nets[GENERATOR_NET[c.family]], discriminator=system.nets[DISCRIMINATOR_NET[
            c.family]], loss=losses.get_loss(c.loss), g_optimizer=optimizers["g"],
        d_optimizer=optimizers["d"], step_kwargs={}, latent_fn=latent_fn, data_shape=shape, toy=None,
        dataset=source, rows_per_step=rows, batcher=batcher, conditioning=None,
        task=TranslationTask(data, source, batcher, rows), system=system, init_inputs=init_inputs,
    )
