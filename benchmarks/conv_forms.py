"""The sweeps behind ``"auto"``'s convolution forms on the CPU: a stride-1 convolution's weight gradient as XLA's
convolution or as per-tap matrix products, and strided / transposed convolutions in batch chunks.

The benchmark is :mod:`jaxgan.bench.conv_forms`; its docstring is the manual::

    python benchmarks/conv_forms.py --sweep dw,chunk
"""

import sys

from jaxgan.bench.conv_forms import main

if __name__ == "__main__":
    sys.exit(main())
