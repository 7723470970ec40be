"""The workdir lock of ``jaxgan train``: one training run per workdir.

The lock is a file ``WORKDIR/.jaxgan-train.lock`` holding its owner as JSON (pid, host, the process's start
time and when the lock was taken). It is created complete and atomically (written under a temporary name, then
hard-linked to the lock's name, which fails if the name exists), before the run writes anything else, and
removed when the run ends, however it ends short of SIGKILL or a crash of the machine.

A lock whose owner is gone is stale: when the owner ran on this host and its pid no longer runs (or now belongs
to a process started later), the next run takes the lock over and says so. A lock of another host cannot be
checked from here; the message names it, and removing the file releases it.

On a workdir shared by the processes of a multi-host run only process 0 takes the lock (the caller decides).
``jaxgan sample`` and ``jaxgan eval`` only read a workdir and take no lock; :func:`holder` tells them whether a
run holds it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

LOCK_NAME = ".jaxgan-train.lock"


class WorkdirLockedError(ValueError):
    """Another live process holds the workdir's lock; the message names it."""


@dataclasses.dataclass(frozen=True)
class Holder:
    """Who holds a lock: read from the lock file."""

    pid: int
    host: str
    since: str  # when the lock was taken, ISO 8601 UTC
    proc_start: str | None = None  # the process's start time in clock ticks since boot (Linux), against pid reuse

    def describe(self) -> str:
        return f"process {self.pid} on host {self.host} (since {self.since})"

    def is_stale(self) -> bool:
        """Whether the owner ran on this host and is gone (its pid is free or now a later process's)."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # a live process of another user
            pass
        started = _process_start(self.pid)
        return self.proc_start is not None and started is not None and started != self.proc_start


def _process_start(pid: int) -> str | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time after boot, in clock ticks); ``None`` off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def lock_path(workdir: str | Path) -> Path:
    return Path(workdir) / LOCK_NAME


def holder(workdir: str | Path) -> Holder | None:
    """The holder of ``workdir``'s lock, or ``None`` when it is free (no lock file, or an unreadable one)."""
    return _read(lock_path(workdir))


def _read(path: Path) -> Holder | None:
    try:
        d = json.loads(path.read_text())
        return Holder(int(d["pid"]), str(d["host"]), str(d["since"]), d.get("proc_start"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


class WorkdirLock:
    """A held lock; :meth:`release` (or leaving the ``with`` block) removes the lock file if it is still ours."""

    def __init__(self, path: Path, owner: Holder):
        self.path = path
        self.owner = owner

    def release(self) -> None:
        if _read(self.path) == self.owner:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> WorkdirLock:
        return self

    def __exit__(self, *exc) -> bool:
        self.release()
        return False


def acquire(workdir: str | Path, *, warn: Callable[[str], None] = print) -> WorkdirLock:
    """Takes ``workdir``'s lock (creating ``workdir`` if needed).

    Args:
      workdir: the run's directory.
      warn: receives one line when a stale lock is taken over.

    Raises:
      WorkdirLockedError: a live process holds it (the message names it and what to do).
      OSError: the workdir or the lock file cannot be created.
    """
    workdir = Path(workdir)
    path = lock_path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    me = Holder(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                _process_start(os.getpid()))
    tmp = workdir / f"{LOCK_NAME}.{me.pid}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.write_text(json.dumps(dataclasses.asdict(me)) + "\n")
        for _ in range(10):
            try:
                os.link(tmp, path)  # atomic: fails when the lock exists, and the lock is never seen half-written
                return WorkdirLock(path, me)
            except FileExistsError:
                pass
            other = _read(path)
            if other is None:
                if path.exists():  # locks are written whole, so this one is not jaxgan's
                    raise WorkdirLockedError(
                        f"workdir {workdir} has a lock file {path} that cannot be read; remove it if no "
                        "jaxgan train runs there"
                    )
                continue  # released between our attempt and our read
            if not other.is_stale():
                raise WorkdirLockedError(
                    f"workdir {workdir} is in use by jaxgan train, {other.describe()}; wait for it to end or use "
                    f"another --workdir (if that process is gone, remove {path})"
                )
            if _take_over(path, other):
                warn(f"workdir {workdir} was locked by {other.describe()}, which is no longer running; "
                     "taking the lock over")
        raise WorkdirLockedError(f"workdir {workdir}: the lock {path} keeps changing hands; try again")
    finally:
        tmp.unlink(missing_ok=True)


def _take_over(path: Path, stale: Holder) -> bool:
    """Removes the lock ``stale`` from ``path`` and returns True, unless another process took it over first."""
    aside = path.with_name(f"{path.name}.stale-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(path, aside)  # of several processes racing for one file, one moves it
    except FileNotFoundError:
        return False
    if _read(aside) == stale:
        aside.unlink()
        return True
    try:  # a new lock replaced the stale one between our read and the rename: put it back
        os.link(aside, path)
    except FileExistsError:
        pass
    aside.unlink(missing_ok=True)
    return False
