"""Tests for jaxgan.data.pipeline: batches as a pure function of (seed, step)."""

from __future__ import annotations

import numpy as np
import pytest

from jaxgan.data.pipeline import Batcher


def _arrays(n: int = 12) -> dict[str, np.ndarray]:
    # Row i of "x" holds the value i everywhere, so a batch's rows name the examples they came from.
    x = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 2, 2, 1)).copy()
    return {"x": x, "label": (np.arange(n) % 3).astype(np.int32)}


def _ids(batch: dict[str, np.ndarray]) -> np.ndarray:
    return batch["x"][..., 0, 0, 0].astype(np.int64)


@pytest.mark.parametrize("drop_remainder", [True, False])
def test_same_seed_and_step_give_same_batch_even_in_a_new_batcher(drop_remainder):
    a = Batcher(_arrays(), 4, seed=7, drop_remainder=drop_remainder)
    b = Batcher(_arrays(), 4, seed=7, drop_remainder=drop_remainder)
    for step in (0, 5, 2, 5, 1000):  # any order: no hidden iterator state
        np.testing.assert_array_equal(a.batch(step)["x"], b.batch(step)["x"])
        np.testing.assert_array_equal(a.batch(step)["label"], b.batch(step)["label"])


def test_batch_shapes_keys_and_rows_stay_paired():
    arrays = _arrays()
    batch = Batcher(arrays, 4, seed=0).batch(3)
    assert set(batch) == {"x", "label"}
    assert batch["x"].shape == (4, 2, 2, 1) and batch["x"].dtype == np.float32
    assert batch["label"].shape == (4,) and batch["label"].dtype == np.int32
    np.testing.assert_array_equal(batch["label"], arrays["label"][_ids(batch)])
    unlabelled = Batcher({"x": arrays["x"]}, 4, seed=0).batch(3)
    assert set(unlabelled) == {"x"}


def test_different_seeds_and_epochs_give_different_orders():
    a, b = Batcher(_arrays(100), 10, seed=0), Batcher(_arrays(100), 10, seed=1)
    assert not np.array_equal(_ids(a.batch(0)), _ids(b.batch(0)))
    assert not np.array_equal(a.permutation(0), a.permutation(1))
    np.testing.assert_array_equal(a.permutation(3), np.random.default_rng([0, 3]).permutation(100))


def test_drop_remainder_epoch_is_a_permutation_prefix():
    # N = 12, B = 4: 3 batches per epoch, every example exactly once per epoch.
    batcher = Batcher(_arrays(12), 4, seed=3)
    assert batcher.steps_per_epoch == 3
    for epoch in range(3):
        ids = np.concatenate([_ids(batcher.batch(3 * epoch + i)) for i in range(3)])
        np.testing.assert_array_equal(np.sort(ids), np.arange(12))
        np.testing.assert_array_equal(ids, batcher.permutation(epoch))
        assert batcher.epoch(3 * epoch + 2) == epoch
    # N = 10, B = 4: 2 batches per epoch, 8 distinct examples, the 2 dropped ones end the permutation.
    batcher = Batcher(_arrays(10), 4, seed=3)
    ids = np.concatenate([_ids(batcher.batch(0)), _ids(batcher.batch(1))])
    assert len(set(ids.tolist())) == 8
    np.testing.assert_array_equal(ids, batcher.permutation(0)[:8])
    np.testing.assert_array_equal(_ids(batcher.batch(2)), batcher.permutation(1)[:4])


def test_stream_mode_crosses_epochs_and_drops_nothing():
    # N = 10, B = 4, drop_remainder=False: 5 steps = rows 0..19 = epochs 0 and 1 back to back.
    batcher = Batcher(_arrays(10), 4, seed=5, drop_remainder=False)
    ids = np.concatenate([_ids(batcher.batch(step)) for step in range(5)])
    np.testing.assert_array_equal(ids[:10], batcher.permutation(0))
    np.testing.assert_array_equal(ids[10:], batcher.permutation(1))
    assert [batcher.epoch(step) for step in range(5)] == [0, 0, 0, 1, 1]  # epoch of the first row
    assert batcher.steps_per_epoch == 2.5
    # A batch larger than the data set spans several epochs.
    big = Batcher(_arrays(3), 7, seed=0, drop_remainder=False)
    ids = _ids(big.batch(0))
    np.testing.assert_array_equal(ids[:6], np.concatenate([big.permutation(0), big.permutation(1)]))


@pytest.mark.parametrize("drop_remainder", [True, False])
@pytest.mark.parametrize("process_count", [2, 4])
def test_process_shards_concatenate_to_the_global_batch(process_count, drop_remainder):
    arrays = _arrays(20)
    single = Batcher(arrays, 8, seed=11, drop_remainder=drop_remainder)
    shards = [
        Batcher(
            arrays,
            8,
            seed=11,
            drop_remainder=drop_remainder,
            process_index=p,
            process_count=process_count,
        )
        for p in range(process_count)
    ]
    for step in (0, 1, 2, 7):
        parts = [s.batch(step) for s in shards]
        assert all(part["x"].shape[0] == 8 // process_count for part in parts)
        for key in ("x", "label"):
            np.testing.assert_array_equal(
                np.concatenate([part[key] for part in parts]), single.batch(step)[key]
            )
        np.testing.assert_array_equal(shards[1].global_indices(step), single.global_indices(step))


@pytest.mark.parametrize("drop_remainder", [True, False])
def test_stacked_equals_consecutive_batches(drop_remainder):
    batcher = Batcher(_arrays(10), 4, seed=2, drop_remainder=drop_remainder, process_index=1, process_count=2)
    stacked = batcher.stacked(1, 5)  # crosses epoch boundaries in both modes
    assert stacked["x"].shape == (5, 2, 2, 2, 1) and stacked["label"].shape == (5, 2)
    for i in range(5):
        for key in ("x", "label"):
            np.testing.assert_array_equal(stacked[key][i], batcher.batch(1 + i)[key])


def test_position_and_restore_round_trip():
    batcher = Batcher(_arrays(10), 4, seed=9)
    position = batcher.position(7)
    assert position == {
        "step": 7,
        "epoch": 3,
        "seed": 9,
        "num_examples": 10,
        "batch_size": 4,
        "drop_remainder": 1,
    }
    resumed = Batcher(_arrays(10), 4, seed=9, process_index=1, process_count=2)  # fewer rows, same order
    step = resumed.restore({k: np.asarray(v) for k, v in position.items()})  # as a checkpoint returns it
    assert step == 7
    np.testing.assert_array_equal(resumed.batch(step)["x"], batcher.batch(7)["x"][2:])
    with pytest.raises(ValueError, match=r"seed saved 9 != now 1"):
        Batcher(_arrays(10), 4, seed=1).restore(position)
    with pytest.raises(ValueError, match=r"num_examples saved 10 != now 12"):
        Batcher(_arrays(12), 4, seed=9).restore(position)
    with pytest.raises(ValueError, match="no 'step'"):
        batcher.restore({"seed": 9})


def test_errors_state_the_numbers():
    arrays = _arrays(10)
    with pytest.raises(ValueError, match=r"batch_size 6 is not divisible by process_count 4"):
        Batcher(arrays, 6, seed=0, process_count=4)
    with pytest.raises(ValueError, match=r"process_index < process_count, got 2 and 2"):
        Batcher(arrays, 4, seed=0, process_index=2, process_count=2)
    with pytest.raises(ValueError, match=r"batch_size 11 exceeds the 10 examples"):
        Batcher(arrays, 11, seed=0)
    with pytest.raises(ValueError, match=r"leading dimension.*'x': 10.*'label': 9"):
        Batcher({"x": arrays["x"], "label": arrays["label"][:9]}, 4, seed=0)
    with pytest.raises(ValueError, match="empty dict"):
        Batcher({}, 4, seed=0)
    with pytest.raises(ValueError, match="0 examples"):
        Batcher({"x": arrays["x"][:0]}, 4, seed=0)
    with pytest.raises(ValueError, match="batch_size must be positive"):
        Batcher(arrays, 0, seed=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        Batcher(arrays, 4, seed=-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        Batcher(arrays, 4, seed=1.5)
    batcher = Batcher(arrays, 4, seed=0)
    with pytest.raises(ValueError, match="step must be >= 0"):
        batcher.batch(-1)
    with pytest.raises(ValueError, match="k >= 1"):
        batcher.stacked(0, 0)
    assert batcher.batch(np.int64(3))["x"].shape == (4, 2, 2, 1)  # numpy / jax integer steps are fine
