"""Tests for jaxgan.run.sampler, the one jitted sampler (jaxgan.run.sampling hands its names on): it equals the
traceable Experiment.generate, compiles once per generator and sample count, and every sampler of the package goes
through it."""

import jax
import numpy as np
import pytest
from _numpy_init import numpy_sampling_state

from jaxgan.run import experiment, sampler, sampling
from jaxgan.run.config import Config


@pytest.fixture(scope="module")
def toy():
    exp = experiment.build(Config(data="ring", g_features=[16], d_features=[16]))
    return exp, numpy_sampling_state(exp)


def test_sample_equals_generate_and_compiles_once(toy):
    exp, state = toy
    before = sampler._generate._cache_size()
    a = sampling.sample(exp, state, jax.random.PRNGKey(0), 40)
    b = sampling.sample(exp, state, jax.random.PRNGKey(1), 40)
    assert sampler._generate._cache_size() == before + 1  # another key: no new compilation
    np.testing.assert_allclose(a, exp.generate(state, jax.random.PRNGKey(0), 40), atol=1e-6)
    assert a.shape == (40, 2) and not np.allclose(a, b)
    z = np.asarray(jax.vmap(exp.latent_fn)(jax.random.split(jax.random.PRNGKey(0), 40)))
    np.testing.assert_allclose(sampling.images_from_latents(exp, state, z), exp.generate_from(state, z), atol=1e-6)


def test_every_sampler_goes_through_the_jitted_one(toy, monkeypatch):
    from jaxgan.run import evaluate, vision

    calls = []
    real = sampler.sample

    def spy(exp, state, key, n, labels=None):
        calls.append(n)
        return real(exp, state, key, n, labels)

    monkeypatch.setattr(sampler, "sample", spy)
    exp, state = toy
    sampling.generate(exp, state, 5)
    evaluate.make_sampler(exp, state, batch_size=7)(0, 3)
    exp.task.evaluate(exp, state, 9)
    assert calls == [5, 7, 9]

    image_exp = experiment.build(Config(
        data="digits", image_size=28, model="dcgan", latent_dim=8, batch_size=16,
        model_kwargs={"generator": {"base_features": 4}, "discriminator": {"base_features": 4}},
    ))
    image_state = numpy_sampling_state(image_exp)
    vision.generate_images(image_exp, image_state, jax.random.PRNGKey(0), 4)
    sampling.generate_batched(image_exp, image_state, 6, batch_size=4)
    assert calls[3:] == [4, 4, 4]
