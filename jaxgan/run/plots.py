"""Pictures a run writes: 2-D sample scatters over the true modes, image grids, and loss curves (PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scatter_2d(samples: np.ndarray, means: np.ndarray | None, path: str | Path, title: str = "") -> Path:
    """Writes a scatter of ``samples [n, 2]`` (blue) over the true ``means [m, 2]`` (red crosses)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, c="tab:blue", label="generated")
    if means is not None:
        ax.scatter(means[:, 0], means[:, 1], s=60, marker="x", c="tab:red", label="true modes")
        span = np.abs(means).max() * 1.5 + 0.5
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def histogram_1d(samples: np.ndarray, real: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Writes overlaid histograms of generated and real 1-D samples."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    ax.hist(real.ravel(), bins=60, alpha=0.5, density=True, label="real")
    ax.hist(samples.ravel(), bins=60, alpha=0.5, density=True, label="generated")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def image_grid(images: np.ndarray, rows: int, cols: int, path: str | Path, pad: int = 1) -> Path:
    """Writes ``images [n, h, w, c]`` in [-1, 1] as one PNG of ``rows x cols`` tiles (row-major)."""
    from PIL import Image

    images = np.asarray(images, dtype=np.float32)
    n, h, w, c = images.shape
    if n < rows * cols:
        raise ValueError(f"a {rows}x{cols} grid needs {rows * cols} images, got {n}")
    tiles = np.clip((images[: rows * cols] + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(rows * cols):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        canvas[y : y + h, x : x + w] = tiles[i]
    mode = "L" if c == 1 else "RGB"
    Image.fromarray(canvas[..., 0] if c == 1 else canvas, mode=mode).save(path)
    return Path(path)


def loss_curves(
    records: Sequence[dict[str, Any]], path: str | Path, keys: Sequence[str] = ("d/loss", "g/loss")
) -> Path:
    """Plots the given metric keys of ``metrics.jsonl`` records against the step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for key in keys:
        pts = [(r["step"], r[key]) for r in records if key in r and r[key] is not None]
        if pts:
            s, v = zip(*pts)
            ax.plot(s, v, label=key)
    ax.set_xlabel("step")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
