"""Tests of the ``jaxgan`` command as a user meets it: the error paths (one line on stderr, exit status 2, nothing
written, nothing compiled), a short end-to-end ``jaxgan train`` and its report, reproducibility from the seed,
and ``jaxgan sample`` on the workdir it leaves."""

import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image

from jaxgan import checkpoint
from jaxgan.run import cli, resume, sampling
from jaxgan.run.config import available_configs

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "JAX_PLATFORMS": "cpu",
    "JAX_COMPILATION_CACHE_DIR": os.environ.get(
        "JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "jaxgan-test-jax-cache")
    ),
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
}
STEPS = 60
# The overrides of tests/test_resume.py (so both files share compiled executables), with fewer steps.
SMALL = ["--steps", str(STEPS)] + [a for o in (
    "steps_per_call=10", "checkpoint_every=20", "log_every=20", "sample_every=1000000", "eval_samples=200",
    "g_features=[32,32]", "d_features=[32,32]", "batch_size=32", "ema_decay=0.9", "keep_checkpoints=3",
) for a in ("--set", o)]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jaxgan.run.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out, err


def _error_cases(tmp_path: Path) -> dict[tuple[str, ...], str]:
    """argv -> a fragment its one-line message must contain."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file, so nothing can be created under it (even by root)")
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "checkpoints").write_text("a regular file where the checkpoint directory should be")
    return {
        ("train", "--bogus"): "unrecognized arguments: --bogus",
        ("train", "--steps", "ten"): "argument --steps: invalid int value: 'ten'",
        ("train", "--parallel", "gpu"): "argument --parallel: invalid choice: 'gpu'",
        ("train", "--config", "nope"): "unknown config 'nope'; named configs: " + ", ".join(available_configs()),
        ("train", "--set", "bogus=1"): "unknown config field 'bogus'; fields: name, seed, steps",
        ("train", "--set", "steps"): "--set takes field=value, got 'steps'",
        ("train", "--set", "steps=-3"): "config field steps must be a positive integer, got -3",
        ("train", "--set", "g_lr=fast"): "config field g_lr must be a finite number > 0, got 'fast'",
        ("train", "--set", "keep_every=0"): "config field keep_every must be a positive integer or null, got 0",
        ("train", "--set", 'penalties={"zz": 1}'): "unknown penalty 'zz'",
        ("train", "--workdir", str(blocker / "sub")): f"workdir {blocker / 'sub'} is not writable",
        ("train", "--workdir", str(blocked)): f"checkpoint directory {blocked / 'checkpoints'} is not writable",
        ("sample",): "the following arguments are required: --workdir",
        ("sample", "--workdir", str(tmp_path / "missing")): "does not exist",
        ("sample", "--workdir", str(tmp_path), "--out", "x.jpg"): "--out must end in .png or .npy",
        ("sample", "--workdir", str(tmp_path), "--n", "0"): "--n must be a positive integer",
        ("sample", "--workdir", str(tmp_path)): "no checkpoint in",
        ("bogus",): "invalid choice: 'bogus'",
    }


def _with_workdir(argv: tuple[str, ...], workdir: Path) -> list[str]:
    return [*argv, "--workdir", str(workdir)] if argv[0] == "train" and "--workdir" not in argv else list(argv)


def _assert_nothing_written(tmp_path: Path) -> None:
    # The default workdir (created only by a run that got past every check) is absent, and nothing else appeared.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked", "file.txt"]
    assert sorted(p.name for p in (tmp_path / "blocked").iterdir()) == ["checkpoints"]


def test_user_errors_are_one_line_exit_2_and_write_nothing(tmp_path, capsys):
    for argv, fragment in _error_cases(tmp_path).items():
        try:
            rc = cli.main(_with_workdir(argv, tmp_path / "w"))
        except SystemExit as e:  # argparse's own errors
            rc = e.code
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert rc == 2, (argv, rc, err)
        assert len(lines) == 1 and lines[0].startswith("jaxgan: error: "), (argv, err)
        assert fragment in lines[0], (argv, lines[0])
    _assert_nothing_written(tmp_path)


def test_user_errors_from_the_shell(tmp_path):
    """A few of the same, as processes: the real exit status and stderr."""
    cases = _error_cases(tmp_path)
    picked = [("train", "--bogus"), ("train", "--config", "nope"),
              next(a for a in cases if a[:2] == ("train", "--workdir") and "file.txt" in a[2])]
    procs = {argv: _start(*_with_workdir(argv, tmp_path / "w")) for argv in picked}
    for argv, proc in procs.items():
        rc, _, err = _finish(proc)
        assert rc == 2 and err.count("\n") == 1 and err.startswith("jaxgan: error: "), (argv, rc, err)
        assert cases[argv] in err
    _assert_nothing_written(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; the file-in-the-path case covers it")
def test_read_only_workdir_is_a_one_line_error(tmp_path):
    workdir = tmp_path / "ro"
    workdir.mkdir(mode=0o500)
    rc, _, err = _finish(_start("train", "--workdir", str(workdir / "run")))
    assert rc == 2 and err.strip().startswith("jaxgan: error: workdir") and len(err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two short runs at once with the same seed, in different workdirs."""
    root = tmp_path_factory.mktemp("e2e")
    dirs = {"a": root / "a", "b": root / "b"}
    procs = {k: _start("train", "--workdir", str(d), "--seed", "3", *SMALL) for k, d in dirs.items()}
    results = {k: _finish(p) for k, p in procs.items()}
    for k, (rc, _, err) in results.items():
        assert rc == 0, (k, err[-3000:])
    return {k: (dirs[k], results[k][1]) for k in dirs}


@pytest.mark.slow
def test_train_writes_the_report_and_the_same_seed_gives_the_same_fingerprint(runs):
    workdir, stdout = runs["a"]
    report = json.loads((workdir / "report.json").read_text())
    assert {"config", "eval", "devices", "hosts", "wall_time_s", "fingerprint"} <= set(report)
    assert report["config"]["seed"] == 3 and report["config"]["steps"] == STEPS
    assert report["steps"] == STEPS and report["devices"] == 1 and report["hosts"] == 1
    assert report["wall_time_s"] > 0
    ev = report["eval"]
    assert 0 <= ev["modes"] <= ev["total_modes"] == 8 and 0.0 <= ev["high_quality"] <= 1.0
    if ev["reverse_kl"] is None:  # no mode captured: the KL is infinite, written as null and flagged (strict JSON)
        assert ev["modes"] == 0 and report["non_finite"] == {"eval/reverse_kl": "inf"}
    else:
        assert ev["reverse_kl"] >= 0
    assert f"fingerprint: {report['fingerprint'][:16]}" in stdout
    assert json.loads((workdir / "config.json").read_text()) == report["config"]
    assert [json.loads(ln)["step"] for ln in (workdir / "metrics.jsonl").read_text().splitlines()] == [20, 40, 60]
    assert (workdir / "samples.png").is_file() and (workdir / "losses.png").is_file()
    other = json.loads((runs["b"][0] / "report.json").read_text())
    assert other["fingerprint"] == report["fingerprint"]
    assert other["final_metrics"] == report["final_metrics"]


@pytest.mark.slow
def test_sample_command_writes_a_scatter_png_and_an_npy_from_the_ema_generator(runs, tmp_path, capsys):
    workdir = runs["a"][0]
    rc, out, err = _finish(_start("sample", "--workdir", str(workdir), "--n", "300"))
    assert rc == 0, err
    png = workdir / f"sample_step_{STEPS}.png"
    assert f"wrote 300 samples of the EMA generator at step {STEPS} to {png}" in out
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 100

    npy = tmp_path / "s.npy"
    assert cli.main(["sample", "--workdir", str(workdir), "--n", "50", "--out", str(npy), "--seed", "5"]) == 0
    samples = np.load(npy)
    assert samples.shape == (50, 2) and samples.dtype == np.float32 and np.all(np.isfinite(samples))

    exp, state = sampling.load_for_sampling(workdir)
    assert state.step == STEPS and state.ema and exp.config.seed == 3
    np.testing.assert_array_equal(sampling.generate(exp, state, 50, seed=5), samples)
    # The params it samples with are the checkpoint's EMA params, bit for bit, and not the live ones.
    full = resume.restore_latest(checkpoint.Checkpointer(workdir / "checkpoints", read_only=True),
                                 jax.eval_shape(exp.init_state), {}, log=pytest.fail).state
    for a, b in zip(jax.tree.leaves(state.sampling_params), jax.tree.leaves(full.ema_params)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(full.g_params),
                                                          jax.tree.leaves(full.ema_params)))


def test_eval_errors_are_one_line_and_exit_2(tmp_path, capsys):
    from jaxgan.run import cli

    assert cli.main(["eval", "--workdir", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["eval", "--workdir", str(tmp_path), "--metrics", "fid1k,bogus"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'bogus'" in err and "fid<N>k" in err


def test_usage_errors_point_at_the_right_help(capsys):
    """An unknown trailing argument is reported by the top-level parser: its hint is `jaxgan --help`, and a
    sub-command's own error points at that sub-command's help."""
    for argv, hint in [(["train", "--set", "steps=1", "steps_per_call=1"], "(see `jaxgan --help`)"),
                       (["train", "--steps", "x"], "(see `jaxgan train --help`)")]:
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        err = capsys.readouterr().err.strip()
        assert e.value.code == 2 and err.startswith("jaxgan: error: ") and err.endswith(hint), (argv, err)


def test_the_console_script_turns_on_the_persistent_compilation_cache(monkeypatch, tmp_path):
    import jax

    seen = []
    monkeypatch.setattr(jax.config, "update", lambda name, value: seen.append((name, value)))
    for var in ("JAX_COMPILATION_CACHE_DIR", "JAXGAN_COMPILATION_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cli._enable_compilation_cache()
    assert seen == [("jax_compilation_cache_dir", os.path.join(str(tmp_path), "jaxgan", "xla"))]
    monkeypatch.setenv("JAXGAN_COMPILATION_CACHE", str(tmp_path / "mine"))
    cli._enable_compilation_cache()
    assert seen[-1] == ("jax_compilation_cache_dir", str(tmp_path / "mine"))
    monkeypatch.setenv("JAXGAN_COMPILATION_CACHE", "off")
    cli._enable_compilation_cache()
    monkeypatch.setenv("JAXGAN_COMPILATION_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax"))  # JAX reads it itself: left alone
    cli._enable_compilation_cache()
    assert len(seen) == 2


def test_the_test_process_compiles_through_the_persistent_cache():
    """tests/conftest.py: a program compiled in the test process is written to the suite's cache directory."""
    import jax.numpy as jnp

    cache = Path(jax.config.jax_compilation_cache_dir)
    assert str(cache) == os.environ["JAX_COMPILATION_CACHE_DIR"]
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0
    before = set(cache.iterdir()) if cache.is_dir() else set()
    salt = float(time.time_ns() % 10**9)  # a constant no earlier run compiled: a new program, a new entry
    np.testing.assert_allclose(jax.jit(lambda x: jnp.sin(x) * salt)(jnp.ones(3)), np.sin(1.0) * salt, rtol=1e-6)
    assert set(cache.iterdir()) - before


def test_the_command_module_imports_no_jax_so_its_signal_handler_comes_first():
    # jaxgan/__init__.py loads its names on first use: `python -m jaxgan.run.cli` installs the SIGTERM handler before
    # JAX is imported (seconds on a busy 2-core machine), so a preemption then still exits 0.
    code = "import sys, jaxgan.run.cli; print(sorted(m for m in ('jax', 'flax', 'optax', 'orbax') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_package_exports_every_public_name_on_first_use():
    import jaxgan

    assert sorted(jaxgan.__all__) == sorted(jaxgan._MODULE_OF)
    for name in jaxgan.__all__:
        assert getattr(jaxgan, name) is getattr(importlib.import_module(jaxgan._MODULE_OF[name]), name)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        jaxgan.nope  # noqa: B018
