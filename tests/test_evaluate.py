"""Tests for jaxgan.run.evaluate: a tiny trained image run evaluated from its workdir into report.json."""

import json

import numpy as np
import pytest

from jaxgan.metrics import classifier_training
from jaxgan.run import evaluate
from jaxgan.run.config import Config

# A classifier small enough to train in seconds (the real recipe is classifier_training.TRAIN_DEFAULTS).
TINY_CLASSIFIER = {"epochs": 1, "widths": (4, 8), "hidden": 16, "batch_size": 64}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 20-step DCGAN run on scikit-learn's digits at 28x28, trained by the training loop."""
    from jaxgan.run import loop

    workdir = tmp_path_factory.mktemp("run")
    config = Config(
        name="tiny",
        data="digits",
        image_size=28,
        model="dcgan",
        steps=20,
        steps_per_call=10,
        batch_size=32,
        latent_dim=16,
        ema_decay=0.9,
        eval_samples=100,
        log_every=10,
        sample_every=1000,
        checkpoint_every=10,
        model_kwargs={"generator": {"base_features": 8}, "discriminator": {"base_features": 8}},
    )
    with pytest.MonkeyPatch.context() as mp:
        for k, v in TINY_CLASSIFIER.items():
            mp.setitem(classifier_training.TRAIN_DEFAULTS, k, v)
        report = loop.train_and_evaluate(config, workdir, quiet=True, progress=False)
    return workdir, report


@pytest.fixture
def tiny_classifier(monkeypatch):
    for k, v in TINY_CLASSIFIER.items():
        monkeypatch.setitem(classifier_training.TRAIN_DEFAULTS, k, v)


@pytest.mark.slow
def test_evaluate_workdir_writes_metrics_into_report(run, tiny_classifier):
    workdir, train_report = run
    assert train_report["steps"] == 20
    before = json.loads((workdir / "report.json").read_text())
    # the training loop's own evaluation scored the samples with the digit classifier (vision.evaluate)
    assert {"confident", "class_entropy_ratio", "classifier_real_accuracy"} <= set(before["eval"])

    values = evaluate.evaluate_workdir(workdir, ["fid200", "kid200", "pr200", "is200"], progress=False)
    assert set(values) == {
        "fid200",
        "kid200",
        "kid200_std",
        "is200",
        "is200_std",
        "pr200_precision",
        "pr200_recall",
        "pr200_density",
        "pr200_coverage",
    }
    assert all(np.isfinite(v) for v in values.values())
    assert values["fid200"] > 0 and 1.0 <= values["is200"] <= 10.0

    report = json.loads((workdir / "report.json").read_text())
    for k, v in values.items():
        assert report["eval"][k] == pytest.approx(v, rel=1e-12)
    for k, v in before["eval"].items():  # what training wrote stays
        assert report["eval"][k] == v
    assert {k: report[k] for k in before if k not in ("eval", "eval_info")} == {
        k: v for k, v in before.items() if k not in ("eval", "eval_info")
    }
    info = report["eval_info"]["fid200"]
    assert info["step"] == 20 and info["num_generated"] == 200 and info["num_real"] == 200
    assert info["sampling_params"] == "ema" and info["features"].startswith("digits-")
    assert list(workdir.glob("eval_cache/digits*-digits-*-200.stats.npz"))
    assert list(workdir.glob("classifier/*.npz")) and list(workdir.glob("classifier/*.json"))

    # the hook a training loop calls gives the same number from the live state (same seed, cached features)
    exp, state, step = evaluate.load_workdir(workdir)
    assert step == 20
    hook = evaluate.make_eval_hook(["fid200"])
    assert hook(exp, state, workdir)["fid200"] == pytest.approx(values["fid200"], rel=1e-9)

    # another evaluation adds its keys and keeps the earlier ones
    again = evaluate.evaluate_workdir(workdir, "fid100", progress=False)
    report = json.loads((workdir / "report.json").read_text())
    assert report["eval"]["fid100"] == pytest.approx(again["fid100"], rel=1e-12)
    assert report["eval"]["kid200"] == pytest.approx(values["kid200"], rel=1e-12)
    assert set(report["eval_info"]) == {"fid100", "fid200", "kid200", "pr200", "is200"}

    # features other than the run's default (digits here) name themselves and never replace the default's values
    flat = evaluate.evaluate_workdir(workdir, "fid100,kid100", features="identity", progress=False)
    assert set(flat) == {"fid100_identity", "kid100_identity", "kid100_identity_std"}
    report = json.loads((workdir / "report.json").read_text())
    assert report["eval"]["fid100"] == pytest.approx(again["fid100"], rel=1e-12)
    assert report["eval"]["fid100_identity"] == pytest.approx(flat["fid100_identity"], rel=1e-12)
    assert flat["fid100_identity"] != pytest.approx(again["fid100"], rel=1e-3)
    assert report["eval_info"]["fid100_identity"]["features"] == "identity"


def test_errors(run, tmp_path, monkeypatch):
    workdir, _ = run
    with pytest.raises(ValueError, match="valid metrics"):
        evaluate.evaluate_workdir(tmp_path / "nothing-here", ["fid10x"], progress=False)  # names checked first
    with pytest.raises(ValueError, match="valid metrics"):
        evaluate.make_eval_hook("fid10k,bogus")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate.evaluate_workdir(tmp_path / "nothing-here", ["fid1k"], progress=False)
    with pytest.raises(FileNotFoundError, match="config.json"):
        evaluate.evaluate_workdir(tmp_path, ["fid1k"], progress=False)
    monkeypatch.setenv("JAXGAN_INCEPTION_WEIGHTS", str(tmp_path / "none.npz"))  # no reference weights either
    with pytest.raises(FileNotFoundError, match="python -m jaxgan.metrics.inception_weights"):
        evaluate.evaluate_workdir(workdir, ["fid1k"], features="inception", progress=False)
    with pytest.raises(FileNotFoundError, match="Inception weights not found"):
        evaluate.evaluate_workdir(
            workdir, ["fid1k"], features="inception", inception_weights=tmp_path / "w.npz", progress=False
        )
    with pytest.raises(ValueError, match="unknown features"):
        evaluate.evaluate_workdir(workdir, ["fid1k"], features="vgg", progress=False)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text((workdir / "config.json").read_text())
    (bad / "report.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read as JSON"):
        evaluate.evaluate_workdir(bad, ["fid1k"], progress=False)
    (bad / "report.json").unlink()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        evaluate.evaluate_workdir(bad, ["fid1k"], progress=False)


def test_toy_data_uses_the_coordinates_as_features(tmp_path):
    import jax

    from jaxgan.metrics.fid import fid_from_features
    from jaxgan.run import experiment
    from jaxgan.run.sampling import SamplingState

    exp = experiment.build(Config(data="ring", g_features=[16], d_features=[16]))
    shapes = jax.eval_shape(exp.init_state)  # random generator params, no compiled initialisation
    rng = np.random.default_rng(0)
    params = jax.tree.map(lambda s: (rng.normal(size=s.shape) * 0.3).astype(s.dtype), shapes.g_params)
    state = SamplingState(step=0, sampling_params=params, g_model_state=shapes.g_model_state, ema=False)

    values = evaluate.evaluate_experiment(exp, state, ["fid300", "pr300"], tmp_path, seed=2)
    fake = evaluate.make_sampler(exp, state, seed=2, batch_size=500)(0, 300)
    real = np.asarray(exp.toy.sample(jax.random.PRNGKey(3), 300))
    assert values["fid300"] == pytest.approx(fid_from_features(fake, real), rel=1e-9)
    assert 0.0 <= values["pr300_recall"] <= 1.0
    with pytest.raises(ValueError, match="is300 needs class logits"):
        evaluate.evaluate_experiment(exp, state, ["is300"], tmp_path)


def test_truncated_latents_are_measured_under_their_own_names(run, tiny_classifier, capsys):
    from jaxgan.run import cli

    workdir, _ = run
    assert cli.main(["eval", "--workdir", str(workdir), "--metrics", "pr200", "--truncation", "1,0.25"]) == 0
    report = json.loads((workdir / "report.json").read_text())
    for t in ("1", "0.25"):
        for part in ("precision", "recall", "density", "coverage"):
            assert 0 <= report["eval"][f"pr200_trunc{t}_{part}"] <= 10
        assert report["eval_info"][f"pr200_trunc{t}"]["truncation"] == float(t)
    assert "pr200_trunc0.25_precision:" in capsys.readouterr().out
    # truncated latents: every component within [-T, T]
    exp, state, _ = evaluate.load_workdir(workdir)
    import jax

    from jaxgan import latent

    z = latent.truncated_normal(jax.random.PRNGKey(0), (500, exp.config.latent_dim), 0.25)
    assert float(np.abs(np.asarray(z)).max()) <= 0.25
    a = evaluate.make_sampler(exp, state, seed=0, batch_size=50, truncation=0.25)(0, 50)
    b = evaluate.make_sampler(exp, state, seed=0, batch_size=50)(0, 50)
    assert a.shape == b.shape and not np.allclose(a, b)
    assert cli.main(["eval", "--workdir", str(workdir), "--metrics", "pr200", "--truncation", "-1"]) == 2
    assert "truncation must be a finite number > 0, got -1.0" in capsys.readouterr().err
