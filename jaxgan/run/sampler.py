"""The one jitted sampler: every sample of a generator outside the train step comes from :func:`sample` (from keys)
or :func:`images_from_latents` (from latents), both over :func:`jaxgan.run.pieces.generator_outputs`, the traceable
definition that :meth:`jaxgan.run.pieces.Experiment.generate` also uses; :func:`generate` and
:func:`generate_batched` draw their keys and labels. The tasks, the image and family evaluations, the metrics'
sampler (:mod:`jaxgan.run.evaluate`) and ``jaxgan sample`` (:mod:`jaxgan.run.sampling`, which re-exports these
names) all sample here.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

from jaxgan.run.pieces import Experiment, generator_outputs


@functools.partial(jax.jit, static_argnames=("generator", "latent_fn", "n"))
def _generate(params, model_state, key, labels, z, *, generator, latent_fn, n):
    return generator_outputs(generator, latent_fn, params, model_state, key, n, labels, z)


def sample(exp: Experiment, state, key: jax.Array, n: int, labels=None) -> np.ndarray:
    """:meth:`jaxgan.run.pieces.Experiment.generate` jitted: ``n`` samples ``[n, ...]`` of the sampling params
    (the EMA when present) of ``state`` (a full state or a :class:`jaxgan.state.SamplingState`) from ``key``, as a
    numpy array.

    Only the generator's params and model state go to the device; the compilation is cached per generator,
    ``n`` and label shape, so repeated calls (batches of an evaluation, grids) compile once.

    Args:
      labels: ``[n]`` classes for conditional generators, else ``None``.
    """
    s = exp.sampling_state(state)
    return np.asarray(_generate(s.sampling_params, s.g_model_state, key, labels, None,
                                generator=exp.generator_at(s.step), latent_fn=exp.latent_fn, n=n))


def images_from_latents(exp: Experiment, state, z, labels=None) -> np.ndarray:
    """Generator outputs ``[n, ...]`` for explicit latents ``z [n, latent_dim]`` (inference mode): the jitted
    :meth:`jaxgan.run.pieces.Experiment.generate_from`."""
    s = exp.sampling_state(state)
    return np.asarray(_generate(s.sampling_params, s.g_model_state, None, labels, z,
                                generator=exp.generator_at(s.step), latent_fn=None, n=None))


def generate(exp: Experiment, state, n: int, seed: int = 0) -> np.ndarray:
    """``n`` samples ``[n, ...]`` from ``state`` (a GANState or :class:`jaxgan.state.SamplingState`), as a numpy
    array; conditional models get ``exp.conditioning.sample(n, seed)`` (classes in turn, or drawn clusters)."""
    labels = None if exp.conditioning is None else exp.conditioning.sample(n, seed)
    return sample(exp, state, jax.random.PRNGKey(seed), n, labels)


def generate_batched(
    exp, state, n: int, *, seed: int = 0, labels: Any = None, batch_size: int = 500
) -> np.ndarray:
    """``n`` samples ``[n, ...]`` of ``exp``'s generator (the sampling params: the EMA when present), generated
    ``batch_size`` at a time with one compilation; batch ``i`` uses ``fold_in(PRNGKey(seed), i)``.

    Args:
      labels: ``[n]`` classes for conditional generators (required for them), else ``None``.
    """
    b = max(1, min(batch_size, n))
    key = jax.random.PRNGKey(seed)
    out = None
    for i, start in enumerate(range(0, n, b)):
        lab = None
        if labels is not None:
            lab = np.asarray(labels[start : start + b], np.int32)
            lab = np.concatenate([lab, np.zeros(b - len(lab), np.int32)])
        batch = sample(exp, state, jax.random.fold_in(key, i), b, lab)
        if out is None:
            out = np.empty((n, *batch.shape[1:]), batch.dtype)
        out[start : start + b] = batch[: min(b, n - start)]
    return out
