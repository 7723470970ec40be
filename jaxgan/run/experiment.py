"""From a :class:`jaxgan.run.config.Config` to the pieces of a run: data, networks, loss, optimizers, train step.

Everything here is checked and built on the host before anything compiles, so a bad config fails in
milliseconds with a message that names the field. :func:`build` returns an :class:`Experiment`
(:mod:`jaxgan.run.pieces`, which also holds what this module and :mod:`jaxgan.run.translation` share in building
one); the translation families are built by :func:`jaxgan.run.translation.build_translation`, the other families'
systems by :func:`jaxgan.run.families.build`, image data and models by :mod:`jaxgan.run.vision`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from jaxgan import augment, conditioning, losses, penalties, remedies, train
from jaxgan.data import toy
from jaxgan.files import cache_home
from jaxgan.models import adapters, mlp
from jaxgan.parallel import bn_axis_name
from jaxgan.run.config import Config, validate
from jaxgan.run.family_config import TRANSLATION_FAMILIES
from jaxgan.run.pieces import Experiment, check_channels, heldout_split, lr_schedule, optimizer, with_compute_dtype
from jaxgan.run.task import ImageTask, ToyTask

PENALTIES: dict[str, Callable[[float], penalties.Penalty]] = {
    "gp": lambda w: penalties.gradient_penalty(weight=w),
    "dragan": lambda w: penalties.dragan_penalty(weight=w),
    "r1": lambda gamma: penalties.r1_penalty(gamma=gamma),
    "r2": lambda gamma: penalties.r2_penalty(gamma=gamma),
    "drift": lambda epsilon: penalties.drift_penalty(epsilon=epsilon),  # ProGAN's 0.001 * E[D(x)^2]
}
TOY_DATA = tuple(toy.TOY_DISTRIBUTIONS)


def _toy_nets(c: Config, dim: int):
    g = mlp.MLPGenerator(
        out_dim=dim, features=tuple(c.g_features), use_batch_norm=c.g_batch_norm, bn_axis_name=bn_axis_name(c),
        **c.model_kwargs.get("generator", {}),
    )
    d = mlp.MLPDiscriminator(
        features=tuple(c.d_features), maxout_pieces=c.d_maxout,
        minibatch_std_group=4 if c.minibatch_std else None,
        **c.model_kwargs.get("discriminator", {}),
    )
    return g, d


def build(config: Config) -> Experiment:
    """Validates ``config`` and builds its :class:`Experiment`; raises ValueError naming the bad field."""
    c = validate(config)
    if c.family in TRANSLATION_FAMILIES:  # image-to-image translation: its own data and task
        from jaxgan.run.translation import build_translation

        return build_translation(c)
    if c.metrics:
        from jaxgan.metrics import registry

        registry.parse_metrics(c.metrics)  # unknown metric names fail here, before anything compiles
    loss = losses.get_loss(c.loss, **c.loss_kwargs)
    pens = []
    for name, weight in c.penalties.items():
        if name not in PENALTIES:
            raise ValueError(f"unknown penalty {name!r}; penalties: {', '.join(PENALTIES)}")
        pens.append(PENALTIES[name](float(weight)))
    g_opt = optimizer(c, lr_schedule(c, c.g_lr, c.steps))
    d_opt = optimizer(c, lr_schedule(c, c.d_lr, c.steps * c.n_critic))

    toy_dist, dataset, batcher, cond = None, None, None, None
    if c.data in TOY_DATA:
        toy_dist = toy.get_toy(c.data)
        data_shape = (toy_dist.dim,)
        if c.model != "mlp":
            raise ValueError(f"toy data {c.data!r} takes model 'mlp', got {c.model!r}")
        if c.conditional:
            raise ValueError("toy data has no labels: set conditional=false")
        g_mod, d_mod = _toy_nets(c, toy_dist.dim)
    else:
        from jaxgan.run import vision

        dataset = vision.load_data(c)
        check_channels(c, dataset.images.shape)
        data_shape = tuple(dataset.images.shape[1:])
        cond = conditioning.from_config(c, dataset, cache_dir=cache_home() / "kmeans")
        g_mod, d_mod = vision.build_modules(c, dataset, None if cond is None else cond.num_classes)
        from jaxgan.data.pipeline import Batcher

        arrays = dataset.arrays()
        if cond is not None:
            arrays["label"] = cond.labels
        if c.exclude_heldout:
            arrays = {k: v[heldout_split(dataset)[0]] for k, v in arrays.items()}
        batcher = Batcher(
            arrays, c.batch_size * c.n_critic, c.seed,
            process_index=jax.process_index(), process_count=jax.process_count(),
        )

    if c.family != "gan":
        from jaxgan.run import families

        parts = families.build(c, g_mod, d_mod, g_opt, d_opt, data_shape, None if cond is None else cond.num_classes)
        nets = {name: with_compute_dtype(c, net) for name, net in parts.system.nets.items()}
        parts = parts._replace(system=parts.system._replace(nets=nets))
        return Experiment(
            config=c, generator=with_compute_dtype(c, adapters.from_linen(g_mod)), discriminator=nets["d"], loss=loss,
            g_optimizer=g_opt, d_optimizer=d_opt, step_kwargs={}, latent_fn=parts.latent_fn, data_shape=data_shape,
            toy=None, dataset=dataset, rows_per_step=c.batch_size, batcher=batcher, conditioning=cond,
            task=ImageTask(dataset, batcher, cond, c.batch_size), system=parts.system,
            init_inputs=parts.init_inputs, code=parts.code,
        )
    schedule, nets_at = None, None
    if c.model == "progan":  # progressive growing: one Net per phase and fade-in weight (jaxgan.progressive)
        from jaxgan import progressive
        from jaxgan.models import progan

        schedule = progressive.schedule(c.growing["resolutions"], c.growing["fade_steps"], c.growing["stable_steps"],
                                        c.steps)

        def nets_at(resolution, alpha):
            g = with_compute_dtype(c, progan.fade_net(g_mod.clone(resolution=resolution), alpha))
            d = with_compute_dtype(c, progan.fade_net(d_mod.clone(resolution=resolution), alpha))
            return g, _discriminator_remedies(c, d)

        generator, discriminator = nets_at(data_shape[0], 1.0)
    else:
        generator = with_compute_dtype(c, adapters.from_linen(g_mod))
        discriminator = _discriminator_remedies(c, with_compute_dtype(c, adapters.from_linen(d_mod)))

    latent_fn = toy.normal_latent(c.latent_dim) if c.latent == "normal" else toy.uniform_latent(c.latent_dim)

    top_k = None
    if c.top_k is not None:
        if dataset is None:
            raise ValueError("config field top_k decays per epoch over a dataset; toy data streams have no epochs")
        top_k = train.top_k_schedule(
            c.top_k, c.top_k_gamma, steps_per_epoch=len(dataset.images) / (c.batch_size * c.n_critic)
        )
    step_kwargs = dict(
        latent_fn=latent_fn,
        n_critic=c.n_critic,
        unroll_critic=c.model != "mlp",  # convolutions: XLA CPU runs them far slower inside a loop body
        simultaneous=c.simultaneous,
        penalties=pens,
        d_constraint=penalties.weight_clipping(c.weight_clip) if c.weight_clip else None,
        ema_decay=c.ema_decay,
        ema_warmup=c.ema_warmup,
        generator_top_k=top_k,
        g_penalties=() if c.g_ortho is None else (penalties.orthogonal_regularization(c.g_ortho),),
    )
    # Building the step checks the remaining hyperparameters (n_critic, ema_decay, ...) on the host.
    train.make_train_step(generator, discriminator, loss, g_opt, d_opt, **step_kwargs)
    rows = c.batch_size * c.n_critic
    return Experiment(
        config=c, generator=generator, discriminator=discriminator, loss=loss, g_optimizer=g_opt,
        d_optimizer=d_opt, step_kwargs=step_kwargs, latent_fn=latent_fn, data_shape=data_shape,
        toy=toy_dist, dataset=dataset, rows_per_step=rows, batcher=batcher, conditioning=cond,
        task=ToyTask(toy_dist, rows) if toy_dist is not None else ImageTask(dataset, batcher, cond, rows),
        schedule=schedule, nets_at=nets_at, phase_generators={} if schedule is not None else None,
    )


def _discriminator_remedies(c: Config, discriminator: adapters.Net) -> adapters.Net:
    """The config's remedies around the discriminator (they stay float32): instance noise, PacGAN packing and,
    outermost, DiffAugment (each sample is augmented on its own, before any packing)."""
    if c.instance_noise > 0:
        discriminator = remedies.instance_noise(discriminator, c.instance_noise)
    if c.pack > 1:
        discriminator = remedies.pack(discriminator, c.pack)
    if c.augment:
        discriminator = augment.augment_discriminator(discriminator, c.augment)
    return discriminator
