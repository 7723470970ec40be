"""Differentiable augmentation of discriminator inputs: DiffAugment (Zhao, Liu, Lin, Zhu & Han 2020,
"Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020, arXiv:2006.10738).

The same random transformations are applied to real and generated images each time the discriminator sees them,
in the discriminator's and in the generator's update, and they are differentiable in the image, so the generator
is trained through them. The discriminator then cannot memorise a small training set, and what the generator
learns is still the un-augmented distribution (the transformations are applied to both sides, never to the
samples the generator is judged by).

The three policies, as in the authors' code (``DiffAugment_pytorch.py``), on NHWC images in [-1, 1]; each draws
its parameters per sample:

* ``"color"``: brightness ``x + (u - 0.5)``, then saturation ``(x - mean_c x) · 2u + mean_c x`` (mean over
  channels), then contrast ``(x - mean x) · (u + 0.5) + mean x`` (mean over pixels and channels), with
  ``u ~ U[0, 1)`` drawn anew for each;
* ``"translation"``: a shift by an integer in ``[-s, s]`` per axis, ``s = round(ratio · size)`` (ratio 1/8);
  pixels shifted in from outside are 0;
* ``"cutout"``: a square of side ``round(ratio · size)`` (ratio 1/2) centred at a uniform pixel is set to 0
  (clipped at the border).

``policy`` is a comma-separated list of these names applied in that order (the paper's choice for few images:
``"color,translation,cutout"``); ``""`` is the identity.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgan.models.adapters import Net

Array = jax.Array

POLICIES = ("color", "translation", "cutout")


def _uniform(key: Array, x: Array) -> Array:
    """``[batch, 1, 1, 1]`` draws of U[0, 1) in ``x``'s dtype."""
    return jax.random.uniform(key, (x.shape[0],) + (1,) * (x.ndim - 1), x.dtype)


def color(key: Array, x: Array) -> Array:
    """Random brightness, saturation and contrast per sample (DiffAugment ``rand_brightness``,
    ``rand_saturation``, ``rand_contrast``)."""
    kb, ks, kc = jax.random.split(key, 3)
    x = x + (_uniform(kb, x) - 0.5)
    mean = jnp.mean(x, axis=-1, keepdims=True)
    x = (x - mean) * (_uniform(ks, x) * 2) + mean
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * (_uniform(kc, x) + 0.5) + mean


def translation(key: Array, x: Array, ratio: float = 0.125) -> Array:
    """Shifts each image by ``(dy, dx)``, integers uniform in ``[-s, s]`` with ``s = int(ratio · size + 0.5)``,
    filling with 0 (DiffAugment ``rand_translation``): ``out[i, j] = x[i + dy, j + dx]``, 0 outside."""
    b, h, w, _ = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ky, kx = jax.random.split(key)
    dy = jax.random.randint(ky, (b, 1), -sy, sy + 1)
    dx = jax.random.randint(kx, (b, 1), -sx, sx + 1)
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))  # index 0 and size + 1 are the zero border
    rows = jnp.clip(jnp.arange(h)[None, :] + dy + 1, 0, h + 1)  # [b, h]
    cols = jnp.clip(jnp.arange(w)[None, :] + dx + 1, 0, w + 1)  # [b, w]
    out = jnp.take_along_axis(padded, rows[:, :, None, None], axis=1)
    return jnp.take_along_axis(out, cols[:, None, :, None], axis=2)


def cutout(key: Array, x: Array, ratio: float = 0.5) -> Array:
    """Zeroes a ``round(ratio · h) x round(ratio · w)`` rectangle per image whose centre is uniform over the
    image (DiffAugment ``rand_cutout``; the rectangle is clipped at the border)."""
    b, h, w, _ = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ky, kx = jax.random.split(key)
    oy = jax.random.randint(ky, (b, 1), 0, h + (1 - ch % 2))
    ox = jax.random.randint(kx, (b, 1), 0, w + (1 - cw % 2))
    top, left = oy - ch // 2, ox - cw // 2
    ii, jj = jnp.arange(h)[None, :], jnp.arange(w)[None, :]
    in_rows = (ii >= top) & (ii < top + ch)  # [b, h]
    in_cols = (jj >= left) & (jj < left + cw)  # [b, w]
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])  # [b, h, w]
    return x * keep[..., None].astype(x.dtype)


_FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation"`` -> ``("color", "translation")``; ``""`` -> ``()``.

    Raises:
      ValueError: a name that is not one of :data:`POLICIES`, or a name given twice.
    """
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    for name in names:
        if name not in _FUNCTIONS:
            raise ValueError(f"unknown DiffAugment policy {name!r} in {policy!r}; choose from {', '.join(POLICIES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"DiffAugment policy {policy!r} names a transformation twice")
    return names


def diff_augment(key: Array, x: Array, policy: str = "color,translation,cutout") -> Array:
    """Applies the transformations of ``policy`` in order to NHWC images ``x``, each with its own key."""
    names = parse_policy(policy)
    if names and x.ndim != 4:
        raise ValueError(f"DiffAugment works on NHWC images; got an array of shape {x.shape}")
    for name, k in zip(names, jax.random.split(key, max(len(names), 1))):
        x = _FUNCTIONS[name](k, x)
    return x


def augment_discriminator(net: Net, policy: str) -> Net:
    """The discriminator ``net`` seeing ``diff_augment(key, x, policy)`` in training calls.

    The key is split off the ``rng`` argument of ``apply`` (required in training calls when ``policy`` is
    not empty); calls with ``train=False`` see the images unchanged. Make it the outermost wrapper
    (``augment_discriminator(pack(d, m), policy)``), so every sample is augmented on its own before packing.
    """
    names = parse_policy(policy)

    def apply(params, model_state, x, labels=None, *, train, rng=None):
        if train and names:
            if rng is None:
                raise ValueError("DiffAugment: a training call needs an rng key to draw the augmentation")
            aug_key, rng = jax.random.split(rng)
            x = diff_augment(aug_key, x, policy)
        return net.apply(params, model_state, x, labels, train=train, rng=rng)

    return Net(init=net.init, apply=apply)


__all__ = ["POLICIES", "augment_discriminator", "color", "cutout", "diff_augment", "parse_policy", "translation"]
