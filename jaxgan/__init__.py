"""jaxgan: a functional GAN framework for JAX.

The public API, as explicit re-exports. Networks are :class:`Net` s (``init``, ``apply``) built by
``from_linen`` / ``from_nnx`` / ``from_function``; a loss family is a :class:`GANLoss`; the state is one
:class:`GANState` pytree; :func:`make_train_step` returns the pure, jit-able ``train_step(state, batch)``.
"""

from jaxgan.adapters import Net, from_function, from_linen, from_nnx
from jaxgan.config import Config, apply_overrides, load_config
from jaxgan.losses import LOSSES, GANLoss, get_loss
from jaxgan.penalties import (
    Penalty,
    dragan_penalty,
    gradient_penalty,
    r1_penalty,
    r2_penalty,
    weight_clipping,
)
from jaxgan.state import GANState, create_state, init_state
from jaxgan.train import (
    Replicas,
    data_key,
    make_multi_step,
    make_sampled_multi_step,
    make_train_step,
    normal_latent,
    sample_keys,
)

__version__ = "0.1.0"

__all__ = [
    "Config",
    "GANLoss",
    "GANState",
    "LOSSES",
    "Net",
    "Penalty",
    "Replicas",
    "apply_overrides",
    "create_state",
    "data_key",
    "dragan_penalty",
    "from_function",
    "from_linen",
    "from_nnx",
    "get_loss",
    "gradient_penalty",
    "init_state",
    "load_config",
    "make_multi_step",
    "make_sampled_multi_step",
    "make_train_step",
    "normal_latent",
    "r1_penalty",
    "r2_penalty",
    "sample_keys",
    "weight_clipping",
]
