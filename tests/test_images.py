"""Tests for jaxgan.data.images: every reader on small files the tests write, plus the real MNIST test set."""

from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jaxgan.data import images as images_lib
from jaxgan.data.images import (
    ImageDataset,
    default_mnist_dir,
    load_arrays,
    load_dataset,
    load_digits,
    load_idx,
    load_image_folder,
    read_idx,
    resize_images,
    write_idx,
)

MNIST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _check_dataset(ds: ImageDataset, shape, num_classes=None):
    assert ds.images.shape == shape and ds.images.dtype == np.float32
    assert ds.images.min() >= -1.0 and ds.images.max() <= 1.0
    assert ds.num_classes == num_classes
    if num_classes is None:
        assert ds.labels is None and set(ds.arrays()) == {"x"}
    else:
        assert ds.labels.shape == shape[:1] and ds.labels.dtype == np.int32
        assert 0 <= ds.labels.min() and ds.labels.max() < num_classes
        assert set(ds.arrays()) == {"x", "label"}


# ------------------------------------------------------------------------------------------------ digits


def test_load_digits_as_is_and_resized():
    ds = load_digits()
    _check_dataset(ds, (1797, 8, 8, 1), num_classes=10)
    assert ds.name == "digits" and ds.images.min() == -1.0 and ds.images.max() == 1.0
    assert np.bincount(ds.labels).sum() == 1797 and np.bincount(ds.labels).min() > 170
    big = load_digits(28)
    _check_dataset(big, (1797, 28, 28, 1), num_classes=10)
    assert big.name == "digits28"
    np.testing.assert_array_equal(big.labels, ds.labels)
    # Bilinear resizing keeps each image's mean brightness.
    np.testing.assert_allclose(big.images.mean(axis=(1, 2, 3)), ds.images.mean(axis=(1, 2, 3)), atol=0.08)


def test_resize_images_center_square_and_constant():
    const = np.full((2, 5, 9, 3), 0.25, np.float32)
    np.testing.assert_allclose(resize_images(const, 4), 0.25, atol=1e-6)
    wide = -np.ones((1, 6, 18, 1), np.float32)
    wide[:, :, 6:12] = 1.0  # the central 6x6 square is white
    out = resize_images(wide, 3)
    assert out.shape == (1, 3, 3, 1)
    np.testing.assert_allclose(out[0, :, 1, 0], 1.0, atol=1e-6)


# ---------------------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == "uint8":
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_mnist_format(tmp_path):
    write_idx(tmp_path / "i", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "l", np.zeros(3, np.uint8))
    assert (tmp_path / "i").read_bytes()[:16] == bytes.fromhex("00000803 00000003 0000001c 0000001c")
    assert (tmp_path / "l").read_bytes()[:8] == bytes.fromhex("00000801 00000003")
    with pytest.raises(ValueError, match="unsupported dtype int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


def _write_mnist(folder: Path, split: str, n: int = 5, suffix: str = ".gz", rows: int = 4) -> np.ndarray:
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(0).integers(0, 256, (n, rows, rows), dtype=np.uint8)
    pixels[0, 0, :2] = [0, 255]
    write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", pixels)
    write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", (np.arange(n) % 3).astype(np.uint8))
    return pixels


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_idx_values_shapes_labels(tmp_path, suffix):
    pixels = _write_mnist(tmp_path / "mnist", "t10k", suffix=suffix)
    ds = load_idx(tmp_path / "mnist", "t10k")
    _check_dataset(ds, (5, 4, 4, 1), num_classes=3)
    assert ds.name == "mnist-t10k"
    assert ds.images[0, 0, 0, 0] == -1.0 and ds.images[0, 0, 1, 0] == 1.0
    np.testing.assert_allclose(ds.images[..., 0], pixels / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(ds.labels, [0, 1, 2, 0, 1])
    _check_dataset(load_idx(tmp_path / "mnist", "t10k", size=6), (5, 6, 6, 1), num_classes=3)


def test_load_idx_split_choice_and_missing_labels(tmp_path):
    _write_mnist(tmp_path / "m", "t10k", n=3)
    _write_mnist(tmp_path / "m", "train", n=7)
    assert load_idx(tmp_path / "m", None).images.shape[0] == 7  # "train" preferred
    _write_mnist(tmp_path / "ab", "a", n=3)
    _write_mnist(tmp_path / "ab", "b", n=3)
    with pytest.raises(ValueError, match=r"several IDX splits \['a', 'b'\]"):
        load_idx(tmp_path / "ab", None)
    (tmp_path / "ab" / "a-labels-idx1-ubyte.gz").unlink()
    _check_dataset(load_idx(tmp_path / "ab", "a"), (3, 4, 4, 1), num_classes=None)
    with pytest.raises(FileNotFoundError, match="no t10k-images-idx3-ubyte"):
        load_idx(tmp_path / "ab", "t10k")
    with pytest.raises(FileNotFoundError, match="IDX folder not found"):
        load_idx(tmp_path / "nowhere")


def test_idx_errors_name_the_file(tmp_path):
    folder = tmp_path / "m"
    _write_mnist(folder, "t10k", suffix="")
    images, labels = folder / "t10k-images-idx3-ubyte", folder / "t10k-labels-idx1-ubyte"
    good_images, good_labels = images.read_bytes(), labels.read_bytes()

    images.write_bytes(good_images[:-3])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: truncated.*80 data bytes, file has 77"):
        load_idx(folder)
    images.write_bytes(good_images + b"xx")
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: trailing bytes"):
        load_idx(folder)
    images.write_bytes(good_labels)  # a labels file where the images should be
    with pytest.raises(
        ValueError, match=r"t10k-images-idx3-ubyte: IDX magic 2049, but an images file needs 2051"
    ):
        load_idx(folder)
    images.write_bytes(b"GIF89a not an idx file")
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: not an IDX file"):
        load_idx(folder)
    images.write_bytes(good_images[:10])
    with pytest.raises(ValueError, match=r"truncated IDX header"):
        load_idx(folder)
    images.write_bytes(good_images)
    write_idx(labels, np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"holds 5 images but .*t10k-labels-idx1-ubyte 4 labels"):
        load_idx(folder)
    labels.write_bytes(good_images)
    with pytest.raises(
        ValueError, match=r"t10k-labels-idx1-ubyte: IDX magic 2051, but a labels file needs 2049"
    ):
        load_idx(folder)
    with pytest.raises(FileNotFoundError, match="IDX file not found"):
        read_idx(folder / "absent.gz")


def test_corrupt_gzip_names_the_file(tmp_path):
    folder = tmp_path / "m"
    _write_mnist(folder, "t10k")
    images = folder / "t10k-images-idx3-ubyte.gz"
    gz = images.read_bytes()
    images.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: cannot read \(EOFError"):
        load_idx(folder)
    images.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: cannot read \(BadGzipFile"):
        load_idx(folder)


# ------------------------------------------------------------------------------------------ image folders


def _save(path: Path, array: np.ndarray, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def _solid(height: int, width: int, rgb) -> np.ndarray:
    return np.broadcast_to(np.asarray(rgb, np.uint8), (height, width, 3)).copy()


def test_load_image_folder_classes_png_jpeg_and_crop(tmp_path):
    root = tmp_path / "pets"
    _save(root / "cat" / "a.png", _solid(10, 20, (255, 255, 255)))
    _save(root / "cat" / "b.PNG", _solid(30, 12, (0, 0, 0)))
    _save(root / "dog" / "c.jpg", _solid(16, 16, (255, 0, 0)), quality=95)
    _save(root / "dog" / "nested" / "d.jpeg", _solid(9, 9, (0, 0, 255)), quality=95)
    wide = np.concatenate([_solid(20, 20, c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]], axis=1)
    _save(root / "dog" / "e.png", wide)  # 60 wide, 20 high: the central square is green
    _save(root / "dog" / ".hidden" / "f.png", _solid(5, 5, (1, 2, 3)))
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "empty").mkdir()

    ds = load_image_folder(root, 8)
    _check_dataset(ds, (5, 8, 8, 3), num_classes=2)
    assert ds.name == "pets"
    np.testing.assert_array_equal(ds.labels, [0, 0, 1, 1, 1])  # cat/a, cat/b, dog/c, dog/e, dog/nested/d
    np.testing.assert_array_equal(ds.images[0], 1.0)
    np.testing.assert_array_equal(ds.images[1], -1.0)
    np.testing.assert_allclose(ds.images[2], np.broadcast_to([1.0, -1.0, -1.0], (8, 8, 3)), atol=0.05)
    np.testing.assert_allclose(ds.images[4], np.broadcast_to([-1.0, -1.0, 1.0], (8, 8, 3)), atol=0.05)
    np.testing.assert_array_equal(ds.images[3, 2:6, 2:6], np.broadcast_to([-1.0, 1.0, -1.0], (4, 4, 3)))
    assert ds.images[3, ..., 1].mean() > 0.8  # almost no red or blue from the cropped sides

    gray = load_image_folder(root, 4, channels=1)
    _check_dataset(gray, (5, 4, 4, 1), num_classes=2)
    assert gray.images[0].min() == 1.0 and gray.images[1].max() == -1.0


def test_load_image_folder_flat_and_native_size(tmp_path):
    _save(tmp_path / "flat" / "x.png", _solid(6, 6, (255, 255, 255)))
    _save(tmp_path / "flat" / "y.png", np.zeros((6, 6), np.uint8))  # grayscale becomes RGB
    Image.fromarray(_solid(6, 6, (0, 255, 0))).convert("P").save(tmp_path / "flat" / "z.png")  # palette
    ds = load_image_folder(tmp_path / "flat", None)
    _check_dataset(ds, (3, 6, 6, 3), num_classes=None)
    np.testing.assert_array_equal(ds.images[1], -1.0)
    np.testing.assert_array_equal(ds.images[2], np.broadcast_to([-1.0, 1.0, -1.0], (6, 6, 3)))
    _save(tmp_path / "flat" / "zz.png", _solid(7, 6, (0, 0, 0)))  # 6 wide, 7 high
    with pytest.raises(ValueError, match=r"zz.png: wrong size 6x7, expected 6x6"):
        load_image_folder(tmp_path / "flat", None)


def _bad_folder(root: Path) -> Path:
    for i in range(3):
        _save(root / f"good{i}.png", _solid(8, 8, (10 * i, 0, 0)))
    (root / "random.png").write_bytes(os.urandom(64))
    good = (root / "good0.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 2])
    _save(root / "sixteen.png", np.full((8, 8), 1000, np.uint16))  # 16-bit grayscale: mode I;16
    return root


@pytest.mark.parametrize(
    "name, message",
    [
        ("random.png", r"random.png: cannot decode as PNG/JPEG"),
        ("truncated.png", r"truncated.png: cannot decode as PNG/JPEG"),
        ("sixteen.png", r"sixteen.png: unsupported image mode 'I;16"),
    ],
)
def test_load_image_folder_bad_file_raises_naming_it(tmp_path, name, message):
    root = tmp_path / "one"
    _save(root / "ok.png", _solid(8, 8, (0, 0, 0)))
    (root / name).write_bytes((_bad_folder(tmp_path / "all") / name).read_bytes())
    with pytest.raises(ValueError, match=message):
        load_image_folder(root, 8)


def test_load_image_folder_skip_warns_once_with_count_and_names(tmp_path):
    root = _bad_folder(tmp_path / "bad")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_image_folder(root, 4, on_error="skip")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "skipped 3 of 6 files" in message
    assert all(name in message for name in ("random.png", "sixteen.png", "truncated.png"))
    _check_dataset(ds, (3, 4, 4, 3), num_classes=None)


def test_load_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        load_image_folder(tmp_path / "absent", 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty: no PNG/JPEG files"):
        load_image_folder(tmp_path / "empty", 8)
    _save(tmp_path / "mixed" / "cls" / "a.png", _solid(4, 4, (0, 0, 0)))
    _save(tmp_path / "mixed" / "loose.png", _solid(4, 4, (0, 0, 0)))
    with pytest.raises(ValueError, match=r"both class subfolders and loose images \(e.g. loose.png\)"):
        load_image_folder(tmp_path / "mixed", 8)
    (tmp_path / "allbad").mkdir()
    (tmp_path / "allbad" / "a.png").write_bytes(b"nope")
    with (
        pytest.raises(ValueError, match="none of the 1 image files"),
        pytest.warns(UserWarning, match="skipped 1"),
    ):
        load_image_folder(tmp_path / "allbad", 8, on_error="skip")
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        load_image_folder(tmp_path / "mixed", 8, channels=2)
    with pytest.raises(ValueError, match="on_error must be"):
        load_image_folder(tmp_path / "mixed", 8, on_error="ignore")


# ----------------------------------------------------------------------------------------- numpy arrays


def test_load_arrays_npz_uint8_with_labels(tmp_path):
    x = np.zeros((4, 5, 5, 3), np.uint8)
    x[1] = 255
    np.savez(tmp_path / "d.npz", images=x, labels=np.array([0, 3, 1, 1]))
    ds = load_arrays(tmp_path / "d.npz")
    _check_dataset(ds, (4, 5, 5, 3), num_classes=4)
    assert ds.name == "d" and ds.images[0].max() == -1.0 and ds.images[1].min() == 1.0
    np.testing.assert_array_equal(ds.labels, [0, 3, 1, 1])
    _check_dataset(load_arrays(tmp_path / "d.npz", size=3), (4, 3, 3, 3), num_classes=4)


def test_load_arrays_float_rules_and_grayscale(tmp_path):
    unit = np.linspace(0.0, 1.0, 2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)  # [n, H, W], in [0, 1]
    np.savez_compressed(tmp_path / "u.npz", x=unit, y=np.array([1, 0], np.uint8))
    ds = load_arrays(tmp_path / "u.npz")
    _check_dataset(ds, (2, 3, 3, 1), num_classes=2)
    np.testing.assert_allclose(ds.images[..., 0], unit * 2 - 1, atol=1e-6)
    signed = np.linspace(-1.0, 0.5, 2 * 3 * 3 * 3).reshape(2, 3, 3, 3)  # float64 in [-1, 1]: kept
    np.save(tmp_path / "s.npy", signed)
    ds = load_arrays(tmp_path / "s.npy")
    _check_dataset(ds, (2, 3, 3, 3), num_classes=None)
    np.testing.assert_allclose(ds.images, signed, atol=1e-6)


@pytest.mark.parametrize(
    "contents, message",
    [
        (
            {"images": np.full((2, 4, 4), 200.0)},
            r"float images must lie in \[0, 1\] or \[-1, 1\], got \[200, 200\]",
        ),
        ({"images": np.full((2, 4, 4), np.nan, np.float32)}, "NaN or inf"),
        ({"images": np.full((2, 4, 4), 1000, np.uint16)}, r"integer images must hold 0..255, got 1000..1000"),
        ({"images": np.zeros((2, 3, 8, 8), np.uint8)}, r"look channels-first \(NCHW\)"),
        ({"images": np.zeros((2, 8), np.uint8)}, r"must be \[n, H, W\] or \[n, H, W, C\]"),
        ({"pixels": np.zeros((2, 4, 4), np.uint8)}, r"no 'images' or 'x' array \(keys: \['pixels'\]\)"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.zeros(3, np.int64)}, "2 images but 3 labels"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.zeros(2)}, "labels must be integers"),
        ({"x": np.zeros((2, 4, 4), np.uint8), "y": np.array([0, -1])}, "labels must be >= 0"),
        ({"x": np.array([None, 1], dtype=object)}, "cannot read its arrays"),
    ],
)
def test_load_arrays_errors_name_the_file(tmp_path, contents, message):
    path = tmp_path / "bad_arrays.npz"
    np.savez(path, **contents)
    with pytest.raises(ValueError, match=message) as info:
        load_arrays(path)
    assert str(path) in str(info.value)


def test_load_arrays_unreadable_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(ValueError, match=r"junk.npz: cannot read as .npy/.npz"):
        load_arrays(tmp_path / "junk.npz")
    with gzip.open(tmp_path / "z.npy", "wb") as f:
        f.write(b"compressed, not npy")
    with pytest.raises(ValueError, match=r"z.npy: cannot read as .npy/.npz"):
        load_arrays(tmp_path / "z.npy")
    with pytest.raises(FileNotFoundError, match="array file not found"):
        load_arrays(tmp_path / "absent.npz")


# ----------------------------------------------------------------------------------------------- dispatch


def test_load_dataset_specs(tmp_path, monkeypatch):
    _write_mnist(tmp_path / "mnist", "t10k", n=4)
    _save(tmp_path / "imgs" / "a.png", _solid(5, 5, (0, 0, 0)))
    np.savez(tmp_path / "a.npz", images=np.zeros((3, 4, 4, 1), np.uint8))
    np.save(tmp_path / "a.npy", np.zeros((3, 4, 4), np.uint8))

    assert load_dataset("digits").images.shape == (1797, 8, 8, 1)
    assert load_dataset("digits", 16).images.shape == (1797, 16, 16, 1)
    assert load_dataset(f"mnist:{tmp_path / 'mnist'}").images.shape == (4, 4, 4, 1)
    assert load_dataset(f"idx:{tmp_path / 'mnist'}", size=6).images.shape == (4, 6, 6, 1)
    assert load_dataset(f"folder:{tmp_path / 'imgs'}", 3).images.shape == (1, 3, 3, 3)
    assert load_dataset(f"folder:{tmp_path / 'imgs'}", 3, channels=1).images.shape == (1, 3, 3, 1)
    assert load_dataset(f"npz:{tmp_path / 'a.npz'}").images.shape == (3, 4, 4, 1)
    assert load_dataset(f"npy:{tmp_path / 'a.npy'}", 2).images.shape == (3, 2, 2, 1)

    monkeypatch.setenv("JAXGAN_MNIST_DIR", str(tmp_path / "mnist"))
    assert default_mnist_dir() == tmp_path / "mnist"
    assert load_dataset("mnist").name == "mnist-t10k"
    monkeypatch.setenv("JAXGAN_MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match=r"MNIST folder not found at .*absent; set JAXGAN_MNIST_DIR"):
        load_dataset("mnist")
    for spec in ("cifar10", "folder:", "zip:/x"):
        with pytest.raises(ValueError, match="unknown dataset spec"):
            load_dataset(spec)


# ------------------------------------------------------------------------------------------- real MNIST

_SHARED_MNIST = Path(
    os.environ.get(images_lib.MNIST_DIR_ENV)
    or (Path(__file__).parents[1] / ".." / "shared/data/mnist").resolve()
)


@pytest.mark.skipif(
    not (_SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST test set not found at {_SHARED_MNIST} (set JAXGAN_MNIST_DIR to use it)",
)
def test_real_mnist_test_set():
    ds = load_idx(_SHARED_MNIST, "t10k")
    _check_dataset(ds, (10000, 28, 28, 1), num_classes=10)
    assert np.bincount(ds.labels).tolist() == MNIST_CLASS_COUNTS
    assert ds.images.min() == -1.0 and ds.images.max() == 1.0
    assert -0.9 < ds.images.mean() < -0.6  # mostly black background with white strokes
