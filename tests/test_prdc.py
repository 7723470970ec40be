"""Tests for jaxgan.metrics.prdc against a brute-force NumPy port of clovaai's prdc.compute_prdc."""

import numpy as np
import pytest

from jaxgan.metrics.prdc import nearest_neighbour_sq_radii, prdc


def pairwise_distance(x, y):
    return np.sqrt(((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))


def kth_value(unsorted, k):
    indices = np.argpartition(unsorted, k, axis=-1)[..., :k]
    return np.take_along_axis(unsorted, indices, axis=-1).max(axis=-1)


def reference_prdc(real, fake, nearest_k):
    """clovaai/generative-evaluation-prdc compute_prdc, with exact float64 distances."""
    real_radii = kth_value(pairwise_distance(real, real), nearest_k + 1)
    fake_radii = kth_value(pairwise_distance(fake, fake), nearest_k + 1)
    d = pairwise_distance(real, fake)
    in_real = d < real_radii[:, None]
    return {
        "precision": in_real.any(axis=0).mean(),
        "recall": (d < fake_radii[None, :]).any(axis=1).mean(),
        "density": in_real.sum(axis=0).mean() / nearest_k,
        "coverage": (d.min(axis=1) < real_radii).mean(),
    }


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(157, 8))
    fake = rng.normal(size=(131, 8)) * 1.2 + 0.4
    return real, fake


def test_matches_brute_force(data):
    real, fake = data
    for k in (3, 5):
        got = prdc(real, fake, nearest_k=k, block_size=64)
        expected = reference_prdc(real, fake, k)
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-12, err_msg=name)
        assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1 and 0 < got["coverage"] < 1


def test_independent_of_block_size(data):
    real, fake = data
    results = [prdc(real, fake, block_size=b) for b in (1, 7, 50, 157, 10_000)]
    for r in results[1:]:
        assert r == results[0]


def test_radii_match_brute_force(data):
    real, _ = data
    expected = kth_value(pairwise_distance(real, real), 6) ** 2
    np.testing.assert_allclose(nearest_neighbour_sq_radii(real, 5, block_size=40), expected, rtol=1e-4)


def test_identical_sets():
    x = np.random.default_rng(1).normal(size=(90, 16))
    result = prdc(x, x, nearest_k=5, block_size=32)
    assert result["precision"] == 1.0
    assert result["recall"] == 1.0
    assert result["coverage"] == 1.0
    np.testing.assert_allclose(result["density"], reference_prdc(x, x, 5)["density"], rtol=1e-12)


def test_disjoint_far_apart_sets():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(60, 16))
    fake = rng.normal(size=(70, 16)) + 1000.0
    assert prdc(real, fake, block_size=16) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_argument_errors():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="nearest_k"):
        prdc(x, x, nearest_k=5)
    with pytest.raises(ValueError, match="N, d"):
        prdc(x, np.zeros((5, 4)))
