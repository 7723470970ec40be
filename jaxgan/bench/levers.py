"""Levers that need a fresh process each: the persistent compilation cache (a cold and a warm process) and XLA's
CPU flags (one process per flag), timed through ``python -m jaxgan.bench.step_throughput --_probe``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from jaxgan.bench.runners import make_jaxgan_runner

XLA_FLAG_TRIALS = (
    "--xla_cpu_use_onednn=true",
    "--xla_cpu_enable_fast_math=true",
    "--xla_cpu_use_xnnpack=true",
    "--xla_cpu_multi_thread_eigen=false",
)


def probe_main(args) -> None:
    """Child process: time the first call of one dcgan28 step (compile), optionally a few steps; print JSON."""
    t0 = time.perf_counter()
    import jax

    if args.probe_cache_dir:
        jax.config.update("jax_compilation_cache_dir", args.probe_cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    runner = make_jaxgan_runner("dcgan28", args.probe_batch, upsample=args.probe_upsample)
    first = runner.first_call()
    times = [runner.call() for _ in range(args.probe_steps)]
    print(json.dumps({
        "first_call_s": round(first, 3), "process_s": round(time.perf_counter() - t0, 3),
        "step_ms_median": round(float(np.median(times)) * 1e3, 3) if times else None,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }))  # fmt: skip


def _run_probe(extra: list[str], env_flags: str | None = None, platform: str | None = None) -> dict | None:
    env = dict(os.environ)
    if platform is not None:  # the backend the parent runs on
        env["JAX_PLATFORMS"] = platform
    if env_flags is not None:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + env_flags).strip()
    cmd = [sys.executable, "-m", "jaxgan.bench.step_throughput", "--_probe", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def cache_lever(batch: int, upsample: str, log, platform: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as d:
        extra = ["--probe-batch", str(batch), "--probe-upsample", upsample, "--probe-steps", "0"]
        no_cache = _run_probe(extra, platform=platform)
        first = _run_probe(extra + ["--probe-cache-dir", d], platform=platform)
        second = _run_probe(extra + ["--probe-cache-dir", d], platform=platform)
    rec = {
        "record": "cache", "model": "dcgan28", "batch": batch, "variant": upsample,
        "no_cache_first_call_s": no_cache.get("first_call_s"), "cold_cache_first_call_s": first.get("first_call_s"),
        "warm_cache_first_call_s": second.get("first_call_s"), "warm_cache_process_s": second.get("process_s"),
    }  # fmt: skip
    log(
        f"  persistent cache: first call {rec['cold_cache_first_call_s']} s cold, "
        f"{rec['warm_cache_first_call_s']} s warm"
    )
    return rec


def xla_flag_lever(batch: int, upsample: str, steps: int, log) -> list[dict]:
    """Each flag in a fresh process, between two default processes (default, flag 1, ..., flag n, default)."""
    extra = ["--probe-batch", str(batch), "--probe-upsample", upsample, "--probe-steps", str(steps)]
    base = [_run_probe(extra)]
    trials = [(flag, _run_probe(extra, flag)) for flag in XLA_FLAG_TRIALS]
    base.append(_run_probe(extra))
    b = [x["step_ms_median"] for x in base if x.get("step_ms_median")]
    default_ms = round(float(np.mean(b)), 3) if b else None
    out = []
    for flag, t in trials:
        flag_ms = t.get("step_ms_median")
        rec = {
            "record": "xla_flag", "flag": flag, "model": "dcgan28", "batch": batch, "variant": upsample,
            "default_step_ms": default_ms, "default_step_ms_runs": b, "flag_step_ms": flag_ms, "error": t.get("error"),
            "speed_ratio": round(default_ms / flag_ms, 3) if default_ms and flag_ms else None,
        }  # fmt: skip
        log(f"  XLA flag {flag}: {rec['speed_ratio']} x{' (' + rec['error'] + ')' if rec['error'] else ''}")
        out.append(rec)
    return out
