"""Two GAN systems that the plain-GAN engine could not express, tiny, for ``tests/test_system.py``.

* :func:`cycle_system`: CycleGAN's shape (Zhu et al. 2017): two generators ``g_ab``, ``g_ba`` (plain JAX
  functions) as player ``g`` against two discriminators ``d_a``, ``d_b`` (Flax Linen) as player ``d``, LSGAN
  losses, an L1 cycle-consistency term, and an image pool per domain (:mod:`jaxgan.pool`) in the buffers; the
  generators update first, as in the reference; an EMA of ``g_ab``.
* :func:`encoder_system`: BiGAN / ALI's shape (Donahue et al. 2017; Dumoulin et al. 2017): a generator ``g``
  (Linen, no batch norm: per-device statistics would differ by device count) and an encoder ``e`` (Flax NNX)
  as one player ``ge`` against a discriminator ``d`` (plain JAX) on the
  pairs ``(x, E(x))`` and ``(G(z), z)``, ``z ~ U[-1, 1]^2``, two discriminator updates per step.

Run as a script, in a fresh process (the device count must be set before JAX starts):

    python tests/_systems.py parallel --devices 4     # one step: one device vs pmap vs mesh, as JSON
    python tests/_systems.py train --system cycle --workdir W --steps 300 --every 20
                                                      # a checkpointed run that resumes from W
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys

import jax
import jax.numpy as jnp
import optax

B = 8  # global rows of one batch group
DIM = 2


# --------------------------------------------------------------------------------------------- shared pieces


def _mlp_init(key, sizes):
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (a, b)) / jnp.sqrt(a), "b": jnp.zeros((b,))}
        for k, a, b in zip(keys, sizes[:-1], sizes[1:])
    ]


def _mlp_apply(params, x):
    for i, layer in enumerate(params):
        x = x @ layer["w"] + layer["b"]
        if i < len(params) - 1:
            x = jax.nn.leaky_relu(x, 0.2)
    return x


def plain_mlp(sizes):
    """A plain-JAX MLP as a Net (``from_function``)."""
    from jaxgan.models import adapters

    return adapters.from_function(_mlp_apply, lambda key, x: _mlp_init(key, (x.shape[-1], *sizes)))


def batch(system: str, step: int, seed: int = 0) -> dict:
    """The global batch of ``step``: a pure function of (seed, step)."""
    key = jax.random.fold_in(jax.random.PRNGKey(seed), step)
    ka, kb = jax.random.split(key)
    if system == "cycle":
        a = jax.random.normal(ka, (B, DIM)) * 0.5 + jnp.array([2.0, 0.0])
        b = jax.random.normal(kb, (B, DIM)) * 0.5 + jnp.array([0.0, -2.0])
        return {"a": a, "b": b}
    x = jax.random.normal(ka, (2 * B, DIM)) * jnp.array([1.0, 0.3]) + 1.0  # 2 groups: d repeats 2
    return {"x": x}


# ------------------------------------------------------------------------------------------------- CycleGAN


def cycle_system(cycle_weight: float = 10.0, pool_size: int = 12):
    from jaxgan import losses, pool
    from jaxgan.models import adapters, mlp
    from jaxgan.system import Player, System

    lsgan = losses.get_loss("least_squares")

    def g_loss(ctx):
        a, b = ctx.batch["a"], ctx.batch["b"]
        fake_b, fake_a = ctx.apply("g_ab", a), ctx.apply("g_ba", b)
        k_a, k_b = jax.random.split(ctx.key)
        adv = (lsgan.generator(None, ctx.apply("d_b", fake_b, rng=k_b), {})
               + lsgan.generator(None, ctx.apply("d_a", fake_a, rng=k_a), {}))
        cycle = jnp.mean(jnp.abs(ctx.apply("g_ba", fake_b) - a)) + jnp.mean(jnp.abs(ctx.apply("g_ab", fake_a) - b))
        return adv + cycle_weight * cycle, {"loss": adv, "cycle": cycle}

    def d_loss(ctx):
        a, b = ctx.batch["a"], ctx.batch["b"]
        k_pa, k_pb, k_a, k_b = jax.random.split(ctx.key, 4)
        fake_b = pool.through(ctx, "pool_b", ctx.apply("g_ab", a), k_pb)
        fake_a = pool.through(ctx, "pool_a", ctx.apply("g_ba", b), k_pa)
        ra, fa = jax.random.split(k_a)
        rb, fb = jax.random.split(k_b)
        d_a = lsgan.discriminator(ctx.apply("d_a", a, rng=ra), ctx.apply("d_a", fake_a, rng=fa), {})
        d_b = lsgan.discriminator(ctx.apply("d_b", b, rng=rb), ctx.apply("d_b", fake_b, rng=fb), {})
        return 0.5 * (d_a + d_b), {"loss_a": d_a, "loss_b": d_b}

    d_net = adapters.from_linen(mlp.MLPDiscriminator(features=(16, 16)))
    return System(
        nets={"g_ab": plain_mlp((16, DIM)), "g_ba": plain_mlp((16, DIM)), "d_a": d_net, "d_b": d_net},
        players=(
            Player("g", ("g_ab", "g_ba"), optax.adam(2e-3, b1=0.5), g_loss),
            Player("d", ("d_a", "d_b"), optax.adam(2e-3, b1=0.5), d_loss),
        ),
        ema=("g_ab",),
        ema_decay=0.9,
        ema_warmup=True,
        buffers={"pool_a": pool.init(pool_size, (DIM,)), "pool_b": pool.init(pool_size, (DIM,))},
    )


def cycle_inputs():
    x = jnp.zeros((2, DIM))
    return {"g_ab": (x,), "g_ba": (x,), "d_a": (x,), "d_b": (x,)}


# ---------------------------------------------------------------------------------------------------- BiGAN


class _Encoder:
    """An NNX encoder x -> z in [-1, 1]^2 (built lazily so that importing this file does not need NNX)."""

    @staticmethod
    def net():
        from flax import nnx

        from jaxgan.models import adapters

        class Encoder(nnx.Module):
            def __init__(self, rngs):
                self.l1 = nnx.Linear(DIM, 16, rngs=rngs)
                self.l2 = nnx.Linear(16, DIM, rngs=rngs)

            def __call__(self, x):
                return jnp.tanh(self.l2(jax.nn.leaky_relu(self.l1(x), 0.2)))

        net, _, _ = adapters.from_nnx(Encoder(nnx.Rngs(0)))
        return net


def encoder_system():
    from jaxgan import losses
    from jaxgan.models import adapters, mlp
    from jaxgan.system import Player, System

    ns = losses.get_loss("non_saturating")

    def pairs(ctx, rng):
        x = ctx.batch["x"]
        z_key, rng = jax.random.split(rng)
        z = jax.vmap(lambda k: jax.random.uniform(k, (DIM,), minval=-1.0, maxval=1.0))(ctx.sample_keys(z_key))
        real = jnp.concatenate([x, ctx.apply("e", x)], axis=-1)
        fake = jnp.concatenate([ctx.apply("g", z, rng=rng), z], axis=-1)
        return ctx.apply("d", real), ctx.apply("d", fake)

    def d_loss(ctx):
        d_real, d_fake = pairs(ctx, ctx.key)
        return ns.discriminator(d_real, d_fake, {}), {"loss": ns.discriminator(d_real, d_fake, {})}

    def ge_loss(ctx):
        d_real, d_fake = pairs(ctx, ctx.key)
        value = ns.discriminator(d_fake, d_real, {})  # G and E fool D with the labels swapped (BiGAN)
        return value, {"loss": value}

    return System(
        nets={
            "g": adapters.from_linen(mlp.MLPGenerator(out_dim=DIM, features=(16, 16))),
            "e": _Encoder.net(),
            "d": plain_mlp((16, 1)),
        },
        players=(
            Player("d", ("d",), optax.adam(2e-3, b1=0.5), d_loss, repeats=2),
            Player("ge", ("g", "e"), optax.adam(1e-3, b1=0.5), ge_loss),
        ),
        batch_keys=("x",),
    )


def encoder_inputs():
    x = jnp.zeros((2, DIM))
    return {"g": (x,), "e": (x,), "d": (jnp.zeros((2, 2 * DIM)),)}


SYSTEMS = {"cycle": (cycle_system, cycle_inputs), "encoder": (encoder_system, encoder_inputs)}


def build(name: str):
    from jaxgan.system import init_system_state

    make, inputs = SYSTEMS[name]
    system = make()
    return system, init_system_state(0, system, inputs())


# -------------------------------------------------------------------------------------------------- scripts


def _leaves(tree):
    return [jnp.asarray(x).tolist() for x in jax.tree.leaves(tree)]


def run_parallel(args) -> None:
    """One device, pmap and mesh, ``args.steps`` steps each, on the same global batches; prints JSON leaves."""
    from jaxgan import parallel
    from jaxgan.system import make_system_step

    out = {"devices": jax.device_count()}
    for name in SYSTEMS:
        system, state0 = build(name)
        out[name] = {}
        make_step = functools.partial(make_system_step, system)
        for mode, n in (("none", 1), ("pmap", args.devices), ("mesh", args.devices)):
            dp = parallel.data_parallel(make_step, mode, num_devices=n, donate=False)
            s = dp.put(state0)
            for t in range(args.steps):
                s, metrics = dp.step(s, dp.shard(batch(name, t)))
            metrics = {k: float(v) for k, v in dp.get(metrics).items()}
            out[name][mode] = {"state": _leaves(dp.get(s)), "metrics": metrics}
    print(json.dumps(out), flush=True)


def run_train(args) -> None:
    """A checkpointed run: resumes from the newest checkpoint in ``args.workdir``, saves every ``args.every``."""
    from jaxgan import checkpoint
    from jaxgan.run import resume
    from jaxgan.run.writers import fingerprint
    from jaxgan.system import make_system_step

    system, state = build(args.system)
    config = {"system": args.system, "steps": args.steps}
    ckpt = checkpoint.Checkpointer(os.path.join(args.workdir, "checkpoints"), keep=3)
    restored = resume.restore_latest(ckpt, jax.eval_shape(lambda: state), config,
                                     log=lambda m: print(m, file=sys.stderr))
    start = 0
    if restored is not None:
        state, start = jax.tree.map(jnp.asarray, restored.state), restored.step
        print(f"resumed at step {start}", flush=True)
    step = jax.jit(make_system_step(system), donate_argnums=0)
    for t in range(start, args.steps):
        state, _ = step(state, batch(args.system, t))
        if (t + 1) % args.every == 0:
            ckpt.save(t + 1, jax.device_get(state), config)
    ckpt.wait()
    ckpt.close()
    host = jax.device_get(state)
    with open(os.path.join(args.workdir, "final.json"), "w") as f:
        json.dump({"step": int(host.step), "fingerprint": fingerprint(host)}, f)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("parallel", "train"))
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--system", choices=tuple(SYSTEMS), default="cycle")
    ap.add_argument("--workdir")
    ap.add_argument("--every", type=int, default=20)
    args = ap.parse_args()
    if args.what == "parallel":
        jax.config.update("jax_num_cpu_devices", args.devices)
        run_parallel(args)
    else:
        run_train(args)


if __name__ == "__main__":
    main()
