"""Tests of jaxgan.parallel: pmap and mesh (jit + shard_map) data parallelism against one device.

Every multi-device run happens in a fresh process (``tests/_parallel_worker.py``) with ``jax_num_cpu_devices``
set before JAX starts, so this process keeps its single device for the other test files. The workers (1, 2, 4
devices and a two-process run) start together when the first of these tests needs one and compile
concurrently; the 1-device worker also computes the single-device references. All run with flags that halve
XLA's CPU compile time (optimisation level 0, no fusion emitters); both sides of every comparison are compiled
with the same flags.

The model (see the worker) crosses devices everywhere it can: a batch-norm generator (cross-replica
statistics), a WGAN loss with a gradient penalty (per-sample keys), ``n_critic = 2`` (row layout), PacGAN pairs,
and plain SGD with a large step so that a gradient N times too large cannot hide behind Adam's scale invariance.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import parallel, train

pytestmark = pytest.mark.slow  # multi-process / end-to-end: deselected by the quick run (-m "not slow")

WORKER = Path(__file__).with_name("_parallel_worker.py")
ROOT = Path(__file__).resolve().parents[1]

# Float32 round-off: the cross-device pmean sums the per-device gradients in another order than one device
# sums the batch. Measured after 3 SGD steps: <= 1.2e-7 on parameters of size ~1.6 that moved by 0.38, <= 4e-7
# on the metrics, on 1, 2, 4 devices and 2 processes. The N-times-gradient bug gives 0.5.
TOL = 1e-5


def max_diff(a: dict, b: dict) -> float:
    assert len(a["leaves"]) == len(b["leaves"])
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
               for x, y in zip(a["leaves"], b["leaves"]))


def assert_same_run(got: dict, expected: dict, what) -> None:
    assert got["step"] == expected["step"], what
    assert max_diff(got, expected) < TOL, (what, max_diff(got, expected))
    if "metrics" in got and "metrics" in expected:
        worst = max(abs(got["metrics"][k] - expected["metrics"][k]) for k in expected["metrics"])
        assert worst < 10 * TOL, (what, got["metrics"], expected["metrics"])


# --------------------------------------------------------------------------------------------------------------
# Worker processes, and the single-device runs they are compared with (computed here)
# --------------------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in f]
    env["XLA_FLAGS"] = " ".join(flags + ["--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false",
                                         "--xla_llvm_disable_expensive_passes=true"])
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _start(devices: int, checks: str, **extra) -> subprocess.Popen:
    cmd = [sys.executable, str(WORKER), "--devices", str(devices), "--checks", checks]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        pytest.fail(f"worker {proc.args[2:]} failed ({proc.returncode}):\n{err[-4000:]}")
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs():
    """Starts every worker at once; ``runs(name)`` waits for one and returns its JSON output(s) as a list (two
    for the two-process run). ``runs("1")[0]["reference"]`` holds the single-device runs."""
    port = _free_port()
    procs = {
        "1": [_start(1, "reference,step")],
        "2": [_start(2, "step,runner")],
        "4": [_start(4, "step,bug,errors")],
        "multihost": [_start(2, "multihost,mismatch", process_id=i, num_processes=2, port=port) for i in range(2)],
    }
    cache: dict[str, list[dict]] = {}

    def get(name):
        if name not in cache:
            cache[name] = [_result(p) for p in procs[name]]
        return cache[name]

    try:
        yield get
    finally:
        for ps in procs.values():
            for p in ps:
                if p.poll() is None:
                    p.kill()
                p.communicate()


@pytest.fixture(scope="module")
def reference(runs):
    return runs("1")[0]["reference"]


# --------------------------------------------------------------------------------------------------------------
# Multi-device checks
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("devices", [1, 2, 4])
def test_pmap_and_mesh_steps_equal_one_device(runs, reference, devices):
    """3 steps on the same global batches, compared with the plain jit of the step on one device."""
    (out,) = runs(str(devices))
    assert out["devices"] == devices
    assert max_diff(out["step"]["mesh"], {"leaves": reference["initial"]}) > 0.1  # the runs moved far
    for mode in ("pmap", "mesh"):
        assert_same_run(out["step"][mode], reference["step"], (devices, mode))


def test_the_comparison_catches_n_times_gradients(runs, reference):
    """shard_map's default check_vma=True plus the step's pmean gives gradients 4x too large: far outside TOL."""
    (out,) = runs("4")
    assert max_diff(out["bug"]["mesh_check_vma"], reference["step"]) > 1000 * TOL


@pytest.mark.parametrize("data", ["toy", "host"])
def test_runner_scanned_steps_equal_one_device(runs, reference, data):
    """The CLI's Runner, 3 steps in one scanned call: toy data drawn on device, or host batches from a Batcher
    (whose global batches are the ones the single-device reference steps on)."""
    (out,) = runs("2")
    ref = reference["runner_toy"] if data == "toy" else reference["step"]
    for mode in ("pmap", "mesh"):
        got = out["runner"][f"{mode}_{data}"]
        assert got["runner"] == [2, 1, True]
        assert_same_run(got, ref, (mode, data))


def test_uneven_batches_refused_with_the_numbers(runs):
    (out,) = runs("4")
    e = out["errors"]
    for name in ("shard_mesh", "shard_pmap"):  # 2 minibatches of 5 rows on 4 devices
        assert e[name] is not None and "5 rows" in e[name] and "4 devices" in e[name] and "5 % 4 = 1" in e[name]
    assert "5 rows" in e["runner"] and "4 devices" in e["runner"]
    assert "packs of 4" in e["runner_pack"] and "2 rows" in e["runner_pack"]


def test_two_processes_match_one_device(runs, reference):
    """Two processes on loopback, 2 CPU devices each, each feeding its own rows of the global batch."""
    outs = runs("multihost")
    assert sorted(o["process"] for o in outs) == [0, 1]
    for o in outs:
        assert (o["devices"], o["local_devices"], o["processes"]) == (4, 2, 2)
        for mode in ("pmap", "mesh"):
            assert_same_run(o["multihost"]["step"][mode], reference["step"], (o["process"], mode))
        got = o["multihost"]["runner_mesh_host"]
        assert got["runner"] == [4, 2, o["process"] == 0]
        assert_same_run(got, reference["step"], (o["process"], "runner"))


def test_processes_that_disagree_are_refused(runs):
    """Process 0 has batch_size 8 and process 1 16: both refuse, naming what each has, before compiling."""
    for o in runs("multihost"):
        msg = o["mismatch"]
        assert msg is not None and "disagree" in msg
        assert "rows_per_step: process 0 has 16, process 1 has 32" in msg


# --------------------------------------------------------------------------------------------------------------
# Single-device checks (this process)
# --------------------------------------------------------------------------------------------------------------


def test_device_order_gives_each_device_its_share_of_every_minibatch():
    n_critic, devices, b = 3, 2, 2
    rows = np.arange(n_critic * devices * b)  # minibatch i = rows [i*4, (i+1)*4)
    blocks = np.asarray(parallel._device_order(rows, n_critic, devices, 0)).reshape(devices, n_critic, b)
    for s in range(devices):
        for i in range(n_critic):
            np.testing.assert_array_equal(blocks[s, i], i * devices * b + s * b + np.arange(b))
    stacked = np.stack([rows, rows + 100])
    np.testing.assert_array_equal(parallel._device_order(stacked, n_critic, devices, 1)[1],
                                  parallel._device_order(rows, n_critic, devices, 0) + 100)


def test_sample_keys_of_the_replicas_together_are_the_single_device_keys():
    """Replica r's keys for groups (n_critic minibatches) are the global rows of its share of each."""
    key, count, groups, per_replica = jax.random.PRNGKey(3), 2, 3, 6
    whole = train.sample_keys(key, count * per_replica, train.Replicas(), groups)
    parts = [
        train.sample_keys(key, per_replica, train.Replicas(index=lambda r=r: jnp.int32(r), count=count), groups)
        for r in range(count)
    ]
    m = per_replica // groups
    for r, part in enumerate(parts):
        for i in range(groups):
            start = i * count * m + r * m
            np.testing.assert_array_equal(part[i * m:(i + 1) * m], whole[start:start + m])


def test_check_batch_split_states_the_numbers():
    with pytest.raises(ValueError, match=r"global batch of 10 rows does not split over 4 devices \(10 % 4 = 2\)"):
        parallel.check_batch_split(10, 4)
    with pytest.raises(ValueError, match=r"5 x 10 = 50 rows per step"):
        parallel.check_batch_split(10, 4, n_critic=5)
    with pytest.raises(ValueError, match=r"each gets 3 rows .* packs of 2"):
        parallel.check_batch_split(12, 4, pack=2)
    parallel.check_batch_split(16, 4, n_critic=5, pack=2)


def test_modes_refused_before_compiling():
    with pytest.raises(ValueError, match="one of none, pmap, mesh; got 'tpu'"):
        parallel.data_parallel(lambda replicas: None, "tpu")
    with pytest.raises(ValueError, match="1 device; got num_devices=2"):
        parallel.data_parallel(lambda replicas: None, "none", num_devices=2)
    with pytest.raises(ValueError, match=r"num_devices must be in \[1, 1\]"):
        parallel.data_parallel(lambda replicas: None, "mesh", num_devices=3)


def test_initialize_distributed_without_coordinator_is_single_process(monkeypatch):
    monkeypatch.delenv("JAXGAN_COORDINATOR", raising=False)
    assert parallel.initialize_distributed() is False
    monkeypatch.setenv("JAXGAN_COORDINATOR", "127.0.0.1:1")
    monkeypatch.delenv("JAXGAN_NUM_PROCESSES", raising=False)
    with pytest.raises(ValueError, match="needs num_processes and process_id"):
        parallel.initialize_distributed()


def test_mode_none_is_the_plain_jit_of_the_step_bitwise(reference):
    """``data_parallel(make_step, "none")`` (the CLI's default runner) changes no bit of a single-device run."""
    assert reference["none"] == reference["step"]
