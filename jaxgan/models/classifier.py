"""A small CNN digit classifier, for sample-quality metrics on MNIST-like data (classifier score, FID features).

Architecture (about 0.5 M parameters for 28×28×1 input; this family reaches 99 %+ held-out MNIST accuracy):
2 × (conv3×3 32, BN, ReLU) -> max-pool 2 -> dropout 0.25 -> 2 × (conv3×3 64, BN, ReLU) -> max-pool 2 ->
dropout 0.25 -> flatten -> Dense 128 -> BN -> ReLU (the features ``[batch, 128]``) -> dropout 0.5 -> Dense
``num_classes`` (the logits). Training with dropout needs a ``"dropout"`` RNG stream (``from_linen`` gives one).
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jaxgan.models.layers import batch_norm

Array = jax.Array


class DigitClassifier(nn.Module):
    """CNN classifier: images ``[batch, H, W, C]`` in [-1, 1] -> logits ``[batch, num_classes]``.

    Attributes:
      num_classes: number of classes.
      widths: widths of the two convolution blocks.
      hidden: width of the penultimate (feature) layer.
      dropout_rate: dropout after the dense layer; the conv blocks use half of it.
      bn_axis_name: cross-replica batch-norm axis, or ``None``.

    Call: ``__call__(x, *, train=True, return_features=False)`` returns the logits, or the penultimate
    features ``[batch, hidden]`` when ``return_features``; :meth:`features` is the latter, eval mode by default.
    """

    num_classes: int = 10
    widths: tuple[int, int] = (32, 64)
    hidden: int = 128
    dropout_rate: float = 0.5
    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x: Array, *, train: bool = True, return_features: bool = False) -> Array:
        h = x
        for width in self.widths:
            for _ in range(2):
                h = nn.Conv(width, (3, 3), use_bias=False)(h)
                h = nn.relu(batch_norm(train, self.bn_axis_name)(h))
            h = nn.max_pool(h, (2, 2), strides=(2, 2))
            h = nn.Dropout(self.dropout_rate / 2, deterministic=not train)(h)
        h = h.reshape(h.shape[0], -1)
        h = nn.Dense(self.hidden, use_bias=False)(h)
        feats = nn.relu(batch_norm(train, self.bn_axis_name)(h))
        if return_features:
            return feats
        h = nn.Dropout(self.dropout_rate, deterministic=not train)(feats)
        return nn.Dense(self.num_classes, name="logits")(h)

    def features(self, x: Array, *, train: bool = False) -> Array:
        """The penultimate features ``[batch, hidden]``: ``module.apply(variables, x, method="features")``."""
        return self(x, train=train, return_features=True)
