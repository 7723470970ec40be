"""Per-op profile of a benchmark model's compiled train step (jax.profiler trace summed per HLO instruction).

The benchmark is :mod:`jaxgan.bench.op_profile`; its docstring is the manual::

    python benchmarks/op_profile.py --model mlp2d --batch 100
    python benchmarks/op_profile.py --help
"""

import sys

from jaxgan.bench.op_profile import main

if __name__ == "__main__":
    sys.exit(main())
