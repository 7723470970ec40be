"""Image datasets in memory: scikit-learn digits, MNIST-format IDX files, image folders, numpy files.

Every reader returns an :class:`ImageDataset`:

* ``images``: float32 ``[n, height, width, channels]`` in [-1, 1] (NHWC, the generators' tanh range);
* ``labels``: int32 ``[n]`` in ``[0, num_classes)``, or ``None`` for unlabelled data;
* ``num_classes``: the number of classes (``None`` without labels);
* ``name``: a short name for logs and file names (``"digits"``, ``"mnist-t10k"``, the folder or file name).

``dataset.arrays()`` is the ``{"x": images, "label": labels}`` dict (``"label"`` absent without labels) that
:class:`jaxgan.data.pipeline.Batcher` batches and the train step consumes.

Sources, and the ``spec`` strings of :func:`load_dataset`:

================== ====================================================================================
``"digits"``       :func:`load_digits`: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes); no
                   download. ``size`` resizes (e.g. 28 or 32), C = 1.
``"mnist"``        :func:`load_idx` on the shared MNIST folder (:func:`default_mnist_dir`: the
                   ``JAXGAN_MNIST_DIR`` environment variable, else ``../shared/data/mnist`` beside the
                   repository); ``FileNotFoundError`` when absent.
``"mnist:/dir"``   :func:`load_idx` on a folder of ``<split>-images-idx3-ubyte[.gz]`` and
``"idx:/dir"``     ``<split>-labels-idx1-ubyte[.gz]`` files (MNIST, Fashion-MNIST, KMNIST, ...).
``"folder:/dir"``  :func:`load_image_folder`: PNG/JPEG files; class subfolders give labels.
``"npz:/file"``    :func:`load_arrays`: ``.npz`` (``images``/``x``, optional ``labels``/``y``) or ``.npy``.
``"npy:/file"``
================== ====================================================================================

Pixel values. Unsigned bytes (IDX, PNG/JPEG, uint8 arrays) map ``v -> v / 127.5 - 1``, so 0 -> -1 and
255 -> 1. The digits' 0..16 map ``v -> v / 8 - 1``. Float arrays in :func:`load_arrays` follow one rule:
if every value lies in [0, 1] they are taken as [0, 1] and mapped ``v -> 2 v - 1``; otherwise they must lie in
[-1, 1] and are kept as they are; anything else (e.g. 0..255 stored as float, NaN) is a ``ValueError``.

Resizing (``size``). The central square of each image (side = the shorter side) is resampled bilinearly
(PIL, antialiased when shrinking) to ``size x size``: the same as "shorter side to ``size``, then center
crop", in one resampling step. ``size=None`` keeps the native size.

Errors name the file: a missing file or folder is a ``FileNotFoundError``; a corrupt, truncated or
unreadable file (bad IDX magic, wrong byte count, a PNG that PIL cannot decode), an image of an unsupported
mode (16-bit or float PNGs) or of the wrong size is a ``ValueError``. :func:`load_image_folder` with
``on_error="skip"`` drops such images instead, with one ``warnings.warn`` giving their count and first names.

Size: over 500 lines, about 340 of them code: four image sources (scikit-learn digits, IDX files, image folders,
numpy files) share one resizing, one label check and one dispatch (:func:`load_dataset`), and each checks its input
with its own exact error.
"""

from __future__ import annotations

import gzip
import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from PIL import Image

MNIST_DIR_ENV = "JAXGAN_MNIST_DIR"
IDX_IMAGES_MAGIC = 2051  # unsigned bytes, 3 dims: [n, rows, cols]
IDX_LABELS_MAGIC = 2049  # unsigned bytes, 1 dim: [n]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

# IDX type byte <-> numpy dtype (multi-byte types are big-endian in the file).
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# PIL modes that convert faithfully to 8-bit L / RGB; others ("I;16", "I", "F", ...) are rejected.
_CONVERTIBLE_MODES = frozenset(
    {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
)
_MAX_NAMES_IN_WARNING = 5


class ImageDataset(NamedTuple):
    """Images and optional labels in memory.

    Attributes:
      images: float32 ``[n, height, width, channels]`` in [-1, 1].
      labels: int32 ``[n]`` in ``[0, num_classes)``, or ``None``.
      num_classes: number of classes, or ``None`` without labels.
      name: a short name for logs.
    """

    images: np.ndarray
    labels: np.ndarray | None
    num_classes: int | None
    name: str

    def arrays(self) -> dict[str, np.ndarray]:
        """The batchable dict ``{"x": images, "label": labels}`` (no ``"label"`` when unlabelled)."""
        out = {"x": self.images}
        if self.labels is not None:
            out["label"] = self.labels
        return out


# ----------------------------------------------------------------------------------------------- resizing


def _center_box(width: int, height: int) -> tuple[float, float, float, float]:
    side = min(width, height)
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resizes float ``[n, H, W, C]`` in [-1, 1] to ``[n, size, size, C]`` (center square, bilinear)."""
    size = _check_size(size)
    n, height, width, channels = images.shape
    if (height, width) == (size, size):
        return images.astype(np.float32, copy=False)
    box = _center_box(width, height)
    out = np.empty((n, size, size, channels), np.float32)
    for i in range(n):
        for c in range(channels):
            plane = Image.fromarray(np.ascontiguousarray(images[i, :, :, c], dtype=np.float32))
            out[i, :, :, c] = np.asarray(plane.resize((size, size), Image.Resampling.BILINEAR, box=box))
    return np.clip(out, -1.0, 1.0, out=out)


def _check_size(size: int | None) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    return int(size)


def _bytes_to_unit(pixels: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 [-1, 1]."""
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def _maybe_resize(images: np.ndarray, size: int | None) -> np.ndarray:
    return images if size is None else resize_images(images, size)


def _labelled(images, labels, name) -> ImageDataset:
    if labels is None:
        return ImageDataset(images, None, None, name)
    labels = labels.astype(np.int32)
    return ImageDataset(images, labels, int(labels.max()) + 1 if labels.size else 0, name)


# ------------------------------------------------------------------------------------------------- digits


def load_digits(size: int | None = 8) -> ImageDataset:
    """scikit-learn's bundled handwritten digits: 1,797 images, 10 classes, grayscale.

    Args:
      size: output side; 8 (or ``None``) keeps the 8x8 originals, e.g. 28 or 32 resizes bilinearly.

    Returns:
      ``images`` ``[1797, size, size, 1]`` (values 0..16 mapped to [-1, 1]), ``labels`` 0..9, name
      ``"digits"`` (``"digits<size>"`` when resized).
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    images = (bunch.images.astype(np.float32) / np.float32(8.0) - np.float32(1.0))[..., None]
    name = "digits"
    if size is not None and _check_size(size) != 8:
        images, name = resize_images(images, size), f"digits{size}"
    return _labelled(images, bunch.target, name)


# ---------------------------------------------------------------------------------------------------- IDX


def _read_idx_with_magic(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: cannot read ({type(e).__name__}: {e})") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES or data[3] == 0:
        head = data[:4].hex() or "<empty>"
        raise ValueError(
            f"{path}: not an IDX file (magic bytes 0x{head}; expected 00 00 <type> <ndim>, "
            f"e.g. {IDX_IMAGES_MAGIC} for images, {IDX_LABELS_MAGIC} for labels)"
        )
    magic = struct.unpack(">I", data[:4])[0]
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(data)} bytes, need {header} for {ndim} dims)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        what = "truncated" if len(data) - header < expected else "trailing bytes"
        raise ValueError(
            f"{path}: {what}: IDX header says dims {list(dims)} of {dtype.name} = {expected} data bytes, "
            f"file has {len(data) - header}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return array.reshape(dims).astype(dtype.newbyteorder("="), copy=True), magic


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (raw, or gzip when the name ends in ``.gz``) into a native-endian array.

    Raises:
      FileNotFoundError: no such file.
      ValueError: unreadable/corrupt gzip, bad magic, or a byte count that disagrees with the header.
    """
    return _read_idx_with_magic(path)[0]


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes ``array`` (uint8, int8, int16, int32, float32 or float64; 1..255 dims) as an IDX file.

    The file is gzip-compressed when ``path`` ends in ``.gz``. For MNIST-style files pass uint8
    ``[n, rows, cols]`` images (magic 2051) and uint8 ``[n]`` labels (magic 2049).
    """
    array = np.asarray(array)
    codes = {dt.newbyteorder("=").str: code for code, dt in _IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("=").str)
    if code is None:
        raise ValueError(
            f"write_idx: unsupported dtype {array.dtype} (use uint8, int8, int16, int32, float32, float64)"
        )
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: need 1..255 dims, got shape {array.shape}")
    payload = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    payload += np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def _idx_file(folder: Path, split: str, kind: str) -> Path | None:
    """``<split>-<kind>-idx?-ubyte`` (or the ``.idx?-ubyte`` spelling), raw preferred over ``.gz``."""
    rank = 3 if kind == "images" else 1
    for sep in ("-", "."):
        for suffix in ("", ".gz"):
            candidate = folder / f"{split}-{kind}{sep}idx{rank}-ubyte{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _idx_splits(folder: Path) -> list[str]:
    names = [p.name for p in folder.iterdir() if p.is_file()]
    return sorted(
        {n.split("-images", 1)[0] for n in names if "-images-idx3-ubyte" in n or "-images.idx3-ubyte" in n}
    )


def load_idx(
    folder: str | os.PathLike, split: str | None = "t10k", *, size: int | None = None
) -> ImageDataset:
    """Reads MNIST-format IDX files ``<split>-images-idx3-ubyte[.gz]`` and ``<split>-labels-idx1-ubyte[.gz]``.

    Args:
      folder: a local folder (nothing is downloaded).
      split: file prefix, e.g. ``"t10k"`` or ``"train"``. ``None`` picks ``"train"`` when present, else the
        only split in the folder (``ValueError`` listing them when several, none of them ``"train"``).
      size: resize to ``size x size``; ``None`` keeps 28x28.

    Returns:
      ``images`` ``[n, rows, cols, 1]`` in [-1, 1]; ``labels`` int32 ``[n]`` (``None`` if the folder has no
      labels file for the split); ``num_classes`` = max label + 1; name ``"<folder name>-<split>"``.

    Raises:
      FileNotFoundError: no folder (or a file where the folder should be), or no images file for the split.
      ValueError: bad magic (images must be 2051, labels 2049), wrong byte counts, or image and label
        counts that differ; the message names the file(s).
    """
    folder = Path(folder)
    if folder.is_file():
        raise FileNotFoundError(
            f"IDX data names a folder, and {folder} is a file: give the folder that holds it ({folder.parent})"
        )
    if not folder.is_dir():
        raise FileNotFoundError(f"IDX folder not found: {folder}")
    if split is None:
        splits = _idx_splits(folder)
        if not splits:
            raise FileNotFoundError(f"{folder}: no *-images-idx3-ubyte[.gz] file")
        if "train" not in splits and len(splits) > 1:
            raise ValueError(f"{folder}: several IDX splits {splits}; pass split=")
        split = "train" if "train" in splits else splits[0]
    images_path = _idx_file(folder, split, "images")
    if images_path is None:
        found = sorted(p.name for p in folder.iterdir())
        raise FileNotFoundError(f"{folder}: no {split}-images-idx3-ubyte[.gz] (folder holds {found[:10]})")
    pixels, magic = _read_idx_with_magic(images_path)
    if magic != IDX_IMAGES_MAGIC:
        raise ValueError(
            f"{images_path}: IDX magic {magic}, but an images file needs {IDX_IMAGES_MAGIC} "
            "(unsigned bytes, 3 dims [n, rows, cols])"
        )
    labels = None
    labels_path = _idx_file(folder, split, "labels")
    if labels_path is not None:
        labels, magic = _read_idx_with_magic(labels_path)
        if magic != IDX_LABELS_MAGIC:
            raise ValueError(
                f"{labels_path}: IDX magic {magic}, but a labels file needs {IDX_LABELS_MAGIC} "
                "(unsigned bytes, 1 dim [n])"
            )
        if len(labels) != len(pixels):
            raise ValueError(
                f"{images_path} holds {len(pixels)} images but {labels_path} {len(labels)} labels"
            )
    images = _maybe_resize(_bytes_to_unit(pixels)[..., None], size)
    return _labelled(images, labels, f"{folder.resolve().name}-{split}")


def default_mnist_dir() -> Path:
    """Where ``load_dataset("mnist")`` looks: ``$JAXGAN_MNIST_DIR`` if set, else ``../shared/data/mnist``.

    ``../shared`` is taken beside the repository root (found from this file), then beside the current
    directory. The returned folder may not exist; callers check.
    """
    env = os.environ.get(MNIST_DIR_ENV)
    if env:
        return Path(env).expanduser()
    candidates = [
        Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist",
        Path.cwd().parent / "shared" / "data" / "mnist",
    ]
    return next((c for c in candidates if c.is_dir()), candidates[0])


# ------------------------------------------------------------------------------------------ image folders


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _read_image(path: Path, size: int | None, channels: int) -> np.ndarray:
    """One PNG/JPEG as uint8 ``[s, s, channels]``; every failure is a ValueError naming ``path``."""
    try:
        with Image.open(path, formats=("PNG", "JPEG")) as img:
            img.load()
            mode, pixels = img.mode, None
            if mode in _CONVERTIBLE_MODES:
                if mode in ("P", "PA"):
                    img = img.convert("RGBA")  # applies palette transparency before alpha is dropped
                img = img.convert("RGB" if channels == 3 else "L")
                if size is not None:
                    img = img.resize((size, size), Image.Resampling.BILINEAR, box=_center_box(*img.size))
                pixels = np.asarray(img, dtype=np.uint8)
    except Exception as e:  # PIL raises OSError, SyntaxError, struct.error, zlib.error, ... for bad files
        raise ValueError(f"{path}: cannot decode as PNG/JPEG ({type(e).__name__}: {e})") from e
    if pixels is None:
        raise ValueError(
            f"{path}: unsupported image mode {mode!r} (expected 8-bit L, RGB, RGBA, P, ...; "
            "convert 16-bit or float images to 8 bits first)"
        )
    return pixels.reshape(pixels.shape[0], pixels.shape[1], channels)


def load_image_folder(
    folder: str | os.PathLike,
    size: int | None,
    channels: Literal[1, 3] = 3,
    on_error: Literal["raise", "skip"] = "raise",
) -> ImageDataset:
    """Reads ``.png``/``.jpg``/``.jpeg`` files (any case) under ``folder``.

    Layout: if ``folder`` has subfolders holding images, each such subfolder (searched recursively) is a
    class, labelled by its index in their sorted names (``num_classes`` = number of them); otherwise
    the images directly (and recursively) under ``folder`` are unlabelled. Files are read in sorted path
    order; other files and hidden (dot) names are ignored.

    Args:
      folder: the root folder.
      size: output side (central square resized bilinearly). ``None`` keeps the native size, which must then
        be the same for every image (a different one is an error, or skipped).
      channels: 3 (RGB) or 1 (grayscale luma); alpha is dropped.
      on_error: ``"raise"`` stops at the first bad file with a ``ValueError`` naming it; ``"skip"`` drops bad
        files and emits one warning with their count and first names.

    Returns:
      ``images`` ``[n, size, size, channels]`` in [-1, 1] and labels as above; name = the folder's name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if size is not None:
        size = _check_size(size)

    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    class_dirs = [d for d in class_dirs if _image_files(d)]
    if class_dirs:
        loose = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if loose:
            raise ValueError(
                f"{folder}: has both class subfolders and loose images (e.g. {loose[0].name}); "
                "move the images into a class subfolder or point at a flat folder"
            )
        files = [(p, label) for label, d in enumerate(class_dirs) for p in _image_files(d)]
    else:
        files = [(p, -1) for p in _image_files(folder)]
    if not files:
        raise ValueError(f"{folder}: no PNG/JPEG files ({', '.join(IMAGE_SUFFIXES)})")

    images, labels, bad = [], [], []
    for path, label in files:
        try:
            pixels = _read_image(path, size, channels)
            if images and pixels.shape != images[0].shape:
                raise ValueError(
                    f"{path}: wrong size {pixels.shape[1]}x{pixels.shape[0]}, expected "
                    f"{images[0].shape[1]}x{images[0].shape[0]} like the first image (pass size= to resize)"
                )
        except ValueError as e:
            if on_error == "raise":
                raise
            bad.append((path, e))
            continue
        images.append(pixels)
        labels.append(label)
    if bad:
        names = ", ".join(str(p.relative_to(folder)) for p, _ in bad[:_MAX_NAMES_IN_WARNING])
        more = " ..." if len(bad) > _MAX_NAMES_IN_WARNING else ""
        warnings.warn(
            f"load_image_folder({folder}): skipped {len(bad)} of {len(files)} files that could not be used: "
            f"{names}{more} (first error: {bad[0][1]})",
            stacklevel=2,
        )
    if not images:
        raise ValueError(f"{folder}: none of the {len(files)} image files could be read")
    x = _bytes_to_unit(np.stack(images))
    if not class_dirs:
        return ImageDataset(x, None, None, folder.resolve().name)
    return ImageDataset(x, np.asarray(labels, np.int32), len(class_dirs), folder.resolve().name)


# ----------------------------------------------------------------------------------------- numpy arrays


def _pixels_to_unit(images: np.ndarray, path: Path) -> np.ndarray:
    """Applies the module's pixel value rule (see the module docstring) and validates the range."""
    if images.size == 0:
        raise ValueError(f"{path}: no images (shape {images.shape})")
    if np.issubdtype(images.dtype, np.integer) and images.dtype != np.bool_:
        lo, hi = int(images.min()), int(images.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"{path}: integer images must hold 0..255, got {lo}..{hi} ({images.dtype})")
        return _bytes_to_unit(images)
    if np.issubdtype(images.dtype, np.floating):
        if not np.isfinite(images).all():
            raise ValueError(f"{path}: images contain NaN or inf")
        lo, hi = float(images.min()), float(images.max())
        if lo >= 0.0 and hi <= 1.0:
            return (images.astype(np.float32) * np.float32(2.0) - np.float32(1.0)).astype(np.float32)
        if lo >= -1.0 and hi <= 1.0:
            return images.astype(np.float32)
        raise ValueError(
            f"{path}: float images must lie in [0, 1] or [-1, 1], got [{lo:g}, {hi:g}] "
            "(store 0..255 pixels as uint8)"
        )
    raise ValueError(f"{path}: images must be uint8/integer 0..255 or float, got dtype {images.dtype}")


def load_arrays(path: str | os.PathLike, *, size: int | None = None) -> ImageDataset:
    """Reads images (and labels) from a ``.npz`` or ``.npy`` file.

    A ``.npz`` holds the images under ``images`` or ``x`` and optional labels under ``labels`` or ``y``; a
    ``.npy`` holds the images only. Images are ``[n, H, W, C]`` (NHWC) or grayscale ``[n, H, W]`` (a channel
    axis is added); pixel values follow the rule in the module docstring: integers must be 0..255 (mapped
    to [-1, 1]), floats in [0, 1] are mapped to [-1, 1], other floats must already lie in [-1, 1]. Labels
    must be non-negative integers ``[n]``. Pickled (object) arrays are refused.

    Args:
      path: the file.
      size: resize to ``size x size`` (center square, bilinear); ``None`` keeps the stored size.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"array file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as e:  # BadZipFile, EOFError, OSError, pickled data, ... for corrupt or foreign files
        raise ValueError(f"{path}: cannot read as .npy/.npz ({type(e).__name__}: {e})") from e
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.files)
            image_key = next((k for k in ("images", "x") if k in keys), None)
            label_key = next((k for k in ("labels", "y") if k in keys), None)
            if image_key is None:
                raise ValueError(f"{path}: no 'images' or 'x' array (keys: {keys})")
            try:
                images = loaded[image_key]
                labels = None if label_key is None else loaded[label_key]
            except Exception as e:
                raise ValueError(f"{path}: cannot read its arrays ({type(e).__name__}: {e})") from e
    else:
        images, labels = loaded, None

    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(f"{path}: images must be [n, H, W] or [n, H, W, C], got shape {images.shape}")
    if images.shape[-1] not in (1, 3, 4) and images.shape[1] in (1, 3, 4):
        raise ValueError(
            f"{path}: images of shape {images.shape} look channels-first (NCHW); store them NHWC "
            "(np.transpose(x, (0, 2, 3, 1)))"
        )
    x = _maybe_resize(_pixels_to_unit(images, path), size)
    if labels is not None:
        if not np.issubdtype(labels.dtype, np.integer) or labels.ndim != 1:
            raise ValueError(
                f"{path}: labels must be integers of shape [n], got {labels.dtype} {labels.shape}"
            )
        if len(labels) != len(x):
            raise ValueError(f"{path}: {len(x)} images but {len(labels)} labels")
        if labels.min() < 0:
            raise ValueError(f"{path}: labels must be >= 0, got min {labels.min()}")
    return _labelled(x, labels, path.stem)


# ----------------------------------------------------------------------------------------------- dispatch


def load_dataset(spec: str, size: int | None = None, *, channels: Literal[1, 3] = 3) -> ImageDataset:
    """Loads a dataset from a spec string (see the module docstring's table).

    Args:
      spec: ``"digits"``, ``"mnist"``, ``"mnist:<dir>"``/``"idx:<dir>"``, ``"folder:<dir>"``,
        ``"npz:<file>"``/``"npy:<file>"``.
      size: output side; ``None`` keeps each source's native size (8 for digits, 28 for MNIST).
      channels: for ``folder:`` only, 3 (RGB) or 1 (grayscale).
    """
    if spec == "digits":
        return load_digits(size)
    if spec == "mnist":
        folder = default_mnist_dir()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"MNIST folder not found at {folder}; set {MNIST_DIR_ENV}=<dir> or use 'mnist:<dir>' "
                "with a folder holding t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
            )
        return load_idx(folder, None, size=size)
    kind, sep, target = spec.partition(":")
    if sep and target:
        if kind in ("mnist", "idx"):
            return load_idx(target, None, size=size)
        if kind == "folder":
            return load_image_folder(target, size, channels=channels)
        if kind in ("npz", "npy"):
            return load_arrays(target, size=size)
    raise ValueError(
        f"unknown dataset spec {spec!r}; expected 'digits', 'mnist', 'mnist:<dir>', 'idx:<dir>', "
        "'folder:<dir>', 'npz:<file>' or 'npy:<file>'"
    )
