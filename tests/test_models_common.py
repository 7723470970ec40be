"""The model families' shared helpers (jaxgan/models/common.py) against numpy."""

import numpy as np
import pytest

from jaxgan.models import common


def test_upsample_nearest_repeats_each_pixel_and_avg_pool2_is_the_2x2_block_mean():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    up = np.asarray(common.upsample_nearest(x))
    assert up.shape == (2, 6, 8, 5)
    for i in range(6):
        for j in range(8):
            np.testing.assert_array_equal(up[:, i, j], x[:, i // 2, j // 2])
    np.testing.assert_array_equal(np.asarray(common.upsample_nearest(x, 3))[:, ::3, ::3], x)
    np.testing.assert_array_equal(np.asarray(common.avg_pool2(up)), x)  # each 2x2 block holds one value
    y = np.random.default_rng(0).normal(size=(1, 4, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(common.avg_pool2(y)), y.reshape(1, 2, 2, 3, 2, 2).mean(axis=(2, 4)),
                               rtol=1e-6)


def test_geometry_and_label_checks_name_the_model():
    table = {28: (7, 2), 32: (4, 3)}
    assert common.geometry(table, 32, "DCGAN") == (4, 3)
    with pytest.raises(ValueError, match=r"^DCGAN resolution must be one of \[28, 32\], got 64$"):
        common.geometry(table, 64, "DCGAN")
    common.check_labels(None, None, "G")
    common.check_labels(np.zeros(2, np.int32), 10, "G")
    with pytest.raises(ValueError, match="^G was built with num_classes=10 and needs labels$"):
        common.check_labels(None, 10, "G")
