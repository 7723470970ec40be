"""The train step of shipped configs with the CPU forms of ``"auto"`` on and off, in one run.

For each config, one fresh process per setting builds the experiment (:func:`jaxgan.run.experiment.build`, the
config's own models, batch size and data), compiles its train step and times ``--steps`` calls after ``--warmup``
on the first real batch; the settings alternate (on, off, on, off, ...) for ``--rounds`` rounds. "on" is the
default: ``"auto"`` layers take the forms measured fastest on XLA's CPU (per-tap weight gradients, batch chunks,
the ``per_product`` transposed convolution); "off" is ``JAXGAN_CPU_FORMS=off``, what the same models run on other
backends (:func:`jaxgan.models.layers.cpu_forms`). Prints the median step time of each and their ratio::

    python benchmarks/config_steps.py --configs dcgan_mnist,pix2pix_edges --steps 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

DEFAULT_CONFIGS = ("dcgan_mnist", "began_mnist", "bigan_mnist", "biggan_mnist", "hinge_sngan_mnist",
                   "pix2pix_edges", "cyclegan_thick", "stargan_digits")  # fmt: skip


def time_config(name: str, steps: int, warmup: int) -> dict:
    """Build ``name``, compile its step and time it: ``{"config", "first_call_s", "step_ms": [...]}``."""
    import jax

    from jaxgan.run import config as config_lib
    from jaxgan.run.experiment import build

    exp = build(config_lib.load_config(name))
    if exp.schedule is not None:
        raise ValueError(f"{name}: a growing run has one step per phase; not timed here")
    state = exp.init_state()
    batch = {k: v[0] for k, v in exp.host_batches(0, 1).items()}
    step = jax.jit(exp.make_train_step(), donate_argnums=0)
    t = time.perf_counter()
    state, _ = jax.block_until_ready(step(state, batch))
    first = time.perf_counter() - t
    for _ in range(warmup):
        state, _ = jax.block_until_ready(step(state, batch))
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        state, _ = jax.block_until_ready(step(state, batch))
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
    print("| config | CPU forms (default) ms | JAXGAN_CPU_FORMS=off ms | off / on | first call s (on / off) |")
    print("| --- | --- | --- | --- | --- |")
    for name in args.configs.split(","):
        got: dict[str, list] = {"on": [], "off": []}
        first: dict[str, list] = {"on": [], "off": []}
        for _ in range(args.rounds):
            for setting in ("on", "off"):
                env = {**os.environ, "JAXGAN_CPU_FORMS": setting}
                cmd = [sys.executable, "-m", "jaxgan.bench.config_steps", "--_child", name, "--steps", str(args.steps),
                       "--warmup", str(args.warmup)]  # fmt: skip
                out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"| {name} | failed ({setting}): {out.stderr.strip().splitlines()[-1]} | | | |")
                    break
                r = json.loads(out.stdout.strip().splitlines()[-1])
                got[setting] += r["step_ms"]
                first[setting].append(r["first_call_s"])
        if got["on"] and got["off"]:
            on, off = statistics.median(got["on"]), statistics.median(got["off"])
            print(f"| {name} | {on:.1f} | {off:.1f} | {off / on:.2f}x | {max(first['on']):.1f} / "
                  f"{max(first['off']):.1f} |", flush=True)  # fmt: skip
    print(f"load average at end {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
