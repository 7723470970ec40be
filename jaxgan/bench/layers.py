"""Per-layer profile of the benchmark models: each convolution, transposed convolution and dense layer timed on its
own, forward, input gradient and weight gradient, in every exact form jaxgan has for it, beside PyTorch's layer.

The layers are read off the shipped networks (``dcgan28``: :class:`~jaxgan.models.dcgan.DCGANGenerator` /
``DCGANDiscriminator`` at 28x28; ``sngan32``: :mod:`jaxgan.models.sngan`) by intercepting their calls at init, so
the table follows the models. Each direction is its own jitted function of ``(x, w, dy)``, so XLA keeps only
that product (the input gradient alone, the weight gradient alone), as in a train step where one of them is not
needed. Biases, batch norm, activations and spectral norm's power iteration are not timed: the step benchmark
(:mod:`jaxgan.bench.step_throughput`) times them within the whole step.

Forms (all compute the same function from the same ``[k, k, in, out]`` kernel):

* ``conv``: ``xla`` (``lax.conv_general_dilated``, what ``nn.Conv`` runs); for a stride-2 one also ``s2d``
  (:func:`~jaxgan.models.conv_forms.conv_stride2_as_s2d`: space-to-depth then a stride-1 convolution).
* ``up2x`` (stride-2 transposed convolution): ``transpose`` (``lax.conv_transpose``), ``subpixel``, ``phases``
  and ``per_product`` (:func:`~jaxgan.models.conv_forms.conv_transpose_as_subpixel`, ``conv_transpose_as_phases``,
  ``conv_transpose_per_product``).
* ``dense``: ``xla`` (``x @ w``).
* ``torch``: ``F.conv2d`` / ``F.conv_transpose2d`` / ``F.linear`` in NCHW, the gradients from
  ``aten.convolution_backward`` with one output mask each (what autograd calls).

GFLOP/s is ``2 x`` the layer's multiply-adds (real taps; a padded border counts, as in
:mod:`jaxgan.bench.flops`) over the median time, the same count for each direction.

    python benchmarks/layer_profile.py --model dcgan28 --batch 64
    python benchmarks/layer_profile.py --model sngan32 --batch 8 --json layers.jsonl

Size: over 400 lines for one benchmark: reading the layers off the networks, the JAX forms, PyTorch's layers, the
timing, the per-step estimate and the command; the parts share the ``Layer`` record and nothing else uses them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

MODELS = ("dcgan28", "sngan32")
DIRECTIONS = ("fwd", "dx", "dw")
DEFAULT_BATCH = {"dcgan28": 64, "sngan32": 8}


@dataclasses.dataclass(frozen=True)
class Layer:
    """One layer as a train step runs it: ``x_shape`` NHWC (or ``[b, in]`` for a dense layer), kernel HWIO."""

    net: str  # "G" or "D"
    name: str  # the module path in the network
    kind: str  # "conv", "up2x" or "dense"
    x_shape: tuple[int, ...]
    features: int
    kernel: tuple[int, int] = (1, 1)
    strides: tuple[int, int] = (1, 1)
    padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))
    reads_input: bool = False  # reads the network's input: latents (no step needs its dx) or images
    form: str = "xla"  # the form the network computes it in (one of forms(layer))

    @property
    def w_shape(self) -> tuple[int, ...]:
        if self.kind == "dense":
            return (self.x_shape[-1], self.features)
        return (*self.kernel, self.x_shape[-1], self.features)

    @property
    def macs(self) -> int:
        """Multiply-adds of the forward product (and of each gradient)."""
        if self.kind == "dense":
            return int(np.prod(self.x_shape)) * self.features
        b, h, w, c = self.x_shape
        kh, kw = self.kernel
        if self.kind == "up2x":  # every input pixel meets every tap once
            return b * h * w * kh * kw * c * self.features
        (t, bo), (le, r) = self.padding
        oh = (h + t + bo - kh) // self.strides[0] + 1
        ow = (w + le + r - kw) // self.strides[1] + 1
        return b * oh * ow * kh * kw * c * self.features

    def describe(self) -> str:
        if self.kind == "dense":
            return f"dense {self.x_shape[-1]}->{self.features}"
        b, h, w, c = self.x_shape
        s = "" if self.strides == (1, 1) else f" s{self.strides[0]}"
        what = "up2x" if self.kind == "up2x" else f"conv{self.kernel[0]}x{self.kernel[1]}{s}"
        return f"{what} {h}x{w}x{c}->{self.features}"


def _networks(model: str):
    if model == "dcgan28":
        from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator

        return DCGANGenerator(resolution=28), DCGANDiscriminator(resolution=28), 100, (28, 28, 1)
    if model == "sngan32":
        from jaxgan.models.sngan import SNGANDiscriminator, SNGANGenerator

        return SNGANGenerator(), SNGANDiscriminator(), 128, (32, 32, 3)
    raise ValueError(f"unknown model {model!r}; models: {', '.join(MODELS)}")


def _pads(padding: Any, x_shape, kernel, strides) -> tuple[tuple[int, int], tuple[int, int]]:
    import jax
    from flax.linen.linear import canonicalize_padding

    p = canonicalize_padding(padding, 2)
    if isinstance(p, str):
        p = jax.lax.padtype_to_pads(x_shape[1:3], kernel, strides, p)
    return tuple(tuple(int(v) for v in q) for q in p)


def model_layers(model: str, batch: int) -> list[Layer]:
    """The conv / transposed-conv / dense layers of ``model``'s G and D, in call order, at ``batch`` rows."""
    import jax.numpy as jnp

    g, d, latent, image = _networks(model)
    return network_layers("G", g, jnp.zeros((batch, latent))) + network_layers("D", d, jnp.zeros((batch, *image)))


def network_layers(net: str, module: Any, inputs: Any, *more: Any) -> list[Layer]:
    """The conv / transposed-conv / dense layers a Flax ``module`` calls on ``inputs`` (and ``more`` arguments, such
    as labels), in call order, each with the form it computes in (read by intercepting its calls at ``init``,
    abstractly)."""
    import flax.linen as nn
    import jax

    from jaxgan.models.conv_forms import NHWC, auto_batch_chunk, strided_conv_chunk, upsample_padding
    from jaxgan.models.layers import Downsample2x, SubpixelConvTranspose

    layers: list[Layer] = []

    def interceptor(next_fun, args, kwargs, context):
        m = context.module
        if context.method_name != "__call__" or not args:
            return next_fun(*args, **kwargs)
        x = args[0]
        name = "/".join(m.scope.path)
        common = dict(net=net, name=name, x_shape=tuple(x.shape), reads_input=x is inputs)
        if isinstance(m, SubpixelConvTranspose) or (isinstance(m, nn.ConvTranspose) and m.strides == (2, 2)):
            k = tuple(m.kernel_size) if not isinstance(m.kernel_size, int) else (m.kernel_size,) * 2
            pads = (upsample_padding(k[0]), upsample_padding(k[1]))
            form = "transpose"
            if isinstance(m, SubpixelConvTranspose):
                form = "per_product" if m.per_product else "phases" if m.phases else "subpixel"
                if m.per_product:  # computed in batch chunks on the CPU past 64 rows
                    form = chunked(form, auto_batch_chunk(x.shape[0]))
            layers.append(
                Layer(kind="up2x", features=m.features, kernel=k, strides=(2, 2), padding=pads, form=form, **common)
            )
        elif isinstance(m, (nn.Conv, Downsample2x)):
            k = tuple(m.kernel_size) if not isinstance(m.kernel_size, int) else (m.kernel_size,) * 2
            strides = (2, 2) if isinstance(m, Downsample2x) else m.strides or 1
            strides = (strides,) * 2 if isinstance(strides, int) else tuple(strides)
            pads = _pads(m.padding, x.shape, k, strides)
            if isinstance(m, Downsample2x):
                form = chunked("xla", strided_conv_chunk(x.shape, strides, NHWC)) if m.method == "auto" else m.method
            else:
                form = _conv_form(m, x.shape, k, strides)
            layer = Layer(kind="conv", features=m.features, kernel=k, strides=strides, padding=pads, form=form,
                          **common)  # fmt: skip
            layers.append(layer)
        elif isinstance(m, nn.Dense):
            layers.append(Layer(kind="dense", features=m.features, **common))
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(interceptor):
        jax.eval_shape(lambda: module.init(jax.random.key(0), inputs, *more))
    seen: set[str] = set()  # spectral norm calls its layer more than once at init
    return [x for x in layers if x.name not in seen and not seen.add(x.name)]


def chunked(form: str, chunk: int | None) -> str:
    """The name of ``form`` computed in batch chunks of ``chunk`` rows (``"xla_chunk64"``); ``form`` for ``None``."""
    return form if chunk is None else f"{form}_chunk{chunk}"


def _conv_form(m: Any, x_shape: tuple, kernel: tuple, strides: tuple) -> str:
    """The form an ``nn.Conv`` computes in: its ``conv_general_dilated`` (``conv_dot_dw`` / ``conv_auto``); for a
    strided layer under ``conv_auto``, XLA's in the batch chunks it uses; ``"xla"`` otherwise."""
    from jaxgan.models import conv_forms as F

    fn = getattr(m, "conv_general_dilated", None)
    if strides != (1, 1) and fn is F.conv_auto:
        return chunked("xla", F.strided_conv_chunk(x_shape, strides, F.NHWC))
    if strides != (1, 1) or fn is None:
        return "xla"
    if fn is F.conv_dot_dw:
        return "dot_dw"
    return F.auto_conv_form(x_shape, (*kernel, x_shape[-1], m.features)) if fn is F.conv_auto else "xla"


def forms(layer: Layer) -> dict[str, Callable]:
    """The exact JAX forms of ``layer``: ``{name: f(x, w) -> y}``."""
    import jax

    from jaxgan.models import conv_forms as F

    dn = ("NHWC", "HWIO", "NHWC")
    if layer.kind == "dense":
        return {"xla": lambda x, w: x @ w}
    if layer.kind == "up2x":
        out = {
            "transpose": lambda x, w: jax.lax.conv_transpose(x, w, (2, 2), layer.padding, dimension_numbers=dn),
            "subpixel": lambda x, w: F.conv_transpose_as_subpixel(x, w),
            "phases": lambda x, w: F.conv_transpose_as_phases(x, w),
            "per_product": lambda x, w: F.conv_transpose_per_product(x, w),
        }
        chunk = F.auto_batch_chunk(layer.x_shape[0])
        if chunk is not None:  # what SubpixelConvTranspose(per_product=True) computes on the CPU
            out[chunked("per_product", chunk)] = lambda x, w: F.batch_chunked(
                lambda x: F.conv_transpose_per_product(x, w), x, chunk
            )
        return out
    xla = lambda x, w: jax.lax.conv_general_dilated(x, w, layer.strides, layer.padding, dimension_numbers=dn)  # noqa: E731
    out = {"xla": xla}
    chunk = F.strided_conv_chunk(layer.x_shape, layer.strides, dn)
    if chunk is not None:  # what conv_auto computes on the CPU
        out[chunked("xla", chunk)] = lambda x, w: F.batch_chunked(lambda x: xla(x, w), x, chunk)
    if layer.strides == (1, 1):
        out["dot_dw"] = lambda x, w: F.conv_dot_dw(x, w, (1, 1), layer.padding, dimension_numbers=dn)
    if layer.strides == (2, 2):
        out["s2d"] = lambda x, w: F.conv_stride2_as_s2d(x, w, padding=layer.padding)
    return out


def directions(f: Callable) -> dict[str, Callable]:
    """``{"fwd": (x, w, dy) -> y, "dx": -> dL/dx, "dw": -> dL/dw}`` for ``f(x, w)``, each jitted on its own."""
    import jax

    return {
        "fwd": jax.jit(lambda x, w, dy: f(x, w)),
        "dx": jax.jit(lambda x, w, dy: jax.vjp(lambda x: f(x, w), x)[1](dy)[0]),
        "dw": jax.jit(lambda x, w, dy: jax.vjp(lambda w: f(x, w), w)[1](dy)[0]),
    }


def arrays(layer: Layer, seed: int = 0):
    """Random ``(x, w, dy)`` float32 numpy arrays for ``layer`` (NHWC / HWIO)."""
    import jax

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(layer.x_shape, dtype=np.float32)
    w = (rng.standard_normal(layer.w_shape, dtype=np.float32) / np.sqrt(np.prod(layer.w_shape[:-1]))).astype(np.float32)
    y = jax.eval_shape(forms(layer)[next(iter(forms(layer)))], x, w)
    dy = rng.standard_normal(y.shape, dtype=np.float32)
    return x, w, dy


def torch_directions(layer: Layer, threads: int = 2) -> dict[str, Callable]:
    """PyTorch's layer: ``{"fwd" | "dx" | "dw": (x, w, dy) -> tensor}`` on NCHW tensors and PyTorch's kernel
    layout (:func:`to_torch` converts the arrays); for a convolution with an asymmetric border also ``"prep"``,
    which pads ``x`` explicitly (``dx`` is then the padded input's gradient)."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    aten = torch.ops.aten
    if layer.kind == "dense":
        return {
            "fwd": lambda x, w, dy: F.linear(x, w),
            "dx": lambda x, w, dy: dy @ w,
            "dw": lambda x, w, dy: dy.t() @ x,
        }
    if layer.kind == "up2x":
        k = layer.kernel[0]
        p, op = (k - 1) // 2, k % 2

        def back(mask):
            return lambda x, w, dy: aten.convolution_backward(
                dy, x, w, None, [2, 2], [p, p], [1, 1], True, [op, op], 1, mask
            )[0 if mask[0] else 1]

        return {
            "fwd": lambda x, w, dy: F.conv_transpose2d(x, w, stride=2, padding=p, output_padding=op),
            "dx": back([True, False, False]),
            "dw": back([False, True, False]),
        }
    (t, b), (le, r) = layer.padding
    sym = t == b and le == r
    s = list(layer.strides)

    pad = [t, le] if sym else [0, 0]

    def back(mask):
        return lambda x, w, dy: aten.convolution_backward(dy, x, w, None, s, pad, [1, 1], False, [0, 0], 1, mask)[
            0 if mask[0] else 1
        ]

    out = {"fwd": lambda x, w, dy: F.conv2d(x, w, stride=s, padding=pad), "dx": back([True, False, False]),
           "dw": back([False, True, False])}  # fmt: skip
    if not sym:  # an asymmetric border ("SAME" on an odd map) as an explicit pad of x, whose cost is not timed
        out["prep"] = lambda x: F.pad(x, (le, r, t, b))
    return out


def to_torch(layer: Layer, x, w, dy, prep=None):
    """NHWC / HWIO numpy arrays as PyTorch's NCHW tensors and kernel (``[out, in, k, k]``; transposed:
    ``[in, out, k, k]``, flipped: PyTorch's transposed convolution is the gradient of a convolution)."""
    import torch

    if layer.kind == "dense":
        return torch.from_numpy(x), torch.from_numpy(np.ascontiguousarray(w.T)), torch.from_numpy(dy)
    tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    tdy = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 3, 1, 2)))
    if layer.kind == "up2x":
        tw = torch.from_numpy(np.ascontiguousarray(w[::-1, ::-1].transpose(2, 3, 0, 1)))
    else:
        tw = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
    if prep is not None:
        tx = prep(tx)
    return tx, tw, tdy


def _time(fn: Callable, sync: Callable, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        sync(fn())
        out.append(time.perf_counter() - t)
    return out


def profile_layer(layer: Layer, reps: int, rounds: int, with_torch: bool, threads: int = 2) -> list[dict]:
    """Times every form and direction of ``layer`` in ``rounds`` interleaved rounds of ``reps`` calls; each
    record has the median over all calls in ms and the GFLOP/s it gives."""
    import jax
    import jax.numpy as jnp

    x, w, dy = arrays(layer)
    jx, jw, jdy = (jnp.asarray(a) for a in (x, w, dy))
    fns: dict[tuple[str, str], tuple[Callable, Callable]] = {}
    for form, f in forms(layer).items():
        for d, g in directions(f).items():
            fns[(form, d)] = (lambda g=g: g(jx, jw, jdy), jax.block_until_ready)
    if with_torch:
        t = torch_directions(layer, threads)
        tx, tw, tdy = to_torch(layer, x, w, dy, t.pop("prep", None))
        for d in DIRECTIONS:
            fns[("torch", d)] = (lambda g=t[d]: g(tx, tw, tdy), lambda v: v)
    first = {}
    for key, (fn, sync) in fns.items():  # compile / first call, then one warm-up
        t0 = time.perf_counter()
        sync(fn())
        first[key] = time.perf_counter() - t0
        sync(fn())
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for key, (fn, sync) in fns.items():
            samples[key] += _time(fn, sync, reps)
    flop = 2 * layer.macs
    records = []
    for (form, d), s in samples.items():
        med = statistics.median(s)
        records.append(
            {"net": layer.net, "layer": layer.name, "shape": layer.describe(), "batch": layer.x_shape[0],
             "form": form, "direction": d, "ms": round(med * 1e3, 4), "gflops": round(flop / med / 1e9, 1),
             "first_call_s": round(first[(form, d)], 3), "reads_input": layer.reads_input, "mflop": flop / 1e6}
        )  # fmt: skip
    return records


def format_table(records: list[dict]) -> str:
    """One row per layer and form: ms and GFLOP/s of fwd / dx / dW."""
    rows: dict[tuple, dict] = {}
    for r in records:
        rows.setdefault((r["net"], r["layer"], r["shape"], r["form"]), {})[r["direction"]] = r
    lines = [
        "| net | layer | shape | form | fwd ms | dx ms | dW ms | fwd GFLOP/s | dx GFLOP/s | dW GFLOP/s |",
        "|-----|-------|-------|------|--------|-------|-------|-------------|------------|------------|",
    ]
    for (net, layer, shape, form), d in rows.items():
        ms = [f"{d[k]['ms']:.3f}" for k in DIRECTIONS]
        gf = [f"{d[k]['gflops']:.1f}" for k in DIRECTIONS]
        if d["dx"]["reads_input"] and net == "G":  # a step never needs the latents' gradient
            ms[1], gf[1] = f"({ms[1]})", f"({gf[1]})"
        lines.append(f"| {net} | {layer} | {shape} | {form} | " + " | ".join(ms + gf) + " |")
    return "\n".join(lines)


def step_counts(layer: Layer, n_critic: int) -> dict[str, int]:
    """How many times one train step runs each product of ``layer``, in units of ``batch`` rows (as
    :func:`jaxgan.bench.flops.step_macs` counts): per D update G forward on B, D forward, input and weight
    gradients on 2B (real + fake; no input gradient into the images); the G update runs G forward, input (not into
    the latents) and weight gradients, D forward and input gradients on B."""
    if layer.net == "G":
        return {"fwd": n_critic + 1, "dx": 0 if layer.reads_input else 1, "dw": 1}
    return {"fwd": 2 * n_critic + 1, "dx": n_critic * (0 if layer.reads_input else 2) + 1, "dw": 2 * n_critic}


def step_estimate(records: list[dict], layers_: list[Layer], n_critic: int) -> dict[str, float]:
    """Milliseconds one train step spends in these layers (:func:`step_counts` times the measured products):
    ``"model"`` in the forms the network computes, ``"best"`` in each layer's fastest JAX form, ``"torch"`` in
    PyTorch's layers (when measured)."""
    by = {(r["net"], r["layer"], r["form"], r["direction"]): r["ms"] for r in records}
    out: dict[str, float] = {}
    for layer in layers_:
        counts = step_counts(layer, n_critic)
        cost = {
            f: sum(c * by[(layer.net, layer.name, f, d)] for d, c in counts.items())
            for f in [*forms(layer), "torch"]
            if (layer.net, layer.name, f, "fwd") in by
        }
        if not cost:
            continue
        out["model"] = out.get("model", 0.0) + cost[layer.form]
        out["best"] = out.get("best", 0.0) + min(v for f, v in cost.items() if f != "torch")
        if "torch" in cost:
            out["torch"] = out.get("torch", 0.0) + cost["torch"]
    return {k: round(v, 2) for k, v in out.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="layer_profile", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default="dcgan28", help=f"comma list of {', '.join(MODELS)}")
    p.add_argument("--batch", type=int, default=None, help=f"rows (default per model: {DEFAULT_BATCH})")
    p.add_argument("--reps", type=int, default=10, help="timed calls per form and direction per round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (XLA: one per core)")
    p.add_argument("--torch", dest="torch", action=argparse.BooleanOptionalAction, default=True,
                   help="time PyTorch's layers too (needs torch)")  # fmt: skip
    p.add_argument("--layers", default=None, help="comma list of layer-name substrings to keep")
    p.add_argument("--json", default=None, help="append one JSON line per record to this file")
    args = p.parse_args(argv)
    models = args.model.split(",")
    for m in models:
        if m not in MODELS:
            p.error(f"unknown model {m!r}; models: {', '.join(MODELS)}")
    from jaxgan.bench.machine import cpu_model, loadavg, torch_available

    with_torch = args.torch and torch_available()
    if args.torch and not with_torch:
        print("# torch is not installed: PyTorch columns skipped (pip install torch==2.13.0)", file=sys.stderr)
    import jax

    print(f"# layer profile ({' '.join(argv if argv is not None else sys.argv[1:])})")
    print(f"CPU: {cpu_model()}; load average at start {loadavg()}; jax {jax.__version__}"
          + (f"; torch {__import__('torch').__version__}" if with_torch else ""))  # fmt: skip
    from jaxgan.bench.flops import N_CRITIC

    records, estimates = [], []
    for m in models:
        batch = args.batch or DEFAULT_BATCH[m]
        keep = args.layers.split(",") if args.layers else None
        found = [x for x in model_layers(m, batch) if keep is None or any(s in x.name for s in keep)]
        mine = []
        for layer in found:
            rs = profile_layer(layer, args.reps, args.rounds, with_torch, args.threads)
            for r in rs:
                r["model"] = m
            mine += rs
            print(f"  {m} b{batch} {layer.net} {layer.name}: {layer.describe()} done", file=sys.stderr, flush=True)
        records += mine
        est = step_estimate(mine, found, N_CRITIC[m])
        estimates.append({"record": "step_estimate", "model": m, "batch": batch, "ms": est})
    print(f"load average at end {loadavg()}; GFLOP/s = 2 x multiply-adds / median time; "
          "(dx) in parentheses: G's layer reading the latents, whose dx a step never computes")  # fmt: skip
    print(format_table(records))
    for e in estimates:
        print(f"{e['model']} b{e['batch']}: these layers' time in one train step, ms (2B-row products as 2x the "
              "B-row time; model: the forms the network uses; best: each layer's fastest JAX form): "
              f"{e['ms']}")  # fmt: skip
    if args.json:
        with open(args.json, "a") as f:
            for r in records + estimates:
                f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
