"""Tests for jaxgan.data.toy: mode layouts, sampling statistics, jit, the registry and latent samplers.

Distributions are built once and sampled with one batch size so that each compiles once.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.data import toy

KEY = jax.random.PRNGKey(0)
N = 4096
RING, GRID = toy.ring(), toy.grid()


def _nearest(x, means):
    d = np.linalg.norm(x[:, None, :] - means[None], axis=-1)
    j = d.argmin(1)
    return j, d[np.arange(len(x)), j]


def test_ring_layout():
    assert (RING.name, RING.dim) == ("ring", 2)
    assert RING.means.shape == (8, 2) and RING.means.dtype == np.float32
    for i in range(8):
        angle = 2 * math.pi * i / 8
        np.testing.assert_allclose(RING.means[i], [math.cos(angle), math.sin(angle)], atol=1e-6)
    np.testing.assert_allclose(RING.std, np.full(8, 0.01))


def test_grid_layout():
    assert GRID.means.shape == (25, 2)
    values = (-4, -2, 0, 2, 4)
    assert {tuple(p) for p in GRID.means.tolist()} == {(a, b) for a in values for b in values}
    np.testing.assert_array_equal(GRID.means[1], [-4.0, -2.0])  # mode i*5 + j is (c[i], c[j])
    np.testing.assert_allclose(GRID.std, np.full(25, 0.05))


@pytest.mark.parametrize("t", [RING, GRID], ids=["ring", "grid"])
def test_mixture_samples_are_uniform_over_modes_with_the_right_sigma(t):
    x = np.asarray(t.sample(KEY, N))
    assert x.shape == (N, 2) and x.dtype == np.float32
    j, d = _nearest(x, t.means)
    counts = np.bincount(j, minlength=len(t.means))
    expected = N / len(t.means)
    assert np.all(np.abs(counts - expected) < 5 * math.sqrt(expected))
    residual = x - t.means[j]
    np.testing.assert_allclose(residual.std(0), t.std[0], rtol=0.05)
    np.testing.assert_allclose(residual.mean(0), 0.0, atol=0.05 * t.std[0])
    assert d.max() < 6 * t.std[0]


def test_sample_is_a_vmap_of_sample_one_over_split_keys():
    x = RING.sample(KEY, N)
    y = jax.vmap(RING.sample_one)(jax.random.split(KEY, N))
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-6)
    assert RING.sample_one(KEY).shape == (2,)


def test_sample_inside_jit_and_lax_scan_needs_no_host_data():
    def body(carry, key):
        return carry + GRID.sample(key, N).mean(0), None

    keys = jax.random.split(KEY, 3)
    total, _ = jax.jit(lambda k: jax.lax.scan(body, jnp.zeros(2), k))(keys)
    expected = sum(np.asarray(GRID.sample(k, N)).mean(0) for k in keys)
    np.testing.assert_allclose(np.asarray(total), expected, rtol=1e-5, atol=1e-5)


def test_gaussian_1d_moments():
    t = toy.gaussian_1d()
    assert (t.dim, t.means.tolist(), t.std.tolist(), t.cov) == (1, [[4.0]], [0.5], None)
    x = np.asarray(t.sample(KEY, N))
    assert x.shape == (N, 1)
    assert abs(x.mean() - 4.0) < 0.03  # standard error 0.008
    assert abs(x.std() - 0.5) < 0.02  # standard error 0.006


def test_gaussian_2d_moments():
    t = toy.gaussian_2d()
    cov = np.array([[1.0, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(t.cov, cov)
    np.testing.assert_allclose(t.std, [1.0])  # sqrt(trace / dim)
    x = np.asarray(t.sample(KEY, N))
    np.testing.assert_allclose(x.mean(0), [1.0, -1.0], atol=0.06)  # standard error 0.016
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.08)  # standard error <= 0.022


def test_gaussian_2d_rejects_a_bad_covariance():
    with pytest.raises(ValueError, match="positive definite"):
        toy.gaussian_2d(cov=((1.0, 2.0), (2.0, 1.0)))
    with pytest.raises(ValueError, match="symmetric"):
        toy.gaussian_2d(cov=((1.0, 0.2), (0.0, 1.0)))


def test_get_toy_registry():
    t = toy.get_toy("ring", n_modes=4, radius=2.0)
    np.testing.assert_allclose(t.means, [[2, 0], [0, 2], [-2, 0], [0, -2]], atol=1e-6)
    assert set(toy.TOY_DISTRIBUTIONS) == {"ring", "grid", "gaussian_1d", "gaussian_2d"}
    with pytest.raises(ValueError, match="unknown toy distribution 'moons'; valid names: ring, grid"):
        toy.get_toy("moons")


def test_latents_are_one_sample_per_key():
    keys = jax.random.split(KEY, N)
    u_fn, z_fn = toy.uniform_latent(2, low=-1.0, high=3.0), toy.normal_latent(2)
    u = np.asarray(jax.jit(jax.vmap(u_fn))(keys))
    z = np.asarray(jax.jit(jax.vmap(z_fn))(keys))
    assert u.shape == z.shape == (N, 2)
    # Row i depends on key i only, so any split of the batch across devices gives the same numbers.
    for i in (0, 1, N - 1):
        np.testing.assert_allclose(u[i], np.asarray(u_fn(keys[i])), rtol=1e-6)
        np.testing.assert_allclose(z[i], np.asarray(z_fn(keys[i])), rtol=1e-6)
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.06  # standard error 0.013
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.04
    with pytest.raises(ValueError, match="high > low"):
        toy.uniform_latent(2, low=1.0, high=1.0)
