"""The one module that knows about devices: the pure train step on one device, under ``pmap``, under jit +
``shard_map`` over a 1-D ``Mesh``, on one host or several.

Data parallelism here is one rule: every device holds the whole state and runs the same pure step
(:func:`jaxgan.train.make_train_step`) on its share of the global batch, built with a
:class:`jaxgan.train.Replicas` that averages gradients, losses and model state with
``lax.pmean(., DATA_AXIS)`` and names the replica with ``lax.axis_index(DATA_AXIS)``. Per-sample keys are
folded from the sample's index in the *global* batch (:func:`jaxgan.train.sample_keys`), so every device draws
different latents and a step is the same function of (seed, step, global batch) on 1 device or on N, up to
float32 round-off in the cross-device sums.

Two ways to run it, one argument apart (:func:`data_parallel`):

* ``"pmap"``: ``jax.pmap(step, axis_name=DATA_AXIS)``; state arrays carry a leading device axis ``[N, ...]``
  (:func:`replicate` / :func:`unreplicate`), batches ``[N, rows / N, ...]`` (:func:`shard_batch`).
* ``"mesh"``: ``jax.jit(jax.shard_map(step, mesh, in_specs=(P(), P(DATA_AXIS)), out_specs=P(),
  check_vma=False), donate_argnums=0)``; the state is one replicated global array per leaf
  (:func:`put_replicated`), a batch one global array sharded on its rows (:func:`put_batch`).

Why ``check_vma=False``: with shard_map's default checks the state is device-invariant and the batch varies,
so ``jax.grad`` of a per-device loss w.r.t. the params already sums the per-device gradients (the transpose of
the implicit broadcast is a ``psum``), and the step's ``pmean`` would then give N times the mean gradient.
``check_vma=False`` gives pmap semantics (per-device gradients, averaged once by the step), which is what
``jax.pmap`` itself uses; ``tests/test_parallel.py`` compares against one device with plain SGD so a factor N
cannot hide behind Adam's scale invariance.

Row layout. A step with ``n_critic = n`` takes ``[n * B, ...]`` real rows and uses rows ``[i B, (i + 1) B)``
for discriminator update ``i``. On N devices each device needs its ``B / N`` rows of *every* update, so the
placement functions reorder the rows (natural order ``(i, device, j)`` to device order ``(device, i, j)``)
before splitting; with ``n = 1`` this is the identity. On-device toy data does the same through
``sample_keys(..., groups=n_critic)``.

Multi-host: call :func:`initialize_distributed` first; every process runs the same program, feeds only its own
rows (``jax.make_array_from_process_local_data``), and the devices are ordered process by process (as
``jax.pmap`` orders them), so process ``p`` feeds rows ``[p R / P, (p + 1) R / P)`` of the global batch,
exactly what :class:`jaxgan.data.pipeline.Batcher` gives it. :func:`check_hosts_agree` refuses processes that
disagree (config, batch size, device count) before anything compiles. Only process 0 is ``primary``; the
fetch helpers (:func:`unreplicate`, :func:`fetch_replicated`) read the copy on this process's first device and
never gather other hosts' shards.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxgan import train

PyTree = Any
DATA_AXIS = train.DATA_AXIS
MODES = ("none", "pmap", "mesh")
MakeStep = Callable[..., Callable]  # make_step(replicas=...) -> train_step(state, batch) -> (state, metrics)

# --------------------------------------------------------------------------------------------------------------
# Processes and devices
# --------------------------------------------------------------------------------------------------------------

_distributed = False


def initialize_distributed(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: Sequence[int] | None = None,
) -> bool:
    """Joins a multi-process run (``jax.distributed.initialize``); call it before any other JAX call.

    Arguments default to the environment: ``JAXGAN_COORDINATOR`` (``host:port`` of process 0, or ``auto`` to
    let JAX detect a Cloud TPU pod slice, SLURM or Open MPI), ``JAXGAN_NUM_PROCESSES``, ``JAXGAN_PROCESS_ID``.
    With neither arguments nor environment this is a single-process run and nothing happens.

    Returns:
      Whether a multi-process run was initialised (``True`` also when this process already was).
    """
    global _distributed
    if _distributed:
        return True
    coordinator = coordinator or os.environ.get("JAXGAN_COORDINATOR")
    if coordinator is None:
        return False
    if coordinator == "auto":
        jax.distributed.initialize(local_device_ids=local_device_ids)
    else:
        num_processes = num_processes if num_processes is not None else os.environ.get("JAXGAN_NUM_PROCESSES")
        process_id = process_id if process_id is not None else os.environ.get("JAXGAN_PROCESS_ID")
        if num_processes is None or process_id is None:
            raise ValueError(
                f"a multi-process run with coordinator {coordinator!r} needs num_processes and process_id "
                f"(or JAXGAN_NUM_PROCESSES / JAXGAN_PROCESS_ID); got {num_processes!r} and {process_id!r}"
            )
        jax.distributed.initialize(
            coordinator, int(num_processes), int(process_id), local_device_ids=local_device_ids
        )
    _distributed = True
    return True


def data_devices(num_devices: int | None = None) -> list[jax.Device]:
    """The data-parallel devices, process by process (the order ``jax.pmap`` and the row layout assume).

    Args:
      num_devices: use the first ``num_devices`` (single process only); default all devices.
    """
    devices = [d for p in range(jax.process_count()) for d in jax.local_devices(process_index=p)]
    if num_devices is None:
        return devices
    if jax.process_count() > 1 and num_devices != len(devices):
        raise ValueError(f"a multi-process run uses all {len(devices)} devices; got num_devices={num_devices}")
    if not 1 <= num_devices <= len(devices):
        raise ValueError(f"num_devices must be in [1, {len(devices)}] (the devices present); got {num_devices}")
    return devices[:num_devices]


def data_mesh(num_devices: int | None = None) -> Mesh:
    """A 1-D ``Mesh`` over :func:`data_devices` with the axis name :data:`DATA_AXIS`."""
    return Mesh(np.array(data_devices(num_devices)), (DATA_AXIS,))


def bn_axis_name(c) -> str | None:
    """The axis batch norm averages its statistics over for config ``c``: the data axis in parallel runs with
    ``cross_replica_bn``, else ``None`` (per-device statistics)."""
    return DATA_AXIS if c.parallel != "none" and c.cross_replica_bn else None


def make_replicas(num_devices: int) -> train.Replicas:
    """The :class:`jaxgan.train.Replicas` of a step that runs on ``num_devices`` data-parallel devices."""
    return train.Replicas(
        mean=lambda tree: jax.lax.pmean(tree, DATA_AXIS),
        index=lambda: jax.lax.axis_index(DATA_AXIS),
        count=num_devices,
        gather=lambda x: jax.lax.all_gather(x, DATA_AXIS, tiled=True),
    )


# --------------------------------------------------------------------------------------------------------------
# Checks that run before anything compiles
# --------------------------------------------------------------------------------------------------------------


def check_batch_split(batch_size: int, num_devices: int, *, n_critic: int = 1, pack: int = 1,
                      num_processes: int = 1) -> None:
    """Refuses a global batch that does not split evenly; the message states the numbers.

    Args:
      batch_size: rows of one discriminator minibatch over all devices (``B``; a step takes ``n_critic * B``).
      num_devices: data-parallel devices ``N``; each gets ``B / N`` rows of every minibatch.
      n_critic: discriminator minibatches per step.
      pack: PacGAN pack size; packs never straddle devices, so ``B / N`` must divide by it.
      num_processes: hosts ``P``; each feeds ``n_critic * B / P`` rows.
    """
    if batch_size % num_devices:
        per_step = f" ({n_critic} x {batch_size} = {n_critic * batch_size} rows per step)" if n_critic > 1 else ""
        raise ValueError(
            f"the global batch of {batch_size} rows{per_step} does not split over {num_devices} devices "
            f"({batch_size} % {num_devices} = {batch_size % num_devices}); use a batch size divisible by "
            f"{num_devices}"
        )
    per_device = batch_size // num_devices
    if per_device % pack:
        raise ValueError(
            f"with {num_devices} devices each gets {per_device} rows of the {batch_size}-row batch, which do not "
            f"split into packs of {pack} ({per_device} % {pack} = {per_device % pack})"
        )
    if (n_critic * batch_size) % num_processes:
        raise ValueError(
            f"the {n_critic * batch_size} rows of a step do not split over {num_processes} processes"
        )


def _stable_hash(value: Any) -> int:
    text = json.dumps(value, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFF_FFFF


def check_hosts_agree(**values: Any) -> None:
    """Refuses processes that disagree, before anything compiles: each value (an int, or anything JSON-able,
    compared by hash) must be the same on every process. A no-op in a single-process run.

    Raises:
      ValueError: naming each differing value and what every process has.
    """
    if jax.process_count() == 1 or not values:
        return
    from jax.experimental import multihost_utils

    names = sorted(values)
    mine = [v if isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**31 else _stable_hash(v)
            for v in (values[k] for k in names)]
    every = np.asarray(multihost_utils.process_allgather(np.asarray(mine, np.int32)))  # [processes, values]
    bad = [
        f"{name}: " + ", ".join(f"process {p} has {int(every[p, i])}" for p in range(every.shape[0]))
        for i, name in enumerate(names)
        if np.any(every[:, i] != every[0, i])
    ]
    if bad:
        raise ValueError("the processes of this run disagree (hashes for non-integers): " + "; ".join(bad))


# --------------------------------------------------------------------------------------------------------------
# Placing state and batches, fetching them back
# --------------------------------------------------------------------------------------------------------------


def _as_numpy(x) -> np.ndarray:
    return np.asarray(jax.device_get(x))


def put_replicated(tree: PyTree, mesh: Mesh) -> PyTree:
    """Host (or single-device) pytree -> global arrays replicated on every device of ``mesh`` (``P()``)."""
    sharding = NamedSharding(mesh, P())

    def put(x):
        x = _as_numpy(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(put, tree)


def replicate(tree: PyTree, devices: Sequence[jax.Device] | None = None) -> PyTree:
    """Host pytree -> the ``jax.pmap`` layout: every leaf ``[N, ...]``, one copy per device."""
    mesh = Mesh(np.array(devices if devices is not None else data_devices()), (DATA_AXIS,))
    sharding = NamedSharding(mesh, P(DATA_AXIS))

    def put(x):
        x = _as_numpy(x)
        return jax.make_array_from_callback((mesh.size,) + x.shape, sharding, lambda index: x[None])

    return jax.tree.map(put, tree)


def fetch_replicated(tree: PyTree) -> PyTree:
    """Replicated arrays (mesh mode) -> host numpy, from this process's first device: no gather."""
    return jax.tree.map(lambda x: _as_numpy(x.addressable_data(0) if isinstance(x, jax.Array) else x), tree)


def unreplicate(tree: PyTree) -> PyTree:
    """``[N, ...]`` pmap-layout arrays -> host numpy of replica 0 on this process (no gather of other hosts)."""

    def get(x):
        if isinstance(x, jax.Array):
            return _as_numpy(x.addressable_data(0))[0]
        return np.asarray(x)[0]

    return jax.tree.map(get, tree)


def _device_order(x, n_critic: int, num_devices: int, axis: int):
    """Natural row order ``(i, device, j)`` -> device order ``(device, i, j)`` along ``axis`` (see module doc)."""
    if n_critic == 1 or num_devices == 1:
        return x
    shape = x.shape
    b = shape[axis] // (n_critic * num_devices)
    y = x.reshape(shape[:axis] + (n_critic, num_devices, b) + shape[axis + 1:])
    return y.swapaxes(axis, axis + 1).reshape(shape)


def _split_devices(x, num_devices: int, axis: int):
    """``[..., N * r, ...]`` (rows on ``axis``) -> ``[N, ..., r, ...]``."""
    shape = x.shape
    y = x.reshape(shape[:axis] + (num_devices, shape[axis] // num_devices) + shape[axis + 1:])
    return jax.numpy.moveaxis(y, axis, 0)


@functools.lru_cache(maxsize=64)
def _relayout(mesh: Mesh, n_critic: int, axis: int, split: bool):
    spec = P(DATA_AXIS) if split else P(*([None] * axis), DATA_AXIS)

    def leaf(x):
        x = _device_order(x, n_critic, mesh.size, axis)
        return _split_devices(x, mesh.size, axis) if split else x

    return jax.jit(lambda tree: jax.tree.map(leaf, tree), out_shardings=NamedSharding(mesh, spec))


def _place_rows(batch: PyTree, mesh: Mesh, n_critic: int, axis: int, split: bool) -> PyTree:
    """This process's natural rows -> global arrays in device order (``split``: with a leading device axis)."""
    leaves = jax.tree.leaves(batch)
    if not leaves:
        raise ValueError("an empty batch")
    local_rows = {np.shape(x)[axis] for x in leaves}
    if len(local_rows) != 1:
        raise ValueError(f"batch entries must share their row dimension (axis {axis}); got {sorted(local_rows)}")
    rows = local_rows.pop() * jax.process_count()
    n, procs = mesh.size, jax.process_count()
    if rows % n_critic:
        raise ValueError(f"a step's {rows} rows do not split into n_critic={n_critic} minibatches")
    check_batch_split(rows // n_critic, n, n_critic=n_critic, num_processes=procs)
    spec = P(*([None] * axis), DATA_AXIS)
    natural = jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(NamedSharding(mesh, spec), np.asarray(x)), batch
    )
    if n_critic == 1 and not split:
        return natural
    return _relayout(mesh, n_critic, axis, split)(natural)


def put_batch(batch: PyTree, mesh: Mesh, *, n_critic: int = 1, stacked: bool = False) -> PyTree:
    """This process's rows of a global batch -> global arrays sharded on the rows over ``mesh`` (mesh mode).

    Args:
      batch: ``{"x": [rows, ...], ...}`` (``[k, rows, ...]`` if ``stacked``): the whole global batch in a
        single-process run, this process's contiguous share of it otherwise (as ``Batcher`` gives it).
      mesh: from :func:`data_mesh`.
      n_critic: the step's ``n_critic``; rows are reordered so each device gets its share of every minibatch.
      stacked: the batches of ``k`` steps for a scanned multi-step call.

    Raises:
      ValueError: the rows do not split over the devices (the message states the numbers).
    """
    return _place_rows(batch, mesh, n_critic, 1 if stacked else 0, split=False)


def shard_batch(batch: PyTree, devices: Sequence[jax.Device] | None = None, *, n_critic: int = 1,
                stacked: bool = False) -> PyTree:
    """This process's rows of a global batch -> the ``jax.pmap`` layout ``[N, rows / N, ...]``
    (``[N, k, rows / N, ...]`` if ``stacked``). Arguments as for :func:`put_batch`."""
    mesh = Mesh(np.array(devices if devices is not None else data_devices()), (DATA_AXIS,))
    return _place_rows(batch, mesh, n_critic, 1 if stacked else 0, split=True)


# --------------------------------------------------------------------------------------------------------------
# Compiled steps
# --------------------------------------------------------------------------------------------------------------


def _pmapped(fn: Callable, devices: Sequence[jax.Device], donate: bool) -> Callable:
    return jax.pmap(fn, axis_name=DATA_AXIS, devices=tuple(devices), donate_argnums=(0,) if donate else ())


def _mesh_jitted(fn: Callable, mesh: Mesh, batch_specs: tuple, donate: bool, check_vma: bool = False):
    mapped = jax.shard_map(
        fn, mesh=mesh, in_specs=(P(),) + batch_specs, out_specs=P(), check_vma=check_vma
    )
    replicated = NamedSharding(mesh, P())
    return jax.jit(
        mapped,
        in_shardings=(replicated,) + tuple(NamedSharding(mesh, s) for s in batch_specs),
        out_shardings=replicated,
        donate_argnums=(0,) if donate else (),
    )


def make_pmap_train_step(make_step: MakeStep, devices: Sequence[jax.Device] | None = None, *,
                         donate: bool = True) -> Callable:
    """``p_train_step(state, batch)`` on ``[N, ...]`` replicated state and :func:`shard_batch` batches.

    Args:
      make_step: ``make_step(replicas=...) -> train_step``, e.g.
        ``functools.partial(jaxgan.train.make_train_step, g, d, loss, g_opt, d_opt, latent_dim=2)``.
      devices: default :func:`data_devices`.
      donate: donate the input state's buffers.
    """
    devices = tuple(devices if devices is not None else data_devices())
    return _pmapped(make_step(replicas=make_replicas(len(devices))), devices, donate)


def make_mesh_train_step(make_step: MakeStep, mesh: Mesh | None = None, *, donate: bool = True) -> Callable:
    """``train_step(state, batch)`` compiled with jit + ``shard_map`` over a 1-D data mesh.

    The state is replicated (:func:`put_replicated`), the batch sharded on its rows (:func:`put_batch`); the
    returned state and metrics are replicated global arrays. Arguments as for :func:`make_pmap_train_step`.
    """
    mesh = mesh if mesh is not None else data_mesh()
    return _mesh_jitted(make_step(replicas=make_replicas(mesh.size)), mesh, (P(DATA_AXIS),), donate)


class DataParallel:
    """A pure train step placed on devices: one object whose methods are the same in every mode.

    Build it with :func:`data_parallel`. A single-device script becomes a data-parallel one by changing the
    ``mode`` argument only::

        dp = parallel.data_parallel(make_step, mode)          # "none", "pmap" or "mesh"
        state = dp.put(host_state)
        for t in range(num_steps):
            state, metrics = dp.step(state, dp.shard(real_batch(t)))
        host_state, last = dp.get(state), dp.get(metrics)

    Attributes:
      mode: ``"none"``, ``"pmap"`` or ``"mesh"``.
      devices: the data-parallel devices (``[jax.devices()[0]]`` for ``"none"``).
      mesh: the 1-D data mesh (``None`` for ``"none"``).
      n_critic: how the rows of a step are laid out across devices (see the module docstring).
      num_devices, num_hosts, is_primary: what runs, and whether this process writes logs.
    """

    def __init__(self, make_step: MakeStep, mode: str, devices: Sequence[jax.Device], *,
                 n_critic: int | None = None, donate: bool = True):
        if mode not in MODES:
            raise ValueError(f"parallel mode must be one of {', '.join(MODES)}; got {mode!r}")
        if mode == "none" and (len(devices) != 1 or jax.process_count() > 1):
            raise ValueError(
                f"parallel mode 'none' runs on one device of one process; got {len(devices)} devices and "
                f"{jax.process_count()} processes (use 'pmap' or 'mesh')"
            )
        self.mode = mode
        self.devices = tuple(devices)
        self.num_devices = len(self.devices)
        self.num_hosts = jax.process_count()
        self.is_primary = jax.process_index() == 0
        self.mesh = None if mode == "none" else Mesh(np.array(self.devices), (DATA_AXIS,))
        self.replicas = train.Replicas() if mode == "none" else make_replicas(self.num_devices)
        self.train_step = make_step(replicas=self.replicas)
        step_n_critic = getattr(self.train_step, "n_critic", None)
        if n_critic is not None and step_n_critic is not None and n_critic != step_n_critic:
            raise ValueError(f"n_critic={n_critic} given, but the step was built with n_critic={step_n_critic}")
        self.n_critic = n_critic or step_n_critic or 1
        self._donate = donate
        self._compiled: dict[Any, Callable] = {}

    def _compile(self, fn: Callable, batch_axis: int | None) -> Callable:
        if self.mode == "none":
            return jax.jit(fn, donate_argnums=(0,) if self._donate else ())
        if self.mode == "pmap":
            return _pmapped(fn, self.devices, self._donate)
        specs = () if batch_axis is None else (P(*([None] * batch_axis), DATA_AXIS),)
        return _mesh_jitted(fn, self.mesh, specs, self._donate)

    def _cached(self, key, build: Callable[[], Callable]) -> Callable:
        if key not in self._compiled:
            self._compiled[key] = build()
        return self._compiled[key]

    def put(self, state: PyTree) -> PyTree:
        """Host state -> device state (replicated in the parallel modes)."""
        if self.mode == "none":
            return jax.device_put(state, self.devices[0])
        if self.mode == "pmap":
            return replicate(state, self.devices)
        return put_replicated(state, self.mesh)

    def get(self, tree: PyTree) -> PyTree:
        """Device state or metrics -> host numpy, one copy, read on this process (never gathers hosts)."""
        if self.mode == "none":
            return jax.tree.map(_as_numpy, tree)
        if self.mode == "pmap":
            return unreplicate(tree)
        return fetch_replicated(tree)

    def shard(self, batch: PyTree, *, stacked: bool = False) -> PyTree:
        """This process's rows of a global batch (``[k, rows, ...]`` if ``stacked``) -> device batch."""
        if self.mode == "none":
            return jax.device_put(batch, self.devices[0])
        if self.mode == "pmap":
            return _place_rows(batch, self.mesh, self.n_critic, 1 if stacked else 0, split=True)
        return put_batch(batch, self.mesh, n_critic=self.n_critic, stacked=stacked)

    def step(self, state: PyTree, batch: PyTree) -> tuple[PyTree, PyTree]:
        """One train step on a :meth:`shard` ed batch; donates ``state``."""
        return self._cached("step", lambda: self._compile(self.train_step, 0))(state, batch)

    def multi_step(self, state: PyTree, batches: PyTree) -> tuple[PyTree, PyTree]:
        """``k`` scanned steps on ``shard(batches, stacked=True)``; metrics get a leading axis ``k``."""
        return self._cached("multi", lambda: self._compile(train.make_multi_step(self.train_step), 1))(
            state, batches
        )

    def sampled_multi_step(self, sample_fn: Callable, rows_per_step: int, k: int) -> Callable:
        """``k`` scanned steps on data drawn on device: returns compiled ``run(state) -> (state, metrics)``.

        Args:
          sample_fn: ``sample_fn(keys [b, 2]) -> batch``, one row per per-sample key.
          rows_per_step: the global rows of a step (``n_critic * B``); each device draws its share.
          k: steps per call.
        """
        check_batch_split(rows_per_step // self.n_critic, self.num_devices, n_critic=self.n_critic)

        def build():
            fn = train.make_sampled_multi_step(
                self.train_step, sample_fn, rows_per_step // self.num_devices, k, self.replicas, self.n_critic
            )
            return self._compile(fn, None)

        return self._cached(("sampled", sample_fn, rows_per_step, k), build)


def data_parallel(make_step: MakeStep, mode: str = "mesh", *, num_devices: int | None = None,
                  n_critic: int | None = None, donate: bool = True) -> DataParallel:
    """The one-argument switch from one device to many (see :class:`DataParallel`).

    Args:
      make_step: ``make_step(replicas=...) -> train_step``; for cross-replica batch norm build the networks
        with ``bn_axis_name=jaxgan.train.DATA_AXIS`` in the parallel modes.
      mode: ``"none"`` (``jax.jit`` on one device), ``"pmap"`` or ``"mesh"``.
      num_devices: data-parallel devices (default all; always 1 for ``"none"``).
      n_critic: override the row layout (default: the ``n_critic`` the step was built with).
      donate: donate the state's buffers to each call.
    """
    if mode not in MODES:
        raise ValueError(f"parallel mode must be one of {', '.join(MODES)}; got {mode!r}")
    if mode == "none" and num_devices not in (None, 1):
        raise ValueError(f"parallel mode 'none' runs on 1 device; got num_devices={num_devices}")
    devices = data_devices(1 if mode == "none" else num_devices)
    return DataParallel(make_step, mode, devices, n_critic=n_critic, donate=donate)


# --------------------------------------------------------------------------------------------------------------
# The CLI's runner
# --------------------------------------------------------------------------------------------------------------


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
    """Returns the :class:`Runner` of a built :class:`jaxgan.experiment.Experiment` for ``mode`` in
    ``("none", "pmap", "mesh")``.

    Every check runs here, before anything compiles: the batch must split over the devices (and PacGAN packs
    must not straddle them), and in a multi-process run every process must have the same config, batch rows
    and device count.

    Raises:
      ValueError: naming the numbers that do not fit.
    """
    if mode not in MODES:
        raise ValueError(f"parallel mode must be one of {', '.join(MODES)}; got {mode!r}")
    c = exp.config
    devices = data_devices(1 if mode == "none" else None)
    check_batch_split(c.batch_size, len(devices), n_critic=c.n_critic, pack=c.pack,
                      num_processes=jax.process_count())
    from jaxgan.config import to_dict

    check_hosts_agree(
        config=to_dict(c), rows_per_step=exp.rows_per_step, local_devices=jax.local_device_count(),
        mode=mode,
    )
    dp = DataParallel(exp.make_train_step, mode, devices, n_critic=c.n_critic)

    def run(state, step, k):
        return exp.task.run(dp, state, step, k)  # the task knows its data: on-device toy draws, host batches

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
