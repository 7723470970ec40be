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


def test_latent_pictures_of_an_image_run(tmp_path):
    from PIL import Image

    from jaxgan.run import experiment, sampling
    from jaxgan.run.config import Config

    cfg = Config(data="digits", image_size=28, model="dcgan", batch_size=16, latent_dim=8, conditional=True,
                 model_kwargs={"generator": {"base_features": 8}, "discriminator": {"base_features": 8}})
    exp = experiment.build(cfg)
    st = exp.init_state()
    grid = sampling.write_latent_picture(exp, st, tmp_path / "grid.png", "grid", rows=3, cols=4, truncation=1.0)
    assert Image.open(grid).size == (4 * 29 + 1, 3 * 29 + 1)
    strip = sampling.write_latent_picture(exp, st, tmp_path / "interp.png", "interp", rows=2, cols=5)
    assert Image.open(strip).size == (5 * 29 + 1, 2 * 29 + 1)
    groups = sampling.parse_groups("1,2:3:4,5")
    arith = sampling.write_latent_picture(exp, st, tmp_path / "arith.png", "arith", groups=groups)
    tiles = np.asarray(Image.open(arith), dtype=np.float32)
    # the 4th tile is the generator's image of mean(A) - mean(B) + mean(C)
    z = {s: np.asarray(sampling._latents(exp, jax.random.PRNGKey(s), 1, None))[0] for s in (1, 2, 3, 4, 5)}
    target = (z[1] + z[2]) / 2 - z[3] + (z[4] + z[5]) / 2
    img = sampling.images_from_latents(exp, st, target[None], np.zeros(1, np.int32))[0, :, :, 0]
    expected = np.clip((img + 1) * 127.5, 0, 255).round()
    np.testing.assert_allclose(tiles[1:29, 1 + 3 * 29:29 + 3 * 29], expected, atol=1.0)
    with pytest.raises(ValueError, match="A:B:C"):
        sampling.parse_groups("1,2:3")
