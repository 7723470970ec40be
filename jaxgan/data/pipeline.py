"""Shuffled batches as a pure function of (seed, step), for exact resumption and multi-process training.

:class:`Batcher` holds in-memory arrays (e.g. ``ImageDataset.arrays()``:
``{"x": [N, H, W, C], "label": [N]}``) and returns, for a step ``t``, this process's batch
``{"x": [B / P, H, W, C], "label": [B / P]}``. Nothing is iterated or mutated: ``batch(t)`` depends only
on ``(seed, t)`` and the constructor's arguments, so

* resuming needs only the step: a restarted run that builds the same ``Batcher`` and asks for
  ``batch(state.step)`` continues exactly where the checkpoint left off (``position(step)`` is a small dict
  to store beside a checkpoint for logs and for :meth:`Batcher.restore` to check it against the
  configuration; the step is the whole state);
* the global batch of step ``t`` is the same whatever the process count ``P``: process ``p`` receives rows
  ``[p B / P, (p + 1) B / P)`` of it (``B`` must be divisible by ``P``), so a run can resume on a different
  number of hosts and still see the same data.

Shuffling. Epoch ``e`` uses the permutation ``np.random.default_rng([seed, e]).permutation(N)`` of the ``N``
examples; each epoch's order is independent of the others and is computed (and cached) on demand.

Epochs and batches, chosen by ``drop_remainder``:

* ``True`` (default): every epoch yields ``N // B`` batches; step ``t`` is batch ``t % (N // B)`` of epoch
  ``t // (N // B)``, and the ``N % B`` examples at the end of each epoch's permutation (different ones each
  epoch) are not used in that epoch.
* ``False``: no example is dropped; the permutations of epochs 0, 1, 2, ... are concatenated into one
  stream and step ``t`` takes its rows ``[t B, (t + 1) B)``, so a batch may cross an epoch boundary (its
  epoch, as reported by :meth:`Batcher.epoch`, is ``(t B) // N``). Batches never shrink: every batch has the
  same shape, which jit and device sharding need.

Why not grain. grain (PyPI ``grain``) offers checkpointable iterators, index sampling sharded by process
and multiprocess prefetch over random-access record files. For datasets that fit in memory the only state
those iterators checkpoint is the position, which here is the step already held in the train state, and a
batch is one numpy gather (microseconds for GAN batch sizes), so grain would add a dependency without adding a
capability. It becomes worthwhile when data outgrows memory (ArrayRecord files, per-example decoding or
augmentation in worker processes); its ``MapDataset`` with a seeded ``IndexSampler`` keeps the same
(seed, step) contract.

Batches are host numpy arrays; placing them on devices is :mod:`jaxgan.parallel`'s job.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

_PERMUTATION_CACHE_SIZE = 4


def _non_negative_int(value: Any, what: str) -> int:
    try:
        out = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an int, got {type(value).__name__} {value!r}") from None
    if out < 0:
        raise ValueError(f"{what} must be >= 0, got {out}")
    return out


class Batcher:
    """Shuffled, process-sharded batches of in-memory arrays as a pure function of (seed, step).

    See the module docstring for the epoch layout and the resumption contract.

    Args:
      dataset_arrays: arrays sharing the leading dimension ``N`` (e.g. ``{"x": [N, H, W, C], "label": [N]}``);
        batches carry the same keys. Held by reference, not copied.
      batch_size: the global batch size ``B`` (over all processes).
      seed: a non-negative int; epoch ``e``'s permutation comes from ``np.random.default_rng([seed, e])``.
      drop_remainder: ``True``: ``N // B`` batches per epoch; ``False``: batches run across epoch boundaries.
      process_index: this process ``p`` in ``[0, P)`` (``jax.process_index()``).
      process_count: the number of processes ``P`` (``jax.process_count()``); must divide ``B``.
    """

    def __init__(
        self,
        dataset_arrays: Mapping[str, np.ndarray],
        batch_size: int,
        seed: int,
        *,
        drop_remainder: bool = True,
        process_index: int = 0,
        process_count: int = 1,
    ):
        if not dataset_arrays:
            raise ValueError("Batcher needs at least one array, got an empty dict")
        arrays = {key: np.asarray(value) for key, value in dataset_arrays.items()}
        lengths = {key: (value.shape[0] if value.ndim else None) for key, value in arrays.items()}
        if len(set(lengths.values())) != 1 or None in lengths.values():
            raise ValueError(f"Batcher arrays must share a leading dimension, got lengths {lengths}")
        num_examples = next(iter(lengths.values()))
        if num_examples == 0:
            raise ValueError("Batcher arrays are empty (0 examples)")
        batch_size = _non_negative_int(batch_size, "batch_size")
        if batch_size == 0:
            raise ValueError("batch_size must be positive, got 0")
        process_count = _non_negative_int(process_count, "process_count")
        process_index = _non_negative_int(process_index, "process_index")
        if process_count == 0 or process_index >= process_count:
            raise ValueError(
                f"need 0 <= process_index < process_count, got {process_index} and {process_count}"
            )
        if batch_size % process_count:
            raise ValueError(
                f"batch_size {batch_size} is not divisible by process_count {process_count} "
                f"({batch_size} % {process_count} = {batch_size % process_count})"
            )
        if drop_remainder and batch_size > num_examples:
            raise ValueError(
                f"batch_size {batch_size} exceeds the {num_examples} examples, so drop_remainder=True leaves "
                "no batch per epoch; use a smaller batch or drop_remainder=False"
            )
        self._arrays = arrays
        self.num_examples = num_examples
        self.batch_size = batch_size
        self.seed = _non_negative_int(seed, "seed")
        self.drop_remainder = bool(drop_remainder)
        self.process_index = process_index
        self.process_count = process_count
        self.local_batch_size = batch_size // process_count
        self._permutations: dict[int, np.ndarray] = {}

    @property
    def steps_per_epoch(self) -> int | float:
        """``N // B`` with ``drop_remainder=True``; ``N / B`` (possibly fractional) otherwise."""
        if self.drop_remainder:
            return self.num_examples // self.batch_size
        return self.num_examples / self.batch_size

    def epoch(self, step: int) -> int:
        """The epoch of ``step``'s batch (of its first row when a batch crosses an epoch boundary)."""
        step = _non_negative_int(step, "step")
        if self.drop_remainder:
            return step // (self.num_examples // self.batch_size)
        return step * self.batch_size // self.num_examples

    def permutation(self, epoch: int) -> np.ndarray:
        """The order of the ``N`` examples in ``epoch``: int64 ``[N]``, a permutation of ``0..N-1``."""
        epoch = _non_negative_int(epoch, "epoch")
        perm = self._permutations.get(epoch)
        if perm is None:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.num_examples)
            perm.flags.writeable = False
            if len(self._permutations) >= _PERMUTATION_CACHE_SIZE:
                self._permutations.pop(next(iter(self._permutations)))
            self._permutations[epoch] = perm
        return perm

    def _indices(self, step: int, start: int, count: int) -> np.ndarray:
        """Example indices of rows ``[start, start + count)`` of ``step``'s global batch."""
        step = _non_negative_int(step, "step")
        n, b = self.num_examples, self.batch_size
        if self.drop_remainder:
            epoch, index = divmod(step, n // b)
            return self.permutation(epoch)[index * b + start : index * b + start + count].copy()
        rows = step * b + start + np.arange(count, dtype=np.int64)
        epochs, offsets = np.divmod(rows, n)
        out = np.empty(count, np.int64)
        for epoch in np.unique(epochs):
            mask = epochs == epoch
            out[mask] = self.permutation(int(epoch))[offsets[mask]]
        return out

    def global_indices(self, step: int) -> np.ndarray:
        """Example indices int64 ``[B]`` of the global batch of ``step`` (the same for every process)."""
        return self._indices(step, 0, self.batch_size)

    def indices(self, step: int) -> np.ndarray:
        """Example indices int64 ``[B / P]`` of this process's share of ``step``'s batch."""
        return self._indices(step, self.process_index * self.local_batch_size, self.local_batch_size)

    def batch(self, step: int) -> dict[str, np.ndarray]:
        """This process's rows of the global batch of ``step``: each array ``[B / P, ...]``, a new copy."""
        idx = self.indices(step)
        return {key: value[idx] for key, value in self._arrays.items()}

    def stacked(self, step: int, k: int) -> dict[str, np.ndarray]:
        """Batches ``step, ..., step + k - 1`` stacked: each array ``[k, B / P, ...]``.

        For a train call that scans ``k`` steps; ``stacked(t, k)[key][i]`` equals ``batch(t + i)[key]``.
        """
        step = _non_negative_int(step, "step")
        k = _non_negative_int(k, "k")
        if k == 0:
            raise ValueError("stacked needs k >= 1, got 0")
        idx = np.stack([self.indices(step + i) for i in range(k)])
        return {key: value[idx] for key, value in self._arrays.items()}

    def position(self, step: int) -> dict[str, int]:
        """A checkpointable description of the data position before ``step``.

        Only ``"step"`` is state; the rest (``epoch``, ``seed``, ``num_examples``, ``batch_size``,
        ``drop_remainder``) lets :meth:`restore` check that a resumed run uses the same data order. The
        process index and count are not included: the global batch does not depend on them.
        """
        step = _non_negative_int(step, "step")
        return {
            "step": step,
            "epoch": self.epoch(step),
            "seed": self.seed,
            "num_examples": self.num_examples,
            "batch_size": self.batch_size,
            "drop_remainder": int(self.drop_remainder),
        }

    def restore(self, position: Mapping[str, Any]) -> int:
        """Checks a :meth:`position` dict against this batcher and returns its step (the next batch to read).

        Raises:
          ValueError: if ``seed``, ``num_examples``, ``batch_size`` or ``drop_remainder`` differ, naming them
            (the resumed run would see a different data order).
        """
        if "step" not in position:
            raise ValueError(f"position has no 'step': {dict(position)}")
        mine = self.position(0)
        mismatched = {
            key: (int(position[key]), mine[key])
            for key in ("seed", "num_examples", "batch_size", "drop_remainder")
            if key in position and int(position[key]) != mine[key]
        }
        if mismatched:
            detail = ", ".join(
                f"{key} saved {saved} != now {now}" for key, (saved, now) in mismatched.items()
            )
            raise ValueError(f"cannot resume this data order: {detail}")
        return _non_negative_int(int(position["step"]), "step")
