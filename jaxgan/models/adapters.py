"""One calling convention for networks, whatever library built them.

The engine sees a generator or a discriminator as a :class:`Net`, two pure functions:

* ``init(key, x, labels) -> (params, model_state)``
* ``apply(params, model_state, x, labels, *, train, rng) -> (out, new_model_state)``

``model_state`` holds non-trained collections such as batch-norm statistics (``{}`` when there are none).
``labels`` is ``None`` for unconditional models. ``rng`` is a PRNG key for stochastic layers (dropout,
instance noise); deterministic networks ignore it.

Three adapters produce a :class:`Net`:

* :func:`from_linen` for a Flax Linen module (``Module.init`` / ``Module.apply``);
* :func:`from_nnx` for a Flax NNX module (``nnx.split`` / ``nnx.merge``);
* :func:`from_function` for a plain ``apply(params, x)`` (or ``apply(params, x, labels)``).

Linen modules in :mod:`jaxgan.models` follow ``__call__(self, x, labels=None, *, train=True)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax

Array = jax.Array
PyTree = Any


class Net(NamedTuple):
    """A network as two pure functions (see the module docstring for their signatures)."""

    init: Callable[..., tuple[PyTree, PyTree]]
    apply: Callable[..., tuple[Array, PyTree]]


def from_linen(
    module: Any,
    *,
    mutable: Sequence[str] = ("batch_stats",),
    train_kwarg: str | None = "train",
    labels_kwarg: str | None = "labels",
    rng_collections: Sequence[str] = ("dropout", "noise"),
) -> Net:
    """Wraps a Flax Linen module.

    Args:
      module: a ``flax.linen.Module``; its ``__call__`` takes the input first.
      mutable: the collections that change during a training forward pass (batch statistics). Those present
        in the variables form ``model_state``; the ``params`` collection is the trained parameters.
      train_kwarg: the name of the module's boolean train flag, or ``None`` if it has none.
      labels_kwarg: the name of the module's labels argument, or ``None`` if it takes no labels. Labels are
        passed only when they are not ``None``.
      rng_collections: RNG stream names given a key derived from ``rng`` on every call.

    Returns:
      A :class:`Net`.
    """

    def _kwargs(labels, train):
        kwargs = {}
        if labels_kwarg is not None and labels is not None:
            kwargs[labels_kwarg] = labels
        if train_kwarg is not None:
            kwargs[train_kwarg] = train
        return kwargs

    def _rngs(rng):
        keys = jax.random.split(rng, len(rng_collections))
        return {name: k for name, k in zip(rng_collections, keys)}

    def init(key, x, labels=None):
        init_key, rng = jax.random.split(key)
        variables = module.init(
            {"params": init_key, **_rngs(rng)}, x, **_kwargs(labels, False)
        )
        variables = dict(variables)
        params = variables.pop("params", {})
        return params, variables

    def apply(params, model_state, x, labels=None, *, train, rng=None):
        variables = {"params": params, **model_state}
        rngs = _rngs(rng) if rng is not None else None
        kwargs = _kwargs(labels, train)
        cols = [c for c in mutable if c in model_state]
        if train and cols:
            out, updates = module.apply(variables, x, rngs=rngs, mutable=cols, **kwargs)
            return out, {**model_state, **dict(updates)}
        return module.apply(variables, x, rngs=rngs, **kwargs), model_state

    return Net(init=init, apply=apply)


def from_function(
    apply_fn: Callable[..., Array],
    init_fn: Callable[..., PyTree] | None = None,
    *,
    takes_labels: bool = False,
) -> Net:
    """Wraps a plain JAX function ``apply_fn(params, x)`` (``apply_fn(params, x, labels)`` if ``takes_labels``).

    Args:
      apply_fn: the forward pass. It has no model state and no train/test distinction.
      init_fn: optional ``init_fn(key, x) -> params`` so that :meth:`Net.init` works; without it, create the
        params yourself and call ``Net.init`` never.
      takes_labels: pass the batch labels as a third argument.

    Returns:
      A :class:`Net` whose ``model_state`` is always ``{}``.
    """

    def init(key, x, labels=None):
        if init_fn is None:
            raise ValueError("from_function(...) was given no init_fn: create the params yourself")
        return init_fn(key, x), {}

    def apply(params, model_state, x, labels=None, *, train, rng=None):
        del train, rng
        if takes_labels:
            return apply_fn(params, x, labels), model_state
        return apply_fn(params, x), model_state

    return Net(init=init, apply=apply)


def from_nnx(model: Any, *, train_kwarg: str | None = None, labels_kwarg: str | None = None):
    """Wraps a Flax NNX module: ``nnx.split`` once, ``nnx.merge`` inside every pure call.

    ``nnx.Param`` variables are the trained params; every other state (``nnx.BatchStat``, RNG counts) is
    ``model_state`` and is returned updated by a training call. Train / eval mode follows the module's own
    ``train()`` / ``eval()`` methods unless ``train_kwarg`` names a call argument.

    Args:
      model: an ``nnx.Module`` already constructed (its variables are the initial values).
      train_kwarg: the name of a boolean train argument of ``__call__``, or ``None``.
      labels_kwarg: the name of the labels argument of ``__call__``, or ``None`` if it takes no labels.

    Returns:
      ``(net, params, model_state)``: the :class:`Net` and the module's initial params and model state.
    """
    from flax import nnx

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def init(key, x, labels=None):
        del key, x, labels
        return params, rest

    def apply(p, model_state, x, labels=None, *, train, rng=None):
        del rng
        m = nnx.merge(graphdef, p, model_state, copy=True)
        kwargs = {}
        if labels_kwarg is not None and labels is not None:
            kwargs[labels_kwarg] = labels
        if train_kwarg is not None:
            kwargs[train_kwarg] = train
        elif hasattr(m, "train") and hasattr(m, "eval"):
            m.train() if train else m.eval()
        out = m(x, **kwargs)
        _, _, new_rest = nnx.split(m, nnx.Param, ...)
        return out, (new_rest if train else model_state)

    return Net(init=init, apply=apply), params, rest
