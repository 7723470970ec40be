"""The training state: one pytree that holds everything a GAN run changes.

Modelled on ``flax.training.train_state.TrainState``, whose docstring invites a copy when one optimizer is not
enough. The optimizers themselves are not in the state: they are functions, captured by
:func:`jaxgan.train.make_train_step`, so the state is plain arrays that checkpoint and shard as they are.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxgan.models.adapters import Net

PyTree = Any


@struct.dataclass
class GANState:
    """Everything a GAN run changes, as a pytree.

    Attributes:
      step: int32 scalar, the number of completed ``train_step`` calls.
      key: the run's base PRNG key (raw ``uint32[2]``). Step ``t`` draws from ``fold_in(key, t)`` only, so a
        step's randomness is a function of (seed, step) and a resumed run replays it exactly.
      g_params, d_params: generator and discriminator parameters.
      g_opt_state, d_opt_state: their optax optimizer states.
      g_model_state, d_model_state: non-trained collections such as batch-norm statistics (``{}`` if none).
      ema_params: exponential moving average of ``g_params``, or ``None`` when EMA is off.
      loss_state: state of the loss family (BEGAN's ``k``), ``{}`` for most losses.
      d_skipped, g_skipped: int32 counters of updates not applied because a loss or gradient was not finite.
    """

    step: jax.Array
    key: jax.Array
    g_params: PyTree
    d_params: PyTree
    g_opt_state: PyTree
    d_opt_state: PyTree
    g_model_state: PyTree
    d_model_state: PyTree
    ema_params: PyTree
    loss_state: PyTree
    d_skipped: jax.Array
    g_skipped: jax.Array

    @property
    def sampling_params(self) -> PyTree:
        """The generator params to sample with: the EMA when there is one, else the live params."""
        return self.g_params if self.ema_params is None else self.ema_params


def create_state(
    key: jax.Array,
    g_params: PyTree,
    d_params: PyTree,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    *,
    g_model_state: PyTree | None = None,
    d_model_state: PyTree | None = None,
    loss_state: PyTree | None = None,
    ema: bool = False,
) -> GANState:
    """Builds a :class:`GANState` at step 0 from existing parameters.

    Args:
      key: the run's base PRNG key, e.g. ``jax.random.key_data(jax.random.key(seed))`` or
        ``jax.random.PRNGKey(seed)``.
      g_params, d_params: initial parameters.
      g_optimizer, d_optimizer: the optax transformations that :func:`jaxgan.train.make_train_step` gets too.
      g_model_state, d_model_state: initial batch statistics etc. (default ``{}``).
      loss_state: the loss family's initial state, ``loss.init_state()`` (default ``{}``).
      ema: keep an exponential moving average of the generator params (initialised to ``g_params``).
    """
    key = jnp.asarray(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return GANState(
        step=jnp.zeros((), jnp.int32),
        key=key,
        g_params=g_params,
        d_params=d_params,
        g_opt_state=g_optimizer.init(g_params),
        d_opt_state=d_optimizer.init(d_params),
        g_model_state={} if g_model_state is None else g_model_state,
        d_model_state={} if d_model_state is None else d_model_state,
        ema_params=jax.tree.map(jnp.copy, g_params) if ema else None,
        loss_state={} if loss_state is None else loss_state,
        d_skipped=jnp.zeros((), jnp.int32),
        g_skipped=jnp.zeros((), jnp.int32),
    )


def init_state(
    seed: int | jax.Array,
    generator: Net,
    discriminator: Net,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    *,
    z: jax.Array,
    x: jax.Array,
    labels: jax.Array | None = None,
    loss_state: PyTree | None = None,
    ema: bool = False,
) -> GANState:
    """Initialises both networks from example inputs and returns the state at step 0.

    Args:
      seed: an integer seed or a PRNG key. Parameter initialisation uses keys folded from it with tags that
        training never uses, so the training randomness is the same whatever the initialisation.
      generator, discriminator: :class:`jaxgan.models.adapters.Net` s.
      g_optimizer, d_optimizer: optax transformations.
      z: an example latent batch ``[batch, ...]`` (values are irrelevant, only the shape).
      x: an example data batch ``[batch, ...]``.
      labels: example labels ``[batch]`` for conditional models.
      loss_state: the loss family's initial state.
      ema: keep an EMA of the generator params.
    """
    key = jax.random.PRNGKey(seed) if isinstance(seed, int) else jnp.asarray(seed)
    g_key = jax.random.fold_in(key, 0x67_696E_6974 % (2**31))  # "ginit"
    d_key = jax.random.fold_in(key, 0x64_696E_6974 % (2**31))  # "dinit"
    g_params, g_model_state = generator.init(g_key, z, labels)
    d_params, d_model_state = discriminator.init(d_key, x, labels)
    return create_state(
        key,
        g_params,
        d_params,
        g_optimizer,
        d_optimizer,
        g_model_state=g_model_state,
        d_model_state=d_model_state,
        loss_state=loss_state,
        ema=ema,
    )


class SamplingState(NamedTuple):
    """The part of a full state (:class:`GANState`, :class:`jaxgan.system.SystemState`) that
    :meth:`jaxgan.run.pieces.Experiment.generate` reads.

    Attributes:
      step: the checkpoint's step.
      sampling_params: the generator params to sample with (the EMA when the run kept one).
      g_model_state: the generator's non-trained collections (``{}`` if none).
      ema: whether ``sampling_params`` are the EMA params.
      nets: for a GAN system's checkpoint, ``{"params", "model_state", "ema"}`` of every network (BiGAN's
        encoder for reconstructions), else ``None``.
    """

    step: int
    sampling_params: Any
    g_model_state: Any
    ema: bool
    nets: Any = None
