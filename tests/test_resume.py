"""Tests of jaxgan.run.resume: which checkpoint is restored (damaged ones skipped with their reasons and set aside, a
reader beside a live writer), config mismatches and changes, in-process on tiny checkpoints; then resumption as a
user breaks it (slow): ``jaxgan train`` in subprocesses, killed with SIGKILL and SIGTERM at random moments (during
start-up, compilation, training and checkpoint writes), restarted with the same command until it finishes; damaged
checkpoints; a workdir of another config. The final state must be bitwise equal to the state of one
uninterrupted run.

Set ``JAXGAN_TEST_SEED`` to replay the random kill times of a failing run (the seed is in every assertion).
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from _checkpoints import (
    changed_state,
    largest_file,
    leaves_equal,
    make_exp,
    one_bit_changed,
    replace_array_data,
    save_steps,
    with_step,
)

from jaxgan import checkpoint
from jaxgan.run import experiment, loop, resume
from jaxgan.run.config import apply_overrides, load_config, to_dict


# ------------------------------------------------------------------------------------ the resume logic, in-process
@pytest.fixture(scope="module")
def exp():
    return make_exp()


@pytest.fixture(scope="module")
def state(exp):
    return changed_state(exp)


def test_the_fields_that_may_change_and_that_decide_the_structure_are_declared_on_the_config():
    assert resume.RUN_CONTROL_FIELDS == frozenset({
        "steps", "parallel", "steps_per_call", "log_every", "sample_every", "checkpoint_every",
        "keep_checkpoints", "keep_every", "eval_samples", "metrics", "name",
    })
    assert resume.STRUCTURE_FIELDS == (
        "data", "image_size", "channels", "conditional", "clusters", "latent_dim", "model", "g_features",
        "d_features", "g_batch_norm", "d_maxout", "model_kwargs", "family", "family_kwargs", "loss", "loss_kwargs",
        "pack", "minibatch_std", "optimizer", "ema_decay",
    )


def test_damaged_checkpoints_are_skipped_with_the_reason_and_set_aside(tmp_path, exp, state):
    save_steps(tmp_path, exp, state, [1, 2, 3, 4], keep=5)
    # Step 4: bytes flipped inside the largest file. The array data is zstd-compressed, so this lands either in
    # a frame the decoder rejects or in literals it decodes to wrong values; either way the step is skipped.
    big = largest_file(tmp_path / "4")
    data = bytearray(big.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0x10
    big.write_bytes(bytes(data))
    # Step 3: valid array files holding one changed bit, which orbax alone restores as a silently wrong value.
    replace_array_data(tmp_path / "3", one_bit_changed(with_step(state, 3)))
    # Step 2: every array file truncated.
    for p in (tmp_path / "2" / "state").rglob("*"):
        if p.is_file() and p.stat().st_size > 200:
            os.truncate(p, 100)
    logged = []
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    got = resume.restore_latest(reader, jax.eval_shape(exp.init_state), to_dict(exp.config), log=logged.append)
    reader.close()
    assert got.step == 1 and leaves_equal(got.state, with_step(state, 1))
    assert [s for s, _ in got.skipped] == [4, 3, 2]
    assert len(logged) == 3
    assert logged[0].startswith("skipping checkpoint at step 4: it cannot be restored")
    assert logged[1].startswith("skipping checkpoint at step 3: it cannot be restored")
    assert "does not match its checksum (the files are damaged)" in logged[1], logged[1]
    assert logged[2].startswith("skipping checkpoint at step 2: it cannot be restored")

    writer = checkpoint.Checkpointer(tmp_path, keep=5)
    moved = writer.set_aside([4, 3, 2])
    assert [p.name for p in moved] == ["4", "3", "2"]
    assert moved[0].parent == tmp_path.parent / (tmp_path.name + "_skipped")
    assert writer.steps() == [1]
    writer.save(2, with_step(state, 2), to_dict(exp.config))  # the step can be written again
    writer.close()
    assert checkpoint.Checkpointer(tmp_path, read_only=True).steps() == [1, 2]


def test_unreadable_meta_record_is_skipped(tmp_path, exp, state):
    save_steps(tmp_path, exp, state, [1, 2])
    (tmp_path / "2" / "meta" / "metadata").write_text("{not json")
    logged = []
    got = resume.restore_latest(
        checkpoint.Checkpointer(tmp_path, read_only=True), jax.eval_shape(exp.init_state), to_dict(exp.config),
        log=logged.append,
    )
    assert got.step == 1 and "meta record cannot be read" in logged[0]


def test_all_checkpoints_damaged_is_an_error_not_a_silent_restart(tmp_path, exp, state):
    save_steps(tmp_path, exp, state, [1])
    (tmp_path / "1" / "meta" / "metadata").write_text("")
    with pytest.raises(checkpoint.NoValidCheckpointError, match="none of the 1 checkpoints"):
        resume.restore_latest(
            checkpoint.Checkpointer(tmp_path, read_only=True), jax.eval_shape(exp.init_state),
            to_dict(exp.config), log=lambda m: None,
        )


def test_other_architecture_is_refused_naming_the_field_and_nothing_changes(tmp_path, exp, state):
    save_steps(tmp_path, exp, state, [1, 2])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    other = make_exp(g_features=[16, 16], g_lr=0.5)  # g_lr differs too but does not decide shapes
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    with pytest.raises(resume.ConfigMismatchError) as err:
        resume.restore_latest(reader, jax.eval_shape(other.init_state), to_dict(other.config))
    message = str(err.value)
    assert "'g_features' is [16] there and [16, 16] now" in message and "\n" not in message
    assert "step 2" in message
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_run_control_fields_may_change_and_other_changes_are_reported(exp):
    saved = to_dict(exp.config)
    now = {**saved, "steps": 10**6, "checkpoint_every": 7, "parallel": "mesh", "g_lr": 0.1}
    assert resume.config_difference(saved, now) == ["g_lr"]


def test_fields_added_after_a_checkpoint_count_as_their_defaults_on_resume():
    from jaxgan.run.config import Config
    from jaxgan.run.resume import config_changes

    current = to_dict(Config(g_lr=0.5))
    saved = {k: v for k, v in current.items() if k not in ("top_k_gamma", "clusters", "ema_warmup")}
    assert config_changes(saved, current) == []  # written before these fields existed: nothing to warn about
    assert config_changes(saved, {**current, "clusters": 10}) == ["clusters null -> 10"]
    assert config_changes({**saved, "g_lr": 0.1}, current) == ["g_lr 0.1 -> 0.5"]


def test_a_reader_that_lists_no_step_while_a_run_commits_one_waits_for_it(tmp_path, exp, state):
    """Newer orbax releases (0.12 with jax 0.12 on Python 3.12) remove a keep=1 run's old step before the new
    one is listed: a reader that lists nothing then, in a directory that is not empty, lists again."""
    save_steps(tmp_path, exp, state, [4])
    reader = checkpoint.Checkpointer(tmp_path, read_only=True)
    listed, real_steps = [], reader.steps

    def steps():  # the gap between the old step's removal and the new one's commit, seen twice
        if len(listed) < 2:
            listed.append(1)
            return []
        return real_steps()

    reader.steps = steps
    got = resume.restore_latest(reader, jax.eval_shape(exp.init_state), to_dict(exp.config), log=pytest.fail)
    assert got.step == 4 and len(listed) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert resume.restore_latest(checkpoint.Checkpointer(empty, read_only=True), state, {}) is None  # no wait
    assert resume.restore_latest(checkpoint.Checkpointer(tmp_path / "absent", read_only=True), state, {}) is None


def test_a_reader_beside_a_live_writer_restores_a_step_while_retention_removes_old_ones(tmp_path):
    """jaxgan eval / sample read a workdir that a live run writes with keep_checkpoints=1: a step removed while
    it was listed or read is not a damaged checkpoint; the reader lists again and restores the newest one.
    (Before the mend about one read in eight failed here, with FileNotFoundError from orbax's listing or with
    NoValidCheckpointError naming a step that was only being replaced.)"""
    import threading

    directory = tmp_path / "ck"
    state = {"a": np.arange(4096, dtype=np.float32)}
    writer = checkpoint.Checkpointer(directory, keep=1, async_save=False)
    writer.save(0, state, {})
    stop = threading.Event()

    def write():
        step = 1
        while not stop.is_set():
            writer.save(step, {"a": state["a"] + step}, {})
            step += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        for _ in range(60):
            reader = checkpoint.Checkpointer(directory, read_only=True)
            try:
                restored = resume.restore_latest(reader, state, {}, log=pytest.fail)
            finally:
                reader.close()
            np.testing.assert_array_equal(restored.state["a"], state["a"] + restored.step)
            assert restored.skipped == ()
    finally:
        stop.set()
        thread.join()
        writer.close()


# --------------------------------------------------------------------------- jaxgan train, killed and restarted
# Multi-process and end-to-end: marked slow, deselected by the quick run (-m "not slow").
ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("JAXGAN_TEST_SEED", time.time_ns() % 10**6))
ENV = {
    **os.environ,
    "JAX_PLATFORMS": "cpu",
    "JAX_COMPILATION_CACHE_DIR": os.environ.get(
        "JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "jaxgan-test-jax-cache")
    ),
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
}
# Long enough that a kill aimed at training or a write lands before the run ends on a fast machine too (training
# alone is about a second here once compiled; start-up is most of a run).
STEPS, PER_CALL, EVERY = 600, 10, 20
LAST3 = [STEPS - 2 * EVERY, STEPS - EVERY, STEPS]  # keep_checkpoints=3
OVERRIDES = [
    f"steps_per_call={PER_CALL}", f"checkpoint_every={EVERY}", f"log_every={EVERY}", "sample_every=1000000",
    "eval_samples=200", "g_features=[32,32]", "d_features=[32,32]", "batch_size=32", "ema_decay=0.9",
    "keep_checkpoints=3",
]
TIMEOUT = 180


def _cmd(workdir: Path, *extra: str) -> list[str]:
    sets = [a for o in OVERRIDES for a in ("--set", o)]
    return [sys.executable, "-m", "jaxgan.run.cli", "train", "--workdir", str(workdir), "--steps", str(STEPS),
            *sets, *extra]


class Run:
    """One ``jaxgan train`` process with its output in files (no pipe to fill up)."""

    def __init__(self, workdir: Path, name: str, *extra: str):
        self.out, self.err = workdir.parent / f"{name}.out", workdir.parent / f"{name}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(_cmd(workdir, *extra), stdout=out, stderr=err, env=ENV, cwd=ROOT)
        self.start = time.monotonic()

    def wait(self) -> int:
        return self.proc.wait(timeout=TIMEOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    @property
    def stdout(self) -> str:
        return self.out.read_text()

    @property
    def stderr(self) -> str:
        return self.err.read_text()


def _committed(workdir: Path) -> list[int]:
    d = workdir / "checkpoints"
    return sorted(int(p) for p in os.listdir(d) if p.isdigit()) if d.is_dir() else []


def _writing(workdir: Path) -> list[str]:
    d = workdir / "checkpoints"
    return [p for p in os.listdir(d) if ".orbax-checkpoint-tmp" in p] if d.is_dir() else []


def _poll(run: Run, condition, timeout=TIMEOUT, interval=0.002) -> bool:
    """Polls ``condition()`` while ``run`` lives; returns whether it came true."""
    end = time.monotonic() + timeout
    while run.alive() and time.monotonic() < end:
        if condition():
            return True
        time.sleep(interval)
    return False


def _experiment() -> experiment.Experiment:
    return experiment.build(apply_overrides(load_config("default"), [f"steps={STEPS}", *OVERRIDES]))


def _final_state(workdir: Path):
    exp = _experiment()
    reader = checkpoint.Checkpointer(workdir / "checkpoints", read_only=True)
    got = resume.restore_latest(reader, jax.eval_shape(exp.init_state), {}, log=pytest.fail)
    reader.close()
    assert got.step == STEPS
    return got.state


def _assert_bitwise_equal(workdir: Path, straight: dict, why: str) -> None:
    report = json.loads((workdir / "report.json").read_text())
    assert report["fingerprint"] == straight["report"]["fingerprint"], why
    assert report["steps"] == STEPS
    a, b = _final_state(workdir), straight["state"]
    leaves_a, leaves_b = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
    assert [p for p, _ in leaves_a] == [p for p, _ in leaves_b]
    for (path, x), (_, y) in zip(leaves_a, leaves_b):  # params, both optimizer states, EMA, key, counters
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes(), f"{jax.tree_util.keystr(path)} differs; {why}"


class Straight:
    """One uninterrupted run, started when first needed and waited for only when compared against, so it
    trains while the interrupted runs do."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.run = Run(workdir, "straight")
        self._result = None

    def __getitem__(self, key: str):
        if self._result is None:
            assert self.run.wait() == 0, self.run.stderr[-3000:]
            assert _committed(self.workdir) == LAST3
            self._result = {"workdir": self.workdir, "state": _final_state(self.workdir),
                            "report": json.loads((self.workdir / "report.json").read_text())}
        return self._result[key]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    return Straight(tmp_path_factory.mktemp("straight") / "run")


def _kill_once(workdir: Path, name: str, how: str, rng: random.Random):
    """Starts the command, SIGKILLs it ``how``; returns (how, committed after, unfinished writes, exit code)."""
    before = _committed(workdir)
    leftover = set(_writing(workdir))  # a killed write of an earlier attempt: removed at start-up
    run = Run(workdir, name)
    if how == "during start-up":  # a random moment, and at the latest when the first new checkpoint appears
        _poll(run, lambda: _committed(workdir) != before, timeout=rng.uniform(0.5, 4.0))
    elif how == "after a checkpoint":
        _poll(run, lambda: _committed(workdir) != before)
        time.sleep(rng.uniform(0.0, 0.3))
    else:
        _poll(run, lambda: not leftover & set(_writing(workdir)))
        _poll(run, lambda: bool(_writing(workdir)))
    run.kill()
    run.wait()
    if before and how != "during start-up" and run.proc.returncode != 0:
        assert f"resumed from checkpoint at step {before[-1]}" in run.stdout, run.stdout
    return how, _committed(workdir), _writing(workdir), run.proc.returncode


@pytest.mark.slow
def test_sigkill_at_random_moments_and_restarts_end_bitwise_equal(straight, tmp_path):
    rng = random.Random(SEED)
    workdir = tmp_path / "run"
    history = [_kill_once(workdir, "kill0", "during start-up", rng)]
    for _attempt in range(3):  # until a kill lands inside a write (it leaves an unfinished write behind)
        history.append(_kill_once(workdir, f"kill{len(history)}", "during a checkpoint write", rng))
        if history[-1][2] or history[-1][3] == 0:
            break
    history.append(_kill_once(workdir, f"kill{len(history)}", "after a checkpoint", rng))
    why = f"JAXGAN_TEST_SEED={SEED}; (how, committed, unfinished, exit code): {history}"
    assert sum(rc == -signal.SIGKILL for *_, rc in history) >= 3, why
    assert any(how == "during a checkpoint write" and tmp and rc == -signal.SIGKILL
               for how, _, tmp, rc in history), f"no kill landed inside a write; {why}"
    final = Run(workdir, "final")
    assert final.wait() == 0, final.stderr[-3000:]
    committed = history[-1][1]
    if committed:
        assert f"resumed from checkpoint at step {committed[-1]}" in final.stdout, why
    assert not _writing(workdir)  # leftovers of killed writes are removed when the directory is opened
    _assert_bitwise_equal(workdir, straight, why)
    print(f"\nSIGKILL resume: {why}")


@pytest.mark.slow
def test_sigterm_exits_0_with_a_committed_checkpoint_and_resumes_bitwise_equal(straight, tmp_path):
    rng = random.Random(SEED + 1)
    workdir = tmp_path / "run"
    # During start-up or compilation: exit 0, and whatever checkpoint it reports is on disk.
    run = Run(workdir, "early")  # a random moment, and at the latest when the first checkpoint appears
    _poll(run, lambda: bool(_committed(workdir)), timeout=rng.uniform(1.0, 4.0))
    run.kill(signal.SIGTERM)
    assert run.wait() == 0, run.stderr[-3000:]
    if "received SIGTERM: checkpoint at step" in run.stdout:
        step = int(run.stdout.split("received SIGTERM: checkpoint at step ")[1].split()[0])
        assert _committed(workdir)[-1] == step
    # During training, with a checkpoint written every other chunk: exit 0 and a checkpoint at the stop step.
    before = _committed(workdir)
    run = Run(workdir, "mid")
    assert _poll(run, lambda: [s for s in _committed(workdir) if s > max(before, default=0) + EVERY])
    time.sleep(rng.uniform(0.0, 0.2))
    run.kill(signal.SIGTERM)
    assert run.wait() == 0, run.stderr[-3000:]
    message = next(ln for ln in run.stdout.splitlines() if "received SIGTERM" in ln)
    step = int(message.split("checkpoint at step ")[1].split()[0])
    assert step % PER_CALL == 0 and step < STEPS, message
    assert _committed(workdir)[-1] == step and not _writing(workdir)  # committed, nothing half-written
    assert not (workdir / "report.json").exists()
    # The same command resumes there and ends where an uninterrupted run ends.
    final = Run(workdir, "final")
    assert final.wait() == 0, final.stderr[-3000:]
    assert f"resumed from checkpoint at step {step}" in final.stdout
    _assert_bitwise_equal(workdir, straight, f"JAXGAN_TEST_SEED={SEED}; SIGTERM at step {step}")
    metrics = [json.loads(ln)["step"] for ln in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert metrics == list(range(EVERY, STEPS + 1, EVERY))  # no duplicated or missing records after resuming


@pytest.mark.slow
def test_damaged_latest_checkpoints_are_skipped_with_reasons_and_the_run_ends_bitwise(straight, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(straight["workdir"], workdir)
    (workdir / "report.json").unlink()
    ckpts = workdir / "checkpoints"
    first, second, last = LAST3
    # last: valid array files holding one changed bit (orbax alone would restore the wrong value, only the
    # checksums catch it); second: truncated files.
    reader = checkpoint.Checkpointer(ckpts, read_only=True)
    kept = reader.restore(last, jax.eval_shape(_experiment().init_state))
    reader.close()
    replace_array_data(ckpts / str(last), one_bit_changed(kept))
    for p in (ckpts / str(second) / "state").rglob("*"):
        if p.is_file() and p.stat().st_size > 200:
            os.truncate(p, 100)
    run = Run(workdir, "damaged")
    assert run.wait() == 0, run.stderr[-3000:]
    skips = [ln for ln in run.stderr.splitlines() if "skipping checkpoint" in ln]
    assert skips[0].startswith(f"[jaxgan] warning: skipping checkpoint at step {last}: it cannot be restored")
    assert "does not match its checksum" in skips[0]
    assert skips[1].startswith(f"[jaxgan] warning: skipping checkpoint at step {second}: it cannot be restored")
    assert f"resumed from checkpoint at step {first}" in run.stdout
    assert sorted(os.listdir(workdir / "checkpoints_skipped")) == [str(second), str(last)]  # kept for inspection
    report = json.loads((workdir / "report.json").read_text())
    assert [s["step"] for s in report["skipped_checkpoints"]] == [last, second]
    _assert_bitwise_equal(workdir, straight, f"after skipping damaged checkpoints {last} and {second}")


@pytest.mark.slow
def test_other_architecture_is_refused_naming_the_field_and_nothing_in_the_workdir_changes(straight, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(straight["workdir"], workdir)

    def snapshot():
        return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(workdir.rglob("*")) if p.is_file()}

    before = snapshot()
    run = Run(workdir, "other", "--set", "g_features=[16,16]", "--steps", "400")
    assert run.wait() == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxgan: error: workdir checkpoints do not match"), run.stderr
    assert "'g_features' is [32, 32] there and [16, 16] now" in lines[0]
    assert snapshot() == before
    assert sorted(p.name for p in workdir.iterdir()) == sorted(p.name for p in straight["workdir"].iterdir())


@pytest.mark.slow
def test_the_field_named_is_the_one_that_changes_the_state_not_the_first_that_differs(straight, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(straight["workdir"], workdir)
    before = sorted(workdir.rglob("*"))
    # g_lr differs first in field order but only lr_schedule changes the state (the default's linear schedule
    # keeps a step count in the optimizer state; a constant learning rate does not).
    assert load_config("default").lr_schedule == "linear"
    cfg = apply_overrides(load_config("default"), [f"steps={STEPS}", *OVERRIDES, "g_lr=0.01", "lr_schedule=constant"])
    with pytest.raises(loop.SetupError, match=r"config field 'lr_schedule' is \"linear\" there and \"constant\" now"):
        loop.prepare(cfg, workdir)
    assert sorted(workdir.rglob("*")) == before
