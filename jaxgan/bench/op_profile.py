"""Per-op profile of a benchmark model's compiled train step: where XLA spends the step, op by op.

The step is the one :mod:`jaxgan.bench.step_throughput` times (:func:`jaxgan.bench.runners.make_jaxgan_runner`:
mlp2d as 100 scanned steps per call, the image models one step per call). After a warm-up it runs
``--calls`` calls under ``jax.profiler`` with a Perfetto trace, sums the trace's events per HLO instruction name
(each thunk XLA's CPU runtime executes is one event: a fusion, a dot, a YNNPACK call, a copy) and prints the
step's op time by kind (:func:`kind_of`: convolutions, matrix products, transposes and copies, reductions,
elementwise fusions), then the heaviest ops per step, with each instruction's shape and operation as the compiled
module's text gives them, and the ``op_name`` of the JAX operation it came from. Tracing slows a small step a lot
(mlp2d b100: 11 ms of op time traced against a 7.4 ms step untraced); compare ops with each other and take step
times from the step benchmark::

    python benchmarks/op_profile.py --model mlp2d --batch 100
    XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT \
        python benchmarks/op_profile.py --model mlp2d --batch 100        # with an XLA flag
    python benchmarks/op_profile.py --model dcgan28 --batch 64 --top 15
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import re
import sys
import tempfile
from dataclasses import dataclass

RUNTIME_EVENTS = ("$", "ThunkExecutor", "SlinkyThreadPool")  # Python frames and the runtime's own scopes
MODES = {"mlp2d": ("scan", 100), "dcgan28": ("step", 1), "sngan32": ("step", 1)}  # the step benchmark's rows


@dataclass(frozen=True)
class Op:
    name: str  # the HLO instruction
    us_per_step: float
    share: float  # of the summed op time
    calls_per_step: int
    what: str  # "<shape> <opcode>(...)" from the compiled module's text
    source: str  # the op_name metadata: the JAX operation


def op_times(trace_events: list[dict]) -> tuple[collections.Counter, collections.Counter]:
    """Total microseconds and counts of the complete ("X") events per name, the runtime's own scopes left out."""
    total, count = collections.Counter(), collections.Counter()
    for e in trace_events:
        if e.get("ph") == "X" and not e["name"].startswith(RUNTIME_EVENTS):
            total[e["name"]] += float(e.get("dur", 0.0))
            count[e["name"]] += 1
    return total, count


def describe(hlo: str, name: str) -> tuple[str, str]:
    """``(what, source)`` of instruction ``name`` in a compiled module's text (empty strings if not found)."""
    m = re.search(r"^\s*(?:ROOT )?%" + re.escape(name) + r" = ([^\n]*)", hlo, re.M)
    if not m:
        return "", ""
    line = m.group(1)
    what = re.sub(r"\]\{[\d,]*\}", "]", line.split(", metadata=")[0].split(", backend_config=")[0])
    what = re.sub(r"\(%[^)]*\)", "(...)", what)
    kind = re.search(r'"kind":"(__\w+)"', line)
    calls = re.search(r"calls=(%[\w.\-]+)", line)
    if kind and calls:  # a library fusion: name the ops it calls
        body = re.search(r"^" + re.escape(calls.group(1)) + r" [^\n]*\{\n(.*?)\n\}", hlo, re.M | re.S)
        ops = sorted(set(re.findall(r"= \S+ ([a-z][\w\-]*)\(", body.group(1)))) if body else []
        what = f"{what.split(' fusion(')[0]} {kind.group(1)}[{', '.join(o for o in ops if o != 'parameter')}]"
    elif calls:
        what = what.split(", calls=")[0]
    source = re.search(r'op_name="([^"]*)"', line)
    return what[:90], (source.group(1).split("/", 1)[-1] if source else "")[:100]


KINDS = ("convolution", "matrix product", "transpose or copy", "reduction", "elementwise", "runtime", "other")


def kind_of(op: Op) -> str:
    """The class of ``op`` in :data:`KINDS`, from its instruction name and the compiled module's text of it:
    a convolution or matrix product (alone or as the product of a library fusion), a transpose or copy (XLA
    names a fusion after its root ops: a ``transpose_copy_fusion`` may also compute the elementwise ops whose result
    it lays out), a reduction (a library fusion of
    reduces, a reduce or reduce-window), the other fusions (loop fusions of elementwise ops), and the events
    with no instruction (the runtime's dispatch of the executable)."""
    what, name = op.what, op.name
    if not what:
        return "runtime"
    ops = what.split(" ", 1)[1] if " " in what else what
    library = ops.startswith("__")
    if "convolution" in ops:
        return "convolution"
    if (library and "dot" in ops.split("[", 1)[-1].strip("]").split(", ")) or ops.startswith("dot("):
        return "matrix product"
    if name.startswith(("transpose", "copy")) or ops.startswith(("transpose(", "copy(")):
        return "transpose or copy"
    if "reduce" in ops:
        return "reduction"
    if ops.startswith("fusion(") or library:
        return "elementwise"
    return "other"


def by_kind(ops: list[Op], per_step_us: float) -> list[tuple[str, float, float]]:
    """``(kind, us per step, share of the summed op time)`` for each kind of :func:`kind_of` that ``ops`` have,
    in :data:`KINDS`' order (give it every op of the step to get the whole step's split). A kind's time is its
    share of ``per_step_us``, the summed op time per step: events rarer than once a step (the runtime's dispatch of
    a scanned call) count at their real rate."""
    share = collections.Counter()
    for o in ops:
        share[kind_of(o)] += o.share
    return [(k, share[k] * per_step_us, share[k]) for k in KINDS if k in share]


def profile(model: str, batch: int, calls: int, top: int | None) -> tuple[list[Op], float, int]:
    """The ``top`` heaviest ops of the step (every op for ``None``), the summed op time per step (us), and the
    steps traced."""
    import jax

    from jaxgan.bench.runners import make_jaxgan_runner

    mode, k = MODES[model]
    runner = make_jaxgan_runner(model, batch, mode=mode, k=k, upsample="auto" if model == "dcgan28" else "transpose")
    for _ in range(3):
        runner.call()
    with tempfile.TemporaryDirectory() as d:
        jax.profiler.start_trace(d, create_perfetto_trace=True)
        try:
            for _ in range(calls):
                runner.call()
        finally:
            jax.profiler.stop_trace()
        (path,) = glob.glob(f"{d}/**/perfetto_trace.json.gz", recursive=True)
        with gzip.open(path) as f:
            trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    total, count = op_times(events)
    steps = calls * runner.steps_per_call
    hlo = runner.fn.lower(runner.state, *runner.args).compile().as_text()
    summed = sum(total.values())
    ops = []
    for name, us in total.most_common(top):
        # a trace can miss the first or last events of a call: time per event x events per step
        per_step = max(1, round(count[name] / steps))
        what, source = describe(hlo, name)
        ops.append(Op(name, us / count[name] * per_step, us / summed, per_step, what, source))
    return ops, summed / steps, steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="op_profile", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="mlp2d", choices=sorted(MODES))
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--calls", type=int, default=None, help="traced calls (default: 3 for mlp2d, else 5)")
    p.add_argument("--top", type=int, default=20, help="ops to print")
    args = p.parse_args(argv)
    import jax

    from jaxgan.bench.machine import cpu_model, loadavg

    calls = args.calls or (3 if args.model == "mlp2d" else 5)
    print(f"# op profile ({' '.join(argv if argv is not None else sys.argv[1:])})")
    print(f"CPU: {cpu_model()}; load average at start {loadavg()}; jax {jax.__version__}")
    ops, per_step, steps = profile(args.model, args.batch, calls, None)
    print(f"{steps} steps traced; the ops' summed time {per_step / 1e3:.2f} ms per step (trace overhead included)\n")
    print("| kind | us/step | share |")
    print("| --- | --- | --- |")
    for kind, us, share in by_kind(ops, per_step):
        print(f"| {kind} | {us:.1f} | {100 * share:.1f} % |")
    print()
    print("| op | us/step | share | calls/step | shape and operation | from |")
    print("| --- | --- | --- | --- | --- | --- |")
    for o in ops[: args.top]:
        print(f"| {o.name} | {o.us_per_step:.1f} | {100 * o.share:.1f} % | {o.calls_per_step} | `{o.what}` | "
              f"{o.source} |")  # fmt: skip
    print(f"load average at end {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
