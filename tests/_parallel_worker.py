"""Data-parallel runs for ``tests/test_parallel.py``, in a fresh process with N simulated CPU devices.

    python tests/_parallel_worker.py --devices N --checks reference,step,bug,runner,errors
    python tests/_parallel_worker.py --devices 2 --checks multihost,mismatch --process-id I --num-processes 2 \
        --port P

Prints one JSON object on the last line of stdout: per check, the trained parameters (as nested lists, in
``jax.tree.leaves`` order) and metrics, or error messages. The test compares them with the single-device runs,
which the 1-device worker computes (``--checks reference``). The device count must be set before JAX
initialises its backends, which is why these are separate processes.

The model is a built :class:`jaxgan.run.experiment.Experiment` that crosses devices everywhere it can: a generator
with batch norm (cross-replica statistics in the parallel modes), a WGAN loss with a gradient penalty
(per-sample keys), ``n_critic = 2`` (row layout across devices), PacGAN pairs (packs within a device), and plain
SGD with a large step (a gradient N times too large would show; Adam's scale invariance would hide it).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys

B, N_CRITIC, STEPS, LR = 8, 2, 3, 0.05


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, required=True)
    ap.add_argument("--checks", default="step")
    ap.add_argument("--process-id", type=int, default=None)
    ap.add_argument("--num-processes", type=int, default=1)
    ap.add_argument("--port", type=int, default=None)
    args = ap.parse_args()

    import jax

    jax.config.update("jax_num_cpu_devices", args.devices)
    from jaxgan import parallel

    if args.process_id is not None:
        parallel.initialize_distributed(f"127.0.0.1:{args.port}", args.num_processes, args.process_id)
    out = {"devices": jax.device_count(), "local_devices": jax.local_device_count(),
           "processes": jax.process_count(), "process": jax.process_index()}
    for check in args.checks.split(","):
        out[check] = CHECKS[check](args)
    print(json.dumps(out), flush=True)


# --------------------------------------------------------------------------------------------------------------
# The model, the data and the single-device references
# --------------------------------------------------------------------------------------------------------------


def toy_config(mode, **overrides):
    """The config of every run here (see the module docstring)."""
    from jaxgan.run.config import Config

    c = Config(
        data="ring", batch_size=B, latent_dim=2, g_features=[16], d_features=[16], g_batch_norm=True,
        loss="wasserstein", penalties={"gp": 1.0}, n_critic=N_CRITIC, pack=2, optimizer="sgd", g_lr=LR,
        d_lr=LR, steps=STEPS, parallel=mode,
    )
    return dataclasses.replace(c, **overrides)


def experiment_for(mode, **overrides):
    """The built Experiment; in the parallel modes its batch norm averages over ``DATA_AXIS``."""
    from jaxgan.run import experiment

    return experiment.build(toy_config(mode, **overrides))


def batcher(exp):
    """Host batches as the image path makes them: ``(data, Batcher)`` giving this process's rows of shuffled
    global batches of 64 ring samples."""
    import jax
    import numpy as np

    from jaxgan.data.pipeline import Batcher

    data = {"x": np.asarray(exp.toy.sample(jax.random.PRNGKey(5), 64))}
    return data, Batcher(data, exp.rows_per_step, 0, process_index=jax.process_index(),
                         process_count=jax.process_count())


@functools.lru_cache(maxsize=1)
def global_batches():
    """The global batches of steps 0 .. STEPS - 1 (the same in every process)."""
    data, rows = batcher(experiment_for("none"))
    return [{"x": data["x"][rows.global_indices(t)]} for t in range(STEPS)]


def reference():
    """The single-device run on the global batches: plain jit, no replicas, batch statistics over the batch."""
    import jax

    exp = experiment_for("none")
    step = jax.jit(exp.make_train_step())
    state, metrics = exp.init_state(), None
    for b in global_batches():
        state, metrics = step(state, b)
    return result(jax.device_get(state), metrics)


def result(state, metrics=None) -> dict:
    """What is compared: the trained parameters and batch statistics as lists, the step, the last metrics."""
    import jax
    import numpy as np

    trained = (state.g_params, state.d_params, state.g_model_state)
    out = {"leaves": [np.asarray(x).tolist() for x in jax.tree.leaves(trained)], "step": int(state.step)}
    if metrics is not None:
        out["metrics"] = {k: float(np.asarray(v).reshape(-1)[-1]) for k, v in metrics.items()}
    return out


def runner_run(mode, host_data, **overrides):
    """``STEPS`` steps of the CLI's Runner in one call; ``host_data``: host batches from a Batcher (the image
    path, each process reading its own rows; the global batches are ``global_batches()``) instead of toy data
    drawn on device."""
    from jaxgan.run.runner import make_runner
    from jaxgan.run.task import ImageTask

    exp = experiment_for(mode, **overrides)
    if host_data:  # the image task's host batches, over the toy data
        host = batcher(exp)[1]
        exp = exp._replace(toy=None, batcher=host, task=ImageTask(None, host, None, exp.rows_per_step))
    runner = make_runner(exp, mode)
    state, metrics = runner.run(runner.put(exp.init_state()), 0, STEPS)
    out = result(runner.get(state))
    out["metrics"] = runner.metrics_to_host(metrics)
    out["runner"] = [runner.num_devices, runner.num_hosts, runner.is_primary]
    return out


# --------------------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------------------


def _process_rows(batch):
    """This process's contiguous share of a global batch (what a Batcher gives each host)."""
    import jax

    p, n = jax.process_index(), jax.process_count()
    return {k: v[p * (len(v) // n):(p + 1) * (len(v) // n)] for k, v in batch.items()}


def _run_steps(dp, exp):
    state, metrics = dp.put(exp.init_state()), None
    for b in global_batches():
        state, metrics = dp.step(state, dp.shard(_process_rows(b)))
    return result(dp.get(state), dp.get(metrics))


def check_reference(args):
    """The single-device runs the others are compared with (run by the 1-device worker)."""
    from jaxgan import parallel

    exp = experiment_for("none")
    return {"step": reference(), "runner_toy": runner_run("none", host_data=False),
            "initial": result(exp.init_state())["leaves"],
            "none": _run_steps(parallel.data_parallel(exp.make_train_step, "none"), exp)}


def check_step(args):
    """pmap and mesh steps on the global batches, each process feeding its own rows."""
    from jaxgan import parallel

    out = {}
    for mode in ("pmap", "mesh"):
        exp = experiment_for(mode)
        out[mode] = _run_steps(parallel.data_parallel(exp.make_train_step, mode), exp)
    return out


def check_bug(args):
    """What the comparison must catch: shard_map with its default check_vma=True, whose gradient of a
    per-device loss w.r.t. replicated params is already summed over devices, so the step's pmean leaves it N
    times too large."""
    from jaxgan import parallel

    exp = experiment_for("mesh")
    mesh = parallel._Mesh(parallel.data_devices(), check_vma=True)
    step = mesh.compile(exp.make_train_step(mesh.replicas), 0, donate=True)
    state = mesh.put(exp.init_state())
    for b in global_batches():
        state, _ = step(state, mesh.shard(b, N_CRITIC, stacked=False))
    return {"mesh_check_vma": result(mesh.get(state))}


def check_runner(args):
    """The CLI's Runner: on-device toy data and host batches, k steps per call, pmap and mesh."""
    return {f"{mode}_{'host' if host else 'toy'}": runner_run(mode, host)
            for mode in ("pmap", "mesh") for host in (False, True)}


def _error(fn) -> str | None:
    try:
        fn()
    except ValueError as e:
        return str(e)
    return None


def check_errors(args):
    """Batches that do not split over the devices are refused, before compiling, with the numbers."""
    import jax
    import numpy as np

    from jaxgan import parallel
    from jaxgan.run.runner import make_runner

    n = jax.device_count()
    dp = {mode: parallel.data_parallel(experiment_for(mode).make_train_step, mode) for mode in ("mesh", "pmap")}
    odd = {"x": np.zeros((2 * (n + 1), 2), np.float32)}  # 2 minibatches of n + 1 rows
    return {
        "shard_mesh": _error(lambda: dp["mesh"].shard(odd)),
        "shard_pmap": _error(lambda: dp["pmap"].shard(odd)),
        "runner": _error(lambda: make_runner(experiment_for("mesh", batch_size=n + 1, pack=1), "mesh")),
        "runner_pack": _error(lambda: make_runner(experiment_for("pmap", batch_size=2 * n, pack=4), "pmap")),
    }


def check_multihost(args):
    """Two processes: steps of both modes, and the Runner on host batches (each process its own rows)."""
    return {"step": check_step(args), "runner_mesh_host": runner_run("mesh", host_data=True)}


def check_mismatch(args):
    """Processes that disagree (here: process 1 has twice the batch) are refused with the numbers."""
    from jaxgan.run.runner import make_runner

    batch = B if args.process_id == 0 else 2 * B
    return _error(lambda: make_runner(experiment_for("mesh", batch_size=batch), "mesh"))


CHECKS = {
    "reference": check_reference,
    "step": check_step,
    "bug": check_bug,
    "runner": check_runner,
    "errors": check_errors,
    "multihost": check_multihost,
    "mismatch": check_mismatch,
}

if __name__ == "__main__":
    sys.exit(main())
