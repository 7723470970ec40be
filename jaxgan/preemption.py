"""Stopping a run early and cleanly: SIGTERM / SIGINT, and every process agreeing on the chunk to stop after.

A preempted VM gets SIGTERM; a user presses Ctrl-C. Neither should lose work: the training loop finishes its
current chunk, writes and commits a checkpoint of it, and returns normally. Three pieces:

* :func:`recorded_signals`: the command line's first handler, installed before the heavy imports, which only
  records signals (this module imports JAX only inside the functions that need it, so importing it is cheap);
* :class:`StopRequest`: the training loop's handler, which takes the recorded signals over; a second Ctrl-C
  stops at once (``KeyboardInterrupt``);
* :func:`should_stop`: after each chunk, whether every process stops now. One process: when it was signalled.
  Several: when any process was signalled or orbax's preemption sync point is reached (JAX's coordination
  service saw SIGTERM on any host, through the notifier that ``jax.distributed.initialize`` installs;
  :meth:`jaxgan.checkpoint.Checkpointer.reached_preemption`), so every process stops after the same chunk.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jaxgan.checkpoint import Checkpointer

SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def recorded_signals() -> Iterator[list[int]]:
    """Records SIGTERM / SIGINT in the list it yields until the training loop takes them over (hand the list
    to :class:`StopRequest`); the previous handlers are put back on exit. Outside the main thread signals stay
    with whoever owns them and nothing is recorded."""
    pending: list[int] = []

    def record(signum, frame):
        pending.append(signum)

    try:
        old = {sig: signal.signal(sig, record) for sig in SIGNALS}
    except ValueError:  # not the main thread
        old = {}
    try:
        yield pending
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


class StopRequest:
    """Turns SIGTERM / SIGINT into a flag the loop checks between chunks.

    In a multi-process run SIGTERM is left to whoever holds it: JAX's preemption notifier, which
    ``jax.distributed.initialize`` installs, tells every process through orbax's preemption sync point
    (:func:`should_stop`); SIGINT is still caught here and shared with the other processes after each chunk.

    Args:
      pending: a list shared with an earlier handler (:func:`recorded_signals`): signals in it count as
        received, and this handler appends to it too, so no signal is lost in the hand-over.
    """

    def __init__(self, pending: list[int] | None = None):
        self._pending = pending if pending is not None else []
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        import jax

        for sig in SIGNALS:
            if sig == signal.SIGTERM and jax.process_count() > 1:
                continue  # JAX's preemption notifier holds it
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: signals stay with whoever owns them
                pass
        return self

    def _handle(self, signum, frame):
        if self._pending and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self._pending.append(signum)

    @property
    def signal(self) -> int | None:
        """The first signal received, or ``None``."""
        return self._pending[0] if self._pending else None

    @property
    def name(self) -> str | None:
        """The first signal's name (``"SIGTERM"``), or ``None``."""
        return None if self.signal is None else signal.Signals(self.signal).name

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        return False


def should_stop(checkpointer: Checkpointer, chunk: int, signalled: bool) -> bool:
    """Whether every process should stop after this chunk (call it after each chunk, on every process).

    Args:
      checkpointer: the run's checkpointer, whose orbax manager holds the preemption sync point.
      chunk: the number of chunks this process has run (0, 1, 2, ...): the same sequence on every process,
        as orbax's preemption sync point needs consecutive ids.
      signalled: whether this process caught SIGTERM / SIGINT.

    Returns:
      One process: ``signalled``. Several: ``True`` on all of them once the preemption sync point is reached
      or any process was signalled.
    """
    import jax

    if jax.process_count() == 1:
        return signalled
    import numpy as np
    from jax.experimental import multihost_utils

    preempted = checkpointer.reached_preemption(chunk)
    flags = multihost_utils.process_allgather(np.asarray([signalled or preempted], np.int32))
    return bool(np.any(flags))
