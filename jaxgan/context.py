"""What a player's loss sees: the :class:`Context` of one update, and how replicas talk (:class:`Replicas`).

A loss of a :class:`jaxgan.system.Player` is a pure function ``loss_fn(ctx) -> (loss, metrics)``. The context
applies any network of the system (threading its model state), draws per-sample keys from the global row index
(:func:`sample_keys`, so every device count gives the same numbers), gathers rows across replicas, and collects
the buffers the loss sets. The engine (:func:`jaxgan.system.player_update`) builds one per update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array
PyTree = Any
Batch = dict[str, Array]


def _fail(msg: str):
    raise ValueError(msg)


# ----------------------------------------------------------------------------------------------- replicas, keys


class Replicas(NamedTuple):
    """How a step talks to its sibling replicas; the defaults are one device.

    Attributes:
      mean: averages a pytree over replicas (``lax.pmean`` over the data axis under pmap / shard_map).
      index: returns this replica's index (``lax.axis_index``), an int32 scalar.
      count: the number of replicas (static).
      gather: concatenates an array's rows over replicas in replica order (``lax.all_gather(tiled=True)``).
    """

    mean: Callable[[PyTree], PyTree] = lambda tree: tree
    index: Callable[[], Array] = lambda: jnp.zeros((), jnp.int32)
    count: int = 1
    gather: Callable[[Array], Array] = lambda x: x


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


# ------------------------------------------------------------------------------------------------- the context


class Context:
    """What a player's loss sees during one update. Built by the engine; a loss only reads it and calls it.

    Attributes:
      player: the updating player's name.
      params: ``{net: params}`` of every network; the player's own are the ones being differentiated.
      batch: this update's group of the batch (this replica's rows).
      step: the step number (int32 scalar); ``update``: this player's update index within the step.
      buffers: the buffers as they were when the update began.
      key: this update's key (see the module docstring); split it as the loss needs.
      replicas: the :class:`Replicas`; most losses need only :meth:`sample_keys`, :meth:`gather`, :meth:`rows`.
    """

    def __init__(self, system, player, state, params: dict, batch: Batch, key: Array, update: Array,
                 replicas: Replicas):
        self._system = system
        self.player = player.name
        self.params = params
        self.batch = batch
        self.step = state.step
        self.update = update
        self.buffers = state.buffers
        self.key = key
        self.replicas = replicas
        self._start_model_state = state.model_state
        self._model_state = dict(state.model_state)
        self._set_buffers: dict[str, tuple[PyTree, str | None]] = {}

    def _net(self, name: str):
        if name not in self._system.nets:
            _fail(
                f"player {self.player!r}'s loss applies network {name!r}, which the system does not have "
                f"({sorted(self._system.nets)})"
            )
        return self._system.nets[name]

    def apply(self, name: str, x: PyTree, labels: Array | None = None, *, train: bool = True,
              rng: Array | None = None, params: PyTree | None = None, update_state: bool = True) -> Array:
        """Applies network ``name`` and returns its output.

        In a training call (``train=True``, ``update_state=True``) the network's model state is threaded: the
        call sees the state the previous call of this update left, and the player's own networks keep the
        last one when the update is applied (the others' changes are dropped). ``update_state=False`` reads
        the state as it was when the update began and keeps nothing (penalties' extra calls).
        ``params`` overrides the network's parameters (default: ``ctx.params[name]``).
        """
        net = self._net(name)
        p = self.params[name] if params is None else params
        if train and update_state:
            out, self._model_state[name] = net.apply(p, self._model_state[name], x, labels, train=True, rng=rng)
            return out
        source = self._start_model_state if train else self._model_state
        return net.apply(p, source[name], x, labels, train=train, rng=rng)[0]

    def sample_keys(self, key: Array, n: int | None = None) -> Array:
        """Per-sample keys ``[n, 2]`` for this replica's rows: row ``i`` of the global batch gets ``fold_in(key, i)``.

        ``n`` defaults to this update's rows (the leading size of the batch group).
        """
        if n is None:
            n = jax.tree.leaves(self.batch)[0].shape[0]
        return sample_keys(key, n, self.replicas)

    def gather(self, x: Array) -> Array:
        """``x`` of every replica, concatenated in global row order (identity on one device)."""
        return self.replicas.gather(x)

    def rows(self, x: Array, n: int) -> Array:
        """This replica's ``n`` rows of a global array (the inverse of :meth:`gather`)."""
        return jax.lax.dynamic_slice_in_dim(x, self.replicas.index() * n, n)

    def set_buffer(self, name: str, value: PyTree, reduce: str | None = "mean") -> None:
        """Sets buffer ``name`` to ``value`` when this update is applied.

        ``reduce="mean"`` averages the value over replicas (a statistic of this replica's rows, as BEGAN's
        ``k_t``); ``None`` when the value is already the same on every replica (built from :meth:`gather`).
        The value must have the buffer's structure, shapes and dtypes.
        """
        if name not in self.buffers:
            have = sorted(self.buffers)
            _fail(f"player {self.player!r} sets buffer {name!r}, which the system does not have ({have})")
        old, new = jax.tree.structure(self.buffers[name]), jax.tree.structure(value)
        if old != new:
            _fail(f"player {self.player!r} sets buffer {name!r} with structure {new}; the buffer has {old}")
        for a, b in zip(jax.tree.leaves(self.buffers[name]), jax.tree.leaves(value)):
            if jnp.shape(a) != jnp.shape(b) or jnp.result_type(a) != jnp.result_type(b):
                _fail(
                    f"player {self.player!r} sets buffer {name!r} to {jnp.result_type(b)}{list(jnp.shape(b))}; "
                    f"the buffer is {jnp.result_type(a)}{list(jnp.shape(a))}"
                )
        if reduce not in ("mean", None):
            _fail(f"set_buffer reduce must be 'mean' or None, got {reduce!r}")
        self._set_buffers[name] = (value, reduce)
