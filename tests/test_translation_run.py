"""Translation runs (jaxgan/run/translation.py, translation_eval.py, TranslationTask in jaxgan/run/task.py,
UnpairedBatcher in jaxgan/data/translation.py): config errors name the field, CycleGAN's domains are shuffled
independently, a checkpointed and resumed run of each family is bitwise equal to a straight one (CycleGAN's image
pools included), the measures against numpy, the sample pictures' sizes, and the CLI end to end."""

import json
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from _checkpoints import save_and_resume
from PIL import Image

from jaxgan.data.translation import UnpairedBatcher, load_translation
from jaxgan.run import experiment, sampling, translation_eval
from jaxgan.run.config import Config, load_config, validate
from jaxgan.run.runner import make_runner
from jaxgan.run.task import TranslationTask

ROOT = Path(__file__).resolve().parents[1]
SIDE = 16

TINY = dict(image_size=SIDE, batch_size=4, steps=4, lr_schedule="constant", g_lr=2e-4, d_lr=2e-4)
FAMILIES = {
    "pix2pix": dict(data="paired:digits:edges->identity",
                    model_kwargs={"generator": {"base_features": 4, "num_downs": 4, "dropout_blocks": 1},
                                  "discriminator": {"base_features": 4, "n_layers": 1}}),
    "cyclegan": dict(data="unpaired:digits:plain->thick", family_kwargs={"pool_size": 6},
                     model_kwargs={"generator": {"base_features": 4, "n_blocks": 1},
                                   "discriminator": {"base_features": 4, "n_layers": 1}}),
    "stargan": dict(data="domains:digits:plain,thick,thin", n_critic=2,
                    model_kwargs={"generator": {"base_features": 4, "repeat_num": 1},
                                  "discriminator": {"base_features": 4}}),
}


def _config(family, **kw):
    return Config(**{**TINY, **FAMILIES[family], "family": family, **kw})


# --------------------------------------------------------------------------------------------------- configs


@pytest.mark.parametrize("name", ["pix2pix_edges", "pix2pix_down4", "cyclegan_thick", "stargan_digits"])
def test_shipped_configs_validate_and_state_their_command(name):
    c = validate(load_config(name))
    assert c.family == name.split("_")[0] and c.name == name
    import importlib

    module = importlib.import_module(f"jaxgan.configs.{name}")
    assert "Command: ``jaxgan train --config " + name in module.__doc__
    assert module.RESULT


@pytest.mark.parametrize("overrides, message", [
    (dict(data="unpaired:digits:edges->identity"), "config field data: family 'pix2pix' takes a 'paired:' spec"),
    (dict(data="digits"), "config field data: family 'pix2pix' trains on a translation spec: bad translation"),
    (dict(n_critic=2), "config field n_critic: family 'pix2pix' does not take it"),
    (dict(model="dcgan"), "config field model: family 'pix2pix' does not take it"),
    (dict(conditional=True), "config field conditional: family 'pix2pix' does not take it"),
    (dict(metrics=["fid1k"]), "config field metrics: family 'pix2pix' does not take it"),
    (dict(exclude_heldout=True), "config field exclude_heldout: family 'pix2pix' does not take it"),
    (dict(family_kwargs={"l1": 1.0}),
     "config field family_kwargs: family 'pix2pix' takes ['adversarial_weight', 'l1_weight'], not ['l1']"),
    (dict(model_kwargs={"generator": {"widths": [4]}}), "config field model_kwargs: generator UNetGenerator takes"),
    (dict(model_kwargs={"generator": {"channels": 3}}), "config field model_kwargs: generator UNetGenerator takes"),
    (dict(model_kwargs={"encoder": {}}), "config field model_kwargs: family 'pix2pix' takes 'generator' and"),
])
def test_bad_translation_configs_name_the_field(overrides, message):
    with pytest.raises(ValueError) as err:
        validate(_config("pix2pix", **overrides))
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize("family, overrides, message", [
    ("pix2pix", dict(family_kwargs={"l1_weight": -1.0}),
     "config field family_kwargs: l1_weight must be a finite number >= 0, got -1.0"),
    ("stargan", dict(model_kwargs={"discriminator": {"repeat_num": 5}}),
     "config field model_kwargs: the networks do not fit (16, 16, 1) images: StarGANDiscriminator: the image side"),
    ("cyclegan", dict(batch_size=800), "config field batch_size: 'unpaired:digits:plain->thick' has 763 training"),
    ("cyclegan", dict(data="unpaired:digits:plain->plain"), "config field data: family 'cyclegan' trains on a"),
    ("cyclegan", dict(data="unpaired:nosuch:plain->thick"),
     "config field data: the source of 'unpaired:nosuch:plain->thick': unknown dataset spec 'nosuch'"),
])
def test_what_only_building_finds_names_the_field(family, overrides, message):
    with pytest.raises(ValueError) as err:
        experiment.build(_config(family, **overrides))
    assert str(err.value).startswith(message), str(err.value)


# -------------------------------------------------------------------------------------------------------- data


def test_unpaired_domains_are_shuffled_independently_and_resume_by_step():
    a = np.arange(40, dtype=np.float32)[:, None]
    b = 100 + np.arange(40, dtype=np.float32)[:, None]
    batcher = UnpairedBatcher(a, b, 8, seed=3)
    pairs = [(batcher.batch(t)["a"][:, 0] - 0, batcher.batch(t)["b"][:, 0] - 100) for t in range(10)]
    for ia, ib in pairs:
        assert len(set(ia.tolist())) == 8 and len(set(ib.tolist())) == 8
    assert sum(np.array_equal(ia, ib) for ia, ib in pairs) == 0  # one shared permutation would make them equal
    met = {(int(x), int(y)) for ia, ib in pairs for x, y in zip(ia, ib)}
    assert len(met) > 45  # 10 steps of 8 rows over two epochs: few pairs meet twice
    again = UnpairedBatcher(a, b, 8, seed=3)
    assert again.restore(batcher.position(7)) == 7
    np.testing.assert_array_equal(again.batch(7)["b"], batcher.batch(7)["b"])
    assert np.array_equal(again.stacked(6, 2)["a"][1], batcher.batch(7)["a"])
    with pytest.raises(ValueError, match="seed saved 3 != now 4"):
        UnpairedBatcher(a, b, 8, seed=4).restore(batcher.position(7))
    with pytest.raises(ValueError, match="not two independently shuffled domains"):
        again.restore({"step": 7, "seed": 3})


def test_identity_map_measures_match_the_issue_units():
    """L1 in [0, 1] pixel units and the per-image PSNR: MNIST edges -> digits, identity map (issue #15: 0.153 and
    9.8 dB), against numpy written out here."""
    data = load_translation("paired:mnist:edges->identity")
    a, b = data.test_a.astype(np.float64), data.test_b.astype(np.float64)
    assert translation_eval.l1(a, b) == pytest.approx(np.mean(np.abs((a + 1) / 2 - (b + 1) / 2)), rel=1e-9)
    mse = np.array([np.mean(((x - y) / 2) ** 2) for x, y in zip(a, b)])
    assert translation_eval.psnr(a, b) == pytest.approx(np.mean(10 * np.log10(1 / mse)), rel=1e-9)
    assert translation_eval.l1(a, b) == pytest.approx(0.153, abs=0.002)
    assert translation_eval.psnr(a, b) == pytest.approx(9.8, abs=0.1)


def test_measures_closed_forms():
    x = np.full((3, 4, 4, 1), -1.0)
    assert translation_eval.l1(x, -x) == 1.0 and translation_eval.l1(x, x) == 0.0
    assert translation_eval.psnr(x, x + 0.2) == pytest.approx(20.0)  # 0.1 in [0, 1] units: mse 1e-2
    assert translation_eval.psnr(x, x) == translation_eval.PSNR_CAP_DB


# ---------------------------------------------------------------------------------------- steps and resume


def _leaves_equal(a, b) -> bool:
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.slow
@pytest.mark.parametrize("family", ["pix2pix", "cyclegan", "stargan"])
def test_a_checkpointed_and_resumed_run_is_bitwise_equal_to_a_straight_one(family, tmp_path):
    exp = experiment.build(_config(family))
    assert isinstance(exp.task, TranslationTask) and exp.rows_per_step == 4 * exp.config.n_critic
    init = jax.device_get(jax.jit(exp.init_state)())
    runner = make_runner(exp, "none")
    straight = runner.get(runner.run(runner.put(init), 0, 4)[0])
    half = runner.get(runner.run(runner.put(init), 0, 2)[0])
    again = experiment.build(_config(family))  # a fresh process would rebuild everything from the config
    restored = save_and_resume(tmp_path / "checkpoints", exp, half, 2, again)
    resumer = make_runner(again, "none")
    resumed = resumer.get(resumer.run(resumer.put(restored.state), restored.step, 2)[0])
    assert _leaves_equal(resumed, straight), "every leaf of the state: params, optimizers, buffers, key, step"
    assert exp.fingerprint(resumed) == exp.fingerprint(straight) and int(resumed.step) == 4
    assert exp.skipped_updates(resumed) == {p.name: 0 for p in exp.system.players}
    changed = jax.tree.map(lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))), init.params, straight.params)
    assert all(jax.tree.leaves(changed)), "every parameter moved in 4 steps"
    if family == "cyclegan":
        for pool in ("pool_a", "pool_b"):  # 4 steps of 4 fakes through pools of 6: full, and restored exactly
            assert int(straight.buffers[pool]["count"]) == 6
            assert int(half.buffers[pool]["count"]) == 6 and not _leaves_equal(half.buffers, straight.buffers)
        with pytest.raises(ValueError, match="seed saved"):
            experiment.build(_config(family, seed=1)).task.check_data(exp.task.data_position(2))


# ---------------------------------------------------------------------------------------------------- pictures


COLUMNS = {"pix2pix": 3, "cyclegan": 4, "stargan": 1 + 3}


@pytest.mark.slow
@pytest.mark.parametrize("family", ["pix2pix", "cyclegan", "stargan"])
def test_sample_pictures_have_a_row_per_input_and_a_column_per_output(family, tmp_path):
    exp = experiment.build(_config(family))
    state = jax.device_get(jax.jit(exp.init_state)())
    cell, per = SIDE + 1, COLUMNS[family]
    out = sampling.write_samples(exp, state, tmp_path / "s.png", n=20, seed=1)  # 20 inputs: 8 + 8 + 4 rows
    assert Image.open(out).size == (3 * per * cell + 1, 8 * cell + 1)
    out = sampling.write_latent_picture(exp, state, tmp_path / "g.png", "grid", rows=3, cols=99)
    assert Image.open(out).size == (per * cell + 1, 3 * cell + 1)
    arr = np.load(sampling.write_samples(exp, state, tmp_path / "s.npy", n=5))
    assert arr.shape == (5, SIDE, SIDE, 1) and np.all(np.abs(arr) <= 1)
    with pytest.raises(ValueError, match="--mode interp draws from a latent space"):
        sampling.write_latent_picture(exp, state, tmp_path / "i.png", "interp")
    with pytest.raises(ValueError, match="measured on its held-out images by its final evaluation"):
        exp.task.default_features(None)


@pytest.mark.slow
def test_picture_columns_are_the_inputs_and_their_targets():
    """pix2pix's first and last columns are the held-out inputs and targets themselves."""
    exp = experiment.build(_config("pix2pix"))
    state = jax.device_get(jax.jit(exp.init_state)())
    rows = np.array([0, 5, 9])
    a, fake, b = translation_eval._columns(exp, state, rows)
    np.testing.assert_array_equal(a, exp.task.data.test_a[rows])
    np.testing.assert_array_equal(b, exp.task.data.test_b[rows])
    np.testing.assert_allclose(fake, translation_eval.translate(exp, state, "g", a), atol=1e-6)


# ------------------------------------------------------------------------------------------------------ CLI


@pytest.mark.slow
def test_cli_trains_a_cyclegan_evaluates_it_and_draws_translation_rows(tmp_path):
    """``jaxgan train`` on a tiny CycleGAN: the final evaluation's measures beside the identity map's; then
    ``jaxgan sample`` draws a | G_AB(a) | b | G_BA(b) rows."""
    workdir = tmp_path / "w"
    sets = [f"image_size={SIDE}", "batch_size=8", "data=unpaired:digits:plain->thick",
            'model_kwargs={"generator": {"base_features": 4, "n_blocks": 1}, '
            '"discriminator": {"base_features": 4, "n_layers": 1}}',
            "checkpoint_every=3", "sample_every=3", "log_every=3"]
    cmd = [sys.executable, "-m", "jaxgan.run.cli", "train", "--config", "cyclegan_thick", "--steps", "6",
           "--workdir", str(workdir), "--quiet"] + [a for s in sets for a in ("--set", s)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((workdir / "report.json").read_text())
    ev = report["eval"]
    for key in ("domain_ab", "domain_ba", "identity_domain_ab", "identity_domain_ba", "digit_accuracy_ab",
                "digit_accuracy_ba", "real_digit_accuracy_a", "real_digit_accuracy_b"):
        assert 0.0 <= ev[key] <= 1.0, (key, ev[key])
    assert ev["domain_classifier_real_accuracy"] > 0.6  # plain vs dilated digits are easy to tell apart
    assert ev["identity_l1"] == pytest.approx(translation_eval.l1(*_heldout_ab()), rel=1e-6)
    assert 0 < ev["cycle_l1_a"] < 1 and 0 < ev["l1_ab"] < 1 and ev["num_heldout"] == 270
    assert set(report["skipped_updates"]) == {"g", "d"}
    out = tmp_path / "rows.png"
    proc = subprocess.run([sys.executable, "-m", "jaxgan.run.cli", "sample", "--workdir", str(workdir), "--n", "5",
                           "--out", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (4 * (SIDE + 1) + 1, 5 * (SIDE + 1) + 1)


def _heldout_ab():
    data = load_translation("unpaired:digits:plain->thick", SIDE)
    return data.test_a, data.test_b
