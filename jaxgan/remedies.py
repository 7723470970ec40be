"""Remedies for mode collapse that work with any loss: wrappers from a discriminator :class:`Net` to a ``Net``.

* :func:`pack`: PacGAN (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial
  networks"). The discriminator judges ``m`` samples at once, concatenated along the feature (channel) axis,
  so a generator that covers few modes produces packs that are easy to tell apart from real packs.
* :class:`MinibatchStdDev`: the minibatch standard-deviation layer of ProGAN (Karras et al. 2018,
  "Progressive growing of GANs"), in the form of StyleGAN2's ``MinibatchStdLayer``: it appends, as one extra
  feature / channel, the average over features of the standard deviation over a group of samples.
* :func:`instance_noise`: adds ``N(0, std²)`` noise to every discriminator input in training calls, so the
  real and generated distributions overlap (Sønderby et al. 2016, "Amortised MAP inference for image
  super-resolution", ICLR 2017; Arjovsky & Bottou 2017, "Towards principled methods for training GANs").

The wrappers compose: ``pack(instance_noise(from_linen(d), 0.1), 4)``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.adapters import Net

Array = jax.Array


def _check_divisible(what: str, batch: int, m: int) -> None:
    if batch % m:
        raise ValueError(f"pack(m={m}): {what} batch size {batch} is not divisible by the pack size {m}")


def pack_inputs(x: Array, m: int) -> Array:
    """Concatenates each run of ``m`` consecutive samples along the last (feature / channel) axis.

    ``[batch, features]`` becomes ``[batch / m, m * features]`` and NHWC ``[batch, h, w, c]`` becomes
    ``[batch / m, h, w, m * c]``; pack ``j`` holds samples ``j*m, ..., j*m + m - 1`` in that order (sample
    ``j*m`` first). A ``[batch]`` input is treated as ``[batch, 1]``.

    Raises:
      ValueError: if ``batch`` is not divisible by ``m`` (at trace time: shapes are static).
    """
    if x.ndim == 1:
        x = x[:, None]
    batch, *rest = x.shape
    _check_divisible("input", batch, m)
    y = jnp.moveaxis(x.reshape(batch // m, m, *rest), 1, -2)  # [batch/m, ..., m, last]
    return y.reshape(batch // m, *rest[:-1], m * rest[-1])


def _pack_labels(labels: Array | None, m: int) -> Array | None:
    if labels is None:
        return None
    _check_divisible("label", labels.shape[0], m)
    return labels.reshape(labels.shape[0] // m, m, *labels.shape[1:])


def pack(net: Net, m: int) -> Net:
    """PacGAN: the wrapped discriminator sees ``m`` samples concatenated along the feature axis.

    The wrapped ``init`` / ``apply`` take the ordinary ``x: [batch, ...]`` and pass the inner network
    ``pack_inputs(x, m)`` (``[batch / m, ..., m * last]``, see :func:`pack_inputs`); the output is the inner
    network's, ``[batch / m]`` logits. ``init`` therefore builds params for the packed input width. Real and
    generated samples must be passed in separate calls (or as halves whose sizes both divide by ``m``) so
    that no pack mixes them; with data parallelism the per-device batch must divide by ``m``.

    Labels are packed too: ``[batch]`` becomes ``[batch / m, m]`` (the labels of the pack's samples, in
    order); the inner network must accept that shape. :class:`jaxgan.models.mlp.MLPDiscriminator` does (it
    flattens the one-hot labels of a pack).

    A gradient penalty on a packed discriminator sees one output per pack: the gradient norm of an output is
    taken over all ``m`` samples of its pack, not per sample.

    Args:
      net: the discriminator :class:`Net`, built for inputs ``m`` times wider.
      m: the pack size (``m = 1`` is the plain discriminator).

    Returns:
      A :class:`Net`. A batch not divisible by ``m`` raises ValueError at trace time, naming both numbers.
    """
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"pack size m must be a positive int, got {m!r}")

    def init(key, x, labels=None):
        return net.init(key, pack_inputs(x, m), _pack_labels(labels, m))

    def apply(params, model_state, x, labels=None, *, train, rng=None):
        return net.apply(params, model_state, pack_inputs(x, m), _pack_labels(labels, m), train=train, rng=rng)

    return Net(init=init, apply=apply)


class MinibatchStdDev(nn.Module):
    """Appends the minibatch standard deviation as one extra feature / channel (Karras et al. 2018).

    The batch is split into groups of ``G = min(group_size, batch)`` consecutive samples (rows
    ``[k G, (k + 1) G)``). For each group the layer computes ``s = mean_f sqrt(Var_group[x_f] + 1e-8)`` (the
    biased variance over the group's samples, averaged over every feature, or every pixel and channel, as in
    StyleGAN2's ``MinibatchStdLayer``) and appends ``s`` to each of the group's samples:
    ``[batch, features] -> [batch, features + 1]`` and NHWC ``[batch, h, w, c] -> [batch, h, w, c + 1]``
    (``s`` broadcast over the pixels).

    Groups are contiguous, not strided as in StyleGAN2 (which calls D on real and fake separately), so a
    discriminator called once on ``concatenate([real, fake])`` never mixes real and fake samples in a group,
    provided the real half's size divides by ``G``. A mixed group would give its real and fake rows the same
    feature and no signal.

    Attributes:
      group_size: samples per group (4 in ProGAN / StyleGAN2); ``None`` means the whole batch.
      eps: added to the variance before the square root.
    """

    group_size: int | None = 4
    eps: float = 1e-8

    def __call__(self, x: Array) -> Array:
        batch = x.shape[0]
        g = batch if self.group_size is None else min(self.group_size, batch)
        if batch % g:
            raise ValueError(f"MinibatchStdDev: batch size {batch} is not divisible by the group size {g}")
        y = x.astype(jnp.float32).reshape(batch // g, g, *x.shape[1:])  # [batch/G, G, ...]
        y = jnp.sqrt(jnp.var(y, axis=1) + self.eps)  # [batch/G, ...]
        y = jnp.mean(y, axis=tuple(range(1, y.ndim)))  # [batch/G]
        y = jnp.repeat(y, g).astype(x.dtype)  # [batch]: sample i gets group i // G
        y = jnp.broadcast_to(y.reshape(batch, *([1] * (x.ndim - 1))), (*x.shape[:-1], 1))
        return jnp.concatenate([x, y], axis=-1)


def instance_noise(net: Net, std: float) -> Net:
    """Instance noise: ``x -> x + std · ε``, ``ε ~ N(0, I)``, on the discriminator's inputs in training calls.

    The noise is drawn from the ``rng`` argument of ``apply`` (which must then be given), so it is a function
    of that key; the rest of the key goes to the inner network. Calls with ``train=False`` are deterministic
    and identical to the inner network's. Both real and generated inputs are noised, since both go through
    the discriminator. ``std`` is a constant; to anneal it, rebuild the step with a new value.

    Args:
      net: the discriminator :class:`Net`.
      std: the noise standard deviation (``0`` disables the noise).

    Returns:
      A :class:`Net` with the same ``init``.
    """
    if not std >= 0:
        raise ValueError(f"instance_noise std must be >= 0, got {std!r}")

    def apply(params, model_state, x, labels=None, *, train, rng=None):
        if train and std > 0:
            if rng is None:
                raise ValueError("instance_noise: a training call needs an rng key to draw the noise")
            noise_key, rng = jax.random.split(rng)
            x = x + std * jax.random.normal(noise_key, x.shape, x.dtype)
        return net.apply(params, model_state, x, labels, train=train, rng=rng)

    return Net(init=net.init, apply=apply)
