"""Step throughput of jaxgan's train step beside a PyTorch reference and a hand-written minimal JAX step.

    python benchmarks/step_throughput.py                         # every model at the issue's batch sizes
    python benchmarks/step_throughput.py --model dcgan28 --batch 64,256 --levers --json out.jsonl
    python benchmarks/step_throughput.py --model mlp2d --batch 100 --steps 2000 --warmup 200
    python benchmarks/step_throughput.py --model dcgan28 --batch 8 --steps 3 --warmup 1 --no-torch   # smoke test
    python benchmarks/step_throughput.py --model dcgan28 --batch 64 --dtype float32,bfloat16 --impl jaxgan

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
* FLOPs: analytic (:func:`step_macs`): 2 x the multiply-adds of every convolution, transposed convolution and
  dense layer, forward and backward as the step needs them: parameter gradients for the network being updated,
  input gradients wherever a gradient has to flow on (not into data or latents; the discriminator's parameter
  gradients are not taken in the generator update). A transposed convolution counts its real taps only (input
  pixels x k x k x c_in x c_out), not the zeros of the dilated input that ``lax.conv_transpose`` convolves and
  that XLA's ``cost_analysis()`` counts (printed beside it with ``--xla-cost``). Not counted: batch norm,
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
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

MODELS = ("dcgan28", "mlp2d", "sngan32")
DEFAULT_BATCHES = {"dcgan28": (64, 256), "mlp2d": (100, 512), "sngan32": (8,)}
DEFAULT_STEPS = {"dcgan28": (100, 10), "mlp2d": (1000, 100), "sngan32": (4, 1)}  # (timed steps, warm-up steps)
N_CRITIC = {"dcgan28": 1, "mlp2d": 1, "sngan32": 5}
DTYPE_LABELS = {"float32": "f32", "bfloat16": "bf16"}  # --dtype: the networks' compute dtype
LATENT = {"dcgan28": 100, "mlp2d": 2, "sngan32": 128}
XLA_FLAG_TRIALS = (
    "--xla_cpu_use_onednn=true",
    "--xla_cpu_enable_fast_math=true",
    "--xla_cpu_use_xnnpack=true",
    "--xla_cpu_multi_thread_eigen=false",
)
ROW_KEYS = (
    "record", "model", "batch", "impl", "variant", "n_critic", "steps_per_call", "timed_steps", "step_ms_median",
    "step_ms_p10", "step_ms_p90", "step_ms_iqr", "steps_per_s", "images_per_s", "first_call_s", "flops_per_step",
    "flops_source", "achieved_gflops", "fraction_of_ceiling", "peak_rss_delta_mib", "g_params", "d_params",
)  # fmt: skip


# ------------------------------------------------------------------------------------------------ analytic FLOPs


def _conv(h: int, w: int, k: int, c_in: int, c_out: int) -> int:
    """Multiply-adds per sample of a k x k convolution with an h x w output (transposed: h x w is its input)."""
    return h * w * k * k * c_in * c_out


def layer_macs(model: str, upsample: str = "transpose") -> tuple[list[int], int, list[int], int]:
    """Per-sample multiply-adds of every conv / dense layer: ``(g_layers, g_input, d_layers, d_input)``.

    ``g_input`` / ``d_input`` are the multiply-adds of the layers that read the network's input (latents, data):
    their input gradient is never needed.
    """
    if model == "dcgan28":
        if upsample == "resize_conv":  # k x k convolutions at the output resolution
            up = [_conv(14, 14, 4, 128, 64), _conv(28, 28, 4, 64, 1)]
        else:  # transposed convolutions, real taps only (transpose and subpixel are the same function)
            up = [_conv(7, 7, 4, 128, 64), _conv(14, 14, 4, 64, 1)]
        g = [100 * 7 * 7 * 128, *up]
        d = [_conv(14, 14, 4, 1, 64), _conv(7, 7, 4, 64, 128), 7 * 7 * 128]
        return g, g[0], d, d[0]
    if model == "mlp2d":
        g = [2 * 400, 400 * 400, 400 * 400, 400 * 400, 400 * 2]
        d = [2 * 1000, 200 * 1000, 200 * 1000, 200 * 1]  # maxout: a dense to 200 x 5 pieces
        return g, g[0], d, d[0]
    if model == "sngan32":
        ch, dch = 256, 128
        g = [128 * 4 * 4 * ch]
        for r in (8, 16, 32):  # GBlock output sizes: conv1, conv2 (3x3) and the 1x1 shortcut, all at r x r
            g += [_conv(r, r, 3, ch, ch), _conv(r, r, 3, ch, ch), _conv(r, r, 1, ch, ch)]
        g.append(_conv(32, 32, 3, ch, 3))
        d_in = [_conv(32, 32, 3, 3, dch), _conv(16, 16, 1, 3, dch)]  # block1 conv1, shortcut (on avg_pool(x))
        d = d_in + [_conv(32, 32, 3, dch, dch)]  # block1 conv2
        d += [_conv(16, 16, 3, dch, dch), _conv(16, 16, 3, dch, dch), _conv(16, 16, 1, dch, dch)]  # block2 (down)
        d += [_conv(8, 8, 3, dch, dch)] * 4  # blocks 3 and 4
        d.append(dch)  # SN dense head
        return g, g[0], d, sum(d_in)
    raise ValueError(f"unknown model {model!r}; models: {', '.join(MODELS)}")


def step_macs(model: str, batch: int, upsample: str = "transpose") -> int:
    """Multiply-adds of one train step with ``batch`` rows per discriminator update.

    Per D update: ``G`` forward on B (no gradient), ``D`` forward on 2B (real + fake), ``D`` backward on 2B
    (parameter gradients, plus input gradients of every layer but those reading the data). G update: ``G``
    forward on B, ``D`` forward on B and its input gradients down to the image, ``G`` backward (parameter
    gradients plus input gradients of every layer but the one reading z). A backward pass of a layer for one
    kind of gradient costs what its forward costs.
    """
    g, g_in, d, d_in = layer_macs(model, upsample)
    gf, df = sum(g), sum(d)
    d_update = batch * gf + 2 * batch * df + 2 * batch * (2 * df - d_in)
    g_update = batch * gf + batch * df + batch * df + batch * (2 * gf - g_in)
    return N_CRITIC[model] * d_update + g_update


def step_flops(model: str, batch: int, upsample: str = "transpose") -> int:
    return 2 * step_macs(model, batch, upsample)


# ----------------------------------------------------------------------------------------------- environment


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


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
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


# ----------------------------------------------------------------------------------------------------- runners


class JaxRunner:
    """Times ``fn(state, *args) -> (state, ...)``: each call does ``dispatches`` calls then one block."""

    def __init__(self, fn, state, args=(), *, steps_per_call=1, dispatches=1, params=(0, 0), lower_args=None):
        self.fn, self.state, self.args = fn, state, args
        self.steps_per_call, self.dispatches, self.params = steps_per_call, dispatches, params

    def _run(self):
        import jax

        out = None
        for _ in range(self.dispatches):
            out = self.fn(self.state, *self.args)
            self.state = out[0]
        jax.block_until_ready(out)

    def first_call(self) -> float:
        t = time.perf_counter()
        self._run()
        return time.perf_counter() - t

    call = first_call

    def xla_flops(self) -> float | None:
        try:
            return float(self.fn.lower(self.state, *self.args).cost_analysis()["flops"])
        except Exception:  # noqa: BLE001 - informational only
            return None


def _count(tree) -> int:
    import jax

    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


def jaxgan_parts(
    model: str, batch: int, upsample: str = "transpose", unroll_critic: bool = True, dtype: str = "float32"
):
    """``(train_step, state, real_batch_or_None, sample_fn_or_None)`` for one benchmark model in jaxgan, its
    networks computing in ``dtype`` (``"bfloat16"``: :func:`jaxgan.precision.mixed_precision`)."""
    import jax
    import jax.numpy as jnp
    import optax

    from jaxgan import state as state_lib
    from jaxgan import train
    from jaxgan.adapters import from_linen

    n_critic = N_CRITIC[model]
    real, sample_fn = None, None
    if model == "dcgan28":
        from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator

        g = from_linen(DCGANGenerator(resolution=28, upsample=upsample))
        d = from_linen(DCGANDiscriminator(resolution=28))
        loss, opt, x_shape = "non_saturating", optax.adam(2e-4, b1=0.5), (28, 28, 1)
    elif model == "mlp2d":
        from jaxgan.data.toy import grid
        from jaxgan.models.mlp import pacgan_discriminator, pacgan_generator

        g, d = pacgan_generator(2), pacgan_discriminator(1)
        loss, opt, x_shape = "non_saturating", optax.adam(1e-4, b1=0.8), (2,)
        toy = grid()
        sample_fn = lambda keys: {"x": jax.vmap(toy.sample_one)(keys)}
    elif model == "sngan32":
        from jaxgan.models.sngan import SNGANDiscriminator, SNGANGenerator

        g, d = from_linen(SNGANGenerator()), from_linen(SNGANDiscriminator())
        loss, opt, x_shape = "hinge", optax.adam(2e-4, b1=0.0, b2=0.9), (32, 32, 3)
    else:
        raise ValueError(f"unknown model {model!r}; models: {', '.join(MODELS)}")
    if dtype not in DTYPE_LABELS:
        raise ValueError(f"unknown dtype {dtype!r}; dtypes: {', '.join(DTYPE_LABELS)}")
    if dtype != "float32":
        from jaxgan.precision import mixed_precision

        g, d = mixed_precision(g, jnp.dtype(dtype)), mixed_precision(d, jnp.dtype(dtype))
    step = train.make_train_step(
        g, d, loss, opt, opt, latent_dim=LATENT[model], n_critic=n_critic, unroll_critic=unroll_critic
    )
    state = state_lib.init_state(0, g, d, opt, opt, z=jnp.zeros((batch, LATENT[model])), x=jnp.zeros((batch, *x_shape)))
    if model != "mlp2d":
        x = jax.random.uniform(jax.random.key(1), (n_critic * batch, *x_shape), minval=-1.0, maxval=1.0)
        real = {"x": x}
    return step, state, real, sample_fn


def make_jaxgan_runner(
    model, batch, *, upsample="transpose", donate=True, mode="step", k=1, unroll_critic=True, dtype="float32"
) -> JaxRunner:
    """mode: ``step`` (one step per call), ``loop`` (k Python-dispatched steps per call, one sync),
    ``scan`` (``make_multi_step`` over k stacked copies of the batch, or ``make_sampled_multi_step`` for toy data),
    ``scan_unrolled`` (the same scan with ``unroll=True``; image models only). ``unroll_critic=False``: the
    n_critic discriminator updates as a loop in the compiled step (the default writes them out).
    """
    import jax
    import jax.numpy as jnp

    from jaxgan import train

    step, state, real, sample_fn = jaxgan_parts(model, batch, upsample, unroll_critic, dtype)
    params = (_count(state.g_params), _count(state.d_params))
    donate_argnums = (0,) if donate else ()
    if sample_fn is not None:  # toy data drawn on device inside the call
        kk = k if mode == "scan" else 1
        fn = jax.jit(
            train.make_sampled_multi_step(step, sample_fn, N_CRITIC[model] * batch, kk), donate_argnums=donate_argnums
        )
        return JaxRunner(fn, state, steps_per_call=k, dispatches=1 if mode == "scan" else k, params=params)
    if mode in ("scan", "scan_unrolled"):
        stacked = jax.tree.map(lambda x: jnp.broadcast_to(x, (k, *x.shape)), real)
        multi = train.make_multi_step(step)
        if mode == "scan_unrolled":  # what make_multi_step would be with lax.scan(..., unroll=True)
            multi = lambda state, batches: jax.lax.scan(step, state, batches, unroll=True)
        fn = jax.jit(multi, donate_argnums=donate_argnums)
        return JaxRunner(fn, state, (stacked,), steps_per_call=k, params=params)
    fn = jax.jit(step, donate_argnums=donate_argnums)
    return JaxRunner(fn, state, (real,), steps_per_call=k, dispatches=k, params=params)


def make_minimal_runner(batch, *, upsample="transpose") -> JaxRunner:
    import jax
    from minimal_jax import make_minimal_dcgan28

    state, step = make_minimal_dcgan28(batch, upsample)
    real = jax.random.uniform(jax.random.key(1), (batch, 28, 28, 1), minval=-1.0, maxval=1.0)
    params = (_count(state.g_vars["params"]), _count(state.d_vars["params"]))
    return JaxRunner(jax.jit(step, donate_argnums=0), state, (real,), params=params)


class Entry:
    """One row: a label, a runner factory and its FLOP count."""

    def __init__(self, model, batch, impl, variant, build, flops, upsample="transpose"):
        self.model, self.batch, self.impl, self.variant = model, batch, impl, variant
        self.build, self.flops, self.upsample = build, flops, upsample
        self.runner = None
        self.samples: list[float] = []

    @property
    def label(self) -> str:
        return f"{self.impl} [{self.variant}]" if self.variant else self.impl


def entries_for(
    model: str, batch: int, args, with_torch: bool, levers: bool = False, dtype: str = "float32"
) -> list[Entry]:
    """The rows of one model and batch; ``levers`` adds the donation / loop / scan rows. With ``dtype``
    ``"bfloat16"`` only jaxgan's rows, in mixed precision, as implementation ``jaxgan bf16`` (the references and
    the levers are float32 rows)."""
    flops = step_flops(model, batch)
    k = args.steps_per_call
    impl = "jaxgan" if dtype == "float32" else f"jaxgan {DTYPE_LABELS[dtype]}"
    levers = levers and dtype == "float32"
    out: list[Entry] = []
    if model == "dcgan28":
        for up in ("transpose", "subpixel", "phases", "phases,transpose", "subpixel,transpose", "resize_conv"):
            f = step_flops(model, batch, up)
            out.append(
                Entry(
                    model,
                    batch,
                    impl,
                    up,
                    lambda up=up: make_jaxgan_runner(model, batch, dtype=dtype, upsample=up),
                    f,
                    up,
                )
            )
        for up in ("transpose", "subpixel", "phases,transpose") if dtype == "float32" else ():
            out.append(
                Entry(model, batch, "minimal_jax", up, lambda up=up: make_minimal_runner(batch, upsample=up), flops, up)
            )
        if levers:
            up = args.lever_upsample
            lever = lambda **kw: lambda: make_jaxgan_runner(model, batch, dtype=dtype, upsample=up, **kw)
            out.append(Entry(model, batch, impl, f"{up}, not donated", lever(donate=False), flops, up))
            ki = args.image_steps_per_call
            out.append(Entry(model, batch, impl, f"{up}, loop x{ki}, 1 sync", lever(mode="loop", k=ki), flops, up))
            out.append(Entry(model, batch, impl, f"{up}, scan x{ki}", lever(mode="scan", k=ki), flops, up))
            out.append(
                Entry(model, batch, impl, f"{up}, scan x{ki} unrolled", lever(mode="scan_unrolled", k=ki), flops, up)
            )
    elif model == "mlp2d":
        out.append(
            Entry(
                model,
                batch,
                impl,
                f"scan x{k}",
                lambda: make_jaxgan_runner(model, batch, dtype=dtype, mode="scan", k=k),
                flops,
            )
        )
        out.append(
            Entry(
                model,
                batch,
                impl,
                "loop x1",
                lambda: make_jaxgan_runner(model, batch, dtype=dtype, mode="loop", k=1),
                flops,
            )
        )
        if levers:
            out.append(
                Entry(
                    model,
                    batch,
                    impl,
                    f"loop x{k}, 1 sync",
                    lambda: make_jaxgan_runner(model, batch, dtype=dtype, mode="loop", k=k),
                    flops,
                )
            )
            out.append(
                Entry(
                    model,
                    batch,
                    impl,
                    f"scan x{k}, not donated",
                    lambda: make_jaxgan_runner(model, batch, dtype=dtype, mode="scan", k=k, donate=False),
                    flops,
                )
            )
    else:
        out.append(Entry(model, batch, impl, "", lambda: make_jaxgan_runner(model, batch, dtype=dtype), flops))
        if levers and N_CRITIC[model] > 1:
            out.append(
                Entry(
                    model,
                    batch,
                    impl,
                    "critic loop",
                    lambda: make_jaxgan_runner(model, batch, dtype=dtype, unroll_critic=False),
                    flops,
                )
            )
    if with_torch:
        import torch_reference

        out.append(Entry(model, batch, "torch", "eager", lambda: torch_reference.TorchStep(model, batch), flops))
        if args.torch_compile:
            out.append(
                Entry(
                    model,
                    batch,
                    "torch",
                    "compile",
                    lambda: torch_reference.TorchStep(model, batch, compile=True),
                    flops,
                )
            )
    return out


# ------------------------------------------------------------------------------------------------------ timing


def measure(entries: list[Entry], steps: int, warmup: int, rounds: int, log, budget_s=math.inf, min_calls=3) -> None:
    """Builds, compiles and warms up each entry in turn, then times them in ``rounds`` interleaved rounds.

    Each entry gets ``steps`` timed steps, or fewer: a row stops its share of a round once it has spent
    ``budget_s / rounds`` seconds in it (after at least ``ceil(min_calls / rounds)`` calls).
    """
    for e in entries:
        rss0 = _rss_kib("VmRSS") or 0
        hwm_ok = _reset_hwm()
        e.runner = e.build()
        e.first_call_s = e.runner.first_call()
        t_warm = time.perf_counter()
        for _ in range(max(1, math.ceil(warmup / e.runner.steps_per_call))):
            e.runner.call()
            if time.perf_counter() - t_warm > budget_s / 4:  # warm-up, not a measurement: bounded too
                break
        hwm = _rss_kib("VmHWM")
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

    for model, batch in sorted({(r["model"], r["batch"]) for r in rows}):
        torch_row = find(model, batch, "torch", "eager")
        compiled = find(model, batch, "torch", "compile")
        jax_rows = [r for r in rows if (r["model"], r["batch"], r["impl"]) == (model, batch, "jaxgan")]
        for r in jax_rows:
            add("jaxgan/torch_eager", r, torch_row)
            add("jaxgan/torch_compile", r, compiled)
        add("torch_compile/torch_eager", compiled, torch_row)
        for up in ("transpose", "subpixel", "phases,transpose"):
            add("jaxgan/minimal_jax", find(model, batch, "jaxgan", up), find(model, batch, "minimal_jax", up))
            add("minimal_jax/torch_eager", find(model, batch, "minimal_jax", up), torch_row)
        t = find(model, batch, "jaxgan", "transpose")
        for up in ("subpixel", "phases", "phases,transpose", "subpixel,transpose"):
            add(f"{up.replace(',', '+')}/transpose", find(model, batch, "jaxgan", up), t)
        add("resize_conv/transpose", find(model, batch, "jaxgan", "resize_conv"), t)
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


# ---------------------------------------------------------------------------- levers that need fresh processes


def _probe_main(args) -> None:
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


def _run_probe(extra: list[str], env_flags: str | None = None) -> dict | None:
    env = dict(os.environ)
    if env_flags is not None:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + env_flags).strip()
    cmd = [sys.executable, os.path.abspath(__file__), "--_probe", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def cache_lever(batch: int, upsample: str, log) -> dict:
    with tempfile.TemporaryDirectory() as d:
        extra = ["--probe-batch", str(batch), "--probe-upsample", upsample, "--probe-steps", "0"]
        no_cache = _run_probe(extra)
        first = _run_probe(extra + ["--probe-cache-dir", d])
        second = _run_probe(extra + ["--probe-cache-dir", d])
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
    p.add_argument("--torch", dest="torch", action=argparse.BooleanOptionalAction, default=True,
                   help="run the PyTorch reference when torch is importable")  # fmt: skip
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
    p.add_argument("--lever-upsample", default="phases,transpose", help="dcgan28 upsampling used for the lever rows")
    p.add_argument("--xla-cost", action="store_true", help="print XLA cost_analysis() FLOPs beside the analytic")
    p.add_argument("--json", default=None, help="append the JSON lines to this file too")
    p.add_argument("--_probe", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--probe-batch", type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument("--probe-upsample", default="transpose", help=argparse.SUPPRESS)
    p.add_argument("--probe-steps", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--probe-cache-dir", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._probe:
        _probe_main(args)
        return 0

    models = MODELS if args.model == "all" else tuple(args.model.split(","))
    for m in models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}; models: {', '.join(MODELS)}")
    dtypes = tuple(args.dtype.split(","))
    for dt in dtypes:
        if dt not in DTYPE_LABELS:
            p.error(f"unknown dtype {dt!r}; dtypes: {', '.join(DTYPE_LABELS)}")
    with_torch = args.torch and torch_available()
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
    for m in models:
        batches = DEFAULT_BATCHES[m] if args.batch is None else tuple(int(b) for b in args.batch.split(","))
        steps = DEFAULT_STEPS[m][0] if args.steps is None else args.steps
        warmup = DEFAULT_STEPS[m][1] if args.warmup is None else args.warmup
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
        import torch_reference

        for m in models:
            counted = torch_reference.count_flops(m, 2)
            extra.append({"record": "flop_check", "model": m, "batch": 2, "analytic": step_flops(m, 2),
                          "torch_flop_counter": counted, "equal": counted == step_flops(m, 2)})  # fmt: skip
    if args.levers and "dcgan28" in models:
        b = DEFAULT_BATCHES["dcgan28"][0] if args.batch is None else int(args.batch.split(",")[0])
        log("levers: persistent compilation cache (fresh processes)")
        extra.append(cache_lever(b, args.lever_upsample, log))
        log("levers: XLA flags (fresh processes)")
        extra += xla_flag_lever(b, args.lever_upsample, 30, log)
    ratios = ratio_records(rows)
    maxrss_mib = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB
    env.update(load_end=loadavg(), matmul_gflops_start=ceil_start, matmul_gflops_end=ceil_end,
               ceiling_gflops=ceiling, ru_maxrss_mib=maxrss_mib)  # fmt: skip

    print(f"# step throughput  ({env['argv'] or 'defaults'})")
    print(f"CPU: {env['cpu']}, {env['cores']} cores; load average (1, 5, 15 min) at start {env['load_start']}, "
          f"at end {env['load_end']}")  # fmt: skip
    print(f"jax {env['jax']} (jaxlib {env['jaxlib']}, flax {env['flax']}, optax {env['optax']}), {env['jax_threads']}"
          f"; XLA_FLAGS={env['xla_flags']!r}")  # fmt: skip
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
