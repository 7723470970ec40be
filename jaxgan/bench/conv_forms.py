"""The sweeps behind ``"auto"``'s choices for convolutions on the CPU (:func:`jaxgan.models.conv_forms.auto_conv_form`
and :func:`~jaxgan.models.conv_forms.auto_batch_chunk`).

* ``--sweep dw``: a stride-1 convolution's weight gradient, XLA's (a convolution over the output window) against
  :func:`~jaxgan.models.conv_forms.conv_weight_grad_as_dots` (one matrix product per tap), over shapes from the shipped
  models and around them: batch x spatial rows, kernel size, channels.
* ``--sweep chunk``: forward, input gradient and weight gradient of ``dcgan28``'s stride-2 and transposed layers at
  a large batch, whole and in batch chunks (:func:`~jaxgan.models.conv_forms.batch_chunked`).
* ``--sweep layout``: forward, input gradient and weight gradient of XLA's convolution for shipped layers with the
  arrays in NHWC / HWIO (what jaxgan's models use) and in NCHW / OIHW (PyTorch's), the arrays given in that layout
  (no transposes timed), with the largest relative difference of the NCHW results from the NHWC ones once
  transposed back.

Each product is its own jitted function; the median of ``--reps`` calls after one warm-up call. Prints a table and
the largest relative difference of each form's result from XLA's (round-off only)::

    python benchmarks/conv_forms.py --sweep dw,chunk
    python benchmarks/conv_forms.py --sweep layout --reps 20
"""

from __future__ import annotations

import argparse
import sys
import time

# (batch, size, in, out, k): sngan32's layers at batch 8 (G) and 16 (D's real + fake), 28x28 / 14x14 at 64, ...
DW_SHAPES = [
    (8, 32, 256, 256, 3), (8, 32, 256, 256, 1), (16, 32, 128, 128, 3), (8, 32, 256, 3, 3), (16, 32, 3, 128, 3),
    (8, 16, 256, 256, 3), (32, 16, 256, 256, 3), (64, 28, 64, 64, 3), (64, 28, 128, 128, 3), (64, 28, 32, 32, 3),
    (16, 28, 64, 64, 3), (64, 14, 128, 128, 3), (64, 7, 256, 256, 3),
]  # fmt: skip
CHUNKS = (None, 128, 64, 32, 16)
# (name, batch, size, in, out, k, stride): dcgan28's D at batch 64, sngan32's layers at batch 8
LAYOUT_SHAPES = [
    ("dcgan28 D Conv_0", 64, 28, 1, 64, 4, 2), ("dcgan28 D Conv_1", 64, 14, 64, 128, 4, 2),
    ("sngan32 D block1/conv2", 8, 32, 128, 128, 3, 1), ("sngan32 D block2/conv1", 8, 16, 128, 128, 3, 1),
    ("sngan32 G block3/conv1", 8, 16, 256, 256, 3, 1),
]  # fmt: skip
SWEEPS = ("dw", "chunk", "layout")


def _time(f, args, reps: int) -> tuple[float, object]:
    import jax
    import numpy as np

    f = jax.jit(f)
    out = jax.block_until_ready(f(*args))
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(f(*args))
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3, out


def sweep_dw(reps: int) -> list[str]:
    import jax
    import numpy as np

    from jaxgan.models import conv_forms as F

    dn = ("NHWC", "HWIO", "NHWC")
    lines = ["| batch x size^2 x in -> out | k | rows | xla dW ms | dots dW ms | xla / dots | max rel. diff |",
             "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for n, s, cin, cout, k in DW_SHAPES:
        keys = jax.random.split(jax.random.key(0), 3)
        x, dy = jax.random.normal(keys[0], (n, s, s, cin)), jax.random.normal(keys[1], (n, s, s, cout))
        w = jax.random.normal(keys[2], (k, k, cin, cout))
        pads = jax.lax.padtype_to_pads((s, s), (k, k), (1, 1), "SAME")
        pads = tuple(map(tuple, pads))
        xla = lambda x, w, dy, p=pads: jax.vjp(lambda w: jax.lax.conv_general_dilated(  # noqa: E731
            x, w, (1, 1), p, dimension_numbers=dn), w)[1](dy)[0]  # fmt: skip
        dots = lambda x, w, dy, p=pads: F.conv_weight_grad_as_dots(x, dy, w.shape, p)  # noqa: E731
        t0, r0 = _time(xla, (x, w, dy), reps)
        t1, r1 = _time(dots, (x, w, dy), reps)
        diff = float(np.max(np.abs(np.asarray(r1) - np.asarray(r0))) / np.max(np.abs(np.asarray(r0))))
        lines.append(f"| {n}x{s}^2x{cin} -> {cout} | {k}x{k} | {n * s * s} | {t0:.2f} | {t1:.2f} | {t0 / t1:.2f} | "
                     f"{diff:.1e} |")  # fmt: skip
        print(lines[-1], file=sys.stderr, flush=True)
    return lines


def sweep_chunk(reps: int, batch: int) -> list[str]:
    import jax

    from jaxgan.models import conv_forms as F

    dn = ("NHWC", "HWIO", "NHWC")
    pad = ((1, 1), (1, 1))
    strided = lambda x, w: jax.lax.conv_general_dilated(x, w, (2, 2), pad, dimension_numbers=dn)  # noqa: E731
    cases = [
        ("D Conv_1 conv4x4 s2 14x14x64->128", strided, (14, 14, 64), (4, 4, 64, 128)),
        ("G Upsample2x_0 per_product 7x7x128->64", F.conv_transpose_per_product, (7, 7, 128), (4, 4, 128, 64)),
        ("D Conv_0 conv4x4 s2 28x28x1->64", strided, (28, 28, 1), (4, 4, 1, 64)),
    ]  # fmt: skip
    lines = [f"| layer (batch {batch}) | chunk | fwd ms | dx ms | dW ms |", "| --- | --- | --- | --- | --- |"]
    for name, f, xs, ws in cases:
        x = jax.random.normal(jax.random.key(0), (batch, *xs))
        w = jax.random.normal(jax.random.key(1), ws) * 0.05
        dy = jax.random.normal(jax.random.key(2), jax.eval_shape(f, x, w).shape)
        for c in CHUNKS:
            if c is not None and c >= batch:
                continue
            g = lambda x, w, c=c, f=f: F.batch_chunked(lambda x: f(x, w), x, c)  # noqa: E731
            tf, _ = _time(lambda x, w, dy, g=g: g(x, w), (x, w, dy), reps)
            tx, _ = _time(lambda x, w, dy, g=g: jax.vjp(lambda x: g(x, w), x)[1](dy)[0], (x, w, dy), reps)
            tw, _ = _time(lambda x, w, dy, g=g: jax.vjp(lambda w: g(x, w), w)[1](dy)[0], (x, w, dy), reps)
            lines.append(f"| {name} | {c or 'whole'} | {tf:.2f} | {tx:.2f} | {tw:.2f} |")
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


def sweep_layout(reps: int) -> list[str]:
    import jax
    import numpy as np

    nhwc, nchw = ("NHWC", "HWIO", "NHWC"), ("NCHW", "OIHW", "NCHW")
    to_nchw, from_nchw = {"x": (0, 3, 1, 2), "w": (3, 2, 0, 1)}, {"fwd": (0, 2, 3, 1), "dx": (0, 2, 3, 1),
                                                                  "dw": (2, 3, 1, 0)}  # fmt: skip
    lines = ["| layer | fwd NHWC / NCHW ms | dx NHWC / NCHW ms | dW NHWC / NCHW ms | NHWC / NCHW time (fwd, dx, dW) "
             "| max rel. diff |", "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, n, size, cin, cout, k, stride in LAYOUT_SHAPES:
        keys = jax.random.split(jax.random.key(0), 3)
        x = jax.random.normal(keys[0], (n, size, size, cin))
        w = jax.random.normal(keys[1], (k, k, cin, cout)) * 0.05

        def conv(dn, strides=(stride, stride)):
            return lambda a, b: jax.lax.conv_general_dilated(a, b, strides, ((1, 1), (1, 1)), dimension_numbers=dn)

        dy = jax.random.normal(keys[2], jax.eval_shape(conv(nhwc), x, w).shape)
        args = {"NHWC": (x, w, dy), "NCHW": (x.transpose(to_nchw["x"]), w.transpose(to_nchw["w"]),
                                             dy.transpose(to_nchw["x"]))}  # fmt: skip
        times, out, diff = {}, {}, 0.0
        for lay, dn in (("NHWC", nhwc), ("NCHW", nchw)):
            f = conv(dn)
            prods = {"fwd": lambda x, w, dy, f=f: f(x, w),
                     "dx": lambda x, w, dy, f=f: jax.vjp(lambda x: f(x, w), x)[1](dy)[0],
                     "dw": lambda x, w, dy, f=f: jax.vjp(lambda w: f(x, w), w)[1](dy)[0]}  # fmt: skip
            for d, g in prods.items():
                times[(lay, d)], out[(lay, d)] = _time(g, args[lay], reps)
        for d, perm in from_nchw.items():
            ref = np.asarray(out[("NHWC", d)])
            got = np.asarray(out[("NCHW", d)]).transpose(perm)
            diff = max(diff, float(np.max(np.abs(got - ref)) / np.max(np.abs(ref))))
        ds = ("fwd", "dx", "dw")
        cells = [f"{times[('NHWC', d)]:.2f} / {times[('NCHW', d)]:.2f}" for d in ds]
        ratio = ", ".join(f"{times[('NHWC', d)] / times[('NCHW', d)]:.2f}" for d in ds)
        lines.append(f"| {name} {n}x{size}^2x{cin} -> {cout} | " + " | ".join(cells) + f" | {ratio} | {diff:.1e} |")
        print(lines[-1], file=sys.stderr, flush=True)
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="conv_forms", description=__doc__.split("\n\n")[0])
    p.add_argument("--sweep", default="dw,chunk", help=f"comma list of: {', '.join(SWEEPS)}")
    p.add_argument("--reps", type=int, default=8, help="timed calls per product")
    p.add_argument("--batch", type=int, default=256, help="the chunk sweep's batch")
    args = p.parse_args(argv)
    sweeps = args.sweep.split(",")
    for s in sweeps:
        if s not in SWEEPS:
            p.error(f"unknown sweep {s!r}; sweeps: {', '.join(SWEEPS)}")
    import jax

    from jaxgan.bench.machine import cpu_model, loadavg

    print(f"# conv forms ({' '.join(argv if argv is not None else sys.argv[1:])})")
    print(f"CPU: {cpu_model()}; load average at start {loadavg()}; jax {jax.__version__}; backend "
          f"{jax.default_backend()}")  # fmt: skip
    if "dw" in sweeps:
        print("\n".join(sweep_dw(args.reps)))
    if "chunk" in sweeps:
        print("\n".join(sweep_chunk(args.reps, args.batch)))
    if "layout" in sweeps:
        print("\n".join(sweep_layout(args.reps)))
    print(f"load average at end {loadavg()}")
    return 0
