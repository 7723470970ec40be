"""Translation data (jaxgan/data/translation.py): each transform against plain numpy on small arrays, the spec
parser and its errors, and the splits: the digit classifier's held-out rows, disjoint domains, determinism."""

import numpy as np
import pytest

from jaxgan.data import translation as tr
from jaxgan.metrics.classifier_training import TRAIN_DEFAULTS, split_indices

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, size=(3, 9, 11, 2)).astype(np.float32)


def _windows(x):
    """The 9 shifted copies of ``x`` under a 3x3 window, border pixels repeated: ``[9, n, h, w, c]``."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = x.shape[1:3]
    return np.stack([p[:, i : i + h, j : j + w] for i in range(3) for j in range(3)])


def _rotate_ccw(x, degrees):
    """Bilinear inverse mapping about the centre, outside = -1: the rotation written out in numpy."""
    t = np.deg2rad(degrees)
    n, h, w, c = x.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    rr, cc = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    dy, dx = rr - cy, cc - cx  # row offset (down), column offset (right)
    # the output point (dx, -dy) in x-right / y-up coordinates came from the input point rotated back by t
    sx = dx * np.cos(t) - dy * np.sin(t)
    sy = dx * np.sin(t) + dy * np.cos(t)
    src_r, src_c = sy + cy + 2, sx + cx + 2  # in a copy padded by 2 with the background
    p = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1.0)
    r0, c0 = np.floor(src_r).astype(int), np.floor(src_c).astype(int)
    fr, fc = (src_r - r0)[None, :, :, None], (src_c - c0)[None, :, :, None]

    def at(r, cidx):
        ok = (r >= 0) & (r < h + 4) & (cidx >= 0) & (cidx < w + 4)
        v = p[:, np.clip(r, 0, h + 3), np.clip(cidx, 0, w + 3)]
        return np.where(ok[None, :, :, None], v, -1.0)

    return (
        (1 - fr) * (1 - fc) * at(r0, c0)
        + (1 - fr) * fc * at(r0, c0 + 1)
        + fr * (1 - fc) * at(r0 + 1, c0)
        + fr * fc * at(r0 + 1, c0 + 1)
    )


# ------------------------------------------------------------------------------------------------- transforms


def test_identity_thick_thin_edges_equal_their_numpy_windows():
    win = _windows(X)
    np.testing.assert_array_equal(tr.apply_transform("identity", X), X)
    np.testing.assert_array_equal(tr.apply_transform("plain", X), X)
    np.testing.assert_array_equal(tr.thick(X), win.max(0))
    np.testing.assert_array_equal(tr.thin(X), win.min(0))
    np.testing.assert_allclose(tr.edges(X), win.max(0) - win.min(0) - 1.0, atol=1e-6)
    for name in tr.TRANSFORMS:
        out = tr.apply_transform(name, X)
        assert out.shape == X.shape and out.dtype == np.float32
        assert out.min() >= -1.0 and out.max() <= 1.0


def test_edges_of_a_flat_image_are_background_and_a_step_is_bright():
    x = -np.ones((1, 6, 6, 1), np.float32)
    np.testing.assert_array_equal(tr.edges(x), -1.0)
    x[:, :, 3:] = 1.0
    out = tr.edges(x)[0, :, :, 0]
    np.testing.assert_array_equal(out[:, 2:4], 1.0)  # the two columns beside the step
    np.testing.assert_array_equal(out[:, [0, 1, 4, 5]], -1.0)


def test_rot30_is_the_numpy_bilinear_rotation_counter_clockwise():
    np.testing.assert_allclose(tr.rot30(X), np.clip(_rotate_ccw(X, 30.0), -1, 1), atol=1e-5)
    x = -np.ones((1, 9, 9, 1), np.float32)
    x[0, 1, 4, 0] = 1.0  # three rows above the centre
    out = tr.rot30(x)[0, :, :, 0]
    r, c = np.unravel_index(np.argmax(out), out.shape)
    assert r < 4 and c < 4  # moved up-left: counter-clockwise as displayed


@pytest.mark.parametrize("side,runs", [(28, [7] * 4), (32, [8] * 4), (10, [3, 3, 2, 2])])
def test_down4_is_the_mean_of_each_cell_of_a_4x4_grid(side, runs):
    x = RNG.uniform(-1, 1, size=(2, side, side, 1)).astype(np.float32)
    out = tr.down4(x)
    edges = np.concatenate([[0], np.cumsum(runs)])
    for i in range(4):
        for j in range(4):
            cell = (slice(None), slice(edges[i], edges[i + 1]), slice(edges[j], edges[j + 1]))
            want = x[cell].mean(axis=(1, 2), keepdims=True)
            np.testing.assert_allclose(out[cell], np.broadcast_to(want, out[cell].shape), atol=1e-6)


def test_mask_bottom_blanks_rows_from_half_the_height():
    out = tr.mask_bottom(X)  # h = 9: rows 4..8
    np.testing.assert_array_equal(out[:, :4], X[:, :4])
    np.testing.assert_array_equal(out[:, 4:], -1.0)


def test_unknown_transform_and_bad_shapes_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown image transform 'blur'.*identity, edges, thick, thin, rot30"):
        tr.apply_transform("blur", X)
    with pytest.raises(ValueError, match=r"\[n, h, w, c\]"):
        tr.apply_transform("thick", X[0])


# --------------------------------------------------------------------------------------------------- spec parser


def test_specs_parse_with_sources_that_contain_colons():
    assert tr.parse_spec("paired:mnist:edges->identity") == tr.TranslationSpec("paired", "mnist", ("edges", "identity"))
    assert tr.parse_spec("unpaired:npz:/d/x.npz:plain->thick") == tr.TranslationSpec(
        "unpaired", "npz:/d/x.npz", ("identity", "thick")
    )
    assert tr.parse_spec("domains:idx:/m:plain, thick,thin,rot30") == tr.TranslationSpec(
        "domains", "idx:/m", ("identity", "thick", "thin", "rot30")
    )


@pytest.mark.parametrize(
    "spec,message",
    [
        ("mnist", "expected 'paired:<source>:<a>-><b>'"),
        ("pairs:mnist:a->b", "expected 'paired"),
        ("paired:edges->identity", "expected 'paired"),
        ("paired:mnist:edges", "needs '<a>-><b>'"),
        ("paired:mnist:edges->thick->thin", "needs '<a>-><b>'"),
        ("domains:mnist:thick", "two or more"),
        ("domains:mnist:thick,,thin", "two or more"),
        ("paired:mnist:edges->swirl", "unknown image transform 'swirl'; valid transforms: identity"),
        ("domains:mnist:plain,identity", "not all different"),
    ],
)
def test_bad_specs_are_refused_with_one_line(spec, message):
    with pytest.raises(ValueError, match=message):
        tr.parse_spec(spec)


# ------------------------------------------------------------------------------------------------------- splits


N = 60
IMAGES = RNG.uniform(-1, 1, size=(N, 8, 8, 1)).astype(np.float32)
ROW = np.arange(N)  # "labels" that name each source row, to follow rows through the split


def _held():
    return split_indices(N, TRAIN_DEFAULTS["holdout"], TRAIN_DEFAULTS["seed"])


def test_the_held_out_rows_are_the_digit_classifiers():
    assert len(tr.holdout_split(10_000)[1]) == 1500
    for a, b in zip(tr.holdout_split(10_000), split_indices(10_000, 0.15, 0)):
        np.testing.assert_array_equal(a, b)
    train, held = _held()
    for spec in ("paired:s:edges->identity", "unpaired:s:plain->thick", "domains:s:plain,thick,rot30"):
        d = tr.make_translation(spec, IMAGES, ROW)
        np.testing.assert_array_equal(d.test_labels, held)
        test = d.test_x if isinstance(d, tr.DomainData) else np.stack([d.test_a, d.test_b])
        for k, name in enumerate(d.transforms):
            np.testing.assert_array_equal(test[k], tr.apply_transform(name, IMAGES[held]))


def test_paired_rows_are_the_same_images_in_both_domains():
    d = tr.make_translation("paired:s:down4->identity", IMAGES, ROW)
    train, held = _held()
    assert d.paired and d.transforms == ("down4", "identity")
    np.testing.assert_array_equal(d.train_labels_a, train)
    np.testing.assert_array_equal(d.train_b, IMAGES[train])
    np.testing.assert_array_equal(d.train_a, tr.down4(IMAGES[train]))
    assert set(d.arrays()) == {"a", "b"}


def test_unpaired_domains_share_no_image_and_miss_no_training_row():
    d = tr.make_translation("unpaired:s:plain->thick", IMAGES, ROW)
    train, held = _held()
    a, b = set(d.train_labels_a), set(d.train_labels_b)
    assert not d.paired and len(a) == len(b) == len(train) // 2
    assert not a & b and not (a | b) & set(held)
    assert len(a | b) == 2 * (len(train) // 2) >= len(train) - 1
    np.testing.assert_array_equal(d.train_a, IMAGES[d.train_labels_a])
    np.testing.assert_array_equal(d.train_b, tr.thick(IMAGES[d.train_labels_b]))


def test_domains_cut_the_training_rows_into_disjoint_labelled_runs():
    d = tr.make_translation("domains:s:plain,thick,thin,rot30", IMAGES, ROW)
    train, held = _held()
    assert d.num_domains == 4 and d.test_x.shape == (4, len(held), 8, 8, 1)
    np.testing.assert_array_equal(np.sort(d.train_labels), np.sort(train))  # each training row exactly once
    counts = np.bincount(d.train_domain, minlength=4)
    assert counts.max() - counts.min() <= 1 and counts.sum() == len(train)
    for j, name in enumerate(d.transforms):
        rows = d.train_labels[d.train_domain == j]
        np.testing.assert_array_equal(d.train_x[d.train_domain == j], tr.apply_transform(name, IMAGES[rows]))
    assert set(d.arrays()) == {"x", "domain"} and d.arrays()["domain"].dtype == np.int32


def test_load_translation_reads_any_source_and_is_deterministic(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=((IMAGES + 1) * 127.5).astype(np.uint8), labels=ROW % 10)
    one = tr.load_translation(f"unpaired:npz:{path}:thin->edges")
    two = tr.load_translation(f"unpaired:npz:{path}:thin->edges")
    for f in ("train_a", "train_b", "test_a", "test_b", "train_labels_a", "test_labels"):
        np.testing.assert_array_equal(getattr(one, f), getattr(two, f))
    assert one.train_a.shape == (len(_held()[0]) // 2, 8, 8, 1) and one.name == f"unpaired:npz:{path}:thin->edges"
    assert tr.load_translation(f"domains:npz:{path}:plain,down4", size=12).train_x.shape[1:] == (12, 12, 1)
