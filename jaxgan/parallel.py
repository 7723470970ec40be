"""The one module that knows about devices: a pure train step on one device, under ``pmap``, or under jit +
``shard_map`` over a 1-D ``Mesh``, on one host or several, through one object, :class:`DataParallel`.

Data parallelism here is one rule: every device holds the whole state and runs the same pure step
(:func:`jaxgan.train.make_train_step`) on its share of the global batch, built with a
:class:`jaxgan.train.Replicas` that averages gradients, losses and model state with
``lax.pmean(., DATA_AXIS)`` and names the replica with ``lax.axis_index(DATA_AXIS)``. Per-sample keys are
folded from the sample's index in the *global* batch (:func:`jaxgan.train.sample_keys`), so a step is the same
function of (seed, step, global batch) on 1 device or on N, up to float32 round-off in the cross-device sums.

Scripts and the training loop (:mod:`jaxgan.run.runner`) build it with :func:`data_parallel` in one of
:data:`MODES`, each a small layout class (``put`` / ``get`` / ``shard`` / ``compile``) that
:class:`DataParallel` holds without branching on the mode:

* ``"none"``: ``jax.jit`` on one device, no collectives: the plain jit of the step, to the bit.
* ``"pmap"``: ``jax.pmap(step, axis_name=DATA_AXIS)``; state leaves ``[N, ...]``, batches ``[N, rows / N, ...]``.
* ``"mesh"``: ``jax.jit(jax.shard_map(step, mesh, in_specs=(P(), P(DATA_AXIS)), out_specs=P(),
  check_vma=False), donate_argnums=0)``; state replicated global arrays, batches sharded on their rows.

The mode names are defined in :mod:`jaxgan.parallel_modes`, which ``jaxgan train`` reads before it imports JAX.

Why ``check_vma=False``: with shard_map's default checks the state is device-invariant and the batch varies,
so ``jax.grad`` of a per-device loss w.r.t. the params already sums the per-device gradients (the transpose of
the implicit broadcast is a ``psum``), and the step's ``pmean`` would then give N times the mean gradient.
``check_vma=False`` gives pmap semantics (per-device gradients, averaged once by the step);
``tests/test_parallel.py`` compares against one device with plain SGD so a factor N cannot hide behind Adam.

Row layout. A step with ``n_critic = n`` takes ``[n * B, ...]`` real rows and uses rows ``[i B, (i + 1) B)``
for discriminator update ``i``. On N devices each device needs its ``B / N`` rows of *every* update, so
:meth:`DataParallel.shard` reorders the rows (natural order ``(i, device, j)`` to device order
``(device, i, j)``) before splitting. On-device toy data does the same through ``sample_keys(..., groups=n)``.

Multi-host: call :func:`initialize_distributed` first; every process runs the same program and feeds only its
own rows; devices are ordered process by process (as ``jax.pmap`` orders them), so process ``p`` feeds rows
``[p R / P, (p + 1) R / P)`` of the global batch, what :class:`jaxgan.data.pipeline.Batcher` gives it.
:meth:`DataParallel.check` refuses processes that disagree before anything compiles; :meth:`DataParallel.get`
reads this process's first device and never gathers other hosts' shards.

Size: the three modes, the row layout they share and the multi-process checks are one concern, placing a
step on devices, and kept together so that no other module knows devices; hence over 400 lines.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxgan import train
from jaxgan.parallel_modes import MODES

PyTree = Any
DATA_AXIS = train.DATA_AXIS
MakeStep = Callable[..., Callable]  # make_step(replicas=...) -> train_step(state, batch) -> (state, metrics)

# --------------------------------------------------------------------------------------------------------------
# Processes and devices
# --------------------------------------------------------------------------------------------------------------

_distributed = False


def initialize_distributed(coordinator: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None, *, local_device_ids: Sequence[int] | None = None) -> bool:
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
        jax.distributed.initialize(coordinator, int(num_processes), int(process_id), local_device_ids=local_device_ids)
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


def bn_axis_name(c) -> str | None:
    """The axis batch norm averages its statistics over for config ``c``: the data axis in parallel runs with
    ``cross_replica_bn``, else ``None`` (per-device statistics)."""
    return DATA_AXIS if _LAYOUTS[c.parallel] is not _OneDevice and c.cross_replica_bn else None


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
# Placing rows on devices
# --------------------------------------------------------------------------------------------------------------


def _as_numpy(x) -> np.ndarray:
    return np.asarray(jax.device_get(x))


def _local_copy(x) -> np.ndarray:
    """The copy of ``x`` on this process's first device, as host numpy: never a gather of other hosts."""
    return _as_numpy(x.addressable_data(0) if isinstance(x, jax.Array) else x)


def _donated(donate: bool) -> tuple[int, ...]:
    return (0,) if donate else ()


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


# --------------------------------------------------------------------------------------------------------------
# The modes: one layout class each
# --------------------------------------------------------------------------------------------------------------


class _OneDevice:
    """``"none"``: ``jax.jit`` on one device of one process, no collectives."""

    def __init__(self, devices: Sequence[jax.Device]):
        if len(devices) != 1 or jax.process_count() > 1:
            raise ValueError(
                f"parallel mode 'none' runs on one device of one process; got {len(devices)} devices and "
                f"{jax.process_count()} processes (use 'pmap' or 'mesh')"
            )
        self.devices = tuple(devices)
        self.mesh = None
        self.replicas = train.Replicas()

    def put(self, tree: PyTree) -> PyTree:
        return jax.device_put(tree, self.devices[0])

    def get(self, tree: PyTree) -> PyTree:
        return jax.tree.map(_as_numpy, tree)

    def shard(self, batch: PyTree, n_critic: int, stacked: bool) -> PyTree:
        return jax.device_put(batch, self.devices[0])

    def compile(self, fn: Callable, batch_axis: int | None, donate: bool) -> Callable:
        return jax.jit(fn, donate_argnums=_donated(donate))


class _Replicated:
    """What both data-parallel modes share: the devices as a 1-D mesh, replicas that average over DATA_AXIS."""

    def __init__(self, devices: Sequence[jax.Device]):
        self.devices = tuple(devices)
        self.mesh = Mesh(np.array(self.devices), (DATA_AXIS,))
        self.replicas = train.Replicas(
            mean=lambda tree: jax.lax.pmean(tree, DATA_AXIS),
            index=lambda: jax.lax.axis_index(DATA_AXIS),
            count=len(self.devices),
            gather=lambda x: jax.lax.all_gather(x, DATA_AXIS, tiled=True),
        )


class _Pmap(_Replicated):
    """``"pmap"``: every state leaf ``[N, ...]`` (one copy per device), batches ``[N, rows / N, ...]``."""

    def put(self, tree: PyTree) -> PyTree:
        sharding = NamedSharding(self.mesh, P(DATA_AXIS))

        def put(x):
            x = _as_numpy(x)
            return jax.make_array_from_callback((self.mesh.size,) + x.shape, sharding, lambda index: x[None])

        return jax.tree.map(put, tree)

    def get(self, tree: PyTree) -> PyTree:
        return jax.tree.map(lambda x: _local_copy(x)[0], tree)

    def shard(self, batch: PyTree, n_critic: int, stacked: bool) -> PyTree:
        return _place_rows(batch, self.mesh, n_critic, 1 if stacked else 0, split=True)

    def compile(self, fn: Callable, batch_axis: int | None, donate: bool) -> Callable:
        return jax.pmap(fn, axis_name=DATA_AXIS, devices=self.devices, donate_argnums=_donated(donate))


class _Mesh(_Replicated):
    """``"mesh"``: state replicated as global arrays (``P()``), batches sharded on their rows (``P(DATA_AXIS)``).

    ``check_vma=True`` (shard_map's default) is here only for the test that shows why jaxgan does not use it.
    """

    def __init__(self, devices: Sequence[jax.Device], *, check_vma: bool = False):
        super().__init__(devices)
        self.check_vma = check_vma

    def put(self, tree: PyTree) -> PyTree:
        sharding = NamedSharding(self.mesh, P())

        def put(x):
            x = _as_numpy(x)
            return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

        return jax.tree.map(put, tree)

    def get(self, tree: PyTree) -> PyTree:
        return jax.tree.map(_local_copy, tree)

    def shard(self, batch: PyTree, n_critic: int, stacked: bool) -> PyTree:
        return _place_rows(batch, self.mesh, n_critic, 1 if stacked else 0, split=False)

    def compile(self, fn: Callable, batch_axis: int | None, donate: bool) -> Callable:
        batch_specs = () if batch_axis is None else (P(*([None] * batch_axis), DATA_AXIS),)
        mapped = jax.shard_map(
            fn, mesh=self.mesh, in_specs=(P(),) + batch_specs, out_specs=P(), check_vma=self.check_vma
        )
        replicated = NamedSharding(self.mesh, P())
        return jax.jit(
            mapped,
            in_shardings=(replicated,) + tuple(NamedSharding(self.mesh, s) for s in batch_specs),
            out_shardings=replicated,
            donate_argnums=_donated(donate),
        )


_LAYOUTS = dict(zip(MODES, (_OneDevice, _Pmap, _Mesh), strict=True))

# --------------------------------------------------------------------------------------------------------------
# The data-parallel object
# --------------------------------------------------------------------------------------------------------------


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"parallel mode must be one of {', '.join(MODES)}; got {mode!r}")


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
      mode: one of :data:`MODES`.
      devices: the data-parallel devices (one for ``"none"``).
      mesh: the 1-D data mesh (``None`` for ``"none"``).
      replicas: the :class:`jaxgan.train.Replicas` the step was built with.
      train_step: the pure step, ``make_step(replicas=replicas)``.
      n_critic: how the rows of a step are laid out across devices (see the module docstring).
      num_devices, num_hosts, is_primary: what runs, and whether this process writes logs.
    """

    def __init__(self, make_step: MakeStep, mode: str, devices: Sequence[jax.Device], *,
                 n_critic: int | None = None, donate: bool = True):
        _check_mode(mode)
        self._layout = _LAYOUTS[mode](devices)
        self.mode = mode
        self.devices = self._layout.devices
        self.mesh = self._layout.mesh
        self.num_devices = len(self.devices)
        self.num_hosts = jax.process_count()
        self.is_primary = jax.process_index() == 0
        self.replicas = self._layout.replicas
        self.train_step = make_step(replicas=self.replicas)
        step_n_critic = getattr(self.train_step, "n_critic", None)
        if n_critic is not None and step_n_critic is not None and n_critic != step_n_critic:
            raise ValueError(f"n_critic={n_critic} given, but the step was built with n_critic={step_n_critic}")
        self.n_critic = n_critic or step_n_critic or 1
        self._donate = donate
        self._compiled: dict[Any, Callable] = {}

    def check(self, batch_size: int, *, pack: int = 1, **agree: Any) -> None:
        """Refuses a run before anything compiles: the global batch must split over the devices (PacGAN packs
        must not straddle them, see :func:`check_batch_split`), and in a multi-process run every process must
        have the same ``agree`` values, device count and mode (:func:`check_hosts_agree`).

        Args:
          batch_size: rows of one discriminator minibatch over all devices (a step takes ``n_critic`` of them).
          pack: the PacGAN pack size.
          **agree: values every process must share, e.g. ``config=...``, ``rows_per_step=...``.

        Raises:
          ValueError: naming the numbers that do not fit, or what each process has.
        """
        check_batch_split(batch_size, self.num_devices, n_critic=self.n_critic, pack=pack,
                          num_processes=self.num_hosts)
        check_hosts_agree(**agree, local_devices=jax.local_device_count(), mode=self.mode)

    def _cached(self, key, fn: Callable[[], Callable], batch_axis: int | None) -> Callable:
        if key not in self._compiled:
            self._compiled[key] = self._layout.compile(fn(), batch_axis, self._donate)
        return self._compiled[key]

    def put(self, state: PyTree) -> PyTree:
        """Host state -> device state (replicated in the parallel modes)."""
        return self._layout.put(state)

    def get(self, tree: PyTree) -> PyTree:
        """Device state or metrics -> host numpy, one copy, read on this process (never gathers hosts)."""
        return self._layout.get(tree)

    def shard(self, batch: PyTree, *, stacked: bool = False) -> PyTree:
        """This process's rows of a global batch (``[k, rows, ...]`` if ``stacked``) -> device batch.

        Raises:
          ValueError: the rows do not split over the devices (the message states the numbers).
        """
        return self._layout.shard(batch, self.n_critic, stacked)

    def step(self, state: PyTree, batch: PyTree) -> tuple[PyTree, PyTree]:
        """One train step on a :meth:`shard` ed batch; donates ``state``."""
        return self._cached("step", lambda: self.train_step, 0)(state, batch)

    def multi_step(self, state: PyTree, batches: PyTree) -> tuple[PyTree, PyTree]:
        """``k`` scanned steps on ``shard(batches, stacked=True)``; metrics get a leading axis ``k``."""
        return self._cached("multi", lambda: train.make_multi_step(self.train_step), 1)(state, batches)

    def sampled_multi_step(self, sample_fn: Callable, rows_per_step: int, k: int) -> Callable:
        """``k`` scanned steps on data drawn on device: returns compiled ``run(state) -> (state, metrics)``.

        Args:
          sample_fn: ``sample_fn(keys [b, 2]) -> batch``, one row per per-sample key.
          rows_per_step: the global rows of a step (``n_critic * B``); each device draws its share.
          k: steps per call.
        """
        check_batch_split(rows_per_step // self.n_critic, self.num_devices, n_critic=self.n_critic)
        return self._cached(
            ("sampled", sample_fn, rows_per_step, k),
            lambda: train.make_sampled_multi_step(
                self.train_step, sample_fn, rows_per_step // self.num_devices, k, self.replicas, self.n_critic
            ),
            None,
        )


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
    _check_mode(mode)
    single = _LAYOUTS[mode] is _OneDevice
    if single and num_devices not in (None, 1):
        raise ValueError(f"parallel mode 'none' runs on 1 device; got num_devices={num_devices}")
    devices = data_devices(1 if single else num_devices)
    return DataParallel(make_step, mode, devices, n_critic=n_critic, donate=donate)
