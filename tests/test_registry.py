"""Tests for jaxgan.metrics.registry (and the features it reads, jaxgan.metrics.features): metric names, each
metric equal to calling its function directly, and a family registered from outside."""

import numpy as np
import pytest

from jaxgan.metrics import features, registry
from jaxgan.metrics.fid import FeatureStats, fid_from_features
from jaxgan.metrics.inception_score import inception_score_from_logits
from jaxgan.metrics.kid import kernel_inception_distance
from jaxgan.metrics.prdc import prdc


def test_parse_metric_names():
    assert registry.parse_metric("fid10k") == registry.MetricSpec("fid10k", "fid", 10_000, None)
    assert registry.parse_metric("kid1k") == registry.MetricSpec("kid1k", "kid", 1_000, None)
    assert registry.parse_metric("pr10k") == registry.MetricSpec("pr10k", "pr", 10_000, 5)
    assert registry.parse_metric("pr50k3") == registry.MetricSpec("pr50k3", "pr", 50_000, 3)
    assert registry.parse_metric("is50k") == registry.MetricSpec("is50k", "is", 50_000, None)
    assert registry.parse_metric("fid500") == registry.MetricSpec("fid500", "fid", 500, None)
    assert [s.name for s in registry.parse_metrics("fid1k, pr1k,fid1k")] == ["fid1k", "pr1k"]
    assert registry.result_keys(registry.parse_metric("kid10k")) == ["kid10k", "kid10k_std"]
    assert registry.result_keys(registry.parse_metric("pr1k3")) == [
        "pr1k3_precision",
        "pr1k3_recall",
        "pr1k3_density",
        "pr1k3_coverage",
    ]


@pytest.mark.parametrize("bad", ["fidd10k", "fid", "fid10K", "foo10k", "kid10k3", "fid0k", "fid1", "pr10k0", "", "10k"])
def test_parse_metric_errors_list_the_valid_names(bad):
    with pytest.raises(ValueError, match="valid metrics: fid<N>k, kid<N>k, pr<N>k"):
        registry.parse_metric(bad)


def test_parse_metrics_needs_one():
    with pytest.raises(ValueError, match="no metrics"):
        registry.parse_metrics(" , ")


def _toy(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    return (np.tanh(rng.normal(size=(n, 4, 4, 1)) + shift)).astype(np.float32)


def _flatten(images):
    return np.asarray(images).reshape(len(images), -1)


def _logits(images):
    return 3.0 * np.asarray(images).reshape(len(images), -1)[:, :10]


def test_each_metric_equals_its_function_on_identity_features(tmp_path):
    fake, real = _toy(1000, 0, shift=0.3), _toy(1500, 1)
    extractor = features.function_extractor(_flatten, _logits, name="identity", batch_size=128)
    out = registry.compute_metrics(
        ["fid1k", "kid1k", "pr1k", "pr1k3", "is1k"],
        extractor=extractor,
        sample_fn=features.array_sampler(fake),
        real_images=real,
        cache_dir=tmp_path,
        dataset_key="toy",
        seed=3,
    )
    f, r = _flatten(fake), _flatten(real)[features.real_subset(1500, 1000)]  # 1000 of the 1500 real images
    assert len(r) == 1000
    assert out["fid1k"] == pytest.approx(fid_from_features(f, r), rel=1e-9)
    kid = kernel_inception_distance(f, r, num_subsets=100, subset_size=1000, seed=3)
    assert (out["kid1k"], out["kid1k_std"]) == pytest.approx((kid.mean, kid.std), rel=1e-12, abs=0)
    for k, name in ((5, "pr1k"), (3, "pr1k3")):
        expected = prdc(r, f, nearest_k=k)
        assert {key: out[f"{name}_{key}"] for key in expected} == pytest.approx(expected, rel=1e-12)
    score = inception_score_from_logits(_logits(fake), splits=10)
    assert (out["is1k"], out["is1k_std"]) == pytest.approx((score.mean, score.std), rel=1e-12)
    assert set(out) == {
        "fid1k",
        "kid1k",
        "kid1k_std",
        "is1k",
        "is1k_std",
        *(f"{n}_{k}" for n in ("pr1k", "pr1k3") for k in ("precision", "recall", "density", "coverage")),
    }

    # the real features and their FID statistics are cached, keyed by dataset, extractor and count
    stats = FeatureStats.load(tmp_path / "toy-identity-1000.stats.npz")
    assert stats.count == 1000
    np.testing.assert_allclose(stats.mean, r.mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.load(tmp_path / "toy-identity-1000.features.npy"), r)

    # a second run reads them instead of extracting real features again
    seen = []

    def counting(images):
        seen.append(len(images))
        return _flatten(images)

    again = registry.compute_metrics(
        "fid1k,kid1k",
        extractor=features.function_extractor(counting, name="identity", batch_size=128),
        sample_fn=features.array_sampler(fake),
        real_images=real,
        cache_dir=tmp_path,
        dataset_key="toy",
        seed=3,
    )
    assert sum(seen) == 1000  # the generated images only
    assert again["fid1k"] == pytest.approx(out["fid1k"], rel=1e-9) and again["kid1k"] == out["kid1k"]


def test_fewer_real_images_than_samples_uses_all_of_them():
    fake, real = _toy(200, 0), _toy(60, 1, shift=0.5)
    extractor = features.function_extractor(_flatten)
    out = registry.compute_metrics(
        ["fid200", "kid200", "pr200"],
        extractor=extractor,
        sample_fn=features.array_sampler(fake),
        real_images=real,
        seed=0,
    )
    f, r = _flatten(fake), _flatten(real)
    assert out["fid200"] == pytest.approx(fid_from_features(f, r), rel=1e-9)
    kid = kernel_inception_distance(f, r, num_subsets=100, subset_size=60, seed=0)
    assert out["kid200"] == pytest.approx(kid.mean, rel=1e-12)
    assert out["pr200_precision"] == prdc(r, f, nearest_k=5)["precision"]


def test_metrics_share_the_generated_samples_per_count():
    calls = []

    def sample_fn(start, count):
        calls.append((start, count))
        return _toy(1000, 0)[start : start + count]

    registry.compute_metrics(
        ["fid300", "pr300", "fid100"],
        extractor=features.function_extractor(_flatten, batch_size=128),
        sample_fn=sample_fn,
        real_images=_toy(300, 1),
    )
    assert calls == [(0, 100), (0, 128), (128, 128), (256, 44)]


def test_errors():
    fake = features.array_sampler(_toy(100, 0))
    with pytest.raises(ValueError, match="is100 needs class logits"):
        registry.compute_metrics(
            "is100", extractor=features.function_extractor(_flatten), sample_fn=fake, real_images=None
        )
    with pytest.raises(ValueError, match="real images"):
        registry.compute_metrics(
            "fid100", extractor=features.function_extractor(_flatten), sample_fn=fake, real_images=None
        )
    with pytest.raises(ValueError, match="unknown Inception input pipeline"):
        features.inception_extractor("/nonexistent/inception.npz", pipeline="tf2")
    with pytest.raises(FileNotFoundError, match="Inception weights not found"):
        features.inception_extractor("/nonexistent/inception.npz")
    with pytest.raises(ValueError, match=r"features_fn must return \[100, d\]"):
        registry.compute_metrics(
            "fid100", extractor=features.function_extractor(lambda x: x), sample_fn=fake, real_images=_toy(100, 1)
        )


@pytest.fixture
def toy_family():
    """A metric family registered for one test (and unregistered after it): the distance between the mean
    generated and the mean real feature vector, and the real mean's norm."""

    @registry.register_metric("meangap", needs_real=True, keys=("", "_real_norm"))
    def meangap(spec, inputs):
        real = inputs.real.features()
        gap = np.linalg.norm(inputs.fake_features.mean(0) - real.mean(0))
        return {spec.name: float(gap), f"{spec.name}_real_norm": float(np.linalg.norm(real.mean(0)))}

    try:
        yield meangap
    finally:
        registry.unregister_metric("meangap")


def test_a_registered_family_is_parsed_and_computed_without_other_edits(toy_family, tmp_path):
    import jax

    from jaxgan.run import evaluate, experiment
    from jaxgan.run.config import Config
    from jaxgan.run.sampling import SamplingState

    assert registry.parse_metric("meangap2k") == registry.MetricSpec("meangap2k", "meangap", 2_000, None)
    assert registry.result_keys(registry.parse_metric("meangap300")) == ["meangap300", "meangap300_real_norm"]
    assert "meangap<N>k" in registry.valid_names_help()
    with pytest.raises(ValueError, match="only pr<N>k takes a neighbour count"):
        registry.parse_metric("meangap1k3")

    fake, real = _toy(300, 0, shift=0.3), _toy(500, 1)
    out = registry.compute_metrics(
        "meangap300,fid300",
        extractor=features.function_extractor(_flatten),
        sample_fn=features.array_sampler(fake),
        real_images=real,
    )
    r = _flatten(real)[features.real_subset(500, 300)]
    assert out["meangap300"] == pytest.approx(np.linalg.norm(_flatten(fake).mean(0) - r.mean(0)), rel=1e-6)
    assert set(out) == {"meangap300", "meangap300_real_norm", "fid300"}

    # as `jaxgan eval --metrics meangap300,fid300` names it: a config's metrics and the run evaluation take it too
    exp = experiment.build(Config(data="ring", g_features=[16], d_features=[16], metrics=["meangap300"]))
    shapes = jax.eval_shape(exp.init_state)
    params = jax.tree.map(lambda s: np.full(s.shape, 0.1, s.dtype), shapes.g_params)
    state = SamplingState(step=0, sampling_params=params, g_model_state=shapes.g_model_state, ema=False)
    values = evaluate.evaluate_experiment(exp, state, "meangap300,fid300", tmp_path, seed=2)
    samples = evaluate.make_sampler(exp, state, seed=2, batch_size=500)(0, 300)
    real = np.asarray(exp.toy.sample(jax.random.PRNGKey(3), 300))
    assert values["meangap300"] == pytest.approx(np.linalg.norm(samples.mean(0) - real.mean(0)), rel=1e-5)
    assert set(values) == {"meangap300", "meangap300_real_norm", "fid300"}


def test_registering_twice_or_a_bad_name_fails_and_unregistering_removes_the_family(toy_family):
    with pytest.raises(ValueError, match="already registered"):
        registry.register_metric("meangap", needs_real=False)(toy_family)
    with pytest.raises(ValueError, match="lowercase letters"):
        registry.register_metric("mean_gap", needs_real=False)
    registry.unregister_metric("meangap")
    with pytest.raises(ValueError, match="unknown metric 'meangap1k'"):
        registry.parse_metric("meangap1k")
    assert "meangap" not in registry.metric_families()
    registry.register_metric("meangap", needs_real=True, keys=("", "_real_norm"))(toy_family)  # for the teardown


def test_a_family_returning_other_keys_than_registered_fails(tmp_path):
    @registry.register_metric("badkeys", needs_real=False)
    def badkeys(spec, inputs):
        return {"something_else": 1.0}

    try:
        with pytest.raises(ValueError, match="returned keys"):
            registry.compute_metrics(
                "badkeys10",
                extractor=features.function_extractor(_flatten),
                sample_fn=features.array_sampler(_toy(10, 0)),
                real_images=None,
            )
    finally:
        registry.unregister_metric("badkeys")
    assert registry.metric_families() == ("fid", "kid", "pr", "is")
