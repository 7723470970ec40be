"""The one module that knows about devices.

A :class:`Runner` takes a built :class:`jaxgan.experiment.Experiment` and runs its pure train step in
compiled, scanned chunks on the devices: ``put`` places a host state, ``run`` advances it ``k`` steps,
``get`` brings it back, ``metrics_to_host`` fetches the last step's metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxgan import train


class Runner(NamedTuple):
    """How a run's steps execute on devices.

    Attributes:
      put: host state -> device state.
      get: device state -> host state (one copy, as ``init_state`` built it).
      run: ``run(state, step, k) -> (state, metrics)``: ``k`` train steps from ``step`` in one call.
      metrics_to_host: metrics of a ``run`` call -> dict of Python floats for its last step.
      num_devices, num_hosts: what ran.
      is_primary: whether this process writes logs, samples and reports.
    """

    put: Callable[[Any], Any]
    get: Callable[[Any], Any]
    run: Callable[[Any, int, int], tuple[Any, Any]]
    metrics_to_host: Callable[[Any], dict[str, float]]
    num_devices: int
    num_hosts: int
    is_primary: bool


def _last_step_metrics(metrics) -> dict[str, float]:
    host = jax.device_get(metrics)
    return {k: float(np.asarray(v).reshape(-1)[-1]) for k, v in host.items()}


def _single_device_runner(exp) -> Runner:
    step_fn = exp.make_train_step()
    cache: dict[int, Callable] = {}

    def compiled(k: int):
        if k not in cache:
            if exp.toy is not None:
                multi = train.make_sampled_multi_step(step_fn, exp.sample_toy_batch, exp.rows_per_step, k)
                cache[k] = jax.jit(lambda state, batches: multi(state), donate_argnums=0)
            else:
                cache[k] = jax.jit(train.make_multi_step(step_fn), donate_argnums=0)
        return cache[k]

    def run(state, step, k):
        batches = None if exp.toy is not None else exp.host_batches(step, k)
        return compiled(k)(state, batches)

    return Runner(
        put=lambda s: jax.device_put(s),
        get=lambda s: jax.device_get(s),
        run=run,
        metrics_to_host=_last_step_metrics,
        num_devices=1,
        num_hosts=1,
        is_primary=True,
    )


def make_runner(exp, mode: str = "none") -> Runner:
    """Returns the :class:`Runner` for ``mode`` in ``("none", "pmap", "mesh")``."""
    if mode == "none":
        return _single_device_runner(exp)
    raise ValueError(f"parallel mode must be one of none, pmap, mesh; got {mode!r}")
