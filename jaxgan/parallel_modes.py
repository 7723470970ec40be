"""The names of the data-parallel modes, apart from :mod:`jaxgan.parallel` because the command line and the config
check them before JAX is imported (this module imports nothing):

* ``"none"``: jit on one device;
* ``"pmap"``: ``jax.pmap`` over the local devices (what the design card and TPU-VM users have);
* ``"mesh"``: jit + ``shard_map`` over a ``Mesh`` (where JAX is going).
"""

MODES = ("none", "pmap", "mesh")

__all__ = ["MODES"]
