"""Set-up shared by every test: JAX's persistent compilation cache, and jaxgan's caches in a temporary directory.

Many tests compile the same step more than once: a straight run against a checkpointed and resumed one (whose
rebuilt experiment traces a new function with the same program), bf16 against float32 under the same config, the
same tiny run in several files. With the cache on, the second compilation of a program is a load from disk. The
cache is the one the tests' subprocesses already use (``tests/test_cli.py``, ``tests/test_resume.py``):
``$JAX_COMPILATION_CACHE_DIR`` when set, else ``jaxgan-test-jax-cache`` in the temporary directory, so it also
serves the next run of the suite on the same machine. A loaded executable is the compiled one, so no number changes.
"""

import os
import tempfile

os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "jaxgan-test-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# jaxgan's own caches (jaxgan.files.cache_home: shared classifiers, k-means labels, converted Inception weights)
# go to the temporary directory too, never to the home directory of whoever runs the tests.
os.environ.setdefault("XDG_CACHE_HOME", os.path.join(tempfile.gettempdir(), "jaxgan-test-cache"))

import jax  # noqa: E402  (after the environment, which JAX reads at import)

jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
min_secs = float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", min_secs)
