"""The machine a benchmark row ran on: CPU model, load, resident memory, and the float32 matrix-multiply ceiling
that "% ceiling" divides by."""

from __future__ import annotations

import math
import os
import platform
import time

import numpy as np


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def matmul_ceiling(n: int = 2048, reps: int = 5, with_torch: bool = True) -> dict[str, float]:
    """Best float32 ``n x n`` matmul GFLOP/s of ``jnp.dot``, numpy and (if importable) ``torch.mm``."""
    import jax
    import jax.numpy as jnp

    def best(fn, sync):
        sync(fn())
        t_best = math.inf
        for _ in range(reps):
            t = time.perf_counter()
            sync(fn())
            t_best = min(t_best, time.perf_counter() - t)
        return round(2 * n**3 / t_best / 1e9, 1)

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    ja, jb = jnp.asarray(a), jnp.asarray(b)
    dot = jax.jit(jnp.dot)
    out = {"jax": best(lambda: dot(ja, jb), jax.block_until_ready), "numpy": best(lambda: a @ b, lambda x: x)}
    if with_torch:
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        out["torch"] = best(lambda: torch.mm(ta, tb), lambda x: x)
    return out
