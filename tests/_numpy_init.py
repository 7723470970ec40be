"""Test helper: Flax variables shaped as ``module.init`` makes them, filled by numpy.

Random initialisation of a Linen module is compiled op by op on CPU, which costs more time than the tests' models
themselves; tests of shapes, exact formulas and equalities only need some fixed, well-scaled values.
"""

import jax
import numpy as np


def numpy_init(module, *args, seed=0, **kwargs):
    """``module.init(key, *args, **kwargs)``'s tree, filled with N(0, 1/fan_in) draws from ``seed``.

    Batch-norm variances and spectral-norm sigmas are ones, batch-norm means zeros, so that normalised layers
    start as the identity.
    """
    shapes = jax.eval_shape(lambda: module.init(jax.random.key(0), *args, **kwargs))
    rng = np.random.default_rng(seed)

    def fill(path, s):
        name = jax.tree_util.keystr(path)
        if name.endswith(("['var']", "sigma']")):
            return np.ones(s.shape, s.dtype)
        if name.endswith("['mean']"):
            return np.zeros(s.shape, s.dtype)
        scale = 1 / np.sqrt(max(1, int(np.prod(s.shape[:-1]))))
        return (rng.normal(size=s.shape) * scale).astype(s.dtype)

    return jax.tree_util.tree_map_with_path(fill, shapes)


def numpy_sampling_state(exp):
    """A :class:`jaxgan.state.SamplingState` of ``exp``'s generator without compiling the state's initialisation
    (slow on CPU): N(0, 0.05²) draws, batch-norm variances and scales ones."""
    from jaxgan.state import SamplingState

    shapes = jax.eval_shape(exp.init_state)
    rng = np.random.default_rng(0)

    def fill(path, s):
        if jax.tree_util.keystr(path).endswith(("['var']", "['scale']")):
            return np.ones(s.shape, s.dtype)
        return (rng.normal(size=s.shape) * 0.05).astype(s.dtype)

    params, model_state = (jax.tree_util.tree_map_with_path(fill, t) for t in (shapes.g_params, shapes.g_model_state))
    return SamplingState(step=0, sampling_params=params, g_model_state=model_state, ema=False)
