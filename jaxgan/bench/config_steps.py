"""The train step of shipped configs with the CPU forms of ``"auto"`` on and off, in one run.

For each config, one fresh process per setting builds the experiment (:func:`jaxgan.run.experiment.build`, the
config's own models, batch size and data) and compiles its train step as ``jaxgan train`` does
(:func:`jaxgan.parallel.data_parallel`, mode ``"none"``); it times ``--steps`` calls after ``--warmup`` on the
first real batch (toy data: one step drawn on the device per call). The settings alternate (on, off, on, off,
...) for ``--rounds`` rounds. "on" is the default: ``"auto"`` layers take the forms measured fastest on XLA's CPU
(per-tap weight gradients, batch chunks, the ``per_product`` transposed convolution); "off" is
``JAXGAN_CPU_FORMS=off``, what the same models run on other backends (:func:`jaxgan.models.conv_forms.cpu_forms`).
Prints the median step time of each and their ratio::

    python benchmarks/config_steps.py --configs dcgan_mnist,ring_nonsat --steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

DEFAULT_CONFIGS = ("default", "grid_pacgan4", "dcgan_mnist", "began_mnist", "bigan_mnist", "biggan_mnist",
                   "hinge_sngan_mnist", "pix2pix_edges", "cyclegan_thick", "stargan_digits")  # fmt: skip
SETTINGS = {"on": {"JAXGAN_CPU_FORMS": "on"}, "off": {"JAXGAN_CPU_FORMS": "off"}}  # name: environment


def time_config(name: str, steps: int, warmup: int) -> dict:
    """Build ``name``, compile its step and time it: ``{"config", "first_call_s", "step_ms": [...]}``."""
    import jax

    from jaxgan import parallel
    from jaxgan.run import config as config_lib
    from jaxgan.run.experiment import build

    c = config_lib.load_config(name)
    exp = build(c)
    if exp.schedule is not None:
        raise ValueError(f"{name}: a growing run has one step per phase; not timed here")
    dp = parallel.data_parallel(exp.make_train_step, "none", n_critic=c.n_critic)
    state = dp.put(exp.init_state())
    if exp.toy is not None:  # toy data: drawn on the device in the compiled call, as jaxgan train does
        step = dp.sampled_multi_step(exp.task.sample_batch, exp.rows_per_step, 1)
    else:
        batch = dp.shard({k: v[0] for k, v in exp.host_batches(0, 1).items()})
        step = lambda state: dp.step(state, batch)  # noqa: E731
    t = time.perf_counter()
    state, _ = jax.block_until_ready(step(state))
    first = time.perf_counter() - t
    for _ in range(warmup):
        state, _ = jax.block_until_ready(step(state))
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        state, _ = jax.block_until_ready(step(state))
        times.append((time.perf_counter() - t) * 1e3)
    return {"config": name, "first_call_s": round(first, 2), "step_ms": [round(x, 2) for x in times]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="config_steps", description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default=",".join(DEFAULT_CONFIGS), help="comma list of shipped config names")
    p.add_argument("--steps", type=int, default=5, help="timed steps per process")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps after the first call")
    p.add_argument("--rounds", type=int, default=1, help="processes per setting, alternating")
    p.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child:
        print(json.dumps(time_config(args._child, args.steps, args.warmup)))
        return 0
    import statistics

    from jaxgan.bench.machine import cpu_model, loadavg

    print(f"# config steps ({' '.join(argv if argv is not None else sys.argv[1:])})")
    print(f"CPU: {cpu_model()}; load average at start {loadavg()}")
    names = list(SETTINGS)
    print("| config | CPU forms (default) ms | JAXGAN_CPU_FORMS=off ms | off / on | first call s (on / off) |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.configs.split(","):
        got: dict[str, list] = {n: [] for n in names}
        first: dict[str, list] = {n: [] for n in names}
        failed = None
        for _ in range(args.rounds):
            for setting in names:
                env = {**os.environ, **SETTINGS[setting]}
                cmd = [sys.executable, "-m", "jaxgan.bench.config_steps", "--_child", name, "--steps", str(args.steps),
                       "--warmup", str(args.warmup)]  # fmt: skip
                out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    failed = f"failed ({setting}): {(out.stderr.strip().splitlines() or ['?'])[-1]}"
                    break
                r = json.loads(out.stdout.strip().splitlines()[-1])
                got[setting] += r["step_ms"]
                first[setting].append(r["first_call_s"])
            if failed:
                break
        if failed:
            print(f"| {name} | {failed} | | | |", flush=True)
            continue
        med = {n: statistics.median(got[n]) for n in names}
        print(f"| {name} | {med['on']:.2f} | {med['off']:.2f} | {med['off'] / med['on']:.2f}x | "
              f"{max(first['on']):.1f} / {max(first['off']):.1f} |", flush=True)  # fmt: skip
    print(f"load average at end {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
