"""Tests of the named configs in ``jaxgan/configs``: every one loads, validates and builds without compiling; the
toy-config builder refuses unknown recipes and presets; the paper preset is the paper's setting; the learning-rate
schedules decay as documented; one toy config runs end to end and writes its report."""

import json
import math

import numpy as np
import pytest

from jaxgan.configs import _toy
from jaxgan.run import experiment, loop
from jaxgan.run.config import Config, apply_overrides, available_configs, load_config, validate

NAMED = available_configs()


def test_the_benchmark_configs_are_shipped():
    for data in ("ring", "grid"):
        for recipe in _toy.RECIPES:
            assert f"{data}_{recipe}" in NAMED
    assert "default" in NAMED


@pytest.mark.parametrize("name", NAMED)
def test_named_config_loads_validates_and_builds(name):
    config = load_config(name)
    assert isinstance(config, Config)
    assert validate(config) is config
    exp = experiment.build(config)  # builds the nets, optimizers and the step on the host: nothing compiles
    assert exp.config is config
    assert exp.rows_per_step == config.batch_size * config.n_critic
    module = __import__(f"jaxgan.configs.{name}", fromlist=["get_config"])
    assert module.__doc__ and "jaxgan train" in module.__doc__, f"{name}: the docstring must give its command"


@pytest.mark.parametrize("name", [n for n in NAMED if n == "default" or n.startswith(("ring_", "grid_"))])
def test_toy_configs_state_a_measured_result(name):
    module = __import__(f"jaxgan.configs.{name}", fromlist=["get_config"])
    result = getattr(module, "RESULT", "")
    assert result and result != "to be measured", f"{name}: fill RESULT with a measurement"
    assert "modes" in result and "CPU" in result


def test_toy_configs_are_named_after_their_module():
    for data in ("ring", "grid"):
        for recipe in _toy.RECIPES:
            assert load_config(f"{data}_{recipe}").name == f"{data}_{recipe}"


def test_toy_config_refuses_unknown_recipe_preset_and_data_with_the_list():
    with pytest.raises(ValueError, match="unknown recipe 'gan'; recipes: minimax, nonsat, wgan_gp, pacgan4, best"):
        _toy.toy_config("ring", "gan")
    with pytest.raises(ValueError, match="unknown preset 'slow'; presets: quick, paper"):
        _toy.toy_config("ring", "nonsat", "slow")
    with pytest.raises(ValueError, match="unknown data 'moons'; toy data: ring, grid"):
        _toy.toy_config("moons", "nonsat")


def test_quick_preset_recipes_differ_only_in_what_defines_them():
    shared = ("steps", "batch_size", "latent_dim", "latent", "g_features", "d_features", "g_batch_norm",
              "d_maxout", "g_lr", "d_lr", "lr_schedule", "lr_decay_fraction", "ema_decay")
    for data in ("ring", "grid"):
        base = _toy.toy_config(data, "nonsat")
        for recipe in _toy.BENCHMARK_RECIPES:
            c = _toy.toy_config(data, recipe)
            for f in shared:
                assert getattr(c, f) == getattr(base, f), (data, recipe, f)
        assert _toy.toy_config(data, "minimax").loss == "minimax"
        assert _toy.toy_config(data, "pacgan4").pack == 4
        wgan = _toy.toy_config(data, "wgan_gp")
        assert (wgan.loss, wgan.n_critic, wgan.penalties) == ("wasserstein", 5, {"gp": 0.1})


@pytest.mark.parametrize("recipe", _toy.BENCHMARK_RECIPES)
def test_paper_preset_is_the_papers_setting(recipe):
    c = _toy.toy_config("grid", recipe, "paper")
    assert (c.g_features, c.g_batch_norm, c.d_features, c.d_maxout) == ([400] * 4, True, [200] * 3, 5)
    assert (c.latent_dim, c.latent, c.batch_size, c.steps) == (2, "normal", 100, 400_000)
    assert c.lr_schedule == "constant" and c.ema_decay is None
    if recipe != "wgan_gp":
        assert (c.optimizer, c.g_lr, c.d_lr, c.b1) == ("adam", 1e-4, 1e-4, 0.8)
    assert c.pack == (4 if recipe == "pacgan4" else 1)


def test_best_recipe_has_no_paper_preset():
    with pytest.raises(ValueError, match="recipe 'best' has only the quick preset"):
        _toy.toy_config("ring", "best", "paper")


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_lr_schedule_holds_then_decays_to_zero(schedule):
    c = Config(lr_schedule=schedule, lr_decay_fraction=0.25, steps=100)
    fn = experiment.lr_schedule(c, 1e-3, 100)
    values = np.array([float(fn(i)) for i in range(101)])
    np.testing.assert_allclose(values[:76], 1e-3, rtol=1e-6)  # held for the first 75 updates
    assert np.all(np.diff(values[75:]) < 0) and values[100] == pytest.approx(0.0, abs=1e-12)
    t = 12 / 25  # 12 of the 25 decay updates done
    expected = 1 - t if schedule == "linear" else 0.5 * (1 + math.cos(math.pi * t))
    assert values[75 + 12] == pytest.approx(1e-3 * expected, rel=1e-5)
    assert experiment.lr_schedule(Config(), 1e-3, 100) == 1e-3  # "constant": a plain float for optax


def test_lr_schedule_is_validated():
    with pytest.raises(ValueError, match="lr_schedule must be one of constant, cosine, linear; got 'step'"):
        validate(Config(lr_schedule="step"))
    with pytest.raises(ValueError, match=r"lr_decay_fraction must be in \(0, 1\], got 0.0"):
        validate(Config(lr_decay_fraction=0.0))
    assert apply_overrides(Config(), ["lr_decay_fraction=1"]).lr_decay_fraction == 1.0


def test_ema_warmup_is_validated_and_reaches_the_step():
    with pytest.raises(ValueError, match="ema_warmup ramps the EMA decay up: set ema_decay too"):
        validate(Config(ema_warmup=True))
    with pytest.raises(ValueError, match="ema_warmup must be true or false, got 'yes'"):
        validate(apply_overrides(Config(ema_decay=0.9), ["ema_warmup=yes"]))
    c = apply_overrides(Config(ema_decay=0.9), ["ema_warmup=true"])
    assert c.ema_warmup is True and experiment.build(c).step_kwargs["ema_warmup"] is True


def test_top_k_is_validated_and_decays_per_epoch_of_the_dataset():
    with pytest.raises(ValueError, match=r"config field top_k must be in \(0, 1\] or null, got 0.0"):
        validate(Config(top_k=0.0))
    with pytest.raises(ValueError, match=r"config field top_k_gamma must be in \(0, 1\], got 1.5"):
        validate(Config(top_k=0.5, top_k_gamma=1.5))
    with pytest.raises(ValueError, match="top_k decays per epoch over a dataset; toy data streams have no epochs"):
        experiment.build(Config(top_k=0.5))
    c = apply_overrides(load_config("dcgan_digits"), ["top_k=0.5", "top_k_gamma=0.9", "n_critic=2"])
    fraction = experiment.build(c).step_kwargs["generator_top_k"]
    epoch = 1797 / (c.batch_size * 2)  # steps per pass over the 1,797 digits, two batches per step
    assert float(fraction(0)) == 1.0 and float(fraction(epoch)) == pytest.approx(0.9, rel=1e-5)
    assert float(fraction(100 * epoch)) == 0.5
    assert experiment.build(load_config("dcgan_digits")).step_kwargs["generator_top_k"] is None


def test_discriminator_schedule_counts_its_n_critic_updates():
    exp = experiment.build(Config(lr_schedule="linear", steps=10, n_critic=2, batch_size=8, g_features=[8],
                                  d_features=[8]))
    params = {"w": np.ones(1, np.float32)}
    grads = {"w": np.ones(1, np.float32)}
    g_state, d_state = exp.g_optimizer.init(params), exp.d_optimizer.init(params)
    g_moves, d_moves = [], []
    for _ in range(20):  # D's 20 updates span its schedule; G's schedule ends after 10
        u, g_state = exp.g_optimizer.update(grads, g_state, params)
        g_moves.append(-float(u["w"][0]))
        u, d_state = exp.d_optimizer.update(grads, d_state, params)
        d_moves.append(-float(u["w"][0]))
    assert g_moves[0] == pytest.approx(1e-3, rel=1e-4) and g_moves[10] == pytest.approx(0.0, abs=1e-9)
    assert d_moves[10] == pytest.approx(0.5e-3, rel=1e-3) and d_moves[19] > 0


def test_short_end_to_end_run_writes_the_toy_report(tmp_path):
    config = apply_overrides(load_config("ring_nonsat"), [
        "steps=50", "steps_per_call=25", "log_every=25", "sample_every=1000000", "checkpoint_every=1000000",
        "eval_samples=500", "batch_size=32", "g_features=[16,16]", "d_features=[16,16]",
    ])
    report = loop.train_and_evaluate(config, tmp_path, quiet=True, progress=False)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["steps"] == report["steps"] == 50
    ev = on_disk["eval"]
    assert {"modes", "high_quality", "reverse_kl"} <= set(ev)
    assert ev["total_modes"] == 8 and 0 <= ev["modes"] <= 8 and 0.0 <= ev["high_quality"] <= 1.0
    assert sum(ev["counts"]) == round(ev["high_quality"] * 500)
    if ev["reverse_kl"] is None:  # an infinite KL (a mode missed), written as null and flagged: strict JSON
        assert on_disk["non_finite"] == {"eval/reverse_kl": "inf"} and report["eval"]["reverse_kl"] == float("inf")
    else:
        assert ev["reverse_kl"] >= 0.0
    assert on_disk["config"]["name"] == "ring_nonsat" and on_disk["devices"] == 1
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2  # steps 25 and 50
