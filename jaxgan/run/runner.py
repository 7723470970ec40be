"""The training loop's runner: a built experiment's steps on the devices its config asks for.

:func:`make_runner` joins a built :class:`jaxgan.run.pieces.Experiment` (its pure step, its config) and its
task (which knows the data: toy draws on the device, host batches) with a :class:`jaxgan.parallel.DataParallel`
(which knows the devices), so that the loop (:mod:`jaxgan.run.loop`) asks neither what the data is nor where it
runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from jaxgan import parallel
from jaxgan.run.config import to_dict


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


def make_runner(exp, mode: str = "none") -> Runner:
    """Returns the :class:`Runner` of a built :class:`jaxgan.run.pieces.Experiment` for ``mode``, one of
    :data:`jaxgan.parallel.MODES`.

    Every check runs here, before anything compiles: the batch must split over the devices (and PacGAN packs
    must not straddle them), and in a multi-process run every process must have the same config, batch rows
    and device count.

    Raises:
      ValueError: naming the numbers that do not fit.
    """
    c = exp.config
    dp = parallel.data_parallel(exp.make_train_step, mode, n_critic=c.n_critic)
    dp.check(c.batch_size, pack=c.pack, config=to_dict(c), rows_per_step=exp.rows_per_step)

    def run(state, step, k):
        return exp.task.run(dp, state, step, k)  # the task knows its data: on-device toy draws, host batches

    if exp.schedule is not None:  # a growing run: one step (compiled on first use) per phase
        phases = [dp] + [
            parallel.data_parallel(functools.partial(exp.make_train_step, phase=p.index), mode, n_critic=c.n_critic)
            for p in exp.schedule.phases[1:]
        ]

        def run_growing(state, step, k):  # k steps, split at phase ends
            metrics = None
            while k > 0:
                phase = exp.schedule.phase(step)
                n = min(k, phase.end - step)
                state, metrics = exp.task.run(phases[phase.index], state, step, n)
                step, k = step + n, k - n
            return state, metrics

        run = run_growing

    def metrics_to_host(metrics) -> dict[str, float]:
        return {name: float(np.asarray(v).reshape(-1)[-1]) for name, v in dp.get(metrics).items()}

    return Runner(
        put=dp.put,
        get=dp.get,
        run=run,
        metrics_to_host=metrics_to_host,
        num_devices=dp.num_devices,
        num_hosts=dp.num_hosts,
        is_primary=dp.is_primary,
    )
