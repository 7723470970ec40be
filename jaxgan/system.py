"""GAN systems: any set of named networks, trained by players in one pure step.

A :class:`System` is a set of named networks (:class:`jaxgan.models.adapters.Net` s, from Linen, NNX or plain JAX) and
an ordered list of :class:`Player` s. Each player owns some of the networks, has one optax optimizer and a loss,
and takes ``repeats`` updates per step (WGAN's ``n_critic``). The plain GAN is two players, ``d`` then ``g``
(:func:`jaxgan.plain_gan.gan`); CycleGAN is two generators as one player against two discriminators as another;
BiGAN's generator and encoder are one player against a discriminator on ``(x, z)``.

``make_system_step(system)`` returns a pure ``step(state, batch) -> (state, metrics)`` over a
:class:`SystemState`. One step runs the players in order (or, with ``simultaneous=True``, all of them at the
state the step began with). One update of one player (:func:`player_update`) is:

1. its loss ``loss_fn(ctx) -> (loss, metrics)``, a pure function of every network's parameters through a
   :class:`jaxgan.context.Context` that applies any network, draws per-sample keys and reads the batch, the step and the
   buffers; the gradient is taken for the player's own networks only and flows through the others' activations;
2. gradients, loss, metrics and the model state of its own networks averaged over data-parallel replicas;
3. the optimizer update and the player's constraint (weight clipping);
4. the EMA of its networks that the system averages, and the buffers the loss set;
5. the non-finite guard: if the loss or a gradient is NaN/Inf, nothing of 3-4 is applied and the player's
   ``<player>/skipped`` counter goes up.

Randomness: update ``u`` of a step (counted over all players' repeats, in order) gets
``fold_in(fold_in(state.key, step), u)``; :meth:`Context.sample_keys` folds the global row index into it, so
the numbers do not depend on how the batch is split across devices.

Batch: a dict of arrays with a common leading dimension, split into ``G = max(repeats)`` equal groups. Update
``j`` of a player with ``r`` repeats reads group ``j + G - r``: the repeats line up at the end, so the last
update of every player reads the last group (the GAN's ``n_critic`` minibatches, with the generator on the
last one).

Size: over 400 lines, about 240 of them code: the system and its checks, one player's update, the step and the
state constructors are one engine that every family uses, and they are read together.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxgan.context import Context, Replicas
from jaxgan.models.adapters import Net

Array = jax.Array
PyTree = Any
Batch = dict[str, Array]
Metrics = dict[str, Array]


# ------------------------------------------------------------------------------------------- the system itself


LossFn = Callable[[Context], tuple[Array, Metrics]]


class Player(NamedTuple):
    """One side of the game: the networks it trains, how, and against what loss.

    Attributes:
      name: prefixes its metrics (``<name>/loss``, ``<name>/grad_norm``, ``<name>/skipped``).
      nets: the names of the networks it owns (each network has at most one owner).
      optimizer: an optax transformation over the player's parameters: its one network's params when it owns
        one network, else ``{net name: params}``.
      loss_fn: ``loss_fn(ctx) -> (loss, metrics)``, a pure function of a :class:`Context`; ``metrics`` keys
        without a ``/`` are prefixed with ``<name>/``.
      repeats: updates per step (WGAN's ``n_critic``); the player's updates read successive batch groups.
      constraint: ``params -> params`` applied after each update (``penalties.weight_clipping(c)``), over the
        same structure as the optimizer sees.
      unroll: write the repeats out in the compiled step instead of a ``lax.scan`` loop (XLA's CPU
        convolutions run many times slower inside a loop body; it costs compile time only).
    """

    name: str
    nets: tuple[str, ...]
    optimizer: optax.GradientTransformation
    loss_fn: LossFn
    repeats: int = 1
    constraint: Callable[[PyTree], PyTree] | None = None
    unroll: bool = False


class System(NamedTuple):
    """Networks and the players that train them.

    Attributes:
      nets: ``{name: Net}``.
      players: in the order they update.
      ema: names of networks to keep an exponential moving average of (their owner updates it).
      ema_decay: ``ema = decay * ema + (1 - decay) * params`` after each update of the owner.
      ema_warmup: ramp the decay as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates of the owner
        (TensorFlow's ``ExponentialMovingAverage(num_updates=n)``).
      buffers: ``{name: initial value}``: state that is not trained (BEGAN's ``k_t``, CycleGAN's image pool),
        read through ``ctx.buffers`` and set with :meth:`Context.set_buffer`; shapes and dtypes are fixed.
      simultaneous: every player's gradient at the state the step began with, applied together (all
        ``repeats`` must be 1).
      batch_keys: entries every batch must have (checked when the step is traced).
    """

    nets: Mapping[str, Net]
    players: Sequence[Player]
    ema: Sequence[str] = ()
    ema_decay: float | None = None
    ema_warmup: bool = False
    buffers: Mapping[str, PyTree] = {}
    simultaneous: bool = False
    batch_keys: Sequence[str] = ()


@struct.dataclass
class SystemState:
    """Everything a GAN system changes, as one pytree.

    Attributes:
      step: int32 scalar, the number of completed steps.
      key: the run's base PRNG key (raw ``uint32[2]``); step ``t`` draws from ``fold_in(key, t)`` only.
      params: ``{net: params}``.
      model_state: ``{net: non-trained collections}`` (batch statistics; ``{}`` if none).
      opt_state: ``{player: optax state}``.
      ema: ``{net: averaged params}`` for the networks in ``System.ema``.
      buffers: ``{name: value}``.
      skipped: ``{player: int32}``, updates not applied because a loss or gradient was not finite.
    """

    step: Array
    key: Array
    params: dict[str, PyTree]
    model_state: dict[str, PyTree]
    opt_state: dict[str, PyTree]
    ema: dict[str, PyTree]
    buffers: dict[str, PyTree]
    skipped: dict[str, Array]


def _fail(msg: str):
    raise ValueError(msg)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def owner_of(system: System) -> dict[str, str]:
    """``{net: player}`` for every owned network."""
    return {n: p.name for p in system.players for n in p.nets}


def check_system(system: System) -> None:
    """Refuses a malformed system with a one-line ``ValueError`` (run by the builders, before any tracing)."""
    if not isinstance(system.nets, Mapping) or not system.nets:
        _fail(f"a system needs a non-empty {{name: Net}} mapping of networks; got {system.nets!r}")
    for name, net in system.nets.items():
        if not isinstance(name, str) or not callable(getattr(net, "apply", None)):
            _fail(f"network {name!r} is not a Net (jaxgan.models.adapters.from_linen / from_nnx / from_function)")
    if not system.players:
        _fail("a system needs at least one player")
    names = [p.name for p in system.players]
    if len(set(names)) != len(names):
        _fail(f"player names must be unique; got {names}")
    owners: dict[str, str] = {}
    for p in system.players:
        if not isinstance(p.nets, tuple) or not p.nets:
            _fail(f"player {p.name!r} must own a non-empty tuple of network names; got {p.nets!r}")
        for n in p.nets:
            if n not in system.nets:
                _fail(f"player {p.name!r} owns network {n!r}, which the system does not have ({sorted(system.nets)})")
            if n in owners:
                _fail(f"network {n!r} is owned by two players, {owners[n]!r} and {p.name!r}: give it one owner")
            owners[n] = p.name
        if not isinstance(p.repeats, int) or isinstance(p.repeats, bool) or p.repeats < 1:
            _fail(f"player {p.name!r}: repeats must be an integer >= 1, got {p.repeats!r}")
        if not callable(p.loss_fn):
            _fail(f"player {p.name!r}: loss_fn must be a function of a Context, got {p.loss_fn!r}")
    if system.simultaneous and any(p.repeats != 1 for p in system.players):
        reps = {p.name: p.repeats for p in system.players}
        _fail(f"simultaneous updates take one update of each player per step; got repeats {reps}")
    for n in system.ema:
        if n not in owners:
            _fail(f"ema names network {n!r}, which no player owns (owned: {sorted(owners)})")
    if system.ema and system.ema_decay is None:
        _fail(f"ema of {list(system.ema)} needs ema_decay")
    if system.ema_decay is not None and not (_is_real(system.ema_decay) and 0.0 <= system.ema_decay < 1.0):
        _fail(f"ema_decay must be in [0, 1), got {system.ema_decay}")
    if system.ema_warmup and system.ema_decay is None:
        _fail("ema_warmup ramps the EMA decay up: set ema_decay too")


# ------------------------------------------------------------------------------------------- one player update


def tree_finite(tree: PyTree) -> Array:
    """True when every element of every leaf is finite."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.array(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def select(ok: Array, new: PyTree, old: PyTree) -> PyTree:
    """``new`` where ``ok`` else ``old``, leaf by leaf: the non-finite guard."""
    return jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)


def ema_update(ema: PyTree, params: PyTree, decay: float, warmup: bool, n: Array) -> PyTree:
    """``decay * ema + (1 - decay) * params``; with ``warmup`` the decay is ``min(decay, (1 + n) / (10 + n))``."""
    if warmup:
        n = n.astype(jnp.float32)
        d = jnp.minimum(jnp.float32(decay), (1.0 + n) / (10.0 + n))
        return jax.tree.map(lambda e, p: (d * e + (1.0 - d) * p).astype(e.dtype), ema, params)
    return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)


def _own(player: Player, tree: dict) -> PyTree:
    """The player's view of a ``{net: ...}`` dict: the one entry, or the sub-dict when it owns several."""
    if len(player.nets) == 1:
        return tree[player.nets[0]]
    return {n: tree[n] for n in player.nets}


def _by_net(player: Player, own: PyTree) -> dict:
    return {player.nets[0]: own} if len(player.nets) == 1 else dict(own)


def _prefixed(player: Player, metrics: Metrics) -> Metrics:
    return {(k if "/" in k else f"{player.name}/{k}"): v for k, v in metrics.items()}


def player_update(system: System, player: Player, state: SystemState, batch: Batch, key: Array,
                  update: Array, replicas: Replicas) -> tuple[SystemState, Metrics]:
    """One update of one player (steps 1-5 of the module docstring); returns the new state and its metrics."""

    def loss_of(own_params):
        params = {**state.params, **_by_net(player, own_params)}
        ctx = Context(system, player, state, params, batch, key, update, replicas)
        value, metrics = player.loss_fn(ctx)
        model_state = {n: ctx._model_state[n] for n in player.nets}
        return value, (metrics, model_state, ctx._set_buffers)

    own_params = _own(player, state.params)
    (value, (metrics, model_state, set_buffers)), grads = jax.value_and_grad(loss_of, has_aux=True)(own_params)
    grads = replicas.mean(grads)
    metrics, value, model_state = replicas.mean((metrics, value, model_state))
    updates, opt_state = player.optimizer.update(grads, state.opt_state[player.name], own_params)
    params = optax.apply_updates(own_params, updates)
    if player.constraint is not None:
        params = player.constraint(params)
    params = _by_net(player, params)

    buffers = {name: (replicas.mean(v) if reduce == "mean" else v) for name, (v, reduce) in set_buffers.items()}
    ema = {}
    for n in player.nets:
        if n in system.ema:
            count = state.step * player.repeats + update
            ema[n] = ema_update(state.ema[n], params[n], system.ema_decay, system.ema_warmup, count)

    ok = jnp.isfinite(value) & tree_finite(grads)
    old = (
        {n: state.params[n] for n in params},
        state.opt_state[player.name],
        {n: state.model_state[n] for n in model_state},
        {n: state.buffers[n] for n in buffers},
        {n: state.ema[n] for n in ema},
    )
    params, opt_state, model_state, buffers, ema = select(ok, (params, opt_state, model_state, buffers, ema), old)
    new_state = state.replace(
        params={**state.params, **params},
        opt_state={**state.opt_state, player.name: opt_state},
        model_state={**state.model_state, **model_state},
        buffers={**state.buffers, **buffers},
        ema={**state.ema, **ema},
        skipped={**state.skipped, player.name: state.skipped[player.name] + jnp.logical_not(ok).astype(jnp.int32)},
    )
    metrics = {**_prefixed(player, metrics), f"{player.name}/grad_norm": optax.tree.norm(grads)}
    return new_state, metrics


# ------------------------------------------------------------------------------------------------ the step


def check_batch(batch: Batch, groups: int, required: Sequence[str] = ()) -> int:
    """Validates a batch's structure from its static shapes; returns the rows of one group."""
    if not isinstance(batch, dict) or any(k not in batch for k in required):
        got = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        want = " and ".join(repr(k) for k in required) or "entries"
        raise ValueError(f"a batch is a dict with key {want} (and optionally 'label'); got {got}")
    sizes = {k: (v.shape[0] if getattr(v, "ndim", 0) else None) for k, v in batch.items()}
    if not sizes or len(set(sizes.values())) != 1 or None in sizes.values():
        raise ValueError(f"batch entries must share their leading (batch) dimension; got sizes {sizes}")
    n = next(iter(sizes.values()))
    if n % groups:
        raise ValueError(
            f"with n_critic={groups} the batch is split into {groups} minibatches, "
            f"so its size must divide by {groups}; got {n}"
        )
    return n // groups


class SystemStep:
    """The pure ``step(state, batch) -> (state, metrics)`` of a system; ``jax.jit`` it (donate the state).

    Attributes:
      system: the :class:`System`.
      groups: how many equal groups a batch is split into (``max(repeats)``); :mod:`jaxgan.parallel` reads
        it (as ``n_critic``) to lay out a step's rows across devices.
    """

    def __init__(self, system: System, replicas: Replicas = Replicas()):
        check_system(system)
        self.system = system
        self.replicas = replicas
        self.groups = max(p.repeats for p in system.players)

    @property
    def n_critic(self) -> int:
        return self.groups

    def _player_updates(self, player: Player, state: SystemState, groups: Batch, step_key: Array,
                        first: int) -> tuple[SystemState, Metrics]:
        offset = self.groups - player.repeats

        def body(s, j):
            batch = jax.tree.map(lambda v: v[j + offset], groups)
            return player_update(self.system, player, s, batch, jax.random.fold_in(step_key, first + j), j,
                                 self.replicas)

        if player.repeats == 1:
            return body(state, 0)
        state, metrics = jax.lax.scan(body, state, jnp.arange(player.repeats), unroll=bool(player.unroll))
        return state, jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)

    def __call__(self, state: SystemState, batch: Batch) -> tuple[SystemState, Metrics]:
        b = check_batch(batch, self.groups, self.system.batch_keys)
        groups = jax.tree.map(lambda v: v.reshape((self.groups, b) + v.shape[1:]), batch)
        step_key = jax.random.fold_in(state.key, state.step)
        metrics: Metrics = {}
        first = 0
        new_state = state
        for player in self.system.players:
            start = state if self.system.simultaneous else new_state
            s, m = self._player_updates(player, start, groups, step_key, first)
            first += player.repeats
            metrics.update(m)
            if self.system.simultaneous:
                new_state = _take_player(new_state, s, player, self.system)
            else:
                new_state = s
        new_state = new_state.replace(step=state.step + 1)
        metrics.update({f"{p.name}/skipped": new_state.skipped[p.name] for p in self.system.players})
        return new_state, metrics


def _take_player(into: SystemState, src: SystemState, player: Player, system: System) -> SystemState:
    """``into`` with everything that ``player`` owns taken from ``src`` (simultaneous updates)."""
    nets = player.nets
    touched = [k for k in src.buffers if src.buffers[k] is not into.buffers[k]]
    return into.replace(
        params={**into.params, **{n: src.params[n] for n in nets}},
        model_state={**into.model_state, **{n: src.model_state[n] for n in nets}},
        opt_state={**into.opt_state, player.name: src.opt_state[player.name]},
        ema={**into.ema, **{n: src.ema[n] for n in nets if n in src.ema}},
        buffers={**into.buffers, **{k: src.buffers[k] for k in touched}},
        skipped={**into.skipped, player.name: src.skipped[player.name]},
    )


def make_system_step(system: System, *, replicas: Replicas = Replicas()) -> SystemStep:
    """Returns the pure step of ``system`` (checked now: a malformed system is refused before any tracing)."""
    return SystemStep(system, replicas)


# ------------------------------------------------------------------------------------------------- the state


def init_tag(name: str) -> int:
    """The ``fold_in`` tag of a network's initialisation key: the bytes of ``name + "init"`` modulo 2**31."""
    return int.from_bytes(f"{name}init".encode(), "big") % (2**31)


def create_system_state(key: Array, system: System, params: Mapping[str, PyTree],
                        model_state: Mapping[str, PyTree] | None = None) -> SystemState:
    """The state at step 0 from existing parameters (``{net: params}`` for every network)."""
    check_system(system)
    missing = sorted(set(system.nets) - set(params))
    if missing:
        _fail(f"no initial params for networks {missing}")
    key = jnp.asarray(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    model_state = dict(model_state or {})
    params = {n: params[n] for n in system.nets}
    for name, value in system.buffers.items():
        if not all(isinstance(v, (jax.Array, numbers.Number)) or hasattr(v, "dtype") for v in jax.tree.leaves(value)):
            _fail(f"buffer {name!r} must be a pytree of arrays, got {value!r}")
    return SystemState(
        step=jnp.zeros((), jnp.int32),
        key=key,
        params=params,
        model_state={n: model_state.get(n, {}) for n in system.nets},
        opt_state={p.name: p.optimizer.init(_own(p, params)) for p in system.players},
        ema={n: jax.tree.map(jnp.copy, params[n]) for n in system.ema},
        buffers={k: jax.tree.map(jnp.asarray, v) for k, v in system.buffers.items()},
        skipped={p.name: jnp.zeros((), jnp.int32) for p in system.players},
    )


def init_system_state(seed: int | Array, system: System, example_inputs: Mapping[str, tuple]) -> SystemState:
    """Initialises every network from example inputs and returns the state at step 0.

    Args:
      seed: an integer seed or a PRNG key. Network ``n`` is initialised from ``fold_in(key, init_tag(n))``,
        tags that training never uses.
      system: the :class:`System`.
      example_inputs: ``{net: (x,) or (x, labels)}``, example batches (only shapes matter).
    """
    check_system(system)
    missing = sorted(set(system.nets) - set(example_inputs))
    if missing:
        _fail(f"example_inputs has no entry for networks {missing}: give {{name: (x,) or (x, labels)}}")
    key = jax.random.PRNGKey(seed) if isinstance(seed, int) else jnp.asarray(seed)
    params, model_state = {}, {}
    for name, net in system.nets.items():
        args = example_inputs[name]
        args = args if isinstance(args, tuple) else (args,)
        params[name], model_state[name] = net.init(jax.random.fold_in(key, init_tag(name)), *args)
    return create_system_state(key, system, params, model_state)
