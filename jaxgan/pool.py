"""The image history buffer of Shrivastava et al. 2017 and CycleGAN, as a pure function over a state pytree.

"Learning from Simulated and Unsupervised Images through Adversarial Training" (Shrivastava et al. 2017, Sec.
2.3) and CycleGAN (Zhu et al. 2017, Sec. 4; ``util/image_pool.py`` of junyanz/pytorch-CycleGAN-and-pix2pix)
show the discriminator a mix of the newest fakes and fakes from earlier steps, so that it does not forget
what older generators made. The reference, for each image of a batch in turn: while the pool holds fewer than
``size`` images, store the image and return it; after that, with probability 1/2 return a stored image picked
uniformly at random and store the new image in its place, else return the new image.

Here the pool is a buffer of a :class:`jaxgan.system.System` (``{"images": [size, ...], "count": int32}``)
and :func:`query` is pure. To give the same numbers on any device count, call it on the global batch
(``ctx.gather``) with keys from the global row index, and keep this replica's rows (``ctx.rows``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

Array = jax.Array


def init(size: int, shape: Sequence[int], dtype=jnp.float32) -> dict[str, Array]:
    """An empty pool of ``size`` images of ``shape`` (one image, no batch axis)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"image pool size must be an integer >= 0, got {size!r}")
    return {"images": jnp.zeros((size, *shape), dtype), "count": jnp.zeros((), jnp.int32)}


def query(pool: dict[str, Array], images: Array, keys: Array) -> tuple[dict[str, Array], Array]:
    """Passes ``images [n, ...]`` through the pool, in order; ``keys [n, 2]`` one per image.

    Returns:
      ``(pool, out)``: the updated pool and ``out [n, ...]``, where each row is its input image or a stored
      one (see the module docstring). A pool of size 0 returns the images unchanged.
    """
    size = pool["images"].shape[0]
    if size == 0:
        return pool, images

    def one(state, item):
        stored, count = state
        image, key = item
        k_swap, k_index = jax.random.split(key)
        full = count >= size
        swap = full & (jax.random.uniform(k_swap) > 0.5)
        index = jnp.where(full, jax.random.randint(k_index, (), 0, size), count)
        out = jnp.where(swap, stored[index], image)
        keep_new = jnp.logical_not(full) | swap
        stored = jnp.where(keep_new, stored.at[index].set(image), stored)
        return (stored, jnp.minimum(count + 1, size)), out

    images = images.astype(pool["images"].dtype)
    (stored, count), out = jax.lax.scan(one, (pool["images"], pool["count"]), (images, keys))
    return {"images": stored, "count": count}, out


def through(ctx, name: str, images: Array, key: Array) -> Array:
    """``images`` (this replica's rows) passed through the pool in buffer ``name`` of a system's
    :class:`jaxgan.system.Context`: the pool sees the global batch in row order with keys from the global row
    index, is set (when the update is applied) to its new contents, and this replica's rows are returned."""
    n = images.shape[0]
    every = ctx.gather(jax.lax.stop_gradient(images))
    keys = jax.vmap(jax.random.fold_in, (None, 0))(key, jnp.arange(every.shape[0]))
    new_pool, out = query(ctx.buffers[name], every, keys)
    ctx.set_buffer(name, new_pool, reduce=None)
    return ctx.rows(out, n)
