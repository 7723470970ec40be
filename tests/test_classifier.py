"""Tests for jaxgan.models.classifier: shapes, parameter count, features, dropout in train mode."""

import functools

import jax
import numpy as np

from jaxgan.models.adapters import from_linen
from jaxgan.models.classifier import DigitClassifier


def test_digit_classifier_shapes_features_and_train_mode():
    model = DigitClassifier(num_classes=10)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
    n_params = sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(shapes["params"]))
    # convs 1->32, 32->32, 32->64, 64->64 (3x3, no bias) + 4 BN; Dense 7*7*64 -> 128 (no bias) + BN; Dense 128 -> 10
    convs = 9 * (1 * 32 + 32 * 32 + 32 * 64 + 64 * 64) + 2 * (32 + 32 + 64 + 64)
    assert n_params == convs + 7 * 7 * 64 * 128 + 2 * 128 + 128 * 10 + 10 == 468_138

    # a tiny instance for the forward passes
    model = DigitClassifier(num_classes=10, widths=(4, 8), hidden=16)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x, train=False))
    rng = np.random.default_rng(1)
    variables = jax.tree_util.tree_map(
        lambda s: (rng.normal(size=s.shape) * 0.1 + (1.0 if s.ndim == 1 else 0.0)).astype(s.dtype), shapes
    )
    net = from_linen(model)
    state = {"batch_stats": variables["batch_stats"]}

    @functools.partial(jax.jit, static_argnames="train")
    def run(params, state, x, key, train):
        logits, new_state = net.apply(params, state, x, train=train, rng=key)
        if train:
            return logits, new_state
        return logits, model.apply({"params": params, **state}, x, method="features")

    # dropout keys: a PRNG that compiles fast on CPU (the layers are PRNG-agnostic)
    key = functools.partial(jax.random.key, impl="unsafe_rbg")
    logits, feats = jax.tree.map(np.asarray, run(variables["params"], state, x, key(2), train=False))
    assert logits.shape == (4, 10)
    assert feats.shape == (4, 16)
    assert np.all(feats >= 0)
    t1, s1 = jax.tree.map(np.asarray, run(variables["params"], state, x, key(2), train=True))
    t2, _ = run(variables["params"], state, x, key(3), train=True)
    assert np.max(np.abs(t1 - np.asarray(t2))) > 0  # dropout draws from the "dropout" stream
    mean, new_mean = (s["batch_stats"]["BatchNorm_0"]["mean"] for s in (state, s1))
    assert np.max(np.abs(new_mean - mean)) > 0  # batch statistics move in train mode
