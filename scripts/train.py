"""Quick start, command 1: set up `.venv` and run the main job (`jaxgan train` on the default config).

    python3 scripts/train.py [any `jaxgan train` flags]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bootstrap import ensure_venv  # noqa: E402

python = ensure_venv("dev")
os.execv(str(python), [str(python), "-m", "jaxgan.run.cli", "train", *sys.argv[1:]])
