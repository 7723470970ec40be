"""Quick start, command 2: set up `.venv` (with the dev extra) and run the test suite with pytest.

    python3 scripts/test.py [pytest arguments]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bootstrap import ROOT, ensure_venv  # noqa: E402

python = ensure_venv("dev")
os.chdir(ROOT)
os.execv(str(python), [str(python), "-m", "pytest", *sys.argv[1:]])
