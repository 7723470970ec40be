"""Tests for jaxgan.metrics.kid against a direct float64 NumPy implementation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.metrics.kid import kernel_inception_distance, mmd2_unbiased, polynomial_kernel


def reference_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3, as _mmd2_and_variance(mmd_est='unbiased')."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    return (
        (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
        + (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        - 2 * k_xy.sum() / (m * m)
    )


def reference_kid(f1, f2, num_subsets, subset_size, seed):
    """torch-fidelity's kid_features_to_metric loop, in float64."""
    rng = np.random.RandomState(seed)
    mmds = []
    for _ in range(num_subsets):
        x = f1[rng.choice(len(f1), subset_size, replace=False)].astype(np.float64)
        y = f2[rng.choice(len(f2), subset_size, replace=False)].astype(np.float64)
        mmds.append(reference_mmd2(x, y))
    return np.mean(mmds), np.std(mmds)


def features(rng, n, d, shift=0.0):
    """Inception-like non-negative features."""
    return (np.abs(rng.normal(size=(n, d))) + shift).astype(np.float32)


def test_kernel():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(polynomial_kernel(jnp.asarray(x), jnp.asarray(y)), (x @ y.T / 5 + 1) ** 3, rtol=1e-5)


def test_mmd2_matches_numpy():
    rng = np.random.default_rng(1)
    x, y = features(rng, 200, 64), features(rng, 200, 64, shift=0.1)
    expected = reference_mmd2(x.astype(np.float64), y.astype(np.float64))
    got = float(mmd2_unbiased(x, y))
    assert expected > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-7)


def test_kid_matches_numpy_reference():
    rng = np.random.default_rng(2)
    f1, f2 = features(rng, 300, 64), features(rng, 260, 64, shift=0.05)
    result = kernel_inception_distance(f1, f2, num_subsets=20, subset_size=100, seed=2020)
    mean, std = reference_kid(f1, f2, 20, 100, 2020)
    np.testing.assert_allclose(result.mean, mean, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(result.std, std, rtol=1e-3, atol=1e-7)
    assert result.mean > 3 * result.std / np.sqrt(20)  # the shift is detected
    # Seeded: the same seed gives the same subsets, another seed others.
    assert kernel_inception_distance(f1, f2, num_subsets=20, subset_size=100, seed=2020) == result
    assert kernel_inception_distance(f1, f2, num_subsets=20, subset_size=100, seed=1) != result


def test_unbiased_in_expectation():
    """Independent pairs of samples from one distribution: MMD^2_u averages to 0 within the standard error,
    while the biased V-statistic (all pairs, diagonal included) does not."""
    trials, m, d = 400, 16, 8
    keys = jax.random.split(jax.random.key(0), 2 * trials).reshape(trials, 2)
    draw = jax.vmap(lambda k: jnp.abs(jax.random.normal(k, (m, d))))
    xs, ys = draw(keys[:, 0]), draw(keys[:, 1])
    vals = np.asarray(jax.vmap(mmd2_unbiased)(xs, ys), np.float64)
    stderr = vals.std() / np.sqrt(trials)
    assert abs(vals.mean()) < 4 * stderr, (vals.mean(), stderr)

    def biased(x, y):
        return polynomial_kernel(x, x).mean() + polynomial_kernel(y, y).mean() - 2 * polynomial_kernel(x, y).mean()

    biased_vals = np.asarray(jax.vmap(biased)(xs, ys), np.float64)
    assert biased_vals.mean() > 4 * biased_vals.std() / np.sqrt(trials)


def test_permutation_invariance_and_symmetry():
    rng = np.random.default_rng(3)
    f1, f2 = features(rng, 120, 32), features(rng, 120, 32, shift=0.1)
    base = float(mmd2_unbiased(f1, f2))
    np.testing.assert_allclose(float(mmd2_unbiased(f1[rng.permutation(120)], f2)), base, rtol=1e-5)
    np.testing.assert_allclose(float(mmd2_unbiased(f1, f2[rng.permutation(120)])), base, rtol=1e-5)
    np.testing.assert_allclose(float(mmd2_unbiased(f2, f1)), base, rtol=1e-5)
    # With subsets as large as the sets, every subset is a permutation of the whole set.
    full = kernel_inception_distance(f1, f2, num_subsets=3, subset_size=120, seed=0)
    np.testing.assert_allclose(full.mean, base, rtol=1e-5)
    assert full.std < 1e-6 * abs(base)
    permuted = kernel_inception_distance(f1[::-1], f2[rng.permutation(120)], num_subsets=3, subset_size=120)
    np.testing.assert_allclose(permuted.mean, full.mean, rtol=1e-5)


def test_argument_errors():
    x = np.zeros((10, 4), np.float32)
    with pytest.raises(ValueError, match="subset_size"):
        kernel_inception_distance(x, x, subset_size=11)
    with pytest.raises(ValueError, match="n1, d"):
        kernel_inception_distance(x, np.zeros((10, 5)), subset_size=5)
    with pytest.raises(ValueError, match="same shape"):
        mmd2_unbiased(x, np.zeros((9, 4), np.float32))
