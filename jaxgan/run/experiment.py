"""From a :class:`jaxgan.run.config.Config` to the pieces of a run: data, networks, loss, optimizers, train step.

Everything here is checked and built on the host before anything compiles, so a bad config fails in
milliseconds with a message that names the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import augment, conditioning, losses, penalties, remedies, train
from jaxgan.data import toy
from jaxgan.models import adapters, mlp
from jaxgan.parallel import bn_axis_name
from jaxgan.run.config import Config, validate
from jaxgan.run.task import ImageTask, ToyTask
from jaxgan.state import SamplingState

PENALTIES: dict[str, Callable[[float], penalties.Penalty]] = {
    "gp": lambda w: penalties.gradient_penalty(weight=w),
    "dragan": lambda w: penalties.dragan_penalty(weight=w),
    "r1": lambda gamma: penalties.r1_penalty(gamma=gamma),
    "r2": lambda gamma: penalties.r2_penalty(gamma=gamma),
    "drift": lambda epsilon: penalties.drift_penalty(epsilon=epsilon),  # ProGAN's 0.001 * E[D(x)^2]
}
TOY_DATA = ("ring", "grid", "gaussian_1d", "gaussian_2d")


class Experiment(NamedTuple):
    """The built pieces of a run.

    Attributes:
      config: the validated config.
      generator, discriminator: :class:`jaxgan.models.adapters.Net` s.
      loss: the :class:`jaxgan.losses.GANLoss`.
      g_optimizer, d_optimizer: optax transformations.
      step_kwargs: keyword arguments for :func:`jaxgan.train.make_train_step` besides ``replicas``.
      latent_fn: ``latent_fn(key) -> z`` for one sample.
      data_shape: shape of one data sample.
      toy: the :class:`jaxgan.data.toy.ToyDistribution` for toy data, else ``None``.
      dataset: the image dataset for image data, else ``None``.
      rows_per_step: rows of real data one train step consumes (``batch_size * n_critic``).
      batcher: the :class:`jaxgan.data.pipeline.Batcher` of image data (this process's rows), else ``None``.
      conditioning: the :class:`jaxgan.conditioning.Conditioning` (class labels or clusters) of conditional image
        runs, else ``None``.
      task: the :class:`jaxgan.run.task.Task` that owns the data, the pictures and the evaluation (the loop, the
        runner, sampling and evaluation ask it, never the fields above).
    """

    config: Config
    generator: adapters.Net
    discriminator: adapters.Net
    loss: losses.GANLoss
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    step_kwargs: dict[str, Any]
    latent_fn: Callable[[jax.Array], jax.Array]
    data_shape: tuple[int, ...]
    toy: Any
    dataset: Any
    rows_per_step: int
    batcher: Any = None
    conditioning: conditioning.Conditioning | None = None
    task: Any = None
    system: Any = None
    init_inputs: Any = None
    code: Any = None
    schedule: Any = None  # a jaxgan.progressive.Schedule for a growing run (model "progan"), else None
    nets_at: Any = None  # growing runs: nets_at(resolution, alpha) -> (generator, discriminator) Nets
    phase_generators: Any = None  # growing runs: {(resolution, alpha): Net}, so that sampling compiles once each

    def host_batches(self, step: int, k: int) -> dict[str, np.ndarray]:
        """This process's rows of the real batches of steps ``step .. step + k - 1``, stacked ``[k, rows, ...]``."""
        return self.batcher.stacked(step, k)

    # A family other than the plain GAN (``config.family``) is a :class:`jaxgan.system.System` on a
    # :class:`jaxgan.system.SystemState`; the plain GAN keeps the two-network :class:`jaxgan.state.GANState`.

    def make_train_step(self, replicas: train.Replicas = train.Replicas(), phase: int | None = None):
        """The pure train step; a growing run has one per phase (``phase``, default 0:
        :func:`jaxgan.progressive.make_progressive_step`)."""
        if self.schedule is not None:
            from jaxgan import progressive

            def make(g, d):
                return train.make_train_step(g, d, self.loss, self.g_optimizer, self.d_optimizer,
                                             replicas=replicas, **self.step_kwargs)

            return progressive.make_progressive_step(
                self.schedule.phases[phase or 0], self.nets_at, make,
                g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer,
            )
        if self.system is not None:
            from jaxgan.system import make_system_step

            return make_system_step(self.system, replicas=replicas)
        return train.make_train_step(
            self.generator, self.discriminator, self.loss, self.g_optimizer, self.d_optimizer,
            replicas=replicas, **self.step_kwargs,
        )

    def init_state(self):
        """The state at step 0, from the config's seed."""
        c = self.config
        if self.system is not None:
            from jaxgan.system import init_system_state

            return init_system_state(c.seed, self.system, self.init_inputs)
        b = max(c.pack, 2)
        z = jnp.zeros((b, c.latent_dim))
        x = jnp.zeros((b,) + self.data_shape)
        labels = None if self.conditioning is None else jnp.zeros((b,), jnp.int32)
        from jaxgan.state import init_state

        return init_state(
            c.seed, self.generator, self.discriminator, self.g_optimizer, self.d_optimizer,
            z=z, x=x, labels=labels, loss_state=self.loss.init_state(), ema=c.ema_decay is not None,
        )

    def generator_at(self, step: int) -> adapters.Net:
        """The generator that samples a state of ``step`` completed steps: ``self.generator``, except in a growing
        run, where it is the network of the phase of the last step taken (at the phase's resolution) at the
        fade-in weight of ``step`` (so at a phase's end its stabilised network; at the run's end the full one)."""
        if self.schedule is None:
            return self.generator
        step = int(step)
        phase = self.schedule.phase(max(step - 1, 0))
        alpha = float(phase.alpha(step))
        if phase.index == len(self.schedule.phases) - 1 and alpha == 1.0:
            return self.generator
        key = (phase.resolution, alpha)
        if key not in self.phase_generators:
            self.phase_generators[key] = self.nets_at(phase.resolution, alpha)[0]
        return self.phase_generators[key]

    def generate(self, state, key: jax.Array, n: int, labels: jax.Array | None = None) -> jax.Array:
        """``n`` samples from the sampling params (EMA when present), in inference mode; ``state`` is a full
        state or a :class:`jaxgan.state.SamplingState`. Traceable; :func:`jaxgan.run.sampling.sample` is its jitted
        form."""
        s = self.sampling_state(state)
        return generator_outputs(self.generator_at(s.step), self.latent_fn, s.sampling_params, s.g_model_state,
                                 key, n, labels)

    def generate_from(self, state, z: jax.Array, labels: jax.Array | None = None, key: jax.Array | None = None):
        """The generator's outputs for explicit latents ``z [n, ...]`` (inference mode)."""
        s = self.sampling_state(state)
        return generator_outputs(self.generator_at(s.step), None, s.sampling_params, s.g_model_state,
                                 key, None, labels, z)

    def sampling_state(self, state) -> SamplingState:
        """The generator part of a :class:`jaxgan.state.GANState` or :class:`jaxgan.system.SystemState` (the EMA
        params when the run kept one); a :class:`SamplingState` is returned as it is."""
        from jaxgan.system import SystemState

        if isinstance(state, SamplingState):
            return state
        if isinstance(state, SystemState):
            ema = "g" in state.ema
            nets = {"params": state.params, "model_state": state.model_state, "ema": state.ema}
            return SamplingState(state.step, state.ema["g"] if ema else state.params["g"], state.model_state["g"], ema,
                                 nets=nets)
        return SamplingState(state.step, state.sampling_params, state.g_model_state, state.ema_params is not None)

    def sampling_fields(self, abstract) -> dict[str, Any]:
        """The top-level fields of the (abstract) state that :meth:`sampling_from_fields` needs, for a partial
        restore of a checkpoint."""
        if self.system is not None:
            return {"params": abstract.params, "model_state": abstract.model_state, "ema": abstract.ema}
        ema = abstract.ema_params is not None
        field = "ema_params" if ema else "g_params"
        return {field: getattr(abstract, field), "g_model_state": abstract.g_model_state}

    def sampling_from_fields(self, step: int, got: dict[str, Any]) -> SamplingState:
        """The :class:`SamplingState` of fields restored as :meth:`sampling_fields` asked."""
        if self.system is not None:
            ema = "g" in got["ema"]
            return SamplingState(step, got["ema"]["g"] if ema else got["params"]["g"], got["model_state"]["g"], ema,
                                 nets=got)
        ema = "ema_params" in got
        return SamplingState(step, got["ema_params" if ema else "g_params"], got["g_model_state"], ema)

    def fingerprint(self, state) -> str:
        """SHA-256 of every network's parameters (:func:`jaxgan.run.writers.fingerprint`)."""
        from jaxgan.run.writers import fingerprint

        if self.system is not None:
            return fingerprint(*(state.params[n] for n in self.system.nets))
        return fingerprint(state.g_params, state.d_params)

    def skipped_updates(self, state) -> dict[str, int]:
        """Updates per player that the non-finite guard skipped."""
        if self.system is not None:
            return {p: int(v) for p, v in state.skipped.items()}
        return {"d": int(state.d_skipped), "g": int(state.g_skipped)}


def generator_outputs(
    generator: adapters.Net,
    latent_fn: Callable[[jax.Array], jax.Array] | None,
    params: Any,
    model_state: Any,
    key: jax.Array | None,
    n: int | None,
    labels: jax.Array | None = None,
    z: jax.Array | None = None,
) -> jax.Array:
    """The generator's outputs in inference mode for latents ``z [n, ...]``, or, when ``z`` is ``None``, for ``n``
    latents ``latent_fn(k)`` of the keys ``k`` of ``jax.random.split(key, n)``; ``key`` is also the generator's
    ``rng``. The one definition of sampling (:meth:`Experiment.generate`, :func:`jaxgan.run.sampling.sample`)."""
    if z is None:
        z = jax.vmap(latent_fn)(jax.random.split(key, n))
    out, _ = generator.apply(params, model_state, z, labels, train=False, rng=key)
    return out


def heldout_split(dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)`` rows of ``dataset``: the digit classifier's split (1,500 of MNIST's 10,000 held out),
    which ``config.exclude_heldout`` keeps out of training."""
    from jaxgan.metrics.classifier_training import TRAIN_DEFAULTS, split_indices

    return split_indices(len(dataset.images), TRAIN_DEFAULTS["holdout"], TRAIN_DEFAULTS["seed"])


def lr_schedule(c: Config, lr: float, updates: int) -> float | optax.Schedule:
    """The learning rate of an optimizer that makes ``updates`` updates in the run: ``lr`` for the "constant"
    schedule, else ``lr`` held until the last ``lr_decay_fraction`` of the updates, then a cosine or linear
    decay to 0 at the last update."""
    if c.lr_schedule == "constant":
        return lr
    decay_steps = max(1, round(updates * c.lr_decay_fraction))
    if c.lr_schedule == "cosine":
        decay = optax.cosine_decay_schedule(lr, decay_steps)
    else:
        decay = optax.linear_schedule(lr, 0.0, decay_steps)
    return optax.join_schedules([optax.constant_schedule(lr), decay], [updates - decay_steps])


def _optimizer(c: Config, lr: float | optax.Schedule) -> optax.GradientTransformation:
    if c.optimizer == "adam":
        return optax.adam(lr, b1=c.b1, b2=c.b2)
    if c.optimizer == "rmsprop":
        return optax.rmsprop(lr)
    if c.optimizer == "sgd":
        return optax.sgd(lr)
    raise ValueError(f"config field optimizer must be adam, rmsprop or sgd; got {c.optimizer!r}")


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


def check_channels(c: Config, shape: tuple[int, ...]) -> None:
    """Raises ValueError when ``config.channels`` is set and the images ``[n, h, w, channels]`` have another
    count (a 3-channel model on 1-channel data, or the reverse, would train without a word)."""
    if c.channels is not None and shape[-1] != c.channels:
        raise ValueError(
            f"config field channels is {c.channels} but data {c.data!r} has {shape[-1]}-channel images "
            f"(shape {list(shape)}); set channels={shape[-1]} (or null to follow the data), or convert the data"
        )


def with_compute_dtype(c: Config, net: adapters.Net) -> adapters.Net:
    """``net`` computing in ``config.compute_dtype`` (:func:`jaxgan.precision.mixed_precision`: float32 parameters,
    model state and outputs); for ``"float32"`` the net itself, so float32 runs are unchanged to the bit."""
    if c.compute_dtype == "float32":
        return net
    from jaxgan.precision import mixed_precision

    return mixed_precision(net, jnp.dtype(c.compute_dtype))


def build(config: Config) -> Experiment:
    """Validates ``config`` and builds its :class:`Experiment`; raises ValueError naming the bad field."""
    c = validate(config)
    if c.family in ("pix2pix", "cyclegan", "stargan"):  # image-to-image translation: its own data and task
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
    g_opt = _optimizer(c, lr_schedule(c, c.g_lr, c.steps))
    d_opt = _optimizer(c, lr_schedule(c, c.d_lr, c.steps * c.n_critic))

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
        cond = conditioning.from_config(c, dataset)
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
