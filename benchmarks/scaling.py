"""Data-parallel scaling: steps/s and samples/s of one config on 1, 2, 4, 8 devices, pmap and mesh.

    python benchmarks/scaling.py                            # CPU: simulated devices, the default config
    python benchmarks/scaling.py --devices 1,2,4,8 --modes pmap,mesh --config default --calls 3
    python benchmarks/scaling.py --weak                     # global batch = batch_size x devices
    python benchmarks/scaling.py --platform tpu             # a TPU VM: subsets of its real devices

Each (devices, mode) runs in its own process (the simulated CPU device count is fixed when JAX starts) that
builds the config's :class:`jaxgan.run.experiment.Experiment`, compiles a ``--steps-per-call`` scanned call (toy
data drawn on device, image data fed from the host as the CLI does), runs one warm-up call, then times
``--calls`` calls one by one and reports the median (and the best) call. ``"none"`` on 1 device is the
single-device baseline; "vs none" is the ratio of steps/s.

On CPU the simulated devices are slices of the same cores, so the table measures the overhead of the
data-parallel machinery (collectives, partitioned compute, row layout), not a speed-up; the script says so in
its output. On a TPU or GPU host the same command measures real scaling.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CPU_NOTE = (
    "NOTE: CPU with simulated devices: all 'devices' are threads on this machine's {cores} core(s), so these "
    "numbers measure the overhead of data parallelism (collectives, partitioning, row layout), NOT the speed-up "
    "of real accelerators. Run it on a TPU/GPU host for that."
)


def _worker(args) -> dict:
    import jax

    if args.platform == "cpu":
        jax.config.update("jax_num_cpu_devices", args.devices)
    import numpy as np

    from jaxgan import parallel
    from jaxgan.run import config as config_lib
    from jaxgan.run import experiment

    overrides = [f"parallel={args.mode}", *args.set]
    if args.batch_size is not None:
        overrides.append(f"batch_size={args.batch_size * (args.devices if args.weak else 1)}")
    elif args.weak:
        base = config_lib.load_config(args.config).batch_size
        overrides.append(f"batch_size={base * args.devices}")
    c = config_lib.validate(config_lib.apply_overrides(config_lib.load_config(args.config), overrides))
    exp = experiment.build(c)
    dp = parallel.data_parallel(exp.make_train_step, args.mode,
                                num_devices=None if args.mode == "none" else args.devices)
    dp.check(c.batch_size, pack=c.pack)
    k = args.steps_per_call

    if exp.toy is not None:
        call = dp.sampled_multi_step(exp.task.sample_batch, exp.rows_per_step, k)

        def run(state, step):
            return call(state)
    else:
        def run(state, step):
            return dp.multi_step(state, dp.shard(exp.host_batches(step, k), stacked=True))

    state = dp.put(exp.init_state())
    t0 = time.perf_counter()
    state, metrics = run(state, 0)
    jax.block_until_ready(metrics)
    first = time.perf_counter() - t0
    times = []
    for i in range(args.calls):
        t0 = time.perf_counter()
        state, metrics = run(state, (i + 1) * k)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t0)
    per_call = float(np.median(times))  # the median call: robust to other work on a shared machine
    return {
        "mode": args.mode, "devices": dp.num_devices, "platform": jax.devices()[0].platform,
        "batch_size": c.batch_size, "steps_per_s": k / per_call,
        "samples_per_s": k * c.batch_size * c.n_critic / per_call, "best_steps_per_s": k / min(times),
        "compile_and_first_call_s": first, "d_loss": float(np.asarray(dp.get(metrics)["d/loss"])[-1]),
    }


def _run_one(args, devices: int, mode: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--devices", str(devices), "--mode", mode,
           "--config", args.config, "--steps-per-call", str(args.steps_per_call), "--calls", str(args.calls),
           "--platform", args.platform]
    if args.batch_size is not None:
        cmd += ["--batch-size", str(args.batch_size)]
    if args.weak:
        cmd.append("--weak")
    for s in args.set:
        cmd += ["--set", s]
    env = dict(os.environ)
    if args.platform == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
        env["XLA_FLAGS"] = " ".join(
            f for f in env.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in f
        )
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        return {"mode": mode, "devices": devices, "error": tail[0]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", default="1,2,4,8", help="comma-separated device counts")
    ap.add_argument("--modes", default="pmap,mesh", help="comma-separated parallel modes")
    ap.add_argument("--config", default="default")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="config overrides")
    ap.add_argument("--batch-size", type=int, default=None, help="global batch (default: the config's)")
    ap.add_argument("--weak", action="store_true", help="weak scaling: global batch = batch size x devices")
    ap.add_argument("--steps-per-call", type=int, default=50)
    ap.add_argument("--calls", type=int, default=10, help="timed calls after one warm-up call (median reported)")
    ap.add_argument("--platform", default="cpu", help="cpu (simulated devices) or the accelerator's (tpu, gpu)")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="mesh", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.devices = int(args.devices)
        print(json.dumps(_worker(args)), flush=True)
        return

    counts = [int(n) for n in args.devices.split(",")]
    jobs = [(1, "none")] + [(n, m) for n in counts for m in args.modes.split(",")]
    rows = []
    if args.platform == "cpu":
        print(CPU_NOTE.format(cores=os.cpu_count()), flush=True)
    print(f"{'mode':>5} {'devices':>7} {'batch':>6} {'steps/s':>9} {'best':>7} {'samples/s':>10} {'vs none':>8} "
          f"{'compile+1st s':>14}", flush=True)
    base = None
    for n, mode in jobs:
        r = _run_one(args, n, mode)
        rows.append(r)
        if "error" in r:
            print(f"{mode:>5} {n:>7}  error: {r['error']}", flush=True)
            continue
        base = r["steps_per_s"] if mode == "none" else base
        rel = f"{r['steps_per_s'] / base:.2f}x" if base else "-"
        print(f"{mode:>5} {r['devices']:>7} {r['batch_size']:>6} {r['steps_per_s']:>9.1f} "
              f"{r['best_steps_per_s']:>7.1f} {r['samples_per_s']:>10.0f} {rel:>8} "
              f"{r['compile_and_first_call_s']:>14.1f}", flush=True)
    if args.platform == "cpu":
        print(CPU_NOTE.format(cores=os.cpu_count()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
