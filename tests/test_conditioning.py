"""Conditioning on class labels or on k-means clusters of the training images (jaxgan.conditioning)."""

import jax
import numpy as np
import pytest

from jaxgan import conditioning
from jaxgan.conditioning import Conditioning
from jaxgan.run import experiment
from jaxgan.run.config import Config, validate

SMALL = {"generator": {"base_features": 4}, "discriminator": {"base_features": 4}}


def _blobs(n_per: int = 30, k: int = 3, seed: int = 0):
    """``k`` well-separated groups of 6x6 images: group g lights up its own column block."""
    rng = np.random.default_rng(seed)
    images, truth = [], []
    for g in range(k):
        base = -np.ones((6, 6, 1), np.float32)
        base[:, 2 * g: 2 * g + 2] = 1.0
        images.append(base + 0.05 * rng.normal(size=(n_per, 6, 6, 1)).astype(np.float32))
        truth += [g] * n_per
    return np.concatenate(images), np.array(truth)


def test_kmeans_recovers_separated_groups_and_is_deterministic():
    images, truth = _blobs()
    labels = conditioning.kmeans_labels(images, 3, seed=0)
    assert labels.dtype == np.int32 and labels.shape == (90,)
    # one cluster per group, up to a renaming of the clusters
    assert {(t, c) for t, c in zip(truth, labels)} == {(g, labels[30 * g]) for g in range(3)}
    assert len(set(labels[[0, 30, 60]])) == 3
    np.testing.assert_array_equal(labels, conditioning.kmeans_labels(images, 3, seed=0))


def test_kmeans_labels_are_cached_and_a_bad_cache_file_is_computed_again(tmp_path, monkeypatch):
    images, _ = _blobs()
    labels = conditioning.kmeans_labels(images, 3, seed=0, cache_dir=tmp_path)
    (path,) = tmp_path.glob("kmeans-*.npy")
    np.testing.assert_array_equal(np.load(path), labels)
    # other k, seed or images: other files
    conditioning.kmeans_labels(images, 2, seed=0, cache_dir=tmp_path)
    conditioning.kmeans_labels(images, 3, seed=1, cache_dir=tmp_path)
    conditioning.kmeans_labels(images[:60], 3, seed=0, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("kmeans-*.npy"))) == 4

    import sklearn.cluster

    real_kmeans = sklearn.cluster.KMeans
    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return real_kmeans(*args, **kwargs)

    monkeypatch.setattr(sklearn.cluster, "KMeans", counted)
    np.testing.assert_array_equal(conditioning.kmeans_labels(images, 3, seed=0, cache_dir=tmp_path), labels)
    assert calls == []  # read from the cache
    for damage in (b"not an npy file", None):
        if damage is None:  # a readable file with a label out of range
            np.save(path, np.full(90, 3, np.int32))
        else:
            path.write_bytes(damage)
        np.testing.assert_array_equal(conditioning.kmeans_labels(images, 3, seed=0, cache_dir=tmp_path), labels)
        np.testing.assert_array_equal(np.load(path), labels)  # rewritten
    assert len(calls) == 2


def test_kmeans_labels_with_an_unwritable_cache_warn_and_are_returned(tmp_path):
    images, _ = _blobs()
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    with pytest.warns(UserWarning, match="the k-means labels are not cached: "):
        labels = conditioning.kmeans_labels(images, 3, seed=0, cache_dir=blocker / "kmeans")
    np.testing.assert_array_equal(labels, conditioning.kmeans_labels(images, 3, seed=0))


@pytest.mark.parametrize("k", [1, 91, True, 2.0])
def test_kmeans_refuses_a_bad_cluster_count(k):
    images, _ = _blobs()
    with pytest.raises(ValueError, match=r"2 <= clusters <= the number of images \(90\)"):
        conditioning.kmeans_labels(images, k)


def test_class_labels_take_turns_and_grids_have_a_row_per_class():
    c = Conditioning("class", np.array([0, 1, 2, 2], np.int32), 3)
    np.testing.assert_array_equal(c.sample(5), [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(c.sample(4, start=2), [2, 0, 1, 2])
    np.testing.assert_array_equal(c.grid(4, 2), [0, 0, 1, 1, 2, 2, 0, 0])
    np.testing.assert_allclose(c.frequencies, [0.25, 0.25, 0.5])


def test_cluster_labels_are_drawn_from_the_cluster_frequencies():
    labels = np.array([0] * 70 + [2] * 30, np.int32)  # cluster 1 is empty
    c = Conditioning("cluster", labels, 3)
    np.testing.assert_allclose(c.frequencies, [0.7, 0.0, 0.3])
    draw = c.sample(20000, seed=5)
    assert draw.dtype == np.int32
    assert not np.any(draw == 1)
    assert abs(np.mean(draw == 0) - 0.7) < 0.02
    np.testing.assert_array_equal(draw, c.sample(20000, seed=5))
    assert not np.array_equal(c.sample(100, seed=5), c.sample(100, seed=5, start=100))
    assert not np.array_equal(c.sample(100, seed=5), c.sample(100, seed=6))
    np.testing.assert_array_equal(c.grid(4, 5, seed=3), c.sample(20, seed=3))
    np.testing.assert_array_equal(c.grid(4, 5, seed=3, per_row=True), np.repeat(c.sample(4, seed=3), 5))


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(clusters=1), "clusters must be an integer >= 2 or null, got 1"),
        (dict(clusters=True), "clusters must be an integer >= 2 or null, got True"),
        (dict(clusters=10.0), "clusters must be an integer >= 2 or null, got 10.0"),
        (dict(clusters=10, conditional=True), "conditional and clusters both set"),
        (dict(clusters=10, data="ring", model="mlp"), "clusters needs image data, not data='ring'"),
    ],
)
def test_config_refuses_bad_clusters(changes, message):
    base = dict(data="digits", image_size=28, model="dcgan")
    with pytest.raises(ValueError, match=message):
        validate(Config(**{**base, **changes}))


def test_more_clusters_than_images_fails_when_built():
    cfg = Config(data="digits", image_size=28, model="dcgan", batch_size=16, clusters=5000, model_kwargs=SMALL)
    with pytest.raises(ValueError, match=r"2 <= clusters <= the number of images \(1797\); got 5000"):
        experiment.build(cfg)


@pytest.fixture(scope="module")
def cluster_exp():
    cfg = Config(data="digits", image_size=28, model="dcgan", batch_size=16, latent_dim=8, clusters=7,
                 model_kwargs=SMALL, eval_samples=30)
    return experiment.build(cfg)


@pytest.mark.slow
def test_cluster_run_trains_on_the_clusters_of_its_images(cluster_exp):
    exp = cluster_exp
    cond = exp.conditioning
    assert cond.kind == "cluster" and cond.num_classes == 7
    np.testing.assert_array_equal(cond.labels, conditioning.kmeans_labels(exp.dataset.images, 7, seed=0))
    assert set(np.unique(cond.labels)) == set(range(7))
    # the true digit labels stay on the dataset (the digit classifier trains on them)
    assert exp.dataset.num_classes == 10
    batch = exp.host_batches(0, 1)
    rows = [int(np.flatnonzero(np.all(exp.dataset.images == x, axis=(1, 2, 3)))[0]) for x in batch["x"][0]]
    np.testing.assert_array_equal(batch["label"][0], cond.labels[rows])
    # G and D embed 7 labels, and one step runs on the cluster labels
    state = exp.init_state()
    shapes = [leaf.shape for leaf in jax.tree_util.tree_leaves(state.g_params)]
    assert any(len(s) == 2 and s[0] == 8 + 7 for s in shapes)  # G's first dense layer takes [z, one-hot(c)]
    z = np.zeros((2, 8), np.float32)
    out, _ = exp.generator.apply(state.g_params, state.g_model_state, z, np.array([0, 6], np.int32), train=False)
    assert not np.allclose(out[0], out[1])
    step = jax.jit(exp.make_train_step())
    new, metrics = step(state, {k: v[0] for k, v in batch.items()})
    assert int(new.step) == 1 and np.isfinite(float(metrics["d/loss"]))


@pytest.mark.slow
def test_cluster_run_is_scored_as_an_unconditional_generator(cluster_exp, tmp_path, monkeypatch):
    from jaxgan.metrics import classifier_training, digits
    from jaxgan.run import evaluate, sampler, vision

    exp = cluster_exp
    state = exp.init_state()
    seen = []
    real_generate = sampler.generate_batched

    def spy(exp_, state_, n, *, seed=0, labels=None, **kw):
        seen.append(labels)
        return real_generate(exp_, state_, n, seed=seed, labels=labels, **kw)

    monkeypatch.setattr(sampler, "generate_batched", spy)
    monkeypatch.setattr(digits, "score_images", lambda variables, images, requested=None: {
        "num_samples": len(images), "requested": requested})
    monkeypatch.setattr(classifier_training, "get_classifier",
                        lambda ds, d, **kw: (None, {"accuracy": 1.0, "confident": 1.0}))
    out = vision.score_generator(exp, state, tmp_path, n=25)
    assert out["num_samples"] == 25 and out["requested"] is None  # no rounding to classes, no conditional accuracy
    np.testing.assert_array_equal(seen[0], exp.conditioning.sample(25, 1234))
    # FID's sampler and the sample grid draw clusters the same way
    fn = evaluate.make_sampler(exp, state, seed=3, batch_size=10)
    labels = exp.conditioning.sample(10, 3, start=10)
    expected = exp.generate(state, jax.random.fold_in(jax.random.PRNGKey(3), 10), 10, labels)[:4]
    np.testing.assert_allclose(fn(10, 4), expected, atol=1e-5)
    other = exp.generate(state, jax.random.fold_in(jax.random.PRNGKey(3), 10), 10, (labels + 1) % 7)[:4]
    assert not np.allclose(expected, other, atol=1e-5)  # the labels matter, so the equality above pins them
    np.testing.assert_array_equal(vision.grid_labels(exp, 2, 3, seed=7), exp.conditioning.sample(6, 7))
    assert vision.write_sample_grid(exp, state, tmp_path / "g.png", rows=2, cols=3).is_file()
    from jaxgan.run import sampling

    assert sampling.write_samples(exp, state, tmp_path / "s.npy", n=5).is_file()  # labels drawn, not missing
    expected = exp.generate(state, jax.random.PRNGKey(0), 5, exp.conditioning.sample(5, 0))
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"), expected, atol=1e-5)
    for mode in ("grid", "interp", "arith"):
        groups = sampling.parse_groups("1:2:3") if mode == "arith" else None
        assert sampling.write_latent_picture(exp, state, tmp_path / f"{mode}.png", mode, rows=2, cols=3,
                                             groups=groups).is_file()
