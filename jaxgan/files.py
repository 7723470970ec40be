"""The one atomic file writer: every file jaxgan writes outside orbax's checkpoints goes through
:func:`write_file` (a run's ``config.json``, ``metrics.jsonl``, ``report.json`` and pictures, the digit
classifier's weights and report, cached features and their statistics, converted Inception weights).

A new file is written beside the old one and renamed over it, an append is cut back to where it began, so a
failure (a full disk, a read-only file system) leaves the file as it was and raises :class:`WriteError`, whose
message is one line with the cause. No JAX here: the command line uses it before JAX is imported.

:func:`cache_home` is where jaxgan keeps what it can remake but would rather not remake on every run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/jaxgan`` (``~/.cache/jaxgan`` when it is unset): the command line's XLA compilation cache
    (``xla/``), the converted FID Inception weights, trained classifiers shared between runs (``classifiers/``) and
    k-means labels of clustered runs (``kmeans/``). Everything there can be deleted; it is remade when needed."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jaxgan"


class WriteError(OSError):
    """A file could not be written; the message is one line with the path, the cause and what is intact."""


def write_file(
    path: str | Path,
    content: str | bytes | Callable[[Path], Any],
    *,
    append: bool = False,
) -> Path:
    """Writes ``content`` to ``path`` so that a failure leaves ``path`` as it was.

    Args:
      path: the file.
      content: text, bytes, or a function that writes the file it is given (``np.save``, ``fig.savefig``): it
        gets a temporary path in the same folder with the same suffix, renamed to ``path`` once it returns.
      append: add ``content`` (text or bytes) at the end of ``path``; a failed append is cut back off.

    Raises:
      WriteError: ``cannot write PATH (CAUSE); NAME was left as it was`` (or ``was not written`` when it did not
        exist), CAUSE being the OS error's text (``No space left on device``); callers add what else is intact.
    """
    path = Path(path)
    existed = path.exists()
    data = content.encode() if isinstance(content, str) else content
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        if append:
            _append(path, data)
        else:
            try:
                if callable(data):
                    data(tmp)
                else:
                    with open(tmp, "wb") as f:
                        f.write(data)
                os.replace(tmp, path)
            finally:
                if tmp.exists():
                    tmp.unlink(missing_ok=True)
    except OSError as e:
        if append and not existed and path.exists():
            path.unlink()  # the append created it
        raise WriteError(f"cannot write {path} ({e.strerror or e}); {path.name} was "
                         f"{'left as it was' if existed else 'not written'}") from None
    return path


def _append(path: Path, data: bytes) -> None:
    """Appends ``data``; on failure cuts the file back to its old length (a partial write included)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        rest = memoryview(data)
        try:
            while rest:
                rest = rest[os.write(fd, rest):]
        except OSError:
            os.ftruncate(fd, start)
            raise
    finally:
        os.close(fd)


__all__ = ["WriteError", "write_file"]
