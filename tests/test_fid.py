"""Tests for jaxgan.metrics.fid against pytorch-fid's scipy.linalg.sqrtm formula and closed forms."""

import numpy as np
import pytest
import scipy.linalg

from jaxgan.metrics.fid import FeatureStats, fid_from_features, fid_from_stats, frechet_distance


def reference_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm of the product, eps fallback)."""
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        assert np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def moments(x):
    return x.mean(0), np.cov(x, rowvar=False)


@pytest.mark.parametrize("d, n", [(16, 500), (64, 1000), (64, 32), (96, 40)])  # last two: n < d, singular
def test_matches_sqrtm_reference(d, n):
    rng = np.random.default_rng(d + n)
    for _ in range(3):
        mix = rng.normal(size=(d, d)) / np.sqrt(d)
        a = rng.normal(size=(n, d)) @ mix
        b = np.abs(rng.normal(size=(n, d))) * 1.3 + 0.1
        expected = reference_frechet_distance(*moments(a), *moments(b))
        got = frechet_distance(*moments(a), *moments(b))
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        np.testing.assert_allclose(fid_from_features(a, b), expected, rtol=1e-6)


@pytest.mark.parametrize("n, d", [(32, 64), (20, 48)])
def test_singular_covariances_exact(n, d):
    """With centred data X1, X2 [n, d], Tr((Sigma1 Sigma2)^(1/2)) = ||X1 X2^T||_* / (n - 1), an exact check on a
    well-conditioned [n, n] matrix; the sqrtm reference is off by ~1e-8 relative here, this method by ~1e-15."""
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=(n, d)), np.abs(rng.normal(size=(n, d))) * 1.3
    x1, x2 = a - a.mean(0), b - b.mean(0)
    tr_sqrt = scipy.linalg.svdvals(x1 @ x2.T).sum() / (n - 1)
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + (np.sum(x1**2) + np.sum(x2**2)) / (n - 1) - 2 * tr_sqrt
    np.testing.assert_allclose(fid_from_features(a, b), expected, rtol=1e-12)


def test_same_set_is_zero():
    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(200, 32)))
    assert abs(fid_from_features(x, x)) < 1e-12 * np.trace(np.cov(x, rowvar=False))
    x = rng.normal(size=(20, 48))  # singular covariance: 29 zero eigenvalues
    assert abs(fid_from_features(x, x)) < 1e-12 * np.trace(np.cov(x, rowvar=False))


def test_diagonal_gaussians_closed_form():
    rng = np.random.default_rng(1)
    d = 10
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    var1, var2 = rng.uniform(0.1, 3.0, size=d), rng.uniform(0.1, 3.0, size=d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_symmetric_and_rotation_invariant():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)) * 2 + 1
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    base = fid_from_features(a, b)
    np.testing.assert_allclose(fid_from_features(b, a), base, rtol=1e-10)
    np.testing.assert_allclose(fid_from_features(a @ q, b @ q), base, rtol=1e-10)


def test_shape_errors():
    with pytest.raises(ValueError, match="covariances"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))
    with pytest.raises(ValueError, match="means"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(3))


def test_streaming_stats_equal_batch_stats():
    rng = np.random.default_rng(3)
    x = (np.abs(rng.normal(size=(250, 12))) + 0.5).astype(np.float32)
    stats = FeatureStats()
    for start in range(0, 250, 64):
        stats.update(x[start : start + 64])
    assert stats.count == 250
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(stats.mean, x64.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov, np.cov(x64, rowvar=False), rtol=1e-9, atol=1e-12)

    merged = FeatureStats.from_features(x[:100]).merge(FeatureStats.from_features(x[100:]))
    assert merged.count == 250
    np.testing.assert_allclose(merged.cov, stats.cov, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fid_from_stats(stats, merged), 0.0, atol=1e-9)
    y = x[::-1] * 1.5
    np.testing.assert_allclose(fid_from_stats(stats, FeatureStats.from_features(y)), fid_from_features(x, y), rtol=1e-9)


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(100, 6))
    stats = FeatureStats.from_features(x)
    path = tmp_path / "stats.npz"
    stats.save(path)
    with np.load(path) as data:
        assert set(data.files) == {"mu", "sigma", "count"}
    loaded = FeatureStats.load(path)
    assert loaded.count == 100 and not loaded.moments_only
    np.testing.assert_allclose(loaded.mean, stats.mean, rtol=1e-14)
    np.testing.assert_allclose(loaded.cov, stats.cov, rtol=1e-12, atol=1e-14)
    # A loaded accumulator keeps accumulating.
    more = rng.normal(size=(30, 6))
    loaded.update(more)
    full = np.concatenate([x, more])
    np.testing.assert_allclose(loaded.cov, np.cov(full, rowvar=False), rtol=1e-10, atol=1e-13)


def test_load_pytorch_fid_npz(tmp_path):
    rng = np.random.default_rng(5)
    mu, sigma = rng.normal(size=5), np.cov(rng.normal(size=(50, 5)), rowvar=False)
    path = tmp_path / "pytorch_fid.npz"
    np.savez_compressed(path, mu=mu, sigma=sigma)
    loaded = FeatureStats.load(path)
    assert loaded.moments_only
    np.testing.assert_array_equal(loaded.mean, mu)
    np.testing.assert_array_equal(loaded.cov, sigma)
    with pytest.raises(ValueError, match="without a sample count"):
        loaded.update(np.zeros((2, 5)))
    loaded.save(tmp_path / "again.npz")
    with np.load(tmp_path / "again.npz") as data:
        assert set(data.files) == {"mu", "sigma"}


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        FeatureStats.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_text("not an archive")
    with pytest.raises(ValueError, match="not an npz"):
        FeatureStats.load(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, mu=np.zeros(3))
    with pytest.raises(ValueError, match="sigma"):
        FeatureStats.load(partial)


def test_update_errors():
    stats = FeatureStats(4)
    with pytest.raises(ValueError, match="dimension"):
        stats.update(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="batch, dim"):
        stats.update(np.zeros(4))
    stats.update(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        _ = stats.cov
