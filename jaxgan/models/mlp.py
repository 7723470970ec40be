"""Multilayer perceptrons for toy data: a generator, a (maxout) discriminator and the PacGAN recipe.

* :class:`MLPGenerator`: ``z: [batch, latent_dim] -> [batch, out_dim]``; hidden layers Dense → (BatchNorm) →
  activation, then a linear Dense (no tanh: toy data is not bounded).
* :class:`MLPDiscriminator`: ``x: [batch, ...] -> logits [batch]`` (the input is flattened); hidden layers are
  Dense → activation or, with ``maxout_pieces=k``, maxout units (Goodfellow et al. 2013, "Maxout networks").
* Both are conditional when ``num_classes`` is set: the one-hot labels are concatenated to the input
  (Mirza & Osindero 2014, "Conditional generative adversarial nets").
* :func:`pacgan_generator` / :func:`pacgan_discriminator`: the networks of the PacGAN 2-D experiments
  (Lin et al. 2018): G has 4 ReLU layers of 400 units with batch norm, D 3 maxout layers of 200 units × 5
  pieces, packed ``pack`` samples at a time. They return engine-ready :class:`jaxgan.models.adapters.Net` s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan import remedies
from jaxgan.models.adapters import Net, from_linen

Array = jax.Array

ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": nn.relu,
    "leaky_relu": functools.partial(nn.leaky_relu, negative_slope=0.2),
    "elu": nn.elu,
    "gelu": nn.gelu,
    "swish": nn.swish,
    "tanh": jnp.tanh,
}


def _activation(name: str) -> Callable[[Array], Array]:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid names: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _input_with_labels(x: Array, labels: Array | None, num_classes: int | None, who: str) -> Array:
    """Flattens ``x`` to ``[batch, -1]`` and, for a conditional model, appends the one-hot labels.

    ``labels`` is ``[batch]`` int, or ``[batch, m]`` for a packed discriminator (the one-hots of the ``m``
    labels are concatenated).
    """
    x = x.reshape(x.shape[0], -1)
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"{who} got labels but num_classes is None: set num_classes for a conditional model")
        return x
    if labels is None:
        raise ValueError(f"{who}(num_classes={num_classes}) is conditional: pass labels")
    one_hot = jax.nn.one_hot(labels, num_classes, dtype=x.dtype).reshape(x.shape[0], -1)
    return jnp.concatenate([x, one_hot], axis=-1)


@jax.custom_vjp
def max_over_pieces(h: Array) -> Array:
    """``h.max(axis=-1)`` with the same gradient as ``jnp.max``'s, computed without a reduction.

    ``jnp.max``'s gradient sends ``g / count`` to each of the ``count`` maxima of a row, ``count`` being a sum of
    the 0/1 indicators over the (short) last axis. XLA's CPU ran that minor-axis sum slowly where it fused it into
    the matrix product next to it (YNNPACK): on the PacGAN maxout discriminator it was the heaviest op of the mlp2d
    step (``benchmarks/op_profile.py``; ``docs/performance.md``). Here the count is a chain of adds of the
    indicators' slices, elementwise work XLA fuses with the rest. The indicators are 0 or 1 and the count a small
    integer, exact in any order, so values and gradients equal ``jnp.max``'s bit for bit, ties included
    (``tests/test_mlp.py``). Reverse mode only (``jax.grad`` of ``jax.grad`` works), as for any ``custom_vjp``.
    """
    return h.max(axis=-1)


def _max_over_pieces_fwd(h: Array) -> tuple[Array, tuple[Array, Array]]:
    m = h.max(axis=-1)
    return m, (h, m)


def _max_over_pieces_bwd(res: tuple[Array, Array], g: Array) -> tuple[Array]:
    h, m = res
    at_max = (h == m[..., None]).astype(g.dtype)
    count = functools.reduce(jnp.add, [at_max[..., j] for j in range(h.shape[-1])])
    return ((g / count)[..., None] * at_max,)


max_over_pieces.defvjp(_max_over_pieces_fwd, _max_over_pieces_bwd)


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013): ``h_i = max_j (x · W_ij + b_ij)``, ``j < pieces``.

    ``[batch, in] -> [batch, features]``: a Dense to ``features * pieces`` units, reshaped to
    ``[batch, features, pieces]`` and maximised over the last axis (:func:`max_over_pieces`: ``jnp.max``'s values
    and gradient, the gradient in a form XLA's CPU runs 1.5x faster on the whole mlp2d step).

    Attributes:
      features: output width.
      pieces: linear pieces per unit (``k``).
    """

    features: int
    pieces: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if self.pieces < 1:
            raise ValueError(f"Maxout pieces must be >= 1, got {self.pieces}")
        h = nn.Dense(self.features * self.pieces)(x)
        return max_over_pieces(h.reshape(*h.shape[:-1], self.features, self.pieces))


class MLPGenerator(nn.Module):
    """MLP generator ``z: [batch, latent_dim] -> [batch, out_dim]``.

    Attributes:
      out_dim: the data dimension.
      features: hidden widths.
      use_batch_norm: batch norm after each hidden Dense (which then has no bias).
      activation: a name in :data:`ACTIVATIONS`.
      num_classes: number of classes of a conditional generator, ``None`` for an unconditional one.
      bn_momentum: momentum of the batch-norm running statistics.
      bn_axis_name: axis name for cross-replica batch statistics (pmap / shard_map), or ``None``.
    """

    out_dim: int
    features: Sequence[int] = (400, 400, 400, 400)
    use_batch_norm: bool = False
    activation: str = "relu"
    num_classes: int | None = None
    bn_momentum: float = 0.9
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, z: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        act = _activation(self.activation)
        h = _input_with_labels(z, labels, self.num_classes, "MLPGenerator")
        bn_kwargs = dict(use_running_average=not train, momentum=self.bn_momentum, axis_name=self.bn_axis_name)
        for width in self.features:
            h = nn.Dense(width, use_bias=not self.use_batch_norm)(h)
            if self.use_batch_norm:
                h = nn.BatchNorm(**bn_kwargs)(h)
            h = act(h)
        return nn.Dense(self.out_dim)(h)


class MLPDiscriminator(nn.Module):
    """MLP discriminator ``x: [batch, ...] -> logits [batch]`` (``[batch, out_features]`` if that is not 1).

    Attributes:
      features: hidden widths.
      maxout_pieces: ``k`` to make every hidden layer a :class:`Maxout` layer with ``k`` pieces; ``None`` for
        Dense → ``activation``.
      activation: a name in :data:`ACTIVATIONS` (unused with maxout).
      out_features: output width; 1 gives logits ``[batch]``.
      num_classes: number of classes of a conditional discriminator, ``None`` for an unconditional one.
      minibatch_std_group: if set, a :class:`jaxgan.remedies.MinibatchStdDev` layer with this group size
        before the output layer (as in ProGAN, at the end of the network).
    """

    features: Sequence[int] = (200, 200, 200)
    maxout_pieces: int | None = None
    activation: str = "leaky_relu"
    out_features: int = 1
    num_classes: int | None = None
    minibatch_std_group: int | None = None

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, *, train: bool = True) -> Array:
        del train  # no batch norm or dropout
        h = _input_with_labels(x, labels, self.num_classes, "MLPDiscriminator")
        for width in self.features:
            if self.maxout_pieces is not None:
                h = Maxout(width, self.maxout_pieces)(h)
            else:
                h = _activation(self.activation)(nn.Dense(width)(h))
        if self.minibatch_std_group is not None:
            h = remedies.MinibatchStdDev(group_size=self.minibatch_std_group)(h)
        out = nn.Dense(self.out_features)(h)
        return out[:, 0] if self.out_features == 1 else out


def pacgan_generator(out_dim: int = 2, *, num_classes: int | None = None, bn_axis_name: str | None = None) -> Net:
    """The PacGAN 2-D generator as a :class:`Net`: 4 ReLU layers of 400 units with batch norm, linear output."""
    return from_linen(
        MLPGenerator(
            out_dim=out_dim,
            features=(400,) * 4,
            use_batch_norm=True,
            num_classes=num_classes,
            bn_axis_name=bn_axis_name,
        )
    )


def pacgan_discriminator(pack: int = 1, *, num_classes: int | None = None) -> Net:
    """The PacGAN 2-D discriminator as a :class:`Net`: 3 maxout layers of 200 units × 5 pieces, packed.

    Equals ``pack(from_linen(MLPDiscriminator((200, 200, 200), maxout_pieces=5)), pack)`` (see
    :func:`jaxgan.remedies.pack`): it takes ``x: [batch, dim]`` and returns ``[batch / pack]`` logits.
    """
    d = MLPDiscriminator(features=(200,) * 3, maxout_pieces=5, num_classes=num_classes)
    return remedies.pack(from_linen(d), pack)
