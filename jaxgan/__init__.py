"""jaxgan: a functional GAN framework for JAX.

The public API, written once in :data:`_API` below (module -> the names it gives). Networks are :class:`Net` s
(``init``, ``apply``) built by ``from_linen`` / ``from_nnx`` / ``from_function``; a loss family is a
:class:`GANLoss`; the state is one :class:`GANState` pytree; :func:`make_train_step` returns the pure, jit-able
``train_step(state, batch)``. Any other set of networks and players is a :class:`System`
(:func:`make_system_step`, :func:`init_system_state`); the plain GAN is its first instance, :func:`gan`.
:func:`data_parallel` runs any step over devices (``pmap`` or a ``Mesh``); :class:`Checkpointer` saves and
restores a state with orbax; :func:`restore_latest` resumes from the newest valid checkpoint.

The layout: the library is this folder (``losses``, ``penalties``, ``state``, ``system``, ``train``,
``parallel``, ``checkpoint``, ``preemption``, ``families/``, ``models/``, ``data/``, ``metrics/``); the
application, from a config to a report and the ``jaxgan`` command, is :mod:`jaxgan.run`; the shipped configs
are :mod:`jaxgan.configs`.
"""

from __future__ import annotations

import importlib

# Names are imported on first use (PEP 562): ``import jaxgan.run.cli`` does not import JAX, so the command
# installs its SIGTERM handler before the heavy imports and a preemption during them still exits 0.
_API = {
    "jaxgan.models.adapters": ("Net", "from_function", "from_linen", "from_nnx"),
    "jaxgan.losses": ("LOSSES", "GANLoss", "get_loss"),
    "jaxgan.penalties": (
        "Penalty", "dragan_penalty", "gradient_penalty", "r1_penalty", "r2_penalty", "weight_clipping",
    ),
    "jaxgan.context": ("Context",),
    "jaxgan.state": ("GANState", "create_state", "init_state"),
    "jaxgan.system": (
        "Player", "System", "SystemState", "create_system_state", "init_system_state", "make_system_step",
    ),
    "jaxgan.plain_gan": ("gan",),
    "jaxgan.train": ("make_multi_step", "make_sampled_multi_step", "make_train_step", "normal_latent"),
    "jaxgan.parallel": ("DataParallel", "data_parallel"),
    "jaxgan.checkpoint": ("Checkpointer",),
    "jaxgan.run.config": ("Config", "apply_overrides", "load_config"),
    "jaxgan.run.resume": ("restore_latest",),
}
_MODULE_OF = {name: module for module, names in _API.items() for name in names}

__all__ = sorted(_MODULE_OF)
__version__ = "0.1.0"


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'jaxgan' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
