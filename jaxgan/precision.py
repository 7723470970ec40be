"""Mixed precision: a network computes in bfloat16 while everything it keeps stays float32.

The JAX way (as in DeepMind's ``jmp`` policies, ``param_dtype=float32, compute_dtype=bfloat16,
output_dtype=float32``): parameters are stored, differentiated and updated in float32; at apply time a copy of
them and the network's floating inputs are cast to the compute dtype, the forward pass runs in it, and its
outputs are cast back. Gradients come back float32 through the casts (the transpose of a cast is the cast back),
so optimizer states, EMA copies and losses never see bfloat16.

Model state (batch-norm statistics, spectral-norm vectors) is passed in unchanged and every leaf of the model
state a call returns is cast back to the dtype it came in with, so the state pytree of a run never changes
dtype. Flax layers compute their normalisation statistics in float32 whatever the input dtype, and a float32
statistic meeting a bfloat16 activation promotes that one operation to float32; the casts back make both cases
the same for the engine.

Integer and key inputs (labels, PRNG keys) are never cast.

In a run, ``config.compute_dtype = "bfloat16"`` wraps every network of the plain GAN and of every family, the
translation families included (:func:`jaxgan.run.pieces.with_compute_dtype`); the plain GAN's remedies (DiffAugment,
packing, instance noise) wrap the discriminator from outside and stay float32. A float32 array created inside a
network promotes what it meets to float32: spectral norm's power iteration runs with the float32 ``u`` vector of the
model state (its normalised kernel is cast back to the input's dtype, :mod:`jaxgan.models.layers`), and the one-hot
codes that networks build from integer labels (the conditional DCGAN's label code, StarGAN's target-domain maps) are
cast to the dtype of the activations they join (a learned label embedding, ``embed_dim``, is a parameter and is
cast).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxgan.models.adapters import Net

Array = jax.Array
PyTree = Any


def cast_floating(tree: PyTree, dtype: Any) -> PyTree:
    """Casts every floating-point leaf of ``tree`` to ``dtype``; other leaves (ints, keys, ``None``) are kept."""

    def cast(x):
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.asarray(x, dtype)
        return x

    return jax.tree.map(cast, tree)


def _cast_like(tree: PyTree, reference: PyTree) -> PyTree:
    """``tree`` with each leaf cast to the dtype of the matching leaf of ``reference`` (same structure)."""
    return jax.tree.map(lambda x, ref: jnp.asarray(x).astype(jnp.asarray(ref).dtype), tree, reference)


def mixed_precision(net: Net, compute_dtype: Any = jnp.bfloat16, output_dtype: Any = jnp.float32) -> Net:
    """Wraps a :class:`jaxgan.models.adapters.Net` so that its forward pass runs in ``compute_dtype``.

    ``init`` is unchanged (float32 parameters and model state). ``apply(params, model_state, x, labels, *,
    train, rng)`` casts the floating leaves of ``params`` and ``x`` to ``compute_dtype``, runs the network,
    casts the floating leaves of its output to ``output_dtype`` and returns the new model state with every leaf
    in the dtype of the ``model_state`` it was given.

    Args:
      net: the network (any adapter: Linen, NNX, a plain function).
      compute_dtype: the dtype of the forward pass, ``jnp.bfloat16`` for TPUs and recent GPUs.
      output_dtype: the dtype of the outputs the losses see (float32: losses and their reductions stay float32).

    Returns:
      A :class:`jaxgan.models.adapters.Net` with the same parameters and model state as ``net``.
    """

    def apply(params, model_state, x, labels=None, *, train, rng=None):
        out, new_model_state = net.apply(
            cast_floating(params, compute_dtype),
            model_state,
            cast_floating(x, compute_dtype),
            labels,
            train=train,
            rng=rng,
        )
        return cast_floating(out, output_dtype), _cast_like(new_model_state, model_state)

    return Net(init=net.init, apply=apply)
