"""Gradient descent–ascent as pure functions: ``train_step(state, batch) -> (state, metrics)``.

The short path for the common case, one generator against one discriminator: :func:`make_train_step` builds the
:func:`jaxgan.plain_gan.gan` system (:mod:`jaxgan.system`) and runs its step on a :class:`jaxgan.state.GANState`.
For any other set of networks and players, use :mod:`jaxgan.system` directly.

``make_train_step`` captures the networks, the loss family, the two optimizers and the hyperparameters, checks
them, and returns a pure function that ``jax.jit`` compiles (donate the state: ``jax.jit(step,
donate_argnums=0)``). The step knows nothing about devices: data parallelism (:mod:`jaxgan.parallel`) wraps it
and passes a :class:`Replicas` that averages gradients across devices.

One step (Goodfellow et al. 2014, Algorithm 1) is ``n_critic`` discriminator updates, each on its own slice of
the real batch and its own latents, followed by one generator update against the updated discriminator. With
``simultaneous=True`` both gradients are taken at the same point and applied together (``n_critic`` must be 1).

Randomness: step ``t`` uses ``fold_in(state.key, t)`` only; each sample's latent comes from its own key, folded
from its index in the global batch, so the numbers do not depend on how the batch is split across devices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import optax

from jaxgan.context import Replicas, sample_keys
from jaxgan.losses import GANLoss
from jaxgan.models.adapters import Net
from jaxgan.penalties import ParamPenalty, Penalty
from jaxgan.plain_gan import gan, normal_latent, to_gan_state, to_system_state, top_k_mean, top_k_schedule
from jaxgan.state import GANState
from jaxgan.system import System, SystemStep

__all__ = [
    "DATA_AXIS", "GANStep", "Replicas", "data_key", "make_multi_step", "make_sampled_multi_step",
    "make_train_step", "normal_latent", "sample_keys", "top_k_schedule",
]

Array = jax.Array
PyTree = Any
Batch = dict[str, Array]

DATA_AXIS = "data"  # the name of the data-parallel axis (pmap axis_name, Mesh axis) that jaxgan.parallel uses
_DATA_STREAM = 0x6461_7461  # "data": on-device data keys are folded from the base key with this tag first


def data_key(state) -> Array:
    """The key from which on-device data for ``state.step`` is drawn (a stream apart from the step's)."""
    return jax.random.fold_in(jax.random.fold_in(state.key, _DATA_STREAM), state.step)


_top_k_mean = top_k_mean  # the name earlier versions had


class GANStep:
    """``train_step(state, batch) -> (state, metrics)`` on a :class:`GANState`: the :func:`jaxgan.plain_gan.gan`
    system's step with the state relabelled on the way in and out (free under ``jit``).

    Attributes:
      system: the :class:`jaxgan.system.System` it runs.
      n_critic: discriminator minibatches per step; :mod:`jaxgan.parallel` reads it to lay out a step's rows.
    """

    def __init__(self, system: System, replicas: Replicas):
        self.system = system
        self._step = SystemStep(system, replicas)
        self.n_critic = self._step.groups

    def __call__(self, state: GANState, batch: Batch) -> tuple[GANState, dict[str, Array]]:
        if self.system.ema and state.ema_params is None:
            raise ValueError("ema_decay is set but the state has no ema_params: create it with ema=True")
        new_state, metrics = self._step(to_system_state(state), batch)
        return to_gan_state(new_state), metrics


def make_train_step(
    generator: Net,
    discriminator: Net,
    loss: GANLoss | str,
    g_optimizer: optax.GradientTransformation,
    d_optimizer: optax.GradientTransformation,
    *,
    latent_fn: Callable[[Array], Array] | None = None,
    latent_dim: int | Sequence[int] | None = None,
    n_critic: int = 1,
    unroll_critic: bool = False,
    simultaneous: bool = False,
    penalties: Sequence[Penalty] = (),
    d_constraint: Callable[[PyTree], PyTree] | None = None,
    ema_decay: float | None = None,
    ema_warmup: bool = False,
    generator_top_k: Callable[[Array], Array] | None = None,
    g_penalties: Sequence[ParamPenalty] = (),
    replicas: Replicas = Replicas(),
) -> GANStep:
    """Returns a pure ``train_step(state, batch) -> (state, metrics)``.

    Args:
      generator, discriminator: :class:`jaxgan.models.adapters.Net` s (see :mod:`jaxgan.models.adapters` for Linen,
        NNX and plain functions).
      loss: a :class:`jaxgan.losses.GANLoss` or a name for :func:`jaxgan.losses.get_loss`.
      g_optimizer, d_optimizer: optax transformations (different learning rates give TTUR).
      latent_fn: ``latent_fn(key) -> z`` for one sample; or give ``latent_dim`` for standard normal latents.
      latent_dim: shorthand for ``latent_fn=normal_latent(latent_dim)``.
      n_critic: discriminator updates per generator update (k in Goodfellow et al. Algorithm 1). The batch
        ``{"x": [n_critic * B, ...], "label": [n_critic * B]}`` is split into ``n_critic`` minibatches of B.
      unroll_critic: write the ``n_critic`` discriminator updates out in the compiled step (``lax.scan`` with
        ``unroll=True``) rather than as a loop. Use it for convolutional networks: XLA's CPU convolutions run
        many times slower inside a loop body (``sngan32``, n_critic 5: 12.4x faster unrolled in
        ``benchmarks/step_throughput.py --levers``); it costs compile time only. The default keeps the loop
        (smaller programs; the bits of earlier runs); ``jaxgan.run.experiment`` unrolls for its image models.
      simultaneous: take both gradients at the same point and apply them together (needs ``n_critic == 1``).
      penalties: :class:`jaxgan.penalties.Penalty` s added to the discriminator loss, reported as ``d/<name>``.
      d_constraint: applied to the discriminator params after each update (``penalties.weight_clipping(c)``).
      ema_decay: if set, ``ema = decay * ema + (1 - decay) * g_params`` after each generator update (the state
        must have been created with ``ema=True``).
      ema_warmup: ramp the EMA decay up as ``min(ema_decay, (1 + n) / (10 + n))`` where ``n`` is the number of
        generator updates before this one (``num_updates`` of TensorFlow's ``tf.train.ExponentialMovingAverage``),
        so that early in a run the average follows the generator instead of holding its initialisation (with a
        constant 0.999, 37 % of the initial weights remain after 1,000 updates).
      generator_top_k: top-k training (Sinha et al. 2020, "Top-k Training of GANs: Improving GAN Performance by
        Throwing Away Bad Samples"): a schedule ``fraction(step)`` in (0, 1]; the generator's loss is the mean of
        its per-sample losses over the ``k = ceil(fraction * B)`` generated samples that the discriminator scores
        as most real, the rest get no gradient. :func:`top_k_schedule` is the paper's ``max(nu, gamma^epoch)``.
        With data parallelism each replica keeps the top k of its own ``B`` samples. Not for losses whose
        generator term couples samples (``generator_uses_real``: relativistic, ``fgan_*`` without the trick)
        or whose discriminator output is not a realness score (``began``: reconstruction errors).
      g_penalties: :class:`jaxgan.penalties.ParamPenalty` s of the generator's parameters added to its loss,
        reported as ``g/<name>``: BigGAN's ``penalties.orthogonal_regularization(beta)`` is ``g/ortho``.
      replicas: how to average across data-parallel replicas; set by :mod:`jaxgan.parallel`.

    Returns:
      ``train_step(state, batch)``. Its metrics are scalars: ``d/loss``, ``g/loss``, ``d/<penalty>``,
      ``g/<param penalty>``, ``d/real_logits_mean``, ``d/fake_logits_mean``, ``d/grad_norm``, ``g/grad_norm``,
      ``d/skipped``, ``g/skipped`` (cumulative counts of non-finite updates not applied) and ``loss/<name>`` from
      the loss state (BEGAN's ``k`` and ``m_global``). Discriminator metrics are means over the ``n_critic`` updates.
      It is a :class:`GANStep`, whose ``n_critic`` :mod:`jaxgan.parallel` reads to lay out a step's real rows
      across devices. The same system for other state layouts: :func:`jaxgan.plain_gan.gan`.

    Raises:
      ValueError: on an unknown loss name, ``n_critic < 1``, ``simultaneous`` with ``n_critic > 1``, a
        non-finite or out-of-range hyperparameter, or no latent specification. A batch with mismatched leading
        dimensions is refused when the step is traced, before anything compiles.
    """
    system = gan(
        generator, discriminator, loss, g_optimizer, d_optimizer,
        latent_fn=latent_fn, latent_dim=latent_dim, n_critic=n_critic, unroll_critic=unroll_critic,
        simultaneous=simultaneous, penalties=penalties, d_constraint=d_constraint, ema_decay=ema_decay,
        ema_warmup=ema_warmup, generator_top_k=generator_top_k, g_penalties=g_penalties,
    )
    return GANStep(system, replicas)


def make_multi_step(
    train_step: Callable[[GANState, Batch], tuple[GANState, dict[str, Array]]],
) -> Callable[[GANState, Batch], tuple[GANState, dict[str, Array]]]:
    """K steps in one call with ``lax.scan`` over a stack of K batches (leading axis K).

    Returns ``multi_step(state, batches) -> (state, metrics)`` where each metric has a leading axis K. The final
    state equals that of K single ``train_step`` calls on the same batches.
    """

    def multi_step(state, batches):
        return jax.lax.scan(train_step, state, batches)

    return multi_step


def make_sampled_multi_step(
    train_step: Callable[[GANState, Batch], tuple[GANState, dict[str, Array]]],
    sample_fn: Callable[[Array], Batch],
    batch_size: int,
    num_steps: int,
    replicas: Replicas = Replicas(),
    n_critic: int | None = None,
) -> Callable[[GANState], tuple[GANState, dict[str, Array]]]:
    """K steps in one call over data sampled on device (toy distributions): no host data at all.

    Args:
      train_step: from :func:`make_train_step`.
      sample_fn: ``sample_fn(keys [b, 2]) -> batch`` draws one batch row per key; rows are drawn from
        per-sample keys of the global batch (see :func:`sample_keys`), so the data does not depend on the
        device split.
      batch_size: rows per step on this replica (the global batch over ``replicas.count``, including the
        ``n_critic`` factor).
      num_steps: K.
      replicas: as given to :func:`make_train_step`.
      n_critic: the step's ``n_critic`` (default: read from ``train_step``). Each replica draws its share of
        each discriminator minibatch (``sample_keys(..., groups=n_critic)``), so the rows match one device's.

    Returns:
      ``multi_step(state) -> (state, metrics)``; the batch of step ``t`` depends only on (seed, t).
    """
    if n_critic is None:
        n_critic = getattr(train_step, "n_critic", 1)
    if batch_size % n_critic:
        raise ValueError(f"batch_size {batch_size} (rows per step on this replica) must divide by n_critic {n_critic}")

    def body(state, _):
        batch = sample_fn(sample_keys(data_key(state), batch_size, replicas, n_critic))
        return train_step(state, batch)

    def multi_step(state):
        return jax.lax.scan(body, state, None, length=num_steps)

    return multi_step
