"""Step throughput of jaxgan's train step beside a PyTorch reference and a hand-written minimal JAX step.

The benchmark is :mod:`jaxgan.bench.step_throughput` (so that ``jaxgan bench`` works from an installed package);
this script runs it with the same flags, and its docstring is the manual::

    python benchmarks/step_throughput.py --model dcgan28 --batch 64,256 --levers --json out.jsonl
    python benchmarks/step_throughput.py --help
"""

import sys

from jaxgan.bench.step_throughput import main

if __name__ == "__main__":
    sys.exit(main())
