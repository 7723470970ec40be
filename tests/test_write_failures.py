"""Writes that fail (issue 21), on real file systems: a file-size limit (``RLIMIT_FSIZE``, as a full disk fails a
write) for ``config.json`` and for a checkpoint, a full tmpfs for later checkpoints, and a read-only bind mount
for ``jaxgan eval`` and ``jaxgan sample``. Each ends in one line with the cause and what is intact, exit status
1, and leaves no temporary file; eval prints its values before it tries to write. ``report.json`` is strict
JSON."""

import json
import shutil
import subprocess
import sys

import pytest
from test_cli import ENV, ROOT, SMALL, _finish, _start

# Sets the limit, then becomes `python -m jaxgan.run.cli ARGS` (a preexec_fn would run Python in a fork of this
# multithreaded test process). SIGXFSZ ignored: a write past the limit then fails with EFBIG instead of stopping.
_LIMITED = """
import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
os.execv(sys.executable, [sys.executable, "-m", "jaxgan.run.cli", *sys.argv[2:]])
"""


def _limited(limit: int, *args: str) -> tuple[int, str, str]:
    """``jaxgan ARGS`` with files limited to ``limit`` bytes: a write past it fails with EFBIG, File too large."""
    # no compilation cache: its files would hit the limit too
    env = {k: v for k, v in ENV.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    proc = subprocess.run([sys.executable, "-c", _LIMITED, str(limit), *args], capture_output=True, text=True,
                          cwd=ROOT, env={**env, "JAX_ENABLE_COMPILATION_CACHE": "false"}, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def _hidden(workdir) -> list[str]:
    return sorted(p.name for p in workdir.rglob(".*"))


@pytest.mark.slow
def test_config_json_that_cannot_be_written_is_one_line_and_exit_1(tmp_path):
    workdir = tmp_path / "w"
    rc, _, err = _limited(500, "train", "--workdir", str(workdir), *SMALL, "--quiet")
    assert (rc, err) == (1, f"jaxgan: error: cannot write {workdir / 'config.json'} (File too large); config.json "
                            "was not written; no checkpoint had been written yet\n")
    assert not (workdir / "config.json").exists() and _hidden(workdir) == []  # no temporary file, no lock


@pytest.mark.slow
def test_a_checkpoint_that_cannot_be_written_is_one_line_with_its_cause(tmp_path):
    workdir = tmp_path / "w"
    rc, _, err = _limited(3000, "train", "--workdir", str(workdir), *SMALL, "--quiet")
    assert (rc, err) == (1, f"jaxgan: error: a checkpoint could not be written to {workdir / 'checkpoints'} "
                            "(File too large); none had been committed yet\n")
    assert json.loads((workdir / "config.json").read_text())["steps"] == 60
    # saves are asynchronous: the failure of step 20's surfaces at a later save or at the end
    logged = [json.loads(ln)["step"] for ln in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert logged in ([20], [20, 40], [20, 40, 60])
    assert _hidden(workdir) == []


def _in_own_mounts(script: str, *args: str) -> subprocess.CompletedProcess:
    """``sh -c SCRIPT ARGS`` in a mount namespace of its own (``$PYTHON`` is this Python)."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
        pytest.skip("needs unshare -m (a mount namespace) for a full or read-only file system")
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**ENV, "PYTHON": sys.executable}, timeout=300)


@pytest.mark.slow
def test_a_full_disk_keeps_the_committed_checkpoints_and_says_so(tmp_path):
    """A 400 KiB tmpfs holds three checkpoints of this run (124 KiB each); the fourth fails."""
    disk = tmp_path / "disk"
    disk.mkdir()
    workdir = disk / "w"
    script = ('mount -t tmpfs -o size=400k tmpfs "$1" && shift && "$PYTHON" -m jaxgan.run.cli "$@"; '
              'echo "rc=$?"; ls "$3/checkpoints"')
    proc = _in_own_mounts(script, str(disk), "train", "--workdir", str(workdir), *SMALL, "--steps", "200",
                          "--set", "keep_checkpoints=10", "--quiet")
    listing = proc.stdout.splitlines()
    assert listing[0] == "rc=1", proc.stderr
    committed = sorted(int(name) for name in listing[1:] if name.isdigit())
    assert committed[:2] == [20, 40] and committed == list(range(20, 20 * len(committed) + 1, 20))
    assert proc.stderr == (f"jaxgan: error: a checkpoint could not be written to {workdir / 'checkpoints'} (No "
                           f"space left on device); the committed checkpoints (steps {committed}) are intact\n")


_UNRAISABLE = """
import sys
from jaxgan.run import cli
cli._drop_closed_loop_reports()


class Loop:
    def __init__(self, message):
        self.message = message

    def __del__(self):
        raise RuntimeError(self.message)


Loop("Event loop is closed")
Loop("something else")
"""


def test_closed_event_loop_reports_are_dropped_and_others_kept():
    err = subprocess.run([sys.executable, "-c", _UNRAISABLE], capture_output=True, text=True, check=True).stderr
    assert "RuntimeError: something else" in err and "Event loop is closed" not in err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("trained") / "w"
    rc, _, err = _finish(_start("train", "--workdir", str(workdir), *SMALL, "--quiet"))
    assert rc == 0, err[-3000:]
    return workdir


@pytest.mark.slow
def test_report_json_is_strict_json(trained):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    report = json.loads((trained / "report.json").read_text(), parse_constant=refuse)
    for where, value in report.get("non_finite", {}).items():
        node = report
        for key in where.split("/")[:-1]:
            node = node[key]
        assert node[where.split("/")[-1]] is None and value in ("inf", "-inf", "nan")


def _read_only(workdir, *args: str) -> tuple[int, str, str]:
    """``jaxgan ARGS`` where ``workdir`` is a read-only bind mount of itself."""
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$PYTHON" -m jaxgan.run.cli "$@"'
    proc = _in_own_mounts(script, str(workdir), *args)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.slow
def test_eval_on_a_read_only_workdir_prints_its_values_then_one_line(trained):
    before = (trained / "report.json").read_text()
    rc, out, err = _read_only(trained, "eval", "--workdir", str(trained), "--metrics", "fid1k")
    lines = out.splitlines()
    assert rc == 1 and len(lines) == 1 and lines[0].startswith("fid1k: "), (rc, out, err)
    float(lines[0].removeprefix("fid1k: "))
    assert err.splitlines()[-1] == (f"jaxgan: error: cannot write {trained / 'report.json'} (Read-only file system); "
                                    "report.json was left as it was; the values are printed above")
    assert "Traceback" not in err
    assert (trained / "report.json").read_text() == before


@pytest.mark.slow
def test_sample_on_a_read_only_workdir_is_one_line_and_exit_1(trained):
    rc, out, err = _read_only(trained, "sample", "--workdir", str(trained), "--n", "10")
    png = trained / "sample_step_60.png"
    assert (rc, out, err) == (1, "", f"jaxgan: error: cannot write {png} (Read-only file system); "
                                     "sample_step_60.png was not written\n")
