"""Run configurations: one flat dataclass, named configs as code, and command-line overrides.

A named config is a module ``jaxgan/configs/<name>.py`` with ``get_config() -> Config`` and a docstring that
states its command and the result it reached. A config can also be a path to such a ``.py`` file. Any field
can be overridden from the command line with ``--set field=value`` (repeatable); the value is parsed as JSON
when it parses (``--set penalties='{"gp": 10}'``, ``--set g_features='[64, 64]'``), else taken as a string.

Every field declares what it accepts (a :class:`Rule` in its metadata); :func:`validate` checks each field
against its rule, then the few rules that tie fields together, and raises ``ValueError`` naming the first bad
field: ``config field g_lr must be a finite number > 0, got -1.0``.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import math
import pkgutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jaxgan.configs
from jaxgan.parallel_modes import MODES as PARALLEL_MODES  # imports no JAX: configs are checked before it loads
from jaxgan.run import family_config  # imports no JAX either

# jax.random.PRNGKey keeps the low 32 bits of a seed (without jax_enable_x64): 2**32 would give seed 0's key.
MAX_SEED = 2**32 - 1
LR_SCHEDULES = ("constant", "cosine", "linear")


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a config field accepts: ``accepts(value)`` is true for good values; ``what`` says it in words."""

    what: str
    accepts: Callable[[Any], bool]
    nullable: bool = False
    sep: str = ","  # before "got": a list of options takes ";"

    def check(self, field: str, value: Any) -> None:
        """Raises ValueError ``config field <field> must be <what>, got <value>`` unless the rule accepts it."""
        if value is None and self.nullable:
            return
        if not self.accepts(value):
            raise ValueError(f"config field {field} must be {self.what}{' or null' if self.nullable else ''}"
                             f"{self.sep} got {value!r}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def integer(lo: int = 1, hi: int | None = None, *, nullable: bool = False) -> Rule:
    """An int (not a bool) in ``[lo, hi]``."""
    if hi is not None:
        what = f"an integer in [{lo}, {hi}]"
    else:
        what = "a positive integer" if lo == 1 else f"an integer >= {lo}"
    return Rule(what, lambda v: _is_int(v) and v >= lo and (hi is None or v <= hi), nullable)


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
           nullable: bool = False) -> Rule:
    """A finite int or float in the interval from ``lo`` to ``hi`` (open at the ends so marked)."""
    if lo is not None and hi is not None:
        what = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    elif lo is not None:
        what = f"a finite number {'>' if lo_open else '>='} {lo:g}"
    else:
        what = "a finite number"

    def accepts(v: Any) -> bool:
        if not _is_number(v):
            return False
        above = lo is None or (v > lo if lo_open else v >= lo)
        below = hi is None or (v < hi if hi_open else v <= hi)
        return above and below

    return Rule(what, accepts, nullable)


def one_of(*options: Any) -> Rule:
    return Rule(f"one of {', '.join(options)}", lambda v: isinstance(v, str) and v in options, sep=";")


def _features_ok(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) > 0 and all(_is_int(x) and x >= 1 for x in v)


BOOL = Rule("true or false", lambda v: isinstance(v, bool))
STRING = Rule("a string", lambda v: isinstance(v, str))
NAME = Rule("a non-empty string", lambda v: isinstance(v, str) and v.strip() != "")
MAPPING = Rule("a JSON object", lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v))
WEIGHTS = Rule("a JSON object of finite weights >= 0", lambda v: isinstance(v, dict) and all(
    isinstance(k, str) and _is_number(w) and w >= 0 for k, w in v.items()))
FEATURES = Rule("a non-empty list of positive integers (layer widths)", _features_ok)
STRINGS = Rule("a list of strings", lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v))


# What a field is to a resumed run (metadata "resume", read by jaxgan.run.resume); unmarked fields change how the state
# evolves: they may change on resume, with a warning that the run then differs from an uninterrupted one.
RUN_CONTROL = "run_control"  # steers the run only (its length, intervals, retention, devices): may change freely
STRUCTURE = "structure"  # decides the state's structure or shapes: a checkpoint of another value does not restore


def _field(default: Any, rule: Rule, resume: str | None = None) -> Any:
    """A dataclass field with its rule (and ``resume`` kind); a list or dict default is copied for each instance."""
    metadata = {"rule": rule, "resume": resume}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class Config:
    """Every setting of a run. Defaults are the 2-D ring with the PacGAN networks at a quick size."""

    name: str = _field("custom", NAME, RUN_CONTROL)
    seed: int = _field(0, integer(0, MAX_SEED))
    steps: int = _field(2000, integer(), RUN_CONTROL)

    # data: a toy distribution name ("ring", "grid", "gaussian_1d", "gaussian_2d") or an image dataset spec
    # ("digits", "mnist", "idx:/path", "folder:/path", "npz:/path"), or for the translation families a
    # jaxgan.data.translation spec ("paired:mnist:edges->identity", "unpaired:...", "domains:...").
    data: str = _field("ring", NAME, STRUCTURE)
    image_size: int | None = _field(None, integer(nullable=True), STRUCTURE)
    # image channels the model is built for: 1 or 3, which the data must have; None: whatever the data has
    channels: int | None = _field(None, Rule("1 or 3", lambda v: _is_int(v) and v in (1, 3), nullable=True), STRUCTURE)
    conditional: bool = _field(False, BOOL, STRUCTURE)
    # condition G and D on this many k-means clusters of the training images instead of class labels (no labels
    # used; samples draw their cluster from the clusters' frequencies): jaxgan.conditioning. Image data only.
    clusters: int | None = _field(None, integer(2, nullable=True), STRUCTURE)
    batch_size: int = _field(100, integer())
    latent_dim: int = _field(2, integer(), STRUCTURE)
    latent: str = _field("normal", one_of("normal", "uniform"))

    # models: "mlp" (toy) or an image family ("dcgan", "sngan", "began", "biggan", "progan").
    model: str = _field("mlp", one_of("mlp", "dcgan", "sngan", "began", "biggan", "progan"), STRUCTURE)
    g_features: list[int] = _field([128, 128, 128], FEATURES, STRUCTURE)
    d_features: list[int] = _field([128, 128, 128], FEATURES, STRUCTURE)
    g_batch_norm: bool = _field(False, BOOL, STRUCTURE)
    d_maxout: int | None = _field(None, integer(nullable=True), STRUCTURE)
    model_kwargs: dict[str, Any] = _field({}, MAPPING, STRUCTURE)
    # progressive growing (model "progan", jaxgan.progressive): {"resolutions": [4, 8, 16, 32], "fade_steps": N,
    # "stable_steps": M}; the first phase trains M steps, each later one fades in over N and stabilises over M,
    # the last until steps. Every resolution's parameters exist from step 0: the schedule never changes the state.
    growing: dict[str, Any] = _field({}, MAPPING)

    # the GAN family (jaxgan.run.families): "gan" (the plain GAN), "acgan", "infogan", "bigan", or the
    # image-to-image translation families "pix2pix", "cyclegan", "stargan" (jaxgan.run.family_config); its options
    family: str = _field("gan", one_of(*family_config.FAMILIES), STRUCTURE)
    family_kwargs: dict[str, Any] = _field({}, MAPPING, STRUCTURE)
    # train on the digit classifier's training split only (8,500 of MNIST's 10,000): its 1,500 held-out images
    # then stay unseen for the families' evaluations (ACGAN's class head, BiGAN's probes). Image data only.
    exclude_heldout: bool = _field(False, BOOL)
    # the objective
    loss: str = _field("non_saturating", NAME, STRUCTURE)
    loss_kwargs: dict[str, Any] = _field({}, MAPPING, STRUCTURE)
    penalties: dict[str, float] = _field({}, WEIGHTS)  # {"gp": 10.0, "r1": 1.0, ...}
    # BigGAN's orthogonal regularization of G's kernels (jaxgan.penalties.orthogonal_regularization), its weight
    # beta (1e-4 in the paper; 5e-5 reproduces BigGAN-PyTorch's update); reported as g/ortho. Plain GAN only.
    g_ortho: float | None = _field(None, number(0, lo_open=True, nullable=True))
    weight_clip: float | None = _field(None, number(0, lo_open=True, nullable=True))
    n_critic: int = _field(1, integer())
    simultaneous: bool = _field(False, BOOL)

    # remedies for mode collapse
    pack: int = _field(1, integer(), STRUCTURE)
    minibatch_std: bool = _field(False, BOOL, STRUCTURE)
    instance_noise: float = _field(0.0, number(0))
    # DiffAugment policy for image discriminators, e.g. "translation,cutout" (jaxgan.augment)
    augment: str = _field("", STRING)

    # optimisation
    optimizer: str = _field("adam", one_of("adam", "rmsprop", "sgd"), STRUCTURE)
    g_lr: float = _field(1e-3, number(0, lo_open=True))
    d_lr: float = _field(1e-3, number(0, lo_open=True))
    b1: float = _field(0.5, number(0, 1, hi_open=True))
    b2: float = _field(0.999, number(0, 1, hi_open=True))
    # learning-rate schedule of both optimizers: "constant", or "cosine" / "linear" decay from the learning rate
    # to 0 over the last lr_decay_fraction of each optimizer's updates (steps, or steps * n_critic for D)
    lr_schedule: str = _field("constant", one_of(*LR_SCHEDULES))
    lr_decay_fraction: float = _field(1.0, number(0, 1, lo_open=True))
    ema_decay: float | None = _field(None, number(0, 1, hi_open=True, nullable=True), STRUCTURE)
    # decay min(ema_decay, (1 + n) / (10 + n)) after n generator updates (TF's num_updates)
    ema_warmup: bool = _field(False, BOOL)
    # top-k training (Sinha et al. 2020): G learns from the fraction max(top_k, top_k_gamma ** epoch) of its samples
    # that D scores as most real; top_k is the floor nu (0.5 in the paper), None turns it off. Image data only.
    top_k: float | None = _field(None, number(0, 1, lo_open=True, nullable=True))
    top_k_gamma: float = _field(0.99, number(0, 1, lo_open=True))

    # the dtype of every network's forward pass (jaxgan.precision.mixed_precision): "bfloat16" computes in bf16
    # while parameters, optimizer states, model state and losses stay float32 (for TPUs and recent GPUs)
    compute_dtype: str = _field("float32", one_of("float32", "bfloat16"))

    # running
    parallel: str = _field("none", one_of(*PARALLEL_MODES), RUN_CONTROL)
    cross_replica_bn: bool = _field(True, BOOL)  # batch-norm statistics over the global batch in parallel runs
    steps_per_call: int = _field(100, integer(), RUN_CONTROL)
    log_every: int = _field(100, integer(), RUN_CONTROL)
    sample_every: int = _field(500, integer(), RUN_CONTROL)
    checkpoint_every: int = _field(1000, integer(), RUN_CONTROL)
    keep_checkpoints: int = _field(3, integer(), RUN_CONTROL)
    keep_every: int | None = _field(None, integer(nullable=True), RUN_CONTROL)
    eval_samples: int = _field(2500, integer(), RUN_CONTROL)
    metrics: list[str] = _field([], STRINGS, RUN_CONTROL)


def resume_fields(kind: str) -> tuple[str, ...]:
    """The names of the :class:`Config` fields marked ``resume=kind`` (:data:`RUN_CONTROL` or :data:`STRUCTURE`),
    in field order."""
    return tuple(f.name for f in dataclasses.fields(Config) if f.metadata["resume"] == kind)


def validate(config: Config) -> Config:
    """Checks every field against its rule, then the rules between fields; raises ValueError naming the first
    bad field."""
    for f in dataclasses.fields(config):
        f.metadata["rule"].check(f.name, getattr(config, f.name))
    if config.ema_warmup and config.ema_decay is None:
        raise ValueError("config field ema_warmup ramps the EMA decay up: set ema_decay too")
    if config.clusters is not None:
        if config.conditional:
            raise ValueError(
                "config fields conditional and clusters both set: conditional conditions on class labels, "
                "clusters on k-means clusters; choose one"
            )
        from jaxgan.data.toy import TOY_DISTRIBUTIONS

        if config.data in TOY_DISTRIBUTIONS:
            raise ValueError(f"config field clusters needs image data, not data={config.data!r}")
    if config.g_ortho is not None and config.family != "gan":
        raise ValueError(f"config field g_ortho: family {config.family!r} does not take it (plain GAN only); "
                         f"set it back to its default")
    if config.family != "gan" or config.family_kwargs:
        if config.family == "gan":
            raise ValueError("config field family_kwargs is for a family other than 'gan'; set family or remove it")
        family_config.check_config(config)
    if config.exclude_heldout:
        from jaxgan.data.toy import TOY_DISTRIBUTIONS

        if config.data in TOY_DISTRIBUTIONS:
            raise ValueError(f"config field exclude_heldout needs image data, not data={config.data!r}")
    if config.model == "progan" or config.growing:
        _check_growing(config)
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


GROWING_KEYS = ("resolutions", "fade_steps", "stable_steps")


def _check_growing(config: Config) -> None:
    """``growing`` goes with model ``progan`` and holds exactly :data:`GROWING_KEYS` (the schedule's own rules, the
    doubling resolutions and enough steps, are :func:`jaxgan.progressive.schedule`'s)."""
    if config.model != "progan":
        raise ValueError(f"config field growing is for model 'progan' (progressive growing), not {config.model!r}; "
                         "remove it")
    g = config.growing
    if sorted(g) != sorted(GROWING_KEYS):
        raise ValueError(f"config field growing must hold {', '.join(GROWING_KEYS)} (model progan grows in phases), "
                         f"got {g!r}")
    if not _features_ok(g["resolutions"]):
        raise ValueError(f"config field growing: resolutions must be a list of positive integers, "
                         f"got {g['resolutions']!r}")
    for key in ("fade_steps", "stable_steps"):
        if not (_is_int(g[key]) and g[key] >= 1):
            raise ValueError(f"config field growing: {key} must be a positive integer, got {g[key]!r}")
    if config.conditional or config.clusters is not None:
        raise ValueError("model progan is unconditional: set conditional=false and clusters=null")


def available_configs() -> list[str]:
    """Names of the configs shipped in :mod:`jaxgan.configs`."""
    return sorted(m.name for m in pkgutil.iter_modules(jaxgan.configs.__path__) if not m.name.startswith("_"))


class ConfigFileError(ValueError):
    """A config file that cannot be loaded; the message names the file and the line."""


def _failure(e: Exception, path: Path, during: str) -> ConfigFileError:
    """``config file F, line N: <during>Type: message`` for an exception raised while loading ``path``."""
    if isinstance(e, SyntaxError) and e.filename:
        where, line, what = Path(e.filename), e.lineno, f"SyntaxError: {e.msg}"
    else:
        frames = traceback.extract_tb(e.__traceback__)
        # the deepest line of the config file itself, else the deepest line of anything it called
        own = [f for f in frames if Path(f.filename).resolve() == path.resolve()]
        frame = own[-1] if own else frames[-1]
        where, line = Path(frame.filename), frame.lineno
        text = str(e).strip().splitlines()
        what = f"{during}{type(e).__name__}{': ' + text[0] if text else ''}"
    return ConfigFileError(f"config file {where}, line {line}: {what}")


def load_config(name_or_path: str | None = None) -> Config:
    """Loads a named config (default ``"default"``) or a config file ``path/to/config.py``.

    Raises:
      ConfigFileError: the file does not compile, or raises while it is imported or in ``get_config()``; the
        message is one line naming the file and the line.
      ValueError: an unknown name, a missing file, no ``get_config()``, or one that returns no ``Config``.
    """
    name_or_path = name_or_path or "default"
    if name_or_path.endswith(".py"):
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(f"config file {path} does not exist")
        module_name = f"jaxgan_user_config_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)

        def load():
            spec.loader.exec_module(module)
            return module
    else:
        if name_or_path not in available_configs():
            raise ValueError(
                f"unknown config {name_or_path!r}; named configs: {', '.join(available_configs())} "
                "(or give a path to a .py file defining get_config())"
            )
        module_name = f"jaxgan.configs.{name_or_path}"
        path = Path(jaxgan.configs.__path__[0]) / f"{name_or_path}.py"
        load = lambda: importlib.import_module(module_name)
    try:
        module = load()
    except Exception as e:  # noqa: BLE001 - whatever a config file raises becomes one line naming it
        sys.modules.pop(module_name, None)
        raise _failure(e, path, "") from None
    if not hasattr(module, "get_config"):
        raise ValueError(f"config {name_or_path!r} defines no get_config()")
    try:
        config = module.get_config()
    except Exception as e:  # noqa: BLE001
        raise _failure(e, path, "get_config() raised ") from None
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
