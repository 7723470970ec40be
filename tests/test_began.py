"""Tests for jaxgan.models.began: the autoencoder discriminator's reconstruction errors and the generator."""

import jax
import numpy as np
import pytest
from _numpy_init import numpy_init

from jaxgan.models.adapters import from_linen
from jaxgan.models.began import BEGANDiscriminator, BEGANGenerator

_init = numpy_init


@pytest.mark.parametrize("res, start", [(28, 7), (32, 8)])
def test_discriminator_returns_per_sample_l1_reconstruction_error(res, start):
    d = BEGANDiscriminator(res, features=4, embed_dim=6)
    x = np.random.default_rng(0).uniform(-1, 1, (3, res, res, 1)).astype(np.float32)
    variables = _init(d, x)
    p = variables["params"]
    assert p["encoder"]["dense"]["kernel"].shape == (start * start * 3 * 4, 6)  # widths n, 2n, 3n
    assert p["decoder"]["dense"]["kernel"].shape == (6, start * start * 4)
    net = from_linen(d)
    fwd = jax.jit(lambda p, x: (net.apply(p, {}, x, train=True)[0], d.apply(variables, x, return_reconstruction=True)))
    errors, (errors2, recon) = jax.tree.map(np.asarray, fwd(p, x))
    assert errors.shape == (3,)
    assert np.all(errors >= 0)
    assert recon.shape == x.shape
    np.testing.assert_allclose(errors, np.mean(np.abs(x - recon), axis=(1, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(errors, errors2, rtol=1e-6)


@pytest.mark.parametrize("res", [28, 32])
def test_generator_is_the_decoder_with_tanh(res):
    g = BEGANGenerator(res, channels=3, features=4)
    z = np.random.default_rng(1).normal(size=(2, 6)).astype(np.float32)
    variables = _init(g, z)
    images = np.asarray(jax.jit(g.apply)(variables, z))
    assert images.shape == (2, res, res, 3)
    assert np.max(np.abs(images)) <= 1.0
    assert np.std(images) > 0
    # the same parameter tree as the discriminator's decoder
    d_shapes = jax.eval_shape(lambda: BEGANDiscriminator(res, 4, 6).init(jax.random.key(0), images))
    g_shapes = jax.tree_util.tree_map(lambda a: a.shape, variables["params"]["decoder"])
    assert g_shapes == jax.tree_util.tree_map(lambda a: a.shape, d_shapes["params"]["decoder"])


def test_linear_output_is_the_decoder_before_tanh():
    z = np.random.default_rng(2).normal(size=(2, 6)).astype(np.float32)
    variables = _init(BEGANGenerator(28, channels=1, features=4), z)
    lin = np.asarray(BEGANGenerator(28, channels=1, features=4, output="linear").apply(variables, z))
    tanh = np.asarray(BEGANGenerator(28, channels=1, features=4).apply(variables, z))
    np.testing.assert_allclose(np.tanh(lin), tanh, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="BEGANGenerator output must be 'tanh' or 'linear', got 'relu'"):
        BEGANGenerator(28, channels=1, features=4, output="relu")  # refused when built, before any init


@pytest.mark.parametrize("output, bias", [("tanh", np.arctanh(-0.74)), ("linear", -0.74)])
def test_init_mean_sets_the_output_bias(output, bias):
    z = np.zeros((2, 6), np.float32)
    g = BEGANGenerator(28, channels=1, features=4, output=output, init_mean=-0.74)
    shapes = jax.eval_shape(lambda: g.init(jax.random.key(0), z))
    p = numpy_init(g, z)
    p["params"]["decoder"]["conv_out"]["kernel"] = np.zeros_like(p["params"]["decoder"]["conv_out"]["kernel"])
    p["params"]["decoder"]["conv_out"]["bias"] = np.full(shapes["params"]["decoder"]["conv_out"]["bias"].shape,
                                                         np.float32(bias))
    np.testing.assert_allclose(np.asarray(g.apply(p, z)), -0.74, rtol=1e-5)
    init_bias = jax.jit(g.init)(jax.random.key(0), z)["params"]["decoder"]["conv_out"]["bias"]
    np.testing.assert_allclose(np.asarray(init_bias), [bias], rtol=1e-6)
    with pytest.raises(ValueError, match="init_mean must be in \\(-1, 1\\) with a tanh output, got 1.0"):
        BEGANGenerator(28, channels=1, features=4, init_mean=1.0)


def test_rejects_unsupported_resolution():
    with pytest.raises(ValueError, match="resolution"):
        jax.eval_shape(lambda: BEGANGenerator(48).init(jax.random.key(0), np.zeros((1, 4))))


def test_a_bad_generator_option_is_refused_when_the_experiment_is_built():
    from jaxgan.run import experiment
    from jaxgan.run.config import Config

    c = Config(data="digits", image_size=28, model="began", loss="began", latent_dim=8,
               model_kwargs={"generator": {"output": "relu"}})
    with pytest.raises(ValueError, match="BEGANGenerator output must be 'tanh' or 'linear', got 'relu'"):
        experiment.build(c)
