"""Small helpers that several model families share: nearest-neighbour upsampling, 2x2 average pooling, the
``resolution -> (start size, stages)`` geometry lookup and the check that a conditional network got labels."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array


def upsample_nearest(x: Array, factor: int = 2) -> Array:
    """``[b, h, w, c]`` -> ``[b, factor*h, factor*w, c]``, each pixel repeated ``factor x factor`` times."""
    return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def avg_pool2(x: Array) -> Array:
    """``[b, h, w, c]`` -> ``[b, h/2, w/2, c]``: the mean of each 2x2 block."""
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


def geometry(table: dict[int, tuple[int, int]], resolution: int, model: str) -> tuple[int, int]:
    """``table[resolution]`` (a family's ``(start size, stages)``); ValueError naming ``model`` otherwise."""
    if resolution not in table:
        raise ValueError(f"{model} resolution must be one of {sorted(table)}, got {resolution}")
    return table[resolution]


def check_labels(labels: Array | None, num_classes: int | None, who: str) -> None:
    """ValueError when a network built with ``num_classes`` is called without labels."""
    if num_classes is not None and labels is None:
        raise ValueError(f"{who} was built with num_classes={num_classes} and needs labels")
