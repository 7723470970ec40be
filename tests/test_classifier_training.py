"""Tests for jaxgan.metrics.classifier_training: the split, the optax learning-rate schedule, the cache."""

import jax
import numpy as np
import pytest

from jaxgan.data.images import ImageDataset, load_dataset
from jaxgan.metrics import classifier_training

TINY = {"epochs": 3, "widths": (8, 16), "hidden": 32, "batch_size": 64, "learning_rate": 3e-3}


@pytest.fixture(scope="module")
def digits28():
    return load_dataset("digits", size=28)


def test_split_is_seed_fixed_and_disjoint():
    train, hold = classifier_training.split_indices(100, 0.15, seed=3)
    assert len(hold) == 15 and len(train) == 85
    assert not set(train) & set(hold)
    again = classifier_training.split_indices(100, 0.15, seed=3)
    assert np.array_equal(again[1], hold)
    assert not np.array_equal(classifier_training.split_indices(100, 0.15, seed=4)[1], hold)


@pytest.mark.parametrize(
    "peak, warmup, total", [(2e-3, 66, 528), (3e-3, 23, 69), (2e-3, 5, 10), (1e-3, 1, 2), (2e-3, 1, 1)]
)
def test_schedule_is_a_linear_warmup_then_a_cosine_decay_to_the_bit(peak, warmup, total):
    # the closed form of the recipe (the hand-written schedule of earlier versions, which the cached classifiers
    # were trained with), in float64 rounded to float32: the optax schedule gives the same float32 values
    t = np.arange(total, dtype=np.float64)
    warm = peak * (t + 1) / warmup
    cosine = 0.5 * peak * (1 + np.cos(np.pi * (t - warmup) / max(total - warmup, 1)))
    expected = np.where(t < warmup, warm, cosine).astype(np.float32)
    schedule = classifier_training.lr_schedule(peak, warmup, total)
    np.testing.assert_array_equal(classifier_training.learning_rates(schedule, total), expected)
    assert float(schedule(warmup - 1)) == pytest.approx(peak)
    if total > warmup:
        assert float(schedule(total)) == pytest.approx(0.0, abs=1e-12)  # the decay ends at 0


def test_get_classifier_cache_round_trip(tmp_path, monkeypatch, digits28):
    small = ImageDataset(digits28.images[:300], digits28.labels[:300], 10, "digits28-small")
    settings = {**TINY, "epochs": 1}
    v1, r1 = classifier_training.get_classifier(small, tmp_path, log=None, **settings)
    key = classifier_training.dataset_key(small)
    assert (tmp_path / f"{key}.npz").is_file() and (tmp_path / f"{key}.json").is_file()
    assert r1["dataset"]["name"] == "digits28-small" and r1["dataset"]["shape"] == [300, 28, 28, 1]

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier should have been used")

    monkeypatch.setattr(classifier_training, "train_classifier", no_training)
    v2, r2 = classifier_training.get_classifier(small, tmp_path, log=None, **settings)
    assert r2 == r1
    assert jax.tree.structure(v1) == jax.tree.structure(v2)
    for a, b in zip(jax.tree.leaves(v1), jax.tree.leaves(v2)):
        assert a.dtype == b.dtype and np.array_equal(a, b)

    # other settings or other data do not reuse the cache
    with pytest.raises(AssertionError, match="cached"), pytest.warns(UserWarning, match="other settings"):
        classifier_training.get_classifier(small, tmp_path, log=None, **{**settings, "epochs": 2})
    other = ImageDataset(digits28.images[:300] * 0.5, digits28.labels[:300], 10, "digits28-small")
    assert classifier_training.dataset_key(other) != key
    with pytest.raises(AssertionError, match="cached"):
        classifier_training.get_classifier(other, tmp_path, log=None, **settings)


def test_a_shared_cache_gives_a_second_run_the_classifier_of_the_first(tmp_path, monkeypatch, digits28):
    small = ImageDataset(digits28.images[:300], digits28.labels[:300], 10, "digits28-small")
    settings = {**TINY, "epochs": 1}
    shared, run1, run2 = tmp_path / "shared", tmp_path / "run1" / "classifier", tmp_path / "run2" / "classifier"
    v1, r1 = classifier_training.get_classifier(small, run1, shared_dir=shared, log=None, **settings)
    key = classifier_training.dataset_key(small)
    for d in (run1, shared):
        assert sorted(p.name for p in d.iterdir()) == [f"{key}.json", f"{key}.npz"]
    assert (shared / f"{key}.npz").read_bytes() == (run1 / f"{key}.npz").read_bytes()

    def no_training(*args, **kwargs):
        raise AssertionError("the shared classifier should have been used")

    monkeypatch.setattr(classifier_training, "train_classifier", no_training)
    lines = []
    v2, r2 = classifier_training.get_classifier(small, run2, shared_dir=shared, log=lines.append, **settings)
    assert r2 == r1 and lines == [f"digit classifier: the one trained before on digits28-small, copied from "
                                  f"{shared} to {run2}"]
    for a, b in zip(jax.tree.leaves(v1), jax.tree.leaves(v2), strict=True):
        assert np.array_equal(a, b)
    for name in (f"{key}.json", f"{key}.npz"):  # the run keeps its own copy
        assert (run2 / name).read_bytes() == (shared / name).read_bytes()
    # other settings: neither cache is used
    with pytest.raises(AssertionError, match="shared classifier"):
        classifier_training.get_classifier(small, tmp_path / "run3", shared_dir=shared, log=None,
                                           **{**settings, "epochs": 2})


def test_a_shared_cache_that_cannot_be_written_is_a_warning(tmp_path, digits28):
    small = ImageDataset(digits28.images[:200], digits28.labels[:200], 10, "digits28-smaller")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the shared folder would be")
    run = tmp_path / "run" / "classifier"
    with pytest.warns(UserWarning, match=f"the digit classifier is cached in {run} only: "):
        classifier_training.get_classifier(small, run, shared_dir=blocker / "shared", log=None,
                                           **{**TINY, "epochs": 1})
    assert len(list(run.iterdir())) == 2


def test_get_classifier_errors(tmp_path, digits28):
    unlabelled = ImageDataset(digits28.images[:10], None, None, "nolabels")
    with pytest.raises(ValueError, match="labels"):
        classifier_training.get_classifier(unlabelled, tmp_path, log=None)
    with pytest.raises(ValueError, match="unknown classifier settings"):
        classifier_training.get_classifier(digits28, tmp_path, log=None, epoch=3)


def test_get_classifier_names_what_it_trains_in_its_lines(tmp_path, digits28):
    """The translation families' domain classifier goes through the same cache; its lines say "domain classifier"."""
    small = ImageDataset(digits28.images[:200], digits28.labels[:200] % 2, 2, "two-domains")
    lines = []
    classifier_training.get_classifier(small, tmp_path, log=lines.append, what="domain classifier",
                                       **{**TINY, "epochs": 1})
    assert lines[0].startswith("training the domain classifier on two-domains (200 images, 15 % held out)")
    assert lines[-1].startswith("domain classifier: held-out accuracy ")
    assert not any("digit" in line for line in lines)
    unlabelled = ImageDataset(digits28.images[:10], None, None, "nolabels")
    with pytest.raises(ValueError, match="^the domain classifier trains on labelled images"):
        classifier_training.get_classifier(unlabelled, tmp_path, log=None, what="domain classifier")
