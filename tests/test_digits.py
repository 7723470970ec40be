"""Tests for jaxgan.metrics.digits (and jaxgan.metrics.classifier): the scores on hand-made predictions, a trained
classifier's figures, a generator scored."""

import math

import numpy as np
import pytest
from _numpy_init import numpy_sampling_state

from jaxgan.data.images import load_dataset
from jaxgan.metrics import classifier, classifier_training, digits

TINY = {"epochs": 3, "widths": (8, 16), "hidden": 32, "batch_size": 64, "learning_rate": 3e-3}


@pytest.fixture(scope="module")
def digits28():
    return load_dataset("digits", size=28)


@pytest.fixture(scope="module")
def trained(digits28):
    """A small classifier trained on scikit-learn's digits at 28x28 (about 1.5k training images)."""
    return classifier_training.train_classifier(digits28.images, digits28.labels, **TINY)


def _one_hot_probs(classes, confidence, num_classes=10):
    """Rows with ``confidence`` on ``classes[i]`` and the rest spread evenly."""
    classes = np.asarray(classes)
    p = np.full((len(classes), num_classes), 0.0)
    p += ((1.0 - np.asarray(confidence, float)) / (num_classes - 1))[:, None]
    p[np.arange(len(classes)), classes] = confidence
    return p


def test_score_probs_uniform_histogram_and_confidence():
    classes = np.arange(100) % 10
    confidence = np.where(np.arange(100) < 70, 0.95, 0.5)  # 70 above 0.9, 30 below
    out = digits.score_probs(_one_hot_probs(classes, confidence))
    assert out["confident"] == pytest.approx(0.7)
    assert out["class_entropy"] == pytest.approx(math.log(10), rel=1e-12)
    assert out["class_entropy_ratio"] == pytest.approx(1.0, rel=1e-12)
    assert out["class_histogram"] == pytest.approx([0.1] * 10)
    assert out["num_samples"] == 100
    assert "conditional_accuracy" not in out


def test_score_probs_one_class_and_exact_threshold():
    p = _one_hot_probs(np.full(20, 3), np.full(20, 0.9))  # exactly 0.9 is not "above 0.9"
    out = digits.score_probs(p)
    assert out["confident"] == 0.0
    assert out["class_entropy"] == 0.0
    assert out["class_entropy_ratio"] == 0.0
    assert math.copysign(1.0, out["class_entropy_ratio"]) == 1.0  # printed as 0.0000, not -0.0000
    assert out["class_histogram"][3] == 1.0


def test_score_probs_two_classes_entropy_and_conditional_accuracy():
    predicted = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    requested = np.array([0, 0, 1, 1, 1, 0, 0, 1])  # 6 of 8 agree
    out = digits.score_probs(_one_hot_probs(predicted, np.full(8, 0.99)), requested_labels=requested)
    assert out["class_entropy"] == pytest.approx(math.log(2))
    assert out["class_entropy_ratio"] == pytest.approx(math.log(2) / math.log(10))
    assert out["conditional_accuracy"] == pytest.approx(0.75)
    assert out["confident"] == 1.0


def test_score_probs_rejects_bad_shapes():
    with pytest.raises(ValueError, match="probs"):
        digits.score_probs(np.ones(10))
    with pytest.raises(ValueError, match="requested_labels"):
        digits.score_probs(_one_hot_probs([0, 1], np.full(2, 0.99)), requested_labels=[0, 1, 2])


def test_classifier_learns_sklearn_digits(trained, digits28):
    variables, report = trained
    assert report["num_holdout"] == round(0.15 * len(digits28.labels))
    assert report["accuracy"] > 0.9, report
    assert 0.0 <= report["confident"] <= 1.0
    assert report["settings"]["epochs"] == TINY["epochs"]

    # score_images on the held-out real digits agrees with the report
    _, hold = classifier_training.split_indices(len(digits28.labels), 0.15, seed=0)
    scores = digits.score_images(variables, digits28.images[hold], requested_labels=digits28.labels[hold])
    assert scores["conditional_accuracy"] == pytest.approx(report["accuracy"])
    assert scores["confident"] == pytest.approx(report["confident"])
    assert scores["class_entropy_ratio"] > 0.95  # held-out real digits cover all ten classes

    feats = classifier.digit_features(variables, digits28.images[:7])
    assert feats.shape == (7, TINY["hidden"])
    assert np.all(feats >= 0)  # after the ReLU
    probs = classifier.predict_proba(variables, digits28.images[:7])
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    # the features -> logits head equals the model's own eval-mode forward pass
    module = classifier.classifier_module(variables)
    assert (module.widths, module.hidden, module.num_classes) == (TINY["widths"], TINY["hidden"], 10)
    _, logits = classifier.features_and_logits(variables, digits28.images[:7])
    np.testing.assert_allclose(logits, module.apply(variables, digits28.images[:7], train=False), rtol=1e-5, atol=1e-5)


def test_score_generator_conditional(tmp_path, monkeypatch, trained):
    from jaxgan.metrics import classifier_training
    from jaxgan.run import experiment, vision
    from jaxgan.run.config import Config

    config = Config(
        data="digits",
        image_size=28,
        model="dcgan",
        conditional=True,
        latent_dim=8,
        batch_size=16,
        model_kwargs={"generator": {"base_features": 4}, "discriminator": {"base_features": 4}},
    )
    exp = experiment.build(config)
    state = numpy_sampling_state(exp)
    calls = []
    monkeypatch.setattr(classifier_training, "get_classifier",
                        lambda ds, cache_dir, **kw: calls.append(cache_dir) or trained)
    out = vision.score_generator(exp, state, tmp_path, n=25)
    assert calls == [tmp_path / "classifier"]
    assert out["num_samples"] == 30  # 25 rounded up to an equal count per class
    assert 0.0 <= out["conditional_accuracy"] <= 1.0
    assert out["classifier_real_accuracy"] == trained[1]["accuracy"]
    assert out["classifier_real_confident"] == trained[1]["confident"]
    assert sum(out["class_histogram"]) == pytest.approx(1.0)
    assert np.array_equal(digits.balanced_labels(25, 10), np.arange(30) % 10)
