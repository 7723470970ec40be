"""Latent-space tools: closed forms of interpolation, arithmetic and truncation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import latent


def test_lerp_endpoints_and_midpoint():
    z0, z1 = jnp.array([1.0, 0.0]), jnp.array([0.0, 3.0])
    path = latent.interpolate(z0, z1, 3, "lerp")
    np.testing.assert_allclose(path, [[1, 0], [0.5, 1.5], [0, 3]], atol=1e-6)


def test_slerp_keeps_the_norm_on_orthogonal_unit_vectors():
    z0, z1 = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
    path = latent.interpolate(z0, z1, 5, "slerp")
    np.testing.assert_allclose(jnp.linalg.norm(path, axis=-1), np.ones(5), atol=1e-6)
    # the midpoint is at 45 degrees
    np.testing.assert_allclose(path[2], [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    np.testing.assert_allclose(path[0], z0, atol=1e-6)
    np.testing.assert_allclose(path[-1], z1, atol=1e-6)


def test_slerp_of_parallel_vectors_falls_back_to_lerp():
    z0 = jnp.array([1.0, 1.0])
    out = latent.slerp(z0, 2 * z0, jnp.array(0.5))
    np.testing.assert_allclose(out, 1.5 * z0, atol=1e-5)
    assert np.all(np.isfinite(np.asarray(out)))


def test_interpolate_errors():
    z = jnp.zeros(2)
    with pytest.raises(ValueError, match="lerp or slerp"):
        latent.interpolate(z, z, 3, "cubic")
    with pytest.raises(ValueError, match="at least 2"):
        latent.interpolate(z, z, 1)


def test_latent_arithmetic_is_mean_a_minus_mean_b_plus_mean_c():
    a = jnp.array([[1.0, 0.0], [3.0, 0.0]])
    b = jnp.array([[0.0, 1.0]])
    c = jnp.array([[0.0, 0.0], [0.0, 4.0]])
    np.testing.assert_allclose(latent.latent_arithmetic(a, b, c), [2.0, 1.0])


def test_truncated_normal_stays_within_threshold_and_has_the_right_variance():
    z = latent.truncated_normal(jax.random.PRNGKey(0), (20000, 4), 1.0)
    assert float(jnp.max(jnp.abs(z))) <= 1.0
    # variance of a standard normal truncated to [-1, 1]: 1 - 2 phi(1) / (2 Phi(1) - 1)
    phi = np.exp(-0.5) / np.sqrt(2 * np.pi)
    from scipy.stats import norm

    expected = 1 - 2 * phi / (2 * norm.cdf(1) - 1)
    assert abs(float(jnp.var(z)) - expected) < 0.01
    with pytest.raises(ValueError, match="threshold"):
        latent.truncated_normal(jax.random.PRNGKey(0), (2,), 0.0)


def test_truncate_towards_mean():
    z = jnp.array([[2.0, -2.0]])
    np.testing.assert_allclose(latent.truncate_towards_mean(z, 0.5), [[1.0, -1.0]])
    np.testing.assert_allclose(latent.truncate_towards_mean(z, 1.0), z)
    np.testing.assert_allclose(latent.truncate_towards_mean(z, 0.0, jnp.array([1.0, 1.0])), [[1.0, 1.0]])
