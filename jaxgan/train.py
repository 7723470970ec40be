"""Gradient descent–ascent as pure functions: ``train_step(state, batch) -> (state, metrics)``.

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

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgan.adapters import Net
from jaxgan.losses import GANLoss, get_loss
from jaxgan.penalties import Penalty
from jaxgan.state import GANState

Array = jax.Array
PyTree = Any
Batch = dict[str, Array]

DATA_AXIS = "data"  # the name of the data-parallel axis (pmap axis_name, Mesh axis) that jaxgan.parallel uses
_DATA_STREAM = 0x6461_7461  # "data": on-device data keys are folded from the base key with this tag first


class Replicas(NamedTuple):
    """How a step talks to its sibling replicas; the defaults are one device.

    Attributes:
      mean: averages a pytree over replicas (``lax.pmean`` over the data axis under pmap / shard_map).
      index: returns this replica's index (``lax.axis_index``), an int32 scalar.
      count: the number of replicas (static).
    """

    mean: Callable[[PyTree], PyTree] = lambda tree: tree
    index: Callable[[], Array] = lambda: jnp.zeros((), jnp.int32)
    count: int = 1


def normal_latent(dim: int | Sequence[int]) -> Callable[[Array], Array]:
    """Standard normal latents: returns ``latent_fn(key) -> [*dim]`` for one sample."""
    shape = (dim,) if isinstance(dim, int) else tuple(dim)
    return lambda key: jax.random.normal(key, shape)


def sample_keys(key: Array, batch_size: int, replicas: Replicas = Replicas(), groups: int = 1) -> Array:
    """Per-sample keys ``[batch_size, 2]`` for this replica's rows of the global batch.

    Sample ``i`` of the global batch gets ``fold_in(key, i)``. With ``groups == 1`` replica ``r`` owns rows
    ``[r * batch_size, (r + 1) * batch_size)``. With ``groups = g > 1`` the global batch is ``g`` consecutive
    groups (the ``n_critic`` minibatches of a step) and replica ``r`` owns its share of each: rows
    ``k * count * m + [r * m, (r + 1) * m)`` for ``k < g``, ``m = batch_size / g``, in that order.
    """
    m = batch_size // groups
    group_starts = jnp.arange(groups)[:, None] * (m * replicas.count)
    rows = (group_starts + replicas.index() * m + jnp.arange(m)).reshape(-1)
    return jax.vmap(jax.random.fold_in, (None, 0))(key, rows)


def data_key(state: GANState) -> Array:
    """The key from which on-device data for ``state.step`` is drawn (a stream apart from the step's)."""
    return jax.random.fold_in(jax.random.fold_in(state.key, _DATA_STREAM), state.step)


def _tree_finite(tree: PyTree) -> Array:
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.array(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _select(ok: Array, new: PyTree, old: PyTree) -> PyTree:
    return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)


def _check_finite(name: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")


def _check_batch(batch: Batch, n_critic: int) -> int:
    """Validates a batch's structure from its static shapes; returns the per-update batch size."""
    if not isinstance(batch, dict) or "x" not in batch:
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"a batch is a dict with key 'x' (and optionally 'label'); got {got}")
    sizes = {k: (v.shape[0] if getattr(v, "ndim", 0) else None) for k, v in batch.items()}
    if len(set(sizes.values())) != 1 or None in sizes.values():
        raise ValueError(f"batch entries must share their leading (batch) dimension; got sizes {sizes}")
    n = sizes["x"]
    if n % n_critic:
        raise ValueError(
            f"with n_critic={n_critic} the batch is split into {n_critic} discriminator minibatches, "
            f"so its size must divide by {n_critic}; got {n}"
        )
    return n // n_critic


def top_k_schedule(
    min_fraction: float = 0.5, gamma: float = 0.99, steps_per_epoch: float = 1.0
) -> Callable[[Array], Array]:
    """Top-k fraction of Sinha et al. (2020): ``max(min_fraction, gamma ** (step / steps_per_epoch))``.

    The paper decays by ``gamma = 0.99`` per epoch down to ``nu = min_fraction`` (0.5 to 0.75 in its experiments).
    """
    for name, v, lo, hi in (("min_fraction", min_fraction, 0.0, 1.0), ("gamma", gamma, 0.0, 1.0)):
        if not isinstance(v, (int, float)) or not lo < v <= hi:
            raise ValueError(f"top-k {name} must be in ({lo}, {hi}], got {v!r}")
    if not isinstance(steps_per_epoch, (int, float)) or not steps_per_epoch > 0:
        raise ValueError(f"top-k steps_per_epoch must be > 0, got {steps_per_epoch!r}")

    def fraction(step):
        epochs = jnp.asarray(step, jnp.float32) / steps_per_epoch
        return jnp.maximum(jnp.float32(min_fraction), jnp.float32(gamma) ** epochs)

    return fraction


def _top_k_mean(per_sample: Array, scores: Array, fraction: Array) -> Array:
    """Mean of ``per_sample`` over the ``ceil(fraction * B)`` entries with the highest ``scores``."""
    b = scores.shape[0]
    # ceil with a tolerance, so that 0.5 * 64 is 32 although 0.5 * 64 may round above 32 in float32
    k = jnp.clip(jnp.ceil(jnp.asarray(fraction, jnp.float32) * b - 1e-4), 1, b).astype(jnp.int32)
    order = jnp.argsort(-jax.lax.stop_gradient(scores))  # most real first; ties keep their order
    ranks = jnp.zeros((b,), jnp.int32).at[order].set(jnp.arange(b, dtype=jnp.int32))
    return jnp.sum(jnp.where(ranks < k, per_sample, 0.0)) / k.astype(per_sample.dtype)


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
    replicas: Replicas = Replicas(),
) -> Callable[[GANState, Batch], tuple[GANState, dict[str, Array]]]:
    """Returns a pure ``train_step(state, batch) -> (state, metrics)``.

    Args:
      generator, discriminator: :class:`jaxgan.adapters.Net` s (see :mod:`jaxgan.adapters` for Linen, NNX and
        plain functions).
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
        (smaller programs; the bits of earlier runs); ``jaxgan.experiment`` unrolls for its image models.
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
      replicas: how to average across data-parallel replicas; set by :mod:`jaxgan.parallel`.

    Returns:
      ``train_step(state, batch)``. Its metrics are scalars: ``d/loss``, ``g/loss``, ``d/<penalty>``,
      ``d/real_logits_mean``, ``d/fake_logits_mean``, ``d/grad_norm``, ``g/grad_norm``, ``d/skipped``,
      ``g/skipped`` (cumulative counts of non-finite updates not applied) and ``loss/<name>`` from the loss
      state (BEGAN's ``k`` and ``m_global``). Discriminator metrics are means over the ``n_critic`` updates.
      The function carries ``train_step.n_critic``, which :mod:`jaxgan.parallel` reads to lay out a step's real
      rows across devices.

    Raises:
      ValueError: on an unknown loss name, ``n_critic < 1``, ``simultaneous`` with ``n_critic > 1``, a
        non-finite or out-of-range hyperparameter, or no latent specification. A batch with mismatched leading
        dimensions is refused when the step is traced, before anything compiles.
    """
    if isinstance(loss, str):
        loss = get_loss(loss)
    if not isinstance(n_critic, int) or isinstance(n_critic, bool) or n_critic < 1:
        raise ValueError(f"n_critic must be an integer >= 1, got {n_critic!r}")
    if simultaneous and n_critic != 1:
        raise ValueError(f"simultaneous updates take one discriminator step per step; got n_critic={n_critic}")
    _check_finite("ema_decay", ema_decay)
    if ema_warmup and ema_decay is None:
        raise ValueError("ema_warmup ramps the EMA decay up: set ema_decay too")
    if generator_top_k is not None:
        if loss.generator_uses_real or loss.name == "began":
            raise ValueError(
                f"generator_top_k needs a generator loss that is a mean over samples of a realness score; loss "
                f"{loss.name!r} {'couples samples' if loss.generator_uses_real else 'scores reconstruction errors'}"
            )
        if not callable(generator_top_k):
            raise ValueError(f"generator_top_k must be a schedule fraction(step), got {generator_top_k!r}")
    if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
    for p in penalties:
        _check_finite(f"weight of penalty {p.name!r}", p.weight)
    if latent_fn is None:
        if latent_dim is None:
            raise ValueError("give latent_dim (standard normal latents) or latent_fn(key) -> z")
        latent_fn = normal_latent(latent_dim)
    penalties = tuple(penalties)

    def latents(key, batch_size):
        return jax.vmap(latent_fn)(sample_keys(key, batch_size, replicas))

    def generate(g_params, g_model_state, z, labels, rng, train=True):
        return generator.apply(g_params, g_model_state, z, labels, train=train, rng=rng)

    def d_outputs(d_params, d_model_state, x_real, fake, labels, rng):
        """D on the real and on the fake batch in two calls, as DCGAN does: a batch-norm discriminator then
        normalises each by its own statistics in both phases (one call on [real; fake] would let D learn
        from mixed-batch statistics that the generator's phase, which shows D fakes only, never has)."""
        r_rng, f_rng = jax.random.split(rng)
        d_real, model_state = discriminator.apply(d_params, d_model_state, x_real, labels, train=True, rng=r_rng)
        d_fake, model_state = discriminator.apply(d_params, model_state, fake, labels, train=True, rng=f_rng)
        return d_real, d_fake, model_state

    def d_loss_fn(d_params, d_model_state, loss_state, x_real, fake, labels, key):
        b = x_real.shape[0]
        rng, pen_key = jax.random.split(key)
        d_real, d_fake, new_model_state = d_outputs(d_params, d_model_state, x_real, fake, labels, rng)
        value = loss.discriminator(d_real, d_fake, loss_state)
        total = value
        aux = {"d/loss": value}

        def d_fn(inputs):
            return discriminator.apply(d_params, d_model_state, inputs, labels, train=True, rng=rng)[0]

        for i, p in enumerate(penalties):
            keys = sample_keys(jax.random.fold_in(pen_key, i), b, replicas)
            pv = p.fn(d_fn, x_real, fake, keys)
            aux[f"d/{p.name}"] = pv
            total = total + p.weight * pv
        aux["d/real_logits_mean"] = jnp.mean(d_real)
        aux["d/fake_logits_mean"] = jnp.mean(d_fake)
        return total, (aux, new_model_state, d_real, d_fake)

    def d_update(state: GANState, x_real, labels, key):
        """One discriminator update; returns (d_params, d_opt_state, d_model_state, loss_state, skipped, metrics)."""
        z_key, g_rng, d_key = jax.random.split(key, 3)
        z = latents(z_key, x_real.shape[0])
        fake, _ = generate(state.g_params, state.g_model_state, z, labels, g_rng)
        fake = jax.lax.stop_gradient(fake)
        grad_fn = jax.value_and_grad(d_loss_fn, has_aux=True)
        (total, (aux, model_state, d_real, d_fake)), grads = grad_fn(
            state.d_params, state.d_model_state, state.loss_state, x_real, fake, labels, d_key
        )
        grads = replicas.mean(grads)
        aux, total, model_state = replicas.mean((aux, total, model_state))
        updates, opt_state = d_optimizer.update(grads, state.d_opt_state, state.d_params)
        params = optax.apply_updates(state.d_params, updates)
        if d_constraint is not None:
            params = d_constraint(params)
        loss_state, loss_metrics = loss.update_state(state.loss_state, d_real, d_fake)
        loss_state, loss_metrics = replicas.mean((loss_state, loss_metrics))
        ok = jnp.isfinite(total) & _tree_finite(grads)
        new = _select(
            ok,
            (params, opt_state, model_state, loss_state),
            (state.d_params, state.d_opt_state, state.d_model_state, state.loss_state),
        )
        metrics = {**aux, "d/grad_norm": optax.tree.norm(grads)}
        metrics.update({f"loss/{k}": v for k, v in loss_metrics.items()})
        return new, jnp.logical_not(ok).astype(jnp.int32), metrics

    def g_loss_fn(g_params, state: GANState, d_params, z, x_real, labels, key):
        g_rng, d_rng = jax.random.split(key)
        fake, g_model_state = generate(g_params, state.g_model_state, z, labels, g_rng)
        if loss.generator_uses_real:
            d_real, d_fake, _ = d_outputs(d_params, state.d_model_state, x_real, fake, labels, d_rng)
        else:
            d_fake, _ = discriminator.apply(
                d_params, state.d_model_state, fake, labels, train=True, rng=jax.random.split(d_rng)[1]
            )
            d_real = None
        if generator_top_k is None:
            value = loss.generator(d_real, d_fake, state.loss_state)
        else:
            value = _top_k_mean(
                jax.vmap(lambda f: loss.generator(d_real, f[None], state.loss_state))(d_fake),
                d_fake,
                generator_top_k(state.step),
            )
        return value, g_model_state

    def g_update(state: GANState, d_params, x_real, labels, key):
        z_key, rest = jax.random.split(key)
        z = latents(z_key, x_real.shape[0])
        (value, model_state), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
            state.g_params, state, d_params, z, x_real, labels, rest
        )
        grads = replicas.mean(grads)
        value, model_state = replicas.mean((value, model_state))
        updates, opt_state = g_optimizer.update(grads, state.g_opt_state, state.g_params)
        params = optax.apply_updates(state.g_params, updates)
        ema = state.ema_params
        if ema_decay is not None:
            if ema is None:
                raise ValueError("ema_decay is set but the state has no ema_params: create it with ema=True")
            if ema_warmup:
                n = state.step.astype(jnp.float32)
                decay = jnp.minimum(jnp.float32(ema_decay), (1.0 + n) / (10.0 + n))
                ema = jax.tree.map(lambda e, p: (decay * e + (1.0 - decay) * p).astype(e.dtype), ema, params)
            else:
                ema = jax.tree.map(lambda e, p: ema_decay * e + (1.0 - ema_decay) * p, ema, params)
        ok = jnp.isfinite(value) & _tree_finite(grads)
        new = _select(
            ok,
            (params, opt_state, model_state, ema),
            (state.g_params, state.g_opt_state, state.g_model_state, state.ema_params),
        )
        metrics = {"g/loss": value, "g/grad_norm": optax.tree.norm(grads)}
        return new, jnp.logical_not(ok).astype(jnp.int32), metrics

    def train_step(state: GANState, batch: Batch) -> tuple[GANState, dict[str, Array]]:
        b = _check_batch(batch, n_critic)
        xs = batch["x"].reshape((n_critic, b) + batch["x"].shape[1:])
        ls = batch.get("label")
        ls = None if ls is None else ls.reshape((n_critic, b) + ls.shape[1:])
        step_key = jax.random.fold_in(state.key, state.step)

        def d_body(carry, i):
            s = carry
            x_i = xs[i]
            l_i = None if ls is None else ls[i]
            (params, opt_state, model_state, loss_state), skipped, metrics = d_update(
                s, x_i, l_i, jax.random.fold_in(step_key, i)
            )
            s = s.replace(
                d_params=params,
                d_opt_state=opt_state,
                d_model_state=model_state,
                loss_state=loss_state,
                d_skipped=s.d_skipped + skipped,
            )
            return s, metrics

        x_last = xs[-1]
        l_last = None if ls is None else ls[-1]
        g_key = jax.random.fold_in(step_key, n_critic)
        if simultaneous:
            new_state, d_metrics = d_body(state, 0)
            (g_params, g_opt, g_ms, ema), g_skip, g_metrics = g_update(
                state, state.d_params, x_last, l_last, g_key
            )
        else:
            if n_critic == 1:
                new_state, d_metrics = d_body(state, 0)
            else:
                new_state, d_metrics = jax.lax.scan(
                    d_body, state, jnp.arange(n_critic), unroll=bool(unroll_critic)
                )
                d_metrics = jax.tree.map(lambda m: jnp.mean(m, axis=0), d_metrics)
            (g_params, g_opt, g_ms, ema), g_skip, g_metrics = g_update(
                new_state, new_state.d_params, x_last, l_last, g_key
            )
        new_state = new_state.replace(
            step=state.step + 1,
            g_params=g_params,
            g_opt_state=g_opt,
            g_model_state=g_ms,
            ema_params=ema,
            g_skipped=state.g_skipped + g_skip,
        )
        metrics = {
            **d_metrics,
            **g_metrics,
            "d/skipped": new_state.d_skipped,
            "g/skipped": new_state.g_skipped,
        }
        return new_state, metrics

    train_step.n_critic = n_critic
    return train_step


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
