"""Tests of the ACGAN, InfoGAN and BiGAN families (jaxgan/families/{acgan,infogan,bigan,configure,evaluation}.py),
the representation metrics they are scored with (jaxgan/metrics/representation.py) and their configs: closed-form
loss terms, the code layout, the config errors, a resumed run bitwise equal to a straight one, and the CLI."""

import json
import math
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _checkpoints import save_and_resume

from jaxgan.families import acgan, infogan
from jaxgan.metrics import representation
from jaxgan.run import experiment
from jaxgan.run.config import Config, load_config, validate
from jaxgan.run.runner import make_runner

ROOT = Path(__file__).resolve().parents[1]


def _softmax_ce(logits, labels):
    logits = np.asarray(logits, np.float64)
    logp = logits - logits.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


# ------------------------------------------------------------------------------------------------ loss terms


def test_acgan_class_term_is_the_cross_entropy():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]], np.float32)
    labels = np.array([0, 1])
    assert float(acgan.class_cross_entropy(logits, labels)) == pytest.approx(_softmax_ce(logits, labels), rel=1e-6)
    assert float(acgan.accuracy(logits, labels)) == 0.5


def test_infogan_bound_is_entropy_minus_cross_entropy():
    """L_I = H(c) - CE for the categorical code; the Gaussian term is E[log N(c; mu, 1)] + n log 2."""
    k = 4
    q = np.array([[3.0, 0.0, 0.0, -1.0, 0.2, -0.5], [0.0, 1.0, 2.0, 0.0, 0.9, 0.0]], np.float32)
    cat = np.array([0, 2])
    cont = np.array([[0.0, -0.5], [1.0, 0.5]], np.float32)
    mi, mi_cat, mi_cont = infogan.mutual_information_bound(jnp.asarray(q), jnp.asarray(cat), jnp.asarray(cont), k)
    assert float(mi_cat) == pytest.approx(math.log(k) - _softmax_ce(q[:, :k], cat), rel=1e-6)
    mu = q[:, k:]
    gauss = np.mean(np.sum(-0.5 * (cont - mu) ** 2 - 0.5 * math.log(2 * math.pi), 1)) + 2 * math.log(2)
    assert float(mi_cont) == pytest.approx(gauss, rel=1e-6)
    assert float(mi) == pytest.approx(float(mi_cat) + float(mi_cont), rel=1e-6)
    perfect = np.concatenate([np.eye(k)[cat] * 50.0, cont], 1)  # a perfect Q: the categorical part reaches log K
    _, best_cat, _ = infogan.mutual_information_bound(jnp.asarray(perfect), jnp.asarray(cat), jnp.asarray(cont), k)
    assert float(best_cat) == pytest.approx(math.log(k), abs=1e-5)


def test_code_latent_layout_round_trips():
    code = infogan.CodeLatent(noise_dim=5, categories=3, continuous=2)
    z = jax.vmap(code.sample)(jax.random.split(jax.random.PRNGKey(0), 64))
    assert z.shape == (64, code.dim) and code.dim == 10 and code.q_dim == 5
    noise, cat, cont = code.split(z)
    assert np.all(np.abs(noise) <= 1) and np.all(np.abs(cont) <= 1)
    assert set(np.asarray(cat).tolist()) == {0, 1, 2}
    np.testing.assert_array_equal(np.asarray(code.join(noise, cat, cont)), np.asarray(z))


def test_bigan_swaps_the_pairs_roles_for_the_encoder_and_generator():
    """With the non-saturating loss, D's loss on (real, fake) scores is the GE player's on (fake, real)."""
    from jaxgan.losses import get_loss

    ns = get_loss("non_saturating")
    real, fake = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    d = np.mean(softplus(-np.asarray(real))) + np.mean(softplus(np.asarray(fake)))
    assert float(ns.discriminator(real, fake, {})) == pytest.approx(d, rel=1e-6)
    ge = np.mean(softplus(-np.asarray(fake))) + np.mean(softplus(np.asarray(real)))
    assert float(ns.discriminator(fake, real, {})) == pytest.approx(ge, rel=1e-6)


# ------------------------------------------------------------------------------------------ representation


def test_matched_accuracy_undoes_a_permutation_of_the_code():
    classes = np.arange(40) % 4
    perm = np.array([2, 0, 3, 1])
    codes = perm[classes]
    codes[:4] = (codes[:4] + 1) % 4  # four wrong
    acc, mapping = representation.matched_accuracy(codes, classes, 4, 4)
    assert acc == pytest.approx(36 / 40)
    np.testing.assert_array_equal(mapping[perm], np.arange(4))


def test_probes_on_separable_and_on_random_features():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    centres = np.eye(3) * 6.0
    x = centres[y] + rng.normal(size=(600, 3))
    assert representation.linear_probe_accuracy(x[:400], y[:400], x[400:], y[400:]) > 0.97
    assert representation.nearest_neighbour_accuracy(x[:400], y[:400], x[400:], y[400:]) > 0.95
    noise = rng.normal(size=(600, 3))
    assert representation.linear_probe_accuracy(noise[:400], y[:400], noise[400:], y[400:]) < 0.5


def test_nearest_neighbour_uses_cosine_similarity():
    train = np.array([[1.0, 0.0], [0.0, 1.0]])
    test = np.array([[10.0, 1.0], [0.1, 5.0]])  # far in Euclidean distance, close in angle
    assert representation.nearest_neighbour_accuracy(train, [0, 1], test, [0, 1]) == 1.0


# --------------------------------------------------------------------------------------------------- configs

TINY = dict(data="digits", image_size=28, model="dcgan", batch_size=8, latent_dim=6, steps=4,
            model_kwargs={"generator": {"base_features": 4}, "discriminator": {"base_features": 4}},
            lr_schedule="constant")


def _config(family, **kw):
    extra = {"acgan": dict(conditional=True), "infogan": dict(family_kwargs={"q_hidden": 8}),
             "bigan": dict(latent="uniform", family_kwargs={"base_features": 4})}[family]
    return Config(**{**TINY, **extra, "family": family, **kw})


@pytest.mark.parametrize("overrides, message", [
    (dict(family="acgan"), "config field conditional: family 'acgan' generates from class labels"),
    (dict(family="infogan", conditional=True), "config field conditional: family 'infogan' is unsupervised"),
    (dict(family="bigan", penalties={"gp": 10.0}), "config field penalties: family 'bigan' does not take it"),
    (dict(family="infogan", n_critic=2), "config field n_critic: family 'infogan' does not take it"),
    (dict(family="infogan", family_kwargs={"categorical": 10}),
     "config field family_kwargs: family 'infogan' takes ['categories', 'cont_weight', 'continuous', "
     "'info_weight', 'noise', 'q_hidden'], not ['categorical']"),
    (dict(family_kwargs={"categories": 10}), "config field family_kwargs is for a family other than 'gan'"),
    (dict(family="gans"),
     "config field family must be one of gan, acgan, infogan, bigan, pix2pix, cyclegan, stargan; got 'gans'"),
    (dict(family="acgan", conditional=True, loss="began"), "config field loss: family 'acgan' takes a stateless"),
    (dict(exclude_heldout=True, data="ring", model="mlp"), "config field exclude_heldout needs image data"),
])
def test_bad_family_configs_name_the_field(overrides, message):
    with pytest.raises(ValueError) as err:
        validate(Config(**{**TINY, **overrides}))
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize("name", ["acgan_mnist", "infogan_mnist", "bigan_mnist"])
def test_shipped_configs_validate_and_state_a_result(name):
    c = validate(load_config(name))
    assert c.family == name.split("_")[0]
    import importlib

    module = importlib.import_module(f"jaxgan.configs.{name}")
    assert "Command: ``jaxgan train --config " + name in module.__doc__
    assert module.RESULT


def test_exclude_heldout_trains_on_the_classifier_split_only():
    """The batcher holds exactly the classifier's training rows: every image of an epoch's batches is one of them,
    and the held-out rows never appear."""
    exp = experiment.build(_config("acgan", exclude_heldout=True))
    train, held = experiment.heldout_split(exp.dataset)
    assert exp.batcher.num_examples == len(train) and len(held) == round(0.15 * len(exp.dataset.images))
    steps = -(-len(train) // exp.config.batch_size)
    seen = exp.batcher.stacked(0, steps)["x"].reshape(-1, 28 * 28)
    index = {exp.dataset.images[i].tobytes(): i for i in range(len(exp.dataset.images))}
    rows = {index[r.astype(np.float32).tobytes()] for r in seen}
    assert rows <= set(train.tolist()) and len(rows) > 0.9 * len(train)
    assert not rows & set(held.tolist())
    full = experiment.build(_config("acgan"))
    assert full.batcher.num_examples == len(exp.dataset.images)


# ---------------------------------------------------------------------------------------- steps and resume


def _run(exp, state, start, k):
    runner = make_runner(exp, "none")
    s, _ = runner.run(runner.put(state), start, k)
    return runner.get(s)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["acgan", "infogan", "bigan"])
def test_a_checkpointed_and_resumed_run_is_bitwise_equal_to_a_straight_one(family, tmp_path):
    exp = experiment.build(_config(family))
    init = jax.device_get(jax.jit(exp.init_state)())
    straight = _run(exp, init, 0, 4)
    half = _run(exp, init, 0, 2)
    again = experiment.build(_config(family))  # a fresh process would rebuild everything from the config
    restored = save_and_resume(tmp_path / "checkpoints", exp, half, 2, again)
    resumed = _run(again, restored.state, restored.step, 2)
    assert exp.fingerprint(resumed) == exp.fingerprint(straight)
    assert int(resumed.step) == 4 and exp.skipped_updates(resumed) == {p.name: 0 for p in exp.system.players}
    changed = jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))), init.params, straight.params)
    assert all(jax.tree.leaves(changed)), "every parameter moved in 4 steps"


def test_acgan_d_has_a_class_head_and_no_label_input():
    exp = experiment.build(_config("acgan"))
    state = jax.jit(exp.init_state)()
    x = jnp.zeros((3, 28, 28, 1))
    (source, classes), _ = exp.system.nets["d"].apply(state.params["d"], state.model_state["d"], x, train=False)
    assert source.shape == (3,) and classes.shape == (3, 10)
    assert "label_embed" not in state.params["d"] and "projection" not in state.params["d"]


def test_infogan_generates_from_the_code_layout_and_q_has_its_outputs():
    exp = experiment.build(_config("infogan"))
    state = jax.jit(exp.init_state)()
    assert exp.code.dim == 6 + 10 + 2
    _, q = exp.system.nets["d"].apply(state.params["d"], state.model_state["d"], jnp.zeros((2, 28, 28, 1)),
                                      train=False)[0]
    assert q.shape == (2, 12)
    assert exp.generate(state, jax.random.PRNGKey(0), 3).shape == (3, 28, 28, 1)


def test_bigan_encoder_codes_and_reconstructions_have_their_shapes():
    from jaxgan.run import family_eval

    exp = experiment.build(_config("bigan"))
    state = jax.device_get(jax.jit(exp.init_state)())
    codes = family_eval.encode(exp, state, exp.dataset.images[:5])
    assert codes.shape == (5, 6)
    assert exp.generate_from(state, jnp.asarray(codes)).shape == (5, 28, 28, 1)


# ------------------------------------------------------------------------------------------------------ CLI


@pytest.mark.slow
def test_cli_trains_a_bigan_evaluates_it_and_draws_reconstructions(tmp_path):
    """``jaxgan train`` on a tiny BiGAN (final eval with the probes), then ``jaxgan sample --mode reconstruct``
    and ``--mode codes`` refused for a run without codes."""
    workdir = tmp_path / "w"
    sets = ["data=digits", "image_size=28", "batch_size=16", "latent_dim=8", "eval_samples=100",
            'model_kwargs={"generator": {"base_features": 8}}', 'family_kwargs={"base_features": 8}',
            "checkpoint_every=5", "sample_every=5", "log_every=5"]
    cmd = [sys.executable, "-m", "jaxgan.run.cli", "train", "--config", "bigan_mnist", "--steps", "10",
           "--workdir", str(workdir), "--quiet"] + [a for s in sets for a in ("--set", s)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((workdir / "report.json").read_text())
    ev = report["eval"]
    for key in ("probe_logistic", "probe_1nn", "random_encoder_logistic", "random_encoder_1nn",
                "reconstruction_accuracy", "reconstruction_l1"):
        assert 0.0 <= ev[key] <= 2.0, (key, ev[key])
    assert ev["heldout_in_training"] is False and set(report["skipped_updates"]) == {"d", "ge"}
    out = tmp_path / "recon.png"
    proc = subprocess.run([sys.executable, "-m", "jaxgan.run.cli", "sample", "--workdir", str(workdir), "--mode",
                           "reconstruct", "--rows", "3", "--cols", "4", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    assert Image.open(out).size == (4 * 29 + 1, 3 * 29 + 1)  # 3 rows of 2 (digit, reconstruction) pairs
    proc = subprocess.run([sys.executable, "-m", "jaxgan.run.cli", "sample", "--workdir", str(workdir), "--mode",
                           "codes", "--out", str(tmp_path / "codes.png")],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 2 and "--mode codes draws InfoGAN's codes; this run's family is 'bigan'" in proc.stderr
