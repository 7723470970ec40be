"""Step throughput of jaxgan's train step beside a PyTorch reference and a hand-written minimal JAX step.

Run it as ``jaxgan bench [flags]`` (from an installed package), ``python -m jaxgan.bench.step_throughput`` or
``python benchmarks/step_throughput.py``, all with the same flags.

Size: over 400 lines, because this module is the benchmark's manual (this docstring, about 60 lines) and its main
(the flags, timing, ratios and output). What it times is in :mod:`jaxgan.bench.runners`, the FLOP counts in
:mod:`jaxgan.bench.flops`, the machine's facts in :mod:`jaxgan.bench.machine` and the fresh-process levers in
:mod:`jaxgan.bench.levers`.

    python benchmarks/step_throughput.py                         # every model at the issue's batch sizes
    python benchmarks/step_throughput.py --model dcgan28 --batch 64,256 --levers --json out.jsonl
    python benchmarks/step_throughput.py --model mlp2d --batch 100 --steps 2000 --warmup 200
    python benchmarks/step_throughput.py --model dcgan28 --batch 8 --steps 3 --warmup 1 --no-torch   # smoke test
    python benchmarks/step_throughput.py --model dcgan28 --batch 64 --dtype float32,bfloat16 --impl jaxgan
    python benchmarks/step_throughput.py --device gpu --dtype float32,bfloat16   # on a GPU: larger batches, no torch

``--dtype bfloat16`` adds jaxgan's rows in bfloat16 mixed precision (:func:`jaxgan.precision.mixed_precision`:
float32 parameters, optimizer states and losses, the networks' forward and backward passes in bf16) as
implementation ``jaxgan bf16``, with a ``jaxgan_bf16/jaxgan`` speed ratio to the float32 row of the same variant.
It is for accelerators (TPU, recent GPUs), whose matrix units run bf16 at several times their float32 rate: on a
CPU without bf16 matrix instructions (this project's 2-core AMD EPYC VM) XLA converts bf16 to float32 and back
around each convolution, so bf16 rows are expected to be slower than float32 ones there.

What one row measures: a model's whole train step (``n_critic`` discriminator updates and one generator update, as
``jaxgan.train.make_train_step`` does it), on data already in memory (a fixed real batch for the image models,
the 25-Gaussian grid drawn on device / in the step for ``mlp2d``): the input pipeline is not timed.

* step time: after the first call (compile, reported apart as "1st call") and ``--warmup`` steps, ``--steps``
  steps are timed call by call (``block_until_ready`` at the end of each call; a scanned call of K steps counts as
  K steps of call/K each), but at most ``--budget`` seconds of calls per row (never fewer than 3 calls; the JSON
  says how many steps were timed). The implementations of one model and batch are timed in interleaved rounds,
  so a change of machine load hits them alike. Reported: median, p10 and p90 (and IQR in the JSON).
* FLOPs: analytic (:func:`jaxgan.bench.flops.step_macs`): 2 x the multiply-adds of every convolution, transposed
  convolution and dense layer, forward and backward as the step needs them: parameter gradients for the network
  being updated, input gradients wherever a gradient has to flow on (not into data or latents; the
  discriminator's parameter gradients are not taken in the generator update). A transposed convolution counts
  its real taps only (input pixels x k x k x c_in x c_out), not the zeros of the dilated input that
  ``lax.conv_transpose`` convolves and that XLA's ``cost_analysis()`` counts (printed beside it with
  ``--xla-cost``). Not counted: batch norm,
  spectral norm's power iteration, activations, losses, Adam. The count equals what PyTorch's
  ``FlopCounterMode`` counts for the reference step (checked at batch 2 in every run, and by the tests).
  ``resize_conv`` is a different model (its k x k convolution runs at the output resolution): its row carries its
  own, larger count.
* ceiling: the best float32 matrix-multiply rate of this process (2048 x 2048 ``jnp.dot``, ``numpy`` and
  ``torch.mm``, best of 5 each, measured at the start and at the end); "% ceiling" is achieved FLOP/s over it.
* memory: "peak dRSS" is the rise of the process's resident-set high-water mark (``VmHWM``, reset through
  ``/proc/self/clear_refs``) over its resident set before the runner was built, during build, first call and
  warm-up: host memory of that implementation's compile and step. ``ru_maxrss`` (``resource.getrusage``, the
  process's lifetime peak RSS, every runner and library included) is printed at the end.

Threads: PyTorch runs with ``torch.set_num_threads(--threads)`` (2, the core count); XLA's CPU client uses its
default pool, one thread per core. Both are printed. With ``--levers`` the run also measures, as ratios: upsampling
transpose vs subpixel vs phases (and per-stage mixes such as ``phases,transpose``) vs resize_conv, donated vs
non-donated state, a scanned K-step call vs a Python loop (synced every step, and synced once per K steps), the
persistent compilation cache (two fresh processes), and XLA CPU flags (a process each).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import sys
import time

import numpy as np

from jaxgan.bench.flops import MODELS, N_CRITIC, step_flops
from jaxgan.bench.levers import cache_lever, probe_main, xla_flag_lever
from jaxgan.bench.machine import cpu_model, loadavg, matmul_ceiling, reset_hwm, rss_kib, torch_available
from jaxgan.bench.runners import DTYPE_LABELS, Entry, entries_for

DEFAULT_BATCHES = {"dcgan28": (64, 256), "mlp2d": (100, 512), "sngan32": (8,)}
DEFAULT_STEPS = {"dcgan28": (100, 10), "mlp2d": (1000, 100), "sngan32": (4, 1)}  # (timed steps, warm-up steps)
# on an accelerator (--device gpu / tpu): batches large enough to occupy its matrix units (multiples of 128 for a
# TPU's MXU; not measured here, this project's machine has no accelerator), and more steps, which take little time
ACCELERATOR_BATCHES = {"dcgan28": (256, 2048), "mlp2d": (512, 8192), "sngan32": (128, 256)}
ACCELERATOR_STEPS = {"dcgan28": (200, 20), "mlp2d": (2000, 200), "sngan32": (100, 10)}
DEVICES = ("default", "cpu", "gpu", "tpu")
ROW_KEYS = (
    "record", "model", "batch", "impl", "variant", "n_critic", "steps_per_call", "timed_steps", "step_ms_median",
    "step_ms_p10", "step_ms_p90", "step_ms_iqr", "steps_per_s", "images_per_s", "first_call_s", "flops_per_step",
    "flops_source", "achieved_gflops", "fraction_of_ceiling", "peak_rss_delta_mib", "g_params", "d_params",
)  # fmt: skip


# ------------------------------------------------------------------------------------------------------ timing


def measure(entries: list[Entry], steps: int, warmup: int, rounds: int, log, budget_s=math.inf, min_calls=3) -> None:
    """Builds, compiles and warms up each entry in turn, then times them in ``rounds`` interleaved rounds.

    Each entry gets ``steps`` timed steps, or fewer: a row stops its share of a round once it has spent
    ``budget_s / rounds`` seconds in it (after at least ``ceil(min_calls / rounds)`` calls).
    """
    for e in entries:
        rss0 = rss_kib("VmRSS") or 0
        hwm_ok = reset_hwm()
        e.runner = e.build()
        e.first_call_s = e.runner.first_call()
        t_warm = time.perf_counter()
        for _ in range(max(1, math.ceil(warmup / e.runner.steps_per_call))):
            e.runner.call()
            if time.perf_counter() - t_warm > budget_s / 4:  # warm-up, not a measurement: bounded too
                break
        hwm = rss_kib("VmHWM")
        e.peak_rss_delta_mib = round((hwm - rss0) / 1024, 1) if hwm_ok and hwm else None
        log(f"  built {e.model} b{e.batch} {e.label}: 1st call {e.first_call_s:.2f} s")
    calls = {id(e): max(1, math.ceil(steps / e.runner.steps_per_call)) for e in entries}
    rounds = max(1, min(rounds, min(calls.values())))
    per_round = max(1, math.ceil(min_calls / rounds))  # calls every row makes in a round, whatever the budget
    for r in range(rounds):
        for e in entries:
            n = calls[id(e)] // rounds + (1 if r < calls[id(e)] % rounds else 0)
            spent = 0.0
            for i in range(n):
                if i >= per_round and spent > budget_s / rounds:
                    break
                dt = e.runner.call()
                spent += dt
                e.samples.append(dt / e.runner.steps_per_call)


def summarize(e: Entry, ceiling: float) -> dict:
    s = np.asarray(e.samples) * 1e3
    med = float(np.median(s))
    q10, q25, q75, q90 = (float(np.percentile(s, q)) for q in (10, 25, 75, 90))
    rows = N_CRITIC[e.model] * e.batch
    achieved = e.flops / (med / 1e3) / 1e9
    g_params, d_params = e.runner.params
    return {
        "record": "row",
        "model": e.model,
        "batch": e.batch,
        "impl": e.impl,
        "variant": e.variant,
        "n_critic": N_CRITIC[e.model],
        "steps_per_call": e.runner.steps_per_call,
        "timed_steps": len(s) * e.runner.steps_per_call,
        "step_ms_median": round(med, 3),
        "step_ms_p10": round(q10, 3),
        "step_ms_p90": round(q90, 3),
        "step_ms_iqr": round(q75 - q25, 3),
        "steps_per_s": round(1e3 / med, 2),
        "images_per_s": round(rows * 1e3 / med, 1),
        "first_call_s": round(e.first_call_s, 3),
        "flops_per_step": e.flops,
        "flops_source": "analytic",
        "achieved_gflops": round(achieved, 2),
        "fraction_of_ceiling": round(achieved / ceiling, 4) if ceiling else None,
        "peak_rss_delta_mib": e.peak_rss_delta_mib,
        "g_params": g_params,
        "d_params": d_params,
    }


def ratio_records(rows: list[dict]) -> list[dict]:
    """Speed ratios (steps/s of A over steps/s of B) for the pairs the issue asks about, per model and batch."""
    out = []

    def find(model, batch, impl, variant):
        for r in rows:
            if (r["model"], r["batch"], r["impl"], r["variant"]) == (model, batch, impl, variant):
                return r
        return None

    def add(name, a, b):
        if a and b:
            out.append({
                "record": "ratio", "name": name, "model": a["model"], "batch": a["batch"],
                "a": _label(a), "b": _label(b),
                "speed_ratio": round(b["step_ms_median"] / a["step_ms_median"], 3),
            })  # fmt: skip

    from jaxgan.models.dcgan import auto_upsample

    auto = auto_upsample(2)  # dcgan28's default form on this backend
    for model, batch in sorted({(r["model"], r["batch"]) for r in rows}):
        torch_row = find(model, batch, "torch", "eager")
        compiled = find(model, batch, "torch", "compile")
        jax_rows = [r for r in rows if (r["model"], r["batch"], r["impl"]) == (model, batch, "jaxgan")]
        for r in jax_rows:
            add("jaxgan/torch_eager", r, torch_row)
            add("jaxgan/torch_compile", r, compiled)
        add("torch_compile/torch_eager", compiled, torch_row)
        for up in ("transpose", "subpixel", "phases,transpose", "per_product,transpose"):
            add("jaxgan/minimal_jax", find(model, batch, "jaxgan", up), find(model, batch, "minimal_jax", up))
            add("minimal_jax/torch_eager", find(model, batch, "minimal_jax", up), torch_row)
        t = find(model, batch, "jaxgan", "transpose")
        ups = ("subpixel", "phases", "phases,transpose", "phases,subpixel", "subpixel,transpose")
        for up in (*ups, "per_product,transpose"):
            add(f"{up.replace(',', '+')}/transpose", find(model, batch, "jaxgan", up), t)
        add("resize_conv/transpose", find(model, batch, "jaxgan", "resize_conv"), t)
        for down in ("s2d", "s2d,xla", "xla"):  # D's stride-2 convolutions in other forms, against the default's
            add(f"down_{down.replace(',', '+')}/auto", find(model, batch, "jaxgan", f"{auto}, down {down}"),
                find(model, batch, "jaxgan", auto))  # fmt: skip
        add("auto/previous_default", find(model, batch, "jaxgan", auto),
            find(model, batch, "jaxgan", "phases,transpose, down xla"))  # fmt: skip
        add("conv_auto/xla", find(model, batch, "jaxgan", ""), find(model, batch, "jaxgan", "conv xla"))
        loop_row = find(model, batch, "jaxgan", "critic loop")
        add("critic_unrolled/critic_loop", find(model, batch, "jaxgan", ""), loop_row)
        for r in jax_rows:  # the lever rows: "<base>, not donated", "<base>, loop xK, 1 sync", "<base>, scan xK"
            v = r["variant"]
            base_row = find(model, batch, "jaxgan", v.split(", ")[0]) if ", " in v else None
            if v.endswith("not donated"):
                add("donated/not_donated", base_row, r)
            elif v.endswith("1 sync"):
                add("loop_1_sync/synced_each", r, base_row or find(model, batch, "jaxgan", "loop x1"))
            elif ", scan x" in v:
                add("scan_unrolled/synced_each" if v.endswith("unrolled") else "scan/synced_each", r, base_row)
            elif v.startswith("scan x"):
                add("scan/synced_each", r, find(model, batch, "jaxgan", "loop x1"))
        for r in rows:  # --dtype bfloat16: each mixed-precision row against the float32 row of its variant
            if (r["model"], r["batch"], r["impl"]) == (model, batch, "jaxgan bf16"):
                add("jaxgan_bf16/jaxgan", r, find(model, batch, "jaxgan", r["variant"]))
    return out


# ------------------------------------------------------------------------------------------------------ output


def _label(r: dict) -> str:
    return f"{r['impl']} [{r['variant']}]" if r["variant"] else r["impl"]


def format_table(rows: list[dict]) -> str:
    head = ("model", "batch", "implementation", "step ms", "p10-p90 ms", "img/s", "1st call s", "GFLOP/step",
            "GFLOP/s", "% ceil", "dRSS MiB")  # fmt: skip
    lines = []
    for r in rows:
        impl = _label(r)
        frac = r["fraction_of_ceiling"]
        lines.append((
            r["model"], str(r["batch"]), impl, f"{r['step_ms_median']:.2f}",
            f"{r['step_ms_p10']:.2f}-{r['step_ms_p90']:.2f}", f"{r['images_per_s']:.0f}", f"{r['first_call_s']:.2f}",
            f"{r['flops_per_step'] / 1e9:.3f}", f"{r['achieved_gflops']:.1f}",
            "-" if frac is None else f"{100 * frac:.1f}",
            "-" if r["peak_rss_delta_mib"] is None else f"{r['peak_rss_delta_mib']:.0f}",
        ))  # fmt: skip
    widths = [max(len(h), *(len(x[i]) for x in lines)) if lines else len(h) for i, h in enumerate(head)]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(head), sep, *(fmt(x) for x in lines)])


def select_backend(device: str, error) -> str:
    """Make ``device`` (one of :data:`DEVICES`) JAX's backend for this process, before anything runs, and return the
    backend's name; ``error(message)`` (argparse's) when this process cannot run on it. The model layers' ``auto``
    forms follow the backend (the CPU's forms on the CPU only)."""
    import jax

    if device != "default":
        jax.config.update("jax_platforms", device)  # no effect once this process has started a backend
    try:
        backend = jax.default_backend()
    except RuntimeError as e:
        error(f"--device {device}: JAX has no {device} backend here ({str(e).splitlines()[0]}); install the jax "
              "build for it (jax[cuda12], jax[tpu])")  # fmt: skip
    if device != "default" and backend != device:
        error(f"--device {device}: this process already runs JAX on {backend}; run the benchmark in a fresh process")
    return backend


def device_peak_mib() -> float | None:
    """Peak memory of the first JAX device in MiB, where the backend reports it (GPU, TPU); ``None`` on the CPU."""
    import jax

    stats = jax.devices()[0].memory_stats()
    peak = (stats or {}).get("peak_bytes_in_use")
    return None if peak is None else round(peak / 2**20, 1)


def env_record(args, with_torch: bool) -> dict:
    import flax
    import jax
    import jaxlib
    import optax

    rec = {
        "record": "env", "cpu": cpu_model(), "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
        "flax": flax.__version__, "optax": optax.__version__, "numpy": np.__version__,
        "jax_backend": jax.default_backend(), "jax_devices": len(jax.devices()),
        "jax_device_kind": jax.devices()[0].device_kind,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "jax_threads": "XLA CPU client default: one intra-op thread per core",
    }  # fmt: skip
    try:
        from threadpoolctl import threadpool_info

        rec["numpy_blas"] = [f"{p['internal_api']} {p['version']} {p['num_threads']}t" for p in threadpool_info()]
    except Exception:  # noqa: BLE001 - informational only
        pass
    if with_torch:
        import torch

        rec.update(torch=torch.__version__, torch_threads=torch.get_num_threads(),
                   torch_interop_threads=torch.get_num_interop_threads())  # fmt: skip
    return rec


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="all", help=f"comma list of {', '.join(MODELS)}, or 'all'")
    p.add_argument("--batch", default=None, help="comma list of batch sizes (default: the issue's per model)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per row (default per model)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps after the first call (default per model)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    p.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="seconds of timed calls per row at most (fewer steps than --steps, never under 3 calls)",
    )
    p.add_argument("--steps-per-call", type=int, default=100, help="K of the scanned / looped variants")
    p.add_argument("--ceiling-size", type=int, default=2048, help="n of the n x n matmuls of the ceiling")
    p.add_argument("--image-steps-per-call", type=int, default=4, help="K of the dcgan28 loop / scan lever rows")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (XLA: one per core)")
    p.add_argument("--torch", dest="torch", action=argparse.BooleanOptionalAction, default=None,
                   help="run the PyTorch reference (CPU only) if torch imports; default: on the CPU")  # fmt: skip
    p.add_argument("--device", default="default", choices=DEVICES,
                   help="the JAX backend the jaxgan rows run on (default: JAX's default backend); an accelerator "
                   "gets larger default batches and no PyTorch rows")  # fmt: skip
    p.add_argument("--torch-compile", action="store_true", help="also time torch.compile of the reference step")
    p.add_argument(
        "--impl",
        default=None,
        help="only the rows whose label 'impl [variant]' contains one of these comma-separated strings",
    )
    p.add_argument("--levers", action="store_true", help="also measure donation, loop vs scan, cache, XLA flags")
    p.add_argument(
        "--dtype",
        default="float32",
        help="comma list of the jaxgan rows' compute dtypes: float32, bfloat16 (mixed precision: for accelerators; "
        "expected slower on a CPU)",
    )
    p.add_argument(
        "--lever-upsample",
        default="auto",
        help="dcgan28 upsampling used for the lever rows (auto: the generator's default form on this backend)",
    )
    p.add_argument("--xla-cost", action="store_true", help="print XLA cost_analysis() FLOPs beside the analytic")
    p.add_argument("--json", default=None, help="append the JSON lines to this file too")
    p.add_argument("--_probe", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--probe-batch", type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument("--probe-upsample", default="transpose", help=argparse.SUPPRESS)
    p.add_argument("--probe-steps", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--probe-cache-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._probe:
        probe_main(args)
        return 0

    models = MODELS if args.model == "all" else tuple(args.model.split(","))
    for m in models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}; models: {', '.join(MODELS)}")
    dtypes = tuple(args.dtype.split(","))
    for dt in dtypes:
        if dt not in DTYPE_LABELS:
            p.error(f"unknown dtype {dt!r}; dtypes: {', '.join(DTYPE_LABELS)}")
    backend = select_backend(args.device, p.error)
    if args.lever_upsample == "auto":
        from jaxgan.models.dcgan import auto_upsample

        args.lever_upsample = auto_upsample(2)  # the generator's default on the backend
    if args.torch and backend != "cpu":
        p.error(f"--torch: the PyTorch reference runs on the CPU; its ratio to a {backend} step would compare two "
                "processors (leave --torch out, or use --device cpu)")  # fmt: skip
    with_torch = (backend == "cpu" if args.torch is None else args.torch) and torch_available()
    if with_torch:
        import torch

        torch.set_num_threads(args.threads)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    load_start = loadavg()
    env = env_record(args, with_torch)
    env["load_start"] = load_start
    env["argv"] = " ".join(sys.argv[1:] if argv is None else argv)
    log(f"load average at start {load_start}; measuring the matmul ceiling")
    ceil_start = matmul_ceiling(args.ceiling_size, with_torch=with_torch)

    rows, entries_all = [], []
    default_batches, default_steps = (DEFAULT_BATCHES, DEFAULT_STEPS) if backend == "cpu" else (
        ACCELERATOR_BATCHES, ACCELERATOR_STEPS)  # fmt: skip
    for m in models:
        batches = default_batches[m] if args.batch is None else tuple(int(b) for b in args.batch.split(","))
        steps = default_steps[m][0] if args.steps is None else args.steps
        warmup = default_steps[m][1] if args.warmup is None else args.warmup
        for i, b in enumerate(batches):
            log(f"{m} batch {b}: {steps} timed steps after {warmup} warm-up steps")
            entries = []
            for dt in dtypes:  # one interleaved measurement: a change of machine load hits every dtype alike
                f32 = dt == "float32"
                entries += entries_for(m, b, args, with_torch and f32, levers=args.levers and i == 0 and f32, dtype=dt)
            if args.impl:
                entries = [e for e in entries if any(x in f"{e.impl} [{e.variant}]" for x in args.impl.split(","))]
            measure(entries, steps, warmup, args.rounds, log, budget_s=args.budget)
            entries_all += entries
    ceil_end = matmul_ceiling(args.ceiling_size, with_torch=with_torch)
    ceiling = max(*ceil_start.values(), *ceil_end.values())
    rows = [summarize(e, ceiling) for e in entries_all]
    if args.xla_cost:
        for e, r in zip(entries_all, rows):
            if hasattr(e.runner, "xla_flops"):
                # a scan's while loop is counted once by cost_analysis: only single-step functions are reported
                xf = e.runner.xla_flops() if e.runner.dispatches == e.runner.steps_per_call else None
                r["xla_cost_flops_per_step"] = xf

    extra = []
    if with_torch:
        from jaxgan.bench import torch_reference

        for m in models:
            counted = torch_reference.count_flops(m, 2)
            extra.append({"record": "flop_check", "model": m, "batch": 2, "analytic": step_flops(m, 2),
                          "torch_flop_counter": counted, "equal": counted == step_flops(m, 2)})  # fmt: skip
    if args.levers and "dcgan28" in models:
        b = DEFAULT_BATCHES["dcgan28"][0] if args.batch is None else int(args.batch.split(",")[0])
        log("levers: persistent compilation cache (fresh processes)")
        extra.append(cache_lever(b, args.lever_upsample, log, platform=backend))
        if backend == "cpu":  # the flags tried are XLA CPU's
            log("levers: XLA flags (fresh processes)")
            extra += xla_flag_lever(b, args.lever_upsample, 30, log)
    ratios = ratio_records(rows)
    maxrss_mib = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB
    env.update(load_end=loadavg(), matmul_gflops_start=ceil_start, matmul_gflops_end=ceil_end,
               ceiling_gflops=ceiling, ru_maxrss_mib=maxrss_mib, device_peak_mib=device_peak_mib())  # fmt: skip

    print(f"# step throughput  ({env['argv'] or 'defaults'})")
    print(f"CPU: {env['cpu']}, {env['cores']} cores; load average (1, 5, 15 min) at start {env['load_start']}, "
          f"at end {env['load_end']}")  # fmt: skip
    print(f"jax {env['jax']} (jaxlib {env['jaxlib']}, flax {env['flax']}, optax {env['optax']}), {env['jax_threads']}"
          f"; XLA_FLAGS={env['xla_flags']!r}")  # fmt: skip
    peak = "" if env["device_peak_mib"] is None else f"; device memory peak {env['device_peak_mib']} MiB"
    print(f"JAX backend: {env['jax_backend']} ({env['jax_device_kind']}, {env['jax_devices']} device(s); the rows use "
          f"one){peak}")  # fmt: skip
    if with_torch:
        print(
            f"torch {env['torch']}: torch.set_num_threads({env['torch_threads']}), "
            f"interop threads {env['torch_interop_threads']}"
        )
    else:
        print("torch: not run (not importable or --no-torch)")
    print(
        f"matmul ceiling ({args.ceiling_size}^2 float32, best of 5) GFLOP/s: start {ceil_start}, "
        f"end {ceil_end} -> ceiling {ceiling}"
    )
    print("FLOPs: analytic (conv/dense multiply-adds x 2, forward + backward as the step needs them; no zero taps)")
    if "bfloat16" in dtypes:
        print(
            "bf16: 'jaxgan bf16' rows run the networks in bfloat16 mixed precision (float32 params, optimizer and "
            "losses); bf16 is for accelerators: on a CPU without bf16 matrix units they are expected to be slower"
        )
    print(
        "dRSS: rise of peak RSS (VmHWM) while building, compiling and warming up that row; "
        f"ru_maxrss of the whole process: {env['ru_maxrss_mib']} MiB\n"
    )
    print(format_table(rows))
    if ratios:
        print("\nspeed ratios (steps/s of a over b; > 1: a is faster)")
        for r in ratios:
            print(f"  {r['model']} b{r['batch']}  {r['name']:<26} {r['a']} / {r['b']}: {r['speed_ratio']:.3f}")
    for x in extra:
        if x["record"] == "flop_check":
            print(f"FLOP check {x['model']} b2: analytic {x['analytic']} vs torch FlopCounterMode "
                  f"{x['torch_flop_counter']}: {'equal' if x['equal'] else 'DIFFERENT'}")  # fmt: skip
        elif x["record"] == "cache":
            print(f"persistent compilation cache, dcgan28 b{x['batch']} [{x['variant']}] first call: no cache "
                  f"{x['no_cache_first_call_s']} s, cold cache {x['cold_cache_first_call_s']} s, second process "
                  f"{x['warm_cache_first_call_s']} s (whole process {x['warm_cache_process_s']} s)")  # fmt: skip
        elif x["record"] == "xla_flag":
            err = f" ERROR {x['error']}" if x["error"] else ""
            print(f"XLA flag {x['flag']}: dcgan28 b{x['batch']} [{x['variant']}] {x['default_step_ms']} -> "
                  f"{x['flag_step_ms']} ms (default runs {x['default_step_ms_runs']}), "
                  f"speed ratio {x['speed_ratio']}{err}")  # fmt: skip
    if args.xla_cost:
        for r in rows:
            if r.get("xla_cost_flops_per_step"):
                print(f"XLA cost_analysis {r['model']} b{r['batch']} {r['impl']} [{r['variant']}]: "
                      f"{r['xla_cost_flops_per_step'] / 1e9:.3f} GFLOP/step "
                      f"vs analytic {r['flops_per_step'] / 1e9:.3f}")  # fmt: skip
    lines = [json.dumps(env), *(json.dumps(r) for r in rows), *(json.dumps(r) for r in ratios),
             *(json.dumps(x) for x in extra)]  # fmt: skip
    print("\n# JSON lines")
    print("\n".join(lines))
    if args.json:
        with open(args.json, "a") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
