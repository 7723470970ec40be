"""Where a run's files and numbers go: strict JSON, ``metrics.jsonl``, TensorBoard
event files (tensorboardX, no TensorFlow) and a progress bar (tqdm) with the step rate and the latest losses.

Every file the command line writes (``config.json``, ``metrics.jsonl``, ``report.json``, sample pictures and
arrays, evaluation results) goes through :func:`jaxgan.files.write_file`.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxgan.files import write_file


def strict_json(tree: Any, **dumps_kwargs) -> str:
    """JSON text of ``tree`` (arrays and numpy scalars as Python values) that any JSON parser reads: each
    non-finite number becomes ``null`` and, in a dict at the top, is listed under ``"non_finite"`` as
    ``{"final_metrics/g/loss": "inf"}`` (added to the flags already there)."""
    flagged: dict[str, str] = {}

    def clean(x: Any, where: str) -> Any:
        if isinstance(x, dict):
            return {k: clean(v, f"{where}/{k}" if where else str(k)) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v, f"{where}/{i}") for i, v in enumerate(x)]
        if isinstance(x, float) and not math.isfinite(x):
            flagged[where] = str(x)
            return None
        return x

    out = clean(to_python(tree), "")
    if flagged and isinstance(out, dict):
        out["non_finite"] = {**out.get("non_finite", {}), **flagged}
    return json.dumps(out, allow_nan=False, **dumps_kwargs)


def to_python(tree: Any) -> Any:
    """Converts arrays and numpy scalars in a (nested) dict to JSON-serialisable Python values."""
    if isinstance(tree, dict):
        return {k: to_python(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [to_python(v) for v in tree]
    if isinstance(tree, (jax.Array, np.ndarray, np.generic)):
        arr = np.asarray(tree)
        return arr.item() if arr.ndim == 0 else arr.tolist()
    return tree


def fingerprint(*trees: Any) -> str:
    """SHA-256 over the bytes of every leaf (in tree order, with shapes and dtypes) of the given pytrees.

    Two runs with the same seed and steps give the same fingerprint exactly when their parameters are bitwise
    equal.
    """
    h = hashlib.sha256()
    for tree in trees:
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            arr = np.asarray(jax.device_get(leaf))
            h.update(jax.tree_util.keystr(path).encode())
            h.update(f"{arr.dtype}{arr.shape}".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


class MetricsWriter:
    """Appends one JSON object per log step to ``DIR/metrics.jsonl`` and mirrors it to TensorBoard.

    A run resumed at ``start_step`` drops the records past it, in ``metrics.jsonl`` and (``purge_step``) in
    TensorBoard, since the resumed run writes those steps again.
    """

    def __init__(self, workdir: str | Path, enabled: bool = True, tensorboard: bool = True, start_step: int = 0):
        self.enabled = enabled
        self.path = Path(workdir) / "metrics.jsonl"
        self._tb = None
        if start_step:
            self.truncate_after(start_step)
        if enabled and tensorboard:
            from tensorboardX import SummaryWriter

            self._tb = SummaryWriter(str(Path(workdir) / "tensorboard"), purge_step=start_step or None)

    def write(self, step: int, metrics: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"step": int(step), **to_python(metrics)}
        write_file(self.path, json.dumps(record) + "\n", append=True)
        if self._tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, int(step))
            self._tb.flush()

    def truncate_after(self, step: int) -> None:
        """Drops records past ``step`` (a resumed run rewrites the steps after its checkpoint)."""
        if not self.enabled or not self.path.exists():
            return
        lines = [ln for ln in self.path.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
        write_file(self.path, "".join(ln + "\n" for ln in lines))

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def read_metrics(workdir: str | Path) -> list[dict[str, Any]]:
    path = Path(workdir) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


class Progress:
    """A tqdm bar over steps showing steps/s and the latest ``d/loss`` and ``g/loss``; in a growing run also the
    phase, as ``res=16x16 fade=0.42`` (``phase/resolution``, ``phase/alpha``: ``fade=1.00`` while it stabilises)."""

    def __init__(self, total: int, initial: int = 0, enabled: bool = True):
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, smoothing=0.1)

    def update(self, step: int, metrics: dict[str, Any] | None = None) -> None:
        if self._bar is None:
            return
        self._bar.update(step - self._bar.n)
        if metrics:
            shown = {}
            if "phase/resolution" in metrics:
                r = int(metrics["phase/resolution"])
                shown = {"res": f"{r}x{r}", "fade": f"{float(metrics['phase/alpha']):.2f}"}
            shown.update({k: f"{float(metrics[k]):.3f}" for k in ("d/loss", "g/loss") if k in metrics})
            self._bar.set_postfix(shown, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
