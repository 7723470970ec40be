"""The train step of shipped configs with the CPU forms of ``"auto"`` on and off (``JAXGAN_CPU_FORMS=off``).

The benchmark is :mod:`jaxgan.bench.config_steps`; its docstring is the manual::

    python benchmarks/config_steps.py --configs dcgan_mnist,pix2pix_edges --steps 5
"""

import sys

from jaxgan.bench.config_steps import main

if __name__ == "__main__":
    sys.exit(main())
