"""BigGAN as a model family of a run (jaxgan/run/vision.py ``model="biggan"``, jaxgan/configs/biggan_mnist.py) and the
orthogonal regularization as a generator-side penalty (``g_ortho``; jaxgan/plain_gan.py, jaxgan/train.py): the
penalty's gradient in the step, its metric, the config fields' errors, the ablation switches reaching the modules,
and (slow) one BigGAN step from a config."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import state as state_lib
from jaxgan import train
from jaxgan.data import images
from jaxgan.models import mlp
from jaxgan.models.adapters import from_linen
from jaxgan.penalties import orthogonal_regularization, orthogonal_value
from jaxgan.run import experiment, vision
from jaxgan.run.config import Config, load_config, validate
from jaxgan.run.runner import make_runner

BIGGAN = dict(data="digits", image_size=32, model="biggan", conditional=True, batch_size=8, latent_dim=8, steps=2,
              loss="hinge", lr_schedule="constant",
              model_kwargs={"generator": {"ch": 8, "shared_dim": 4}, "discriminator": {"ch": 8}})


# ------------------------------------------------------------------------------------ the penalty in the step


def _sgd_step(g_penalties, lr=0.1):
    g = from_linen(mlp.MLPGenerator(out_dim=2, features=(8, 8)))
    d = from_linen(mlp.MLPDiscriminator(features=(8,)))
    opt = optax.sgd(lr)
    st = state_lib.init_state(0, g, d, opt, opt, z=jnp.zeros((4, 3)), x=jnp.zeros((4, 2)))
    step = train.make_train_step(g, d, "non_saturating", opt, opt, latent_dim=3, g_penalties=g_penalties)
    batch = {"x": jnp.asarray(np.random.default_rng(0).normal(size=(16, 2)), jnp.float32)}
    new, metrics = jax.jit(step)(st, batch)
    return st, new, metrics


def test_the_generator_penalty_adds_beta_times_its_gradient_and_changes_nothing_else():
    """With SGD, G's update with the penalty minus G's update without it is ``-lr * beta * grad R(g_params)``; D's
    update and every loss metric are bitwise the same (the penalty is G's own, after D's update)."""
    lr, beta = 0.1, 0.05
    init, plain, m_plain = _sgd_step(())
    _, ortho, m_ortho = _sgd_step((orthogonal_regularization(beta),))
    assert "g/ortho" in m_ortho and "g/ortho" not in m_plain
    assert float(m_ortho["g/ortho"]) == pytest.approx(float(orthogonal_value(init.g_params)), rel=1e-5)
    assert float(m_ortho["g/ortho"]) > 0.1
    for name in m_plain:
        if name != "g/grad_norm":  # the norm of the total gradient, penalty included
            np.testing.assert_array_equal(m_ortho[name], m_plain[name], err_msg=name)
    for a, b in zip(jax.tree.leaves(ortho.d_params), jax.tree.leaves(plain.d_params)):
        np.testing.assert_array_equal(a, b)
    grad = jax.grad(orthogonal_value)(init.g_params)
    diff = jax.tree.map(lambda a, b: a - b, ortho.g_params, plain.g_params)
    for path, got in jax.tree_util.tree_flatten_with_path(diff)[0]:
        want = -lr * beta * np.asarray(_at(grad, path))
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-6, err_msg=jax.tree_util.keystr(path))
    assert any(np.any(np.asarray(x) != 0) for x in jax.tree.leaves(diff))  # the kernels did move
    biases = [x for p, x in jax.tree_util.tree_flatten_with_path(diff)[0] if "bias" in jax.tree_util.keystr(p)]
    assert biases and all(np.all(np.asarray(b) == 0) for b in biases)  # kernels only


def _at(tree, path):
    for key in path:
        tree = tree[key.key]
    return tree


def test_generator_penalties_need_distinct_names_and_finite_weights():
    g = from_linen(mlp.MLPGenerator(out_dim=2, features=(8,)))
    d = from_linen(mlp.MLPDiscriminator(features=(8,)))
    opt = optax.sgd(0.1)
    with pytest.raises(ValueError, match="g_penalties need distinct names"):
        train.make_train_step(g, d, "non_saturating", opt, opt, latent_dim=3,
                              g_penalties=(orthogonal_regularization(1e-4), orthogonal_regularization(1e-3)))
    bad = orthogonal_regularization(1e-4)._replace(weight=float("nan"))
    with pytest.raises(ValueError, match="weight of penalty 'ortho' must be finite"):
        train.make_train_step(g, d, "non_saturating", opt, opt, latent_dim=3, g_penalties=(bad,))


# -------------------------------------------------------------------------------------------------- configs


def test_g_ortho_from_the_config_reaches_the_step_and_reports_g_ortho():
    c = Config(data="ring", steps=2, steps_per_call=2, g_features=[8], d_features=[8], g_ortho=1e-3)
    exp = experiment.build(c)
    (pen,) = exp.step_kwargs["g_penalties"]
    assert pen.name == "ortho" and pen.weight == 1e-3
    assert experiment.build(Config(data="ring")).step_kwargs["g_penalties"] == ()
    state = jax.jit(exp.init_state)()
    expected = float(orthogonal_value(state.g_params))  # before the runner takes (donates) the state
    runner = make_runner(exp, "none")
    _, metrics = runner.run(runner.put(state), 0, 2)
    ortho = np.asarray(runner.get(metrics)["g/ortho"])
    assert ortho.shape == (2,) and ortho[0] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("overrides, message", [
    (dict(g_ortho=-1e-4), "config field g_ortho must be a finite number > 0 or null, got -0.0001"),
    (dict(g_ortho=1e-4, family="infogan", model="dcgan", data="digits"),
     "config field g_ortho: family 'infogan' does not take it (plain GAN only)"),
])
def test_bad_g_ortho_names_the_field(overrides, message):
    with pytest.raises(ValueError) as err:
        validate(Config(**overrides))
    assert str(err.value).startswith(message), str(err.value)


def _digits32():
    return images.load_dataset("digits", size=32)


def test_biggan_modules_take_the_ablation_switches_from_model_kwargs():
    off = {"generator": {"ch": 8, "shared_dim": 4, "shared_embedding": False, "hierarchical": False,
                         "attention_resolution": None},
           "discriminator": {"ch": 8, "attention_resolution": 8}}
    c = Config(**{**BIGGAN, "latent_dim": 6, "model_kwargs": off})
    g, d = vision.build_modules(c, _digits32(), 10)
    assert (g.shared_embedding, g.hierarchical, g.attention_resolution, g.ch, g.channels) == (False, False, None, 8, 1)
    assert (d.attention_resolution, d.num_classes) == (8, 10)
    z, y = jnp.zeros((2, 6)), jnp.zeros((2,), jnp.int32)
    g_params = jax.eval_shape(lambda: g.init(jax.random.key(0), z, y, train=False))["params"]
    assert "shared" not in g_params and "attention" not in g_params
    assert g_params["linear"]["dense"]["kernel"].shape == (6, 4 * 4 * 8)  # all of z to the first layer
    on = vision.build_modules(Config(**BIGGAN), _digits32(), 10)[0]
    on_params = jax.eval_shape(lambda: on.init(jax.random.key(0), jnp.zeros((2, 8)), y, train=False))["params"]
    assert {"shared", "attention"} <= set(on_params)
    assert on_params["linear"]["dense"]["kernel"].shape == (2, 4 * 4 * 8)  # its first chunk of 4


@pytest.mark.parametrize("overrides, message", [
    (dict(image_size=28), "biggan takes 32x32 images; set image_size=32 (data is 28x28)"),
    (dict(latent_dim=6), "config field latent_dim: biggan's hierarchical latents split z into 4 chunks"),
])
def test_biggan_refuses_other_sizes_and_latents_that_do_not_split(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        experiment.build(Config(**{**BIGGAN, **overrides}))


def test_biggan_mnist_is_the_stated_recipe():
    c = validate(load_config("biggan_mnist"))
    assert (c.model, c.image_size, c.conditional, c.loss, c.g_ortho) == ("biggan", 32, True, "hinge", 1e-4)
    assert c.ema_decay is not None and c.latent_dim % 4 == 0 and c.compute_dtype == "float32"
    import jaxgan.configs.biggan_mnist as module

    assert "Command: ``jaxgan train --config biggan_mnist``" in module.__doc__ and module.RESULT


@pytest.mark.slow
def test_a_biggan_run_from_a_config_takes_steps_with_the_penalty():
    """Two steps of the tiny pair (its compile is the cost: about a minute and a half on the 2-core CPU)."""
    exp = experiment.build(Config(**{**BIGGAN, "g_ortho": 1e-4, "ema_decay": 0.9, "n_critic": 2}))
    state = jax.device_get(jax.jit(exp.init_state)())
    expected, before = float(orthogonal_value(state.g_params)), exp.fingerprint(state)
    runner = make_runner(exp, "none")
    # an image run returns the metrics of the last step of a call: one step, then a second from there
    new, metrics = runner.run(runner.put(state), 0, 1)
    first = {k: np.asarray(v) for k, v in runner.get(metrics).items()}
    assert float(first["g/ortho"]) == pytest.approx(expected, rel=1e-5)  # G's penalty at the params it started from
    new, metrics = runner.run(new, 1, 1)
    m = {k: np.asarray(v) for k, v in runner.get(metrics).items()}
    new = runner.get(new)
    assert int(new.step) == 2 and float(m["g/ortho"]) != float(first["g/ortho"])
    assert all(np.all(np.isfinite(v)) for v in m.values()) and exp.skipped_updates(new) == {"d": 0, "g": 0}
    assert exp.fingerprint(new) != before
    imgs = exp.generate(new, jax.random.key(3), 4, jnp.arange(4))
    assert imgs.shape == (4, 32, 32, 1) and float(jnp.max(jnp.abs(imgs))) <= 1.0
