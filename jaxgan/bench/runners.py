"""What the step-throughput benchmark times: a runner per implementation (jaxgan's step, the minimal hand-written
JAX step, the PyTorch reference) and the entries (model, batch, implementation, variant) of one run."""

from __future__ import annotations

import time

import numpy as np

from jaxgan.bench.flops import LATENT, MODELS, N_CRITIC, step_flops

DTYPE_LABELS = {"float32": "f32", "bfloat16": "bf16"}  # --dtype: the networks' compute dtype


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
    model: str,
    batch: int,
    upsample: str = "transpose",
    unroll_critic: bool = True,
    dtype: str = "float32",
    downsample: str = "auto",
    conv: str = "auto",
):
    """``(train_step, state, real_batch_or_None, sample_fn_or_None)`` for one benchmark model in jaxgan, its
    networks computing in ``dtype`` (``"bfloat16"``: :func:`jaxgan.precision.mixed_precision`); ``upsample`` and
    ``downsample`` are dcgan28's forms of its (transposed) stride-2 convolutions, ``conv`` sngan32's form of its
    stride-1 convolutions (:data:`jaxgan.models.conv_forms.CONV_FORMS`)."""
    import jax
    import jax.numpy as jnp
    import optax

    from jaxgan import state as state_lib
    from jaxgan import train
    from jaxgan.models.adapters import from_linen

    n_critic = N_CRITIC[model]
    real, sample_fn = None, None
    if model == "dcgan28":
        from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator

        g = from_linen(DCGANGenerator(resolution=28, upsample=upsample))
        d = from_linen(DCGANDiscriminator(resolution=28, downsample=downsample))
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

        g, d = from_linen(SNGANGenerator(conv=conv)), from_linen(SNGANDiscriminator(conv=conv))
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
    model,
    batch,
    *,
    upsample="transpose",
    donate=True,
    mode="step",
    k=1,
    unroll_critic=True,
    dtype="float32",
    downsample="auto",
    conv="auto",
) -> JaxRunner:
    """mode: ``step`` (one step per call), ``loop`` (k Python-dispatched steps per call, one sync),
    ``scan`` (``make_multi_step`` over k stacked copies of the batch, or ``make_sampled_multi_step`` for toy data),
    ``scan_unrolled`` (the same scan with ``unroll=True``; image models only). ``unroll_critic=False``: the
    n_critic discriminator updates as a loop in the compiled step (the default writes them out).
    """
    import jax
    import jax.numpy as jnp

    from jaxgan import train

    step, state, real, sample_fn = jaxgan_parts(model, batch, upsample, unroll_critic, dtype, downsample, conv)
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

    from jaxgan.bench.minimal_jax import make_minimal_dcgan28

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
        ups = ("transpose", "subpixel", "phases", "phases,transpose", "phases,subpixel", "subpixel,transpose",
               "per_product,transpose")  # fmt: skip
        for up in (*ups, "resize_conv"):
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
        from jaxgan.models.dcgan import auto_upsample

        auto = auto_upsample(2)  # the generator's default form on this backend
        # D's stride-2 convolutions as space-to-depth (all, or the first only), or nn.Conv's own (no batch chunks);
        # and the default of 2026-12-01 (per-phase upsampling, nn.Conv's own downsampling)
        variants = [(auto, d) for d in ("s2d", "s2d,xla", "xla")] + [("phases,transpose", "xla")]
        for up, down in variants:
            out.append(
                Entry(
                    model,
                    batch,
                    impl,
                    f"{up}, down {down}",
                    lambda u=up, d=down: make_jaxgan_runner(model, batch, dtype=dtype, upsample=u, downsample=d),
                    step_flops(model, batch, up),
                    up,
                )
            )
        for up in ("transpose", "subpixel", "phases,transpose", "per_product,transpose") if dtype == "float32" else ():
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
        row = lambda variant, **kw: Entry(  # noqa: E731
            model, batch, impl, variant, lambda: make_jaxgan_runner(model, batch, dtype=dtype, **kw), flops
        )
        out.append(row(f"scan x{k}", mode="scan", k=k))
        out.append(row("loop x1", mode="loop", k=1))
        if levers:
            out.append(row(f"loop x{k}, 1 sync", mode="loop", k=k))
            out.append(row(f"scan x{k}, not donated", mode="scan", k=k, donate=False))
    else:
        out.append(Entry(model, batch, impl, "", lambda: make_jaxgan_runner(model, batch, dtype=dtype), flops))
        if model == "sngan32":  # the default conv="auto" against nn.Conv's own form everywhere
            build = lambda: make_jaxgan_runner(model, batch, dtype=dtype, conv="xla")  # noqa: E731
            out.append(Entry(model, batch, impl, "conv xla", build, flops))
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
        from jaxgan.bench import torch_reference

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
