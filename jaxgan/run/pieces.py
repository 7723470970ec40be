"""A built run and what its builders share: the :class:`Experiment`, and the pieces both builders make from a config.

:func:`jaxgan.run.experiment.build` returns an :class:`Experiment` for the plain GAN and the families;
:func:`jaxgan.run.translation.build_translation` returns its subclass for the translation families. Both make the
config's optimizers here (:func:`optimizer` with :func:`lr_schedule`), set each network's compute dtype
(:func:`with_compute_dtype`) and check the data's channels (:func:`check_channels`). :func:`generator_outputs` is
the one traceable definition of sampling (:mod:`jaxgan.run.sampler` jits it), :func:`net_params` reads one network
of a system's state for evaluation, :func:`heldout_split` is the digit classifier's held-out split (kept out of
training by ``config.exclude_heldout``, used by the families' evaluations and pictures), and :func:`run_classifier`
is that classifier as a run gets it.

Of :mod:`jaxgan.run` this module imports the config only (and :mod:`jaxgan.run.writers` for a fingerprint): the
builders, the tasks, the sampler and the evaluations all stand on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import conditioning, losses, train
from jaxgan.models import adapters
from jaxgan.run.config import Config
from jaxgan.state import SamplingState


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
        state or a :class:`jaxgan.state.SamplingState`. Traceable; :func:`jaxgan.run.sampler.sample` is its jitted
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
    ``rng``. The one definition of sampling (:meth:`Experiment.generate`, :func:`jaxgan.run.sampler.sample`)."""
    if z is None:
        z = jax.vmap(latent_fn)(jax.random.split(key, n))
    out, _ = generator.apply(params, model_state, z, labels, train=False, rng=key)
    return out


def net_params(state, name: str):
    """A network's parameters for evaluation (its EMA when the run kept one), from a full
    :class:`jaxgan.system.SystemState` or a :class:`jaxgan.state.SamplingState` of a system's checkpoint."""
    nets = getattr(state, "nets", None)
    if nets is not None:
        return nets["ema"].get(name, nets["params"][name]), nets["model_state"][name]
    return state.ema.get(name, state.params[name]), state.model_state[name]


def heldout_split(dataset) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)`` rows of ``dataset``: the digit classifier's split (1,500 of MNIST's 10,000 held out),
    which ``config.exclude_heldout`` keeps out of training."""
    from jaxgan.metrics.classifier_training import TRAIN_DEFAULTS, split_indices

    return split_indices(len(dataset.images), TRAIN_DEFAULTS["holdout"], TRAIN_DEFAULTS["seed"])


def run_classifier(dataset, workdir, **kwargs):
    """``(variables, report)`` of the classifier of ``dataset`` that a run in ``workdir`` scores with
    (:func:`jaxgan.metrics.classifier_training.get_classifier`): kept in ``WORKDIR/classifier``, and shared between
    runs through ``classifiers/`` under :func:`jaxgan.files.cache_home`, so that the second run on the same data
    copies it instead of training it again (156 s for MNIST on a 2-core CPU). ``kwargs``: ``log``, ``what``
    and training settings, passed on."""
    from pathlib import Path

    from jaxgan.files import cache_home
    from jaxgan.metrics.classifier_training import get_classifier

    return get_classifier(dataset, Path(workdir) / "classifier", shared_dir=cache_home() / "classifiers", **kwargs)


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


def optimizer(c: Config, lr: float | optax.Schedule) -> optax.GradientTransformation:
    """The config's optimizer (``optimizer``, ``b1``, ``b2``) at learning rate ``lr`` (a float or a schedule)."""
    if c.optimizer == "adam":
        return optax.adam(lr, b1=c.b1, b2=c.b2)
    if c.optimizer == "rmsprop":
        return optax.rmsprop(lr)
    if c.optimizer == "sgd":
        return optax.sgd(lr)
    raise ValueError(f"config field optimizer must be adam, rmsprop or sgd; got {c.optimizer!r}")


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
