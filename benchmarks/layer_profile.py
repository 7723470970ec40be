"""Per-layer profile of the benchmark models' convolutions: forward, input gradient and weight gradient of each
layer, in each exact JAX form, beside PyTorch's layer.

The benchmark is :mod:`jaxgan.bench.layers`; its docstring is the manual::

    python benchmarks/layer_profile.py --model dcgan28 --batch 64
    python benchmarks/layer_profile.py --help
"""

import sys

from jaxgan.bench.layers import main

if __name__ == "__main__":
    sys.exit(main())
