"""Tests for jaxgan.metrics.modes on hand-made sample sets with known answers."""

import math

import jax
import numpy as np
import pytest

from jaxgan.data import toy
from jaxgan.metrics.modes import mode_collapse_stats

RING = toy.ring()
GRID = toy.grid()


def test_all_samples_at_one_mode():
    samples = np.repeat(RING.means[3:4], 100, axis=0)
    s = mode_collapse_stats(samples, RING.means, RING.std)
    assert s["modes"] == 1
    assert s["high_quality"] == 1.0
    assert s["reverse_kl"] == pytest.approx(math.log(8))
    assert s["counts"] == [0, 0, 0, 100, 0, 0, 0, 0]


def test_evenly_spread_samples():
    samples = np.tile(RING.means, (5, 1))
    s = mode_collapse_stats(samples, RING.means, 0.01)  # scalar std works too
    assert (s["modes"], s["high_quality"], s["counts"]) == (8, 1.0, [5] * 8)
    assert s["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_three_sigma_threshold():
    sigma = 0.01
    inside = RING.means[0] + np.array([2.9 * sigma, 0.0])
    outside = RING.means[0] + np.array([3.1 * sigma, 0.0])
    s = mode_collapse_stats(np.stack([inside, inside, inside, outside]), RING.means, RING.std)
    assert s["high_quality"] == pytest.approx(0.75)
    assert s["counts"] == [3, 0, 0, 0, 0, 0, 0, 0]
    assert s["modes"] == 1
    s = mode_collapse_stats(outside[None], RING.means, RING.std, threshold=3.2)
    assert s["high_quality"] == 1.0


def test_mixture_counts_and_reverse_kl_on_the_grid():
    a, b = 6, 18  # modes (-4, 0) and (0, 0)
    samples = np.concatenate(
        [
            np.repeat(GRID.means[a : a + 1], 10, axis=0),
            np.repeat(GRID.means[b : b + 1] + 0.05, 30, axis=0),  # 0.05 * sqrt(2) = 1.41 σ away: high quality
            np.full((20, 2), 1.0),  # between four modes, 28 σ from each: low quality
        ]
    )
    s = mode_collapse_stats(samples, GRID.means, GRID.std)
    expected_counts = [0] * 25
    expected_counts[a], expected_counts[b] = 10, 30
    assert s["counts"] == expected_counts
    assert s["modes"] == 2
    assert s["high_quality"] == pytest.approx(40 / 60)
    assert s["reverse_kl"] == pytest.approx(0.25 * math.log(0.25 * 25) + 0.75 * math.log(0.75 * 25))


def test_nearest_mode_is_measured_in_units_of_each_modes_sigma():
    means = np.array([[0.0], [1.0]])
    std = np.array([0.1, 1.0])
    # 0.4 is Euclidean-nearer to mode 0 but 4 σ from it and 0.6 σ from mode 1.
    s = mode_collapse_stats(np.array([[0.4]]), means, std)
    assert s["counts"] == [0, 1]
    assert s["reverse_kl"] == pytest.approx(math.log(2))


def test_no_high_quality_sample():
    s = mode_collapse_stats(np.full((7, 2), 10.0), RING.means, RING.std)
    assert (s["modes"], s["high_quality"], s["counts"]) == (0, 0.0, [0] * 8)
    assert s["reverse_kl"] == math.inf


def test_samples_from_the_true_distribution_score_well():
    samples = np.asarray(RING.sample(jax.random.PRNGKey(0), 2500))
    s = mode_collapse_stats(samples, RING.means, RING.std)
    assert s["modes"] == 8
    assert s["high_quality"] > 0.98  # P(chi_2 < 3) = 1 - exp(-4.5) = 0.989
    assert s["reverse_kl"] < 0.01


def test_chunked_distances_match_for_many_samples():
    rng = np.random.default_rng(0)
    samples = GRID.means[rng.integers(0, 25, 20000)] + rng.normal(0, 0.05, (20000, 2))
    s = mode_collapse_stats(samples, GRID.means, GRID.std)
    j = np.linalg.norm(samples[:, None] - GRID.means[None], axis=-1).argmin(1)
    good = np.linalg.norm(samples - GRID.means[j], axis=-1) < 0.15
    assert s["counts"] == np.bincount(j[good], minlength=25).tolist()


def test_input_validation():
    with pytest.raises(ValueError, match="samples must be"):
        mode_collapse_stats(np.zeros((3, 3)), RING.means, RING.std)
    with pytest.raises(ValueError, match="samples must be"):
        mode_collapse_stats(np.zeros((0, 2)), RING.means, RING.std)
    with pytest.raises(ValueError, match="std must be positive"):
        mode_collapse_stats(np.zeros((3, 2)), RING.means, 0.0)
    with pytest.raises(ValueError, match="means must be"):
        mode_collapse_stats(np.zeros((3, 2)), np.zeros(2), 1.0)
