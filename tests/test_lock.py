"""The workdir lock (issue 21): one ``jaxgan train`` per workdir, checked with real second processes; a stale lock
of a dead process is taken over with a message; ``jaxgan eval`` reads a held workdir and says it did not write."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import SMALL, _finish, _start

from jaxgan.run import lock

HOST = socket.gethostname()
HOLDS_UNTIL_STDIN_CLOSES = """
import sys
from jaxgan.run import lock
with lock.acquire(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""
DIES_HOLDING = """
import os, sys
from jaxgan.run import lock
lock.acquire(sys.argv[1])
os._exit(0)  # no release: as if the process had been killed
"""


def _busy(workdir: Path, holder: lock.Holder) -> str:
    return (f"workdir {workdir} is in use by jaxgan train, process {holder.pid} on host {holder.host} (since "
            f"{holder.since}); wait for it to end or use another --workdir (if that process is gone, remove "
            f"{workdir / lock.LOCK_NAME})")


def _dead_holder(workdir: Path) -> lock.Holder:
    subprocess.run([sys.executable, "-c", DIES_HOLDING, str(workdir)], check=True)
    holder = lock.holder(workdir)
    with pytest.raises(ProcessLookupError):
        os.kill(holder.pid, 0)
    return holder


def test_a_second_process_is_kept_out_until_the_first_releases(tmp_path):
    workdir = tmp_path / "w"
    first = subprocess.Popen([sys.executable, "-c", HOLDS_UNTIL_STDIN_CLOSES, str(workdir)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline() == "locked\n"
    holder = lock.holder(workdir)
    assert (holder.pid, holder.host) == (first.pid, HOST)
    with pytest.raises(lock.WorkdirLockedError) as e:
        lock.acquire(workdir)
    assert str(e.value) == _busy(workdir, holder)
    first.stdin.close()
    assert first.wait(timeout=60) == 0
    assert lock.holder(workdir) is None and list(workdir.iterdir()) == []
    with lock.acquire(workdir) as held:
        assert lock.holder(workdir) == held.owner and held.owner.pid == os.getpid()
    assert list(workdir.iterdir()) == []


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_message(tmp_path):
    workdir = tmp_path / "w"
    dead = _dead_holder(workdir)
    said = []
    with lock.acquire(workdir, warn=said.append) as held:
        assert held.owner.pid == os.getpid()
    assert said == [f"workdir {workdir} was locked by process {dead.pid} on host {HOST} (since {dead.since}), which "
                    "is no longer running; taking the lock over"]
    assert list(workdir.iterdir()) == []


def test_a_pid_now_used_by_a_later_process_does_not_keep_the_lock(tmp_path):
    # The lock of an earlier process that had this test's pid: same host and pid, another start time.
    workdir = tmp_path / "w"
    workdir.mkdir()
    earlier = lock.Holder(os.getpid(), HOST, "2026-01-01 00:00:00 UTC", proc_start="1")
    (workdir / lock.LOCK_NAME).write_text(json.dumps(earlier.__dict__))
    said = []
    lock.acquire(workdir, warn=said.append).release()
    assert said == [f"workdir {workdir} was locked by process {os.getpid()} on host {HOST} (since 2026-01-01 "
                    "00:00:00 UTC), which is no longer running; taking the lock over"]


def test_a_lock_of_another_host_or_an_unreadable_one_is_left_alone(tmp_path):
    workdir = tmp_path / "w"
    workdir.mkdir()
    path = workdir / lock.LOCK_NAME
    other = lock.Holder(1, "node-7", "2026-12-01 10:00:00 UTC")
    path.write_text(json.dumps(other.__dict__))
    with pytest.raises(lock.WorkdirLockedError) as e:
        lock.acquire(workdir)
    assert str(e.value) == _busy(workdir, other)
    path.write_text("not json")
    with pytest.raises(lock.WorkdirLockedError) as e:
        lock.acquire(workdir)
    assert str(e.value) == (f"workdir {workdir} has a lock file {path} that cannot be read; remove it if no jaxgan "
                            "train runs there")
    assert path.read_text() == "not json"


def _wait_for(condition, what: str, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before {what}: {proc.communicate()}")
        if time.time() > deadline:
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(0.2)


@pytest.mark.slow
def test_two_train_runs_on_one_workdir_are_kept_apart(tmp_path):
    """A run takes over a dead run's lock; a second run with another seed exits 2 naming it and changes
    nothing; eval reads the held workdir and says why it did not write; the first run then ends as usual."""
    workdir = tmp_path / "w"
    dead = _dead_holder(workdir)
    first = _start("train", "--workdir", str(workdir), "--seed", "3", *SMALL, "--steps", "100000", "--quiet")
    _wait_for(lambda: (h := lock.holder(workdir)) is not None and h.pid == first.pid, "lock", first)
    holder = lock.holder(workdir)
    # any committed step: on a fast CPU the run is past step 80 within a poll, and retention (keep 3) has removed 20
    _wait_for(lambda: any(p.name.isdigit() for p in (workdir / "checkpoints").glob("*")), "checkpoint", first)

    second = _start("train", "--workdir", str(workdir), "--seed", "4", *SMALL)
    rc, _, err = _finish(second)
    assert (rc, err) == (2, f"jaxgan: error: {_busy(workdir, holder)}\n")
    assert json.loads((workdir / "config.json").read_text())["seed"] == 3

    rc, out, err = _finish(_start("eval", "--workdir", str(workdir), "--metrics", "fid1k"))
    assert rc == 0, err
    assert out.startswith("fid1k: ") and len(out.splitlines()) == 1
    assert err.splitlines()[-1] == (
        f"[jaxgan] workdir {workdir} is in use by jaxgan train, {holder.describe()}: the values were not merged "
        f"into {workdir / 'report.json'}, which that run rewrites when it ends; run jaxgan eval again then"
    )
    assert not (workdir / "report.json").exists()

    first.send_signal(signal.SIGTERM)
    rc, out, err = _finish(first)
    assert rc == 0, err
    assert (f"[jaxgan] warning: workdir {workdir} was locked by process {dead.pid} on host {HOST} (since "
            f"{dead.since}), which is no longer running; taking the lock over") in err.splitlines()
    assert lock.holder(workdir) is None and not (workdir / lock.LOCK_NAME).exists()
    steps = [json.loads(ln)["step"] for ln in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[0] == 20
    assert len(list((workdir / "tensorboard").iterdir())) == 1
    assert json.loads((workdir / "config.json").read_text())["seed"] == 3
    assert not [p.name for p in workdir.iterdir() if p.name.startswith(".")]


MULTI_HOST = """
import sys
from pathlib import Path
from jaxgan.run import loop
from jaxgan import parallel
parallel.initialize_distributed()  # JAXGAN_COORDINATOR, JAXGAN_NUM_PROCESSES, JAXGAN_PROCESS_ID
try:
    held = loop.lock_workdir(Path(sys.argv[1]), warn=print)
except loop.SetupError as e:
    print(f"{type(e).__name__}: {e}")
else:
    print("held" if held is not None else "not held", flush=True)
    if held is not None:
        held.release()
"""


def _two_processes(workdir: Path, port: int) -> list[str]:
    procs = [
        subprocess.Popen([sys.executable, "-c", MULTI_HOST, str(workdir)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "JAX_PLATFORMS": "cpu", "JAXGAN_COORDINATOR": f"localhost:{port}",
                              "JAXGAN_NUM_PROCESSES": "2", "JAXGAN_PROCESS_ID": str(i)})
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    return [out.strip().splitlines()[-1] for out, _ in outs]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_on_a_shared_multi_host_workdir_only_process_0_takes_the_lock(tmp_path):
    workdir = tmp_path / "w"
    assert _two_processes(workdir, _free_port()) == ["held", "not held"]
    other = lock.Holder(1, "node-7", "2026-12-01 10:00:00 UTC")
    assert list(workdir.iterdir()) == []  # process 0 released its lock
    (workdir / lock.LOCK_NAME).write_text(json.dumps(other.__dict__))
    assert _two_processes(workdir, _free_port()) == [
        f"WorkdirBusyError: {_busy(workdir, other)}",
        f"WorkdirBusyError: workdir {workdir} cannot be locked by process 0 (see its message)",
    ]
