"""Tests for jaxgan.augment: DiffAugment's translation, cutout and colour transformations, the discriminator
wrapper, and the config field that turns it on."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import augment
from jaxgan.models.adapters import from_function, from_linen
from jaxgan.models.dcgan import DCGANDiscriminator
from jaxgan.run.config import Config, apply_overrides, validate

KEY = jax.random.PRNGKey(3)


def _images(b=16, h=12, w=10, c=2, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (b, h, w, c)).astype(np.float32)


def _shifted(x, dy, dx):
    """``out[i, j] = x[i + dy, j + dx]``, 0 outside (numpy reference)."""
    h, w = x.shape[:2]
    out = np.zeros_like(x)
    for i in range(h):
        for j in range(w):
            if 0 <= i + dy < h and 0 <= j + dx < w:
                out[i, j] = x[i + dy, j + dx]
    return out


def test_translation_is_one_integer_shift_per_image_within_the_ratio_filling_zeros():
    x = _images(b=64)
    out = np.asarray(augment.translation(KEY, jnp.asarray(x), ratio=0.25))
    s = (int(12 * 0.25 + 0.5), int(10 * 0.25 + 0.5))  # (3, 3)
    seen = set()
    for xi, oi in zip(x, out):
        matches = [(dy, dx) for dy in range(-s[0], s[0] + 1) for dx in range(-s[1], s[1] + 1)
                   if np.array_equal(_shifted(xi, dy, dx), oi)]
        assert len(matches) == 1, matches  # random pixels: exactly one shift explains the output
        seen.add(matches[0])
    assert len(seen) > 20  # 49 possible shifts, 64 images: the shift is drawn per image
    assert {dy for dy, _ in seen} == set(range(-3, 4))  # the whole range is reachable
    np.testing.assert_array_equal(np.asarray(augment.translation(KEY, jnp.asarray(x), ratio=0.25)), out)


def test_cutout_zeroes_one_clipped_square_per_image_centred_anywhere():
    x = _images(b=200, h=12, w=12, c=1) + 3.0  # no zeros of its own
    out = np.asarray(augment.cutout(KEY, jnp.asarray(x), ratio=0.5))
    sizes = []
    for xi, oi in zip(x, out):
        zero = oi[..., 0] == 0
        kept = ~zero
        np.testing.assert_array_equal(oi[kept], xi[kept])  # the rest is unchanged
        rows, cols = np.nonzero(zero.any(1))[0], np.nonzero(zero.any(0))[0]
        assert len(rows) and len(cols)  # the square's centre lies in the image, so some of it does
        # a rectangle: contiguous rows and columns, all zero inside
        assert rows[-1] - rows[0] + 1 == len(rows) and cols[-1] - cols[0] + 1 == len(cols)
        assert zero[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()
        assert len(rows) <= 6 and len(cols) <= 6
        sizes.append(zero.sum())
    assert max(sizes) == 36 and min(sizes) < 36  # whole squares inside, clipped ones at the border


def test_color_is_the_papers_brightness_saturation_contrast_formula():
    x = _images(b=8, c=3)
    out = np.asarray(augment.color(KEY, jnp.asarray(x)))
    kb, ks, kc = jax.random.split(KEY, 3)
    u = [np.asarray(jax.random.uniform(k, (8, 1, 1, 1))) for k in (kb, ks, kc)]
    y = x + (u[0] - 0.5)
    m = y.mean(-1, keepdims=True)
    y = (y - m) * (2 * u[1]) + m
    m = y.mean((1, 2, 3), keepdims=True)
    y = (y - m) * (u[2] + 0.5) + m
    np.testing.assert_allclose(out, y, rtol=1e-5, atol=1e-5)


def test_policy_order_parse_and_errors():
    assert augment.parse_policy("") == ()
    assert augment.parse_policy(" translation , cutout") == ("translation", "cutout")
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'flip' in 'translation,flip'; choose from"):
        augment.parse_policy("translation,flip")
    with pytest.raises(ValueError, match="names a transformation twice"):
        augment.parse_policy("cutout,cutout")
    x = jnp.asarray(_images())
    np.testing.assert_array_equal(np.asarray(augment.diff_augment(KEY, x, "")), np.asarray(x))
    k1, k2 = jax.random.split(KEY)
    expected = augment.cutout(k2, augment.translation(k1, x))
    np.testing.assert_array_equal(np.asarray(augment.diff_augment(KEY, x, "translation,cutout")), np.asarray(expected))
    with pytest.raises(ValueError, match="NHWC images; got an array of shape"):
        augment.diff_augment(KEY, jnp.zeros((4, 2)), "translation")


def test_gradients_flow_through_every_transformation():
    x = jnp.asarray(_images(b=4, c=3))
    for policy in ("color", "translation", "cutout", "color,translation,cutout"):
        g = jax.grad(lambda x, p=policy: jnp.sum(augment.diff_augment(KEY, x, p) ** 2))(x)
        assert np.isfinite(np.asarray(g)).all() and float(jnp.abs(g).sum()) > 0, policy


def test_augmented_discriminator_augments_training_calls_only():
    identity = from_function(lambda p, x: x, lambda key, x: {})
    net = augment.augment_discriminator(identity, "translation,cutout")
    x = jnp.asarray(_images())
    out_eval, _ = net.apply({}, {}, x, train=False, rng=KEY)
    np.testing.assert_array_equal(np.asarray(out_eval), np.asarray(x))
    a, _ = net.apply({}, {}, x, train=True, rng=KEY)
    b, _ = net.apply({}, {}, x, train=True, rng=KEY)
    c, _ = net.apply({}, {}, x, train=True, rng=jax.random.PRNGKey(4))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    np.testing.assert_array_equal(np.asarray(a), np.asarray(augment.diff_augment(jax.random.split(KEY)[0], x,
                                                                                    "translation,cutout")))
    with pytest.raises(ValueError, match="needs an rng"):
        net.apply({}, {}, x, train=True)
    d = from_linen(DCGANDiscriminator(resolution=28, base_features=8))
    wrapped = augment.augment_discriminator(d, "color,translation,cutout")
    imgs = jnp.asarray(_images(b=4, h=28, w=28, c=1))
    params, state = wrapped.init(KEY, imgs)
    logits, _ = wrapped.apply(params, state, imgs, train=True, rng=KEY)
    assert logits.shape == (4,)


def test_config_field_is_checked_before_anything_runs():
    validate(apply_overrides(Config(data="digits", model="dcgan", image_size=28), ["augment=translation,cutout"]))
    with pytest.raises(ValueError, match="config field augment: unknown DiffAugment policy 'flip'"):
        validate(Config(data="digits", model="dcgan", image_size=28, augment="flip"))
    with pytest.raises(ValueError, match="config field augment \\(DiffAugment\\) needs image data, not data='ring'"):
        validate(Config(augment="translation"))
