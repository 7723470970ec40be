"""Creates `.venv` at the project root and installs jaxgan into it; shared by scripts/train.py and scripts/test.py.

Needs only a Python >= 3.11 with the standard library. The install is redone only when pyproject.toml or the
constraints file changes (a stamp in .venv records their hash).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("JAXGAN_VENV", ROOT / ".venv"))


def _python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _constraints() -> Path | None:
    path = ROOT / f"constraints-py{sys.version_info.major}{sys.version_info.minor}.txt"
    return path if path.exists() else None


def ensure_venv(extras: str = "dev") -> Path:
    """Returns the venv's python, creating the venv and installing `.[extras]` when needed."""
    if sys.version_info < (3, 11):
        sys.exit(f"jaxgan needs Python >= 3.11; this is {sys.version.split()[0]}")
    digest = hashlib.sha256()
    constraints = _constraints()
    for f in [ROOT / "pyproject.toml", constraints]:
        if f is not None:
            digest.update(f.read_bytes())
    digest.update(extras.encode())
    stamp = VENV / f".jaxgan-installed-{extras}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest() and _python().exists():
        return _python()
    if not _python().exists():
        print(f"[setup] creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(_python()), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    print("[setup] installing jaxgan and its dependencies (first run only, a few minutes)", flush=True)
    cmd = pip + ["-e", f"{ROOT}[{extras}]" if extras else str(ROOT)]
    if constraints is not None:
        cmd += ["-c", str(constraints)]
    subprocess.run(cmd, check=True)
    stamp.write_text(digest.hexdigest())
    return _python()
