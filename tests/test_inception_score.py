"""Tests for jaxgan.metrics.inception_score against the original improved-gan code and closed forms."""

import numpy as np
import pytest
import scipy.special

from jaxgan.metrics.inception_score import inception_score, inception_score_from_logits


def reference_inception_score(preds, splits=10):
    """openai/improved-gan inception_score.py, after the forward passes."""
    scores = []
    for i in range(splits):
        part = preds[(i * preds.shape[0] // splits) : ((i + 1) * preds.shape[0] // splits), :]
        kl = part * (np.log(part) - np.log(np.expand_dims(np.mean(part, 0), 0)))
        kl = np.mean(np.sum(kl, 1))
        scores.append(np.exp(kl))
    return np.mean(scores), np.std(scores)


def test_uniform_predictions_give_one():
    result = inception_score(np.full((100, 1008), 1 / 1008))
    np.testing.assert_allclose(result.mean, 1.0, rtol=1e-12)
    np.testing.assert_allclose(result.std, 0.0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 7, 10])
def test_one_hot_over_k_equally_used_classes_gives_k(k):
    n = 10 * k * 5  # each of the 10 splits sees every class 5 times
    probs = np.eye(20)[np.arange(n) % k]
    result = inception_score(probs, splits=10)
    np.testing.assert_allclose(result.mean, k, rtol=1e-12)
    np.testing.assert_allclose(result.std, 0.0, atol=1e-9)


def test_identical_predictions_give_one():
    p = np.random.default_rng(0).dirichlet(np.ones(5))
    np.testing.assert_allclose(inception_score(np.tile(p, (40, 1)), splits=4).mean, 1.0, rtol=1e-12)


def test_matches_original_code():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.full(50, 0.3), size=1003)  # n not divisible by splits
    for splits in (1, 3, 10):
        result = inception_score(probs, splits=splits)
        mean, std = reference_inception_score(probs, splits)
        np.testing.assert_allclose(result.mean, mean, rtol=1e-12)
        np.testing.assert_allclose(result.std, std, rtol=1e-9)
        assert 1.0 < result.mean < 50.0


def test_from_logits():
    logits = np.random.default_rng(2).normal(size=(60, 1008)) * 3
    expected = reference_inception_score(scipy.special.softmax(logits, axis=1), splits=6)
    np.testing.assert_allclose(inception_score_from_logits(logits, splits=6), expected, rtol=1e-10)


def test_argument_errors():
    with pytest.raises(ValueError, match="splits"):
        inception_score(np.full((5, 3), 1 / 3), splits=6)
    with pytest.raises(ValueError, match="summing to 1"):
        inception_score(np.ones((5, 3)), splits=1)
    with pytest.raises(ValueError, match="n, classes"):
        inception_score(np.ones(3), splits=1)
