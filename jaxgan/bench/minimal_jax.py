"""A hand-written minimal JAX train step of ``dcgan28``: plain jax + flax + optax, none of jaxgan's engine.

The networks are jaxgan's Linen modules (``DCGANGenerator`` / ``DCGANDiscriminator`` at resolution 28: the model
is not what is being measured), but the step is written out by hand the way a tutorial would: one key split per
step, ``jax.random.normal`` latents for the whole batch, ``Module.apply`` with ``mutable=["batch_stats"]``, the
non-saturating loss, ``optax.adam`` and no checks, no metrics beyond the two losses, no per-sample keys. The same
work as ``jaxgan.train.make_train_step``: one D update on ``concat([real, G(z)])`` with ``G(z)`` under
``stop_gradient``, then one G update through the updated D; the ratio jaxgan / minimal is the engine's overhead.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator


class MinimalState(NamedTuple):
    g_vars: Any  # {"params", "batch_stats"}
    d_vars: Any
    g_opt: Any
    d_opt: Any
    key: jax.Array


def make_minimal_dcgan28(batch: int, upsample: str = "transpose", seed: int = 0, latent_dim: int = 100):
    """Returns ``(state, step)``: ``step(state, real [batch, 28, 28, 1]) -> (state, (d_loss, g_loss))``, not jitted."""
    g = DCGANGenerator(resolution=28, upsample=upsample)
    d = DCGANDiscriminator(resolution=28)
    tx = optax.adam(2e-4, b1=0.5)
    kg, kd, key = jax.random.split(jax.random.key(seed), 3)
    g_vars = g.init(kg, jnp.zeros((batch, latent_dim)), train=False)
    d_vars = d.init(kd, jnp.zeros((batch, 28, 28, 1)), train=False)
    state = MinimalState(g_vars, d_vars, tx.init(g_vars["params"]), tx.init(d_vars["params"]), key)

    def step(s: MinimalState, real: jax.Array):
        key, k1, k2 = jax.random.split(s.key, 3)
        z = jax.random.normal(k1, (batch, latent_dim))
        fake, g_upd = g.apply(s.g_vars, z, mutable=["batch_stats"])
        fake = jax.lax.stop_gradient(fake)

        def d_loss_fn(d_params):
            out, upd = d.apply({**s.d_vars, "params": d_params}, jnp.concatenate([real, fake]), mutable=["batch_stats"])
            r, f = jnp.split(out, 2)
            return jnp.mean(jax.nn.softplus(-r)) + jnp.mean(jax.nn.softplus(f)), upd

        (d_loss, d_upd), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(s.d_vars["params"])
        updates, d_opt = tx.update(d_grads, s.d_opt, s.d_vars["params"])
        d_vars = {"params": optax.apply_updates(s.d_vars["params"], updates), **d_upd}

        z = jax.random.normal(k2, (batch, latent_dim))

        def g_loss_fn(g_params):
            fake, upd = g.apply({**s.g_vars, "params": g_params}, z, mutable=["batch_stats"])
            out, _ = d.apply(d_vars, fake, mutable=["batch_stats"])
            return jnp.mean(jax.nn.softplus(-out)), upd

        (g_loss, g_upd), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(s.g_vars["params"])
        updates, g_opt = tx.update(g_grads, s.g_opt, s.g_vars["params"])
        g_vars = {"params": optax.apply_updates(s.g_vars["params"], updates), **g_upd}
        return MinimalState(g_vars, d_vars, g_opt, d_opt, key), (d_loss, g_loss)

    return state, step
