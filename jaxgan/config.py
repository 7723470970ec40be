"""Run configurations: one flat dataclass, named configs as code, and command-line overrides.

A named config is a module ``jaxgan/configs/<name>.py`` with ``get_config() -> Config`` and a docstring that
states its command and the result it reached. A config can also be a path to such a ``.py`` file. Any field
can be overridden from the command line with ``--set field=value`` (repeatable); the value is parsed as JSON
when it parses (``--set penalties='{"gp": 10}'``, ``--set g_features='[64, 64]'``), else taken as a string.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import math
import pkgutil
from pathlib import Path
from typing import Any

import jaxgan.configs


@dataclasses.dataclass
class Config:
    """Every setting of a run. Defaults are the 2-D ring with the PacGAN networks at a quick size."""

    name: str = "custom"
    seed: int = 0
    steps: int = 2000

    # data: a toy distribution name ("ring", "grid", "gaussian_1d", "gaussian_2d") or an image dataset spec
    # ("digits", "mnist", "idx:/path", "folder:/path", "npz:/path").
    data: str = "ring"
    image_size: int | None = None
    conditional: bool = False
    # condition G and D on this many k-means clusters of the training images instead of class labels (no labels
    # used; samples draw their cluster from the clusters' frequencies): jaxgan.conditioning. Image data only.
    clusters: int | None = None
    batch_size: int = 100
    latent_dim: int = 2
    latent: str = "normal"  # "normal" or "uniform"

    # models: "mlp" (toy) or an image family ("dcgan", "sngan", "began").
    model: str = "mlp"
    g_features: list[int] = dataclasses.field(default_factory=lambda: [128, 128, 128])
    d_features: list[int] = dataclasses.field(default_factory=lambda: [128, 128, 128])
    g_batch_norm: bool = False
    d_maxout: int | None = None
    model_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    # the objective
    loss: str = "non_saturating"
    loss_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    penalties: dict[str, float] = dataclasses.field(default_factory=dict)  # {"gp": 10.0, "r1": 1.0, ...}
    weight_clip: float | None = None
    n_critic: int = 1
    simultaneous: bool = False

    # remedies for mode collapse
    pack: int = 1
    minibatch_std: bool = False
    instance_noise: float = 0.0
    augment: str = ""  # DiffAugment policy for image discriminators, e.g. "translation,cutout" (jaxgan.augment)

    # optimisation
    optimizer: str = "adam"
    g_lr: float = 1e-3
    d_lr: float = 1e-3
    b1: float = 0.5
    b2: float = 0.999
    # learning-rate schedule of both optimizers: "constant", or "cosine" / "linear" decay from the learning rate
    # to 0 over the last lr_decay_fraction of each optimizer's updates (steps, or steps * n_critic for D)
    lr_schedule: str = "constant"
    lr_decay_fraction: float = 1.0
    ema_decay: float | None = None
    ema_warmup: bool = False  # decay min(ema_decay, (1 + n) / (10 + n)) after n generator updates (TF's num_updates)
    # top-k training (Sinha et al. 2020): G learns from the fraction max(top_k, top_k_gamma ** epoch) of its samples
    # that D scores as most real; top_k is the floor nu (0.5 in the paper), None turns it off. Image data only.
    top_k: float | None = None
    top_k_gamma: float = 0.99

    # running
    parallel: str = "none"  # "none", "pmap" or "mesh"
    cross_replica_bn: bool = True  # batch-norm statistics over the global batch in parallel runs
    steps_per_call: int = 100
    log_every: int = 100
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    keep_every: int | None = None
    eval_samples: int = 2500
    metrics: list[str] = dataclasses.field(default_factory=list)


_POSITIVE_INTS = ("steps", "batch_size", "latent_dim", "n_critic", "pack", "steps_per_call", "log_every",
                  "sample_every", "checkpoint_every", "keep_checkpoints", "eval_samples")
_FINITE = ("g_lr", "d_lr", "b1", "b2", "instance_noise", "lr_decay_fraction")
LR_SCHEDULES = ("constant", "cosine", "linear")


def validate(config: Config) -> Config:
    """Checks a config's values; raises ValueError naming the first bad field."""
    for f in _POSITIVE_INTS:
        v = getattr(config, f)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"config field {f} must be a positive integer, got {v!r}")
    for f in _FINITE:
        v = getattr(config, f)
        if not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"config field {f} must be a finite number, got {v!r}")
    if config.parallel not in ("none", "pmap", "mesh"):
        raise ValueError(f"config field parallel must be one of none, pmap, mesh; got {config.parallel!r}")
    if config.latent not in ("normal", "uniform"):
        raise ValueError(f"config field latent must be normal or uniform; got {config.latent!r}")
    if config.lr_schedule not in LR_SCHEDULES:
        raise ValueError(
            f"config field lr_schedule must be one of {', '.join(LR_SCHEDULES)}; got {config.lr_schedule!r}"
        )
    if not 0.0 < config.lr_decay_fraction <= 1.0:
        raise ValueError(f"config field lr_decay_fraction must be in (0, 1], got {config.lr_decay_fraction!r}")
    if config.ema_decay is not None and not (0.0 <= config.ema_decay < 1.0):
        raise ValueError(f"config field ema_decay must be in [0, 1), got {config.ema_decay!r}")
    if config.top_k is not None:
        for f in ("top_k", "top_k_gamma"):
            v = getattr(config, f)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 < v <= 1.0:
                raise ValueError(f"config field {f} must be in (0, 1], got {v!r}")
    if not isinstance(config.ema_warmup, bool):
        raise ValueError(f"config field ema_warmup must be true or false, got {config.ema_warmup!r}")
    if config.ema_warmup and config.ema_decay is None:
        raise ValueError("config field ema_warmup ramps the EMA decay up: set ema_decay too")
    if config.clusters is not None:
        if isinstance(config.clusters, bool) or not isinstance(config.clusters, int) or config.clusters < 2:
            raise ValueError(f"config field clusters must be an integer >= 2 or null, got {config.clusters!r}")
        if config.conditional:
            raise ValueError(
                "config fields conditional and clusters both set: conditional conditions on class labels, "
                "clusters on k-means clusters; choose one"
            )
        from jaxgan.data.toy import TOY_DISTRIBUTIONS

        if config.data in TOY_DISTRIBUTIONS:
            raise ValueError(f"config field clusters needs image data, not data={config.data!r}")
    if config.batch_size % config.pack:
        raise ValueError(f"batch_size {config.batch_size} must divide by pack {config.pack}")
    if config.augment:
        from jaxgan.augment import parse_policy

        try:
            parse_policy(config.augment)
        except ValueError as e:
            raise ValueError(f"config field augment: {e}") from None
        from jaxgan.data.toy import TOY_DISTRIBUTIONS

        if config.data in TOY_DISTRIBUTIONS:
            raise ValueError(f"config field augment (DiffAugment) needs image data, not data={config.data!r}")
    return config


def available_configs() -> list[str]:
    """Names of the configs shipped in :mod:`jaxgan.configs`."""
    return sorted(m.name for m in pkgutil.iter_modules(jaxgan.configs.__path__) if not m.name.startswith("_"))


def load_config(name_or_path: str | None = None) -> Config:
    """Loads a named config (default ``"default"``) or a config file ``path/to/config.py``."""
    name_or_path = name_or_path or "default"
    if name_or_path.endswith(".py"):
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(f"config file {path} does not exist")
        spec = importlib.util.spec_from_file_location(f"jaxgan_user_config_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        if name_or_path not in available_configs():
            raise ValueError(
                f"unknown config {name_or_path!r}; named configs: {', '.join(available_configs())} "
                "(or give a path to a .py file defining get_config())"
            )
        module = importlib.import_module(f"jaxgan.configs.{name_or_path}")
    if not hasattr(module, "get_config"):
        raise ValueError(f"config {name_or_path!r} defines no get_config()")
    config = module.get_config()
    if not isinstance(config, Config):
        raise ValueError(f"get_config() of {name_or_path!r} returned {type(config).__name__}, not Config")
    return config


def _parse_value(field: dataclasses.Field, raw: str) -> Any:
    if field.type == "str":
        return raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw  # validate() names the field if a string does not belong there
    if "float" in field.type and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def apply_overrides(config: Config, overrides: list[str]) -> Config:
    """Returns ``config`` with ``field=value`` overrides applied; unknown fields raise ValueError."""
    fields = {f.name: f for f in dataclasses.fields(Config)}
    changes = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set takes field=value, got {item!r}")
        key, raw = item.split("=", 1)
        key = key.strip()
        if key not in fields:
            raise ValueError(f"unknown config field {key!r}; fields: {', '.join(fields)}")
        changes[key] = _parse_value(fields[key], raw)
    return dataclasses.replace(config, **changes)


def to_dict(config: Config) -> dict[str, Any]:
    return dataclasses.asdict(config)


def from_dict(d: dict[str, Any]) -> Config:
    names = {f.name for f in dataclasses.fields(Config)}
    return Config(**{k: v for k, v in d.items() if k in names})
