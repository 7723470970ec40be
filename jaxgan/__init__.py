"""jaxgan: a functional GAN framework for JAX.

The public API, as explicit re-exports. Networks are :class:`Net` s (``init``, ``apply``) built by
``from_linen`` / ``from_nnx`` / ``from_function``; a loss family is a :class:`GANLoss`; the state is one
:class:`GANState` pytree; :func:`make_train_step` returns the pure, jit-able ``train_step(state, batch)``.
Any other set of networks and players is a :class:`System` (:func:`make_system_step`, :func:`init_system_state`);
the plain GAN is its first instance, :func:`gan`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Names are imported on first use (PEP 562), so ``import jaxgan.cli`` does not import JAX: the command installs
# its SIGTERM handler before the heavy imports, and a preemption during them still exits 0.
_EXPORTS = {
    "jaxgan.adapters": ("Net", "from_function", "from_linen", "from_nnx"),
    "jaxgan.config": ("Config", "apply_overrides", "load_config"),
    "jaxgan.losses": ("LOSSES", "GANLoss", "get_loss"),
    "jaxgan.penalties": (
        "Penalty", "dragan_penalty", "gradient_penalty", "r1_penalty", "r2_penalty", "weight_clipping",
    ),
    "jaxgan.state": ("GANState", "create_state", "init_state"),
    "jaxgan.context": ("Context",),
    "jaxgan.system": (
        "Player", "System", "SystemState", "create_system_state", "init_system_state", "make_system_step",
    ),
    "jaxgan.plain_gan": ("gan",),
    "jaxgan.train": (
        "Replicas", "data_key", "make_multi_step", "make_sampled_multi_step", "make_train_step", "normal_latent",
        "sample_keys",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

if TYPE_CHECKING:
    from jaxgan.adapters import Net, from_function, from_linen, from_nnx
    from jaxgan.config import Config, apply_overrides, load_config
    from jaxgan.context import Context
    from jaxgan.losses import LOSSES, GANLoss, get_loss
    from jaxgan.penalties import (
        Penalty,
        dragan_penalty,
        gradient_penalty,
        r1_penalty,
        r2_penalty,
        weight_clipping,
    )
    from jaxgan.plain_gan import gan
    from jaxgan.state import GANState, create_state, init_state
    from jaxgan.system import (
        Player,
        System,
        SystemState,
        create_system_state,
        init_system_state,
        make_system_step,
    )
    from jaxgan.train import (
        Replicas,
        data_key,
        make_multi_step,
        make_sampled_multi_step,
        make_train_step,
        normal_latent,
        sample_keys,
    )


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'jaxgan' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))


__version__ = "0.1.0"

__all__ = [
    "Config",
    "Context",
    "GANLoss",
    "GANState",
    "LOSSES",
    "Net",
    "Penalty",
    "Player",
    "Replicas",
    "System",
    "SystemState",
    "apply_overrides",
    "create_state",
    "create_system_state",
    "data_key",
    "dragan_penalty",
    "from_function",
    "from_linen",
    "from_nnx",
    "gan",
    "get_loss",
    "gradient_penalty",
    "init_state",
    "init_system_state",
    "load_config",
    "make_multi_step",
    "make_sampled_multi_step",
    "make_system_step",
    "make_train_step",
    "normal_latent",
    "r1_penalty",
    "r2_penalty",
    "sample_keys",
    "weight_clipping",
]
