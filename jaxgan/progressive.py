"""Progressive growing (Karras et al. 2018): resolution phases, the fade-in weight, and one train step per phase.

"Progressive Growing of GANs for Improved Quality, Stability, and Variation", arXiv:1710.10196, Section 2. A run
trains at resolutions ``4 -> 8 -> ... -> R``. Each phase after the first fades its new layers in over
``fade_steps`` steps, ``alpha`` rising linearly from 0 to 1, then trains at ``alpha = 1`` (stabilisation) for
``stable_steps``; the first phase has no fade; the last phase runs until the run's last step. The reference
(tkarras/progressive_growing_of_gans, ``train.py``: ``lod_training_kimg`` / ``lod_transition_kimg``, 600k
images each) counts images; here a phase is counted in train steps (images = steps x batch size).

The step of phase ``p`` (:func:`make_progressive_step`) is a pure ``step(state, batch) -> (state, metrics)``:

* ``alpha = clip((state.step - start_p) / fade_p, 0, 1)`` is computed from the state's own step inside the
  compiled step, so a run resumed from any step, mid-fade included, continues with the same ``alpha`` bits;
* the networks of the phase are built at that ``alpha`` by ``nets_at(resolution, alpha)`` (any apply
  functions: :func:`jaxgan.models.progan.fade_net` for ProGAN's), and the real images ``[b, R, R, c]`` are
  brought to the phase's resolution and cross-faded the same way as the generator's output
  (:func:`jaxgan.models.progan.fade_real`);
* at the first step of a phase the optimizer states are reset to their initial values (the reference's
  ``reset_opt_for_new_lod=True``): Adam's moments of the old layers do not carry over into the new network;
* the metrics gain ``phase/resolution`` and ``phase/alpha``.

The parameters of every resolution live in the state from step 0, so one state structure (and one
checkpoint format) serves every phase; only the step function changes between phases, and each phase compiles
its own step (shapes differ). :class:`Schedule` says which phase a step is in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxgan.models.progan import fade_real

Array = jax.Array


class Phase(NamedTuple):
    """One resolution phase: steps ``start .. end - 1`` at ``resolution``, the first ``fade`` of them fading in."""

    index: int
    resolution: int
    start: int
    fade: int
    end: int

    def alpha(self, step: Any) -> Any:
        """The fade-in weight at ``step`` (a Python int gives a float, a traced step a float32 scalar): 1 for a
        phase without fade, else ``clip((step - start) / fade, 0, 1)``."""
        if self.fade == 0:
            return 1.0 if isinstance(step, int) else jnp.float32(1.0)
        if isinstance(step, int):
            return min(max((step - self.start) / self.fade, 0.0), 1.0)
        t = (jnp.asarray(step, jnp.int32) - self.start).astype(jnp.float32)
        return jnp.clip(t / self.fade, 0.0, 1.0)


class Schedule(NamedTuple):
    """The phases of a progressive run of ``total_steps`` steps.

    Build it with :func:`schedule`. Attributes: ``phases`` (a tuple of :class:`Phase`), ``total_steps``.
    """

    phases: tuple[Phase, ...]
    total_steps: int

    def phase(self, step: int) -> Phase:
        """The phase that step ``step`` (0-based; ``total_steps`` and beyond: the last phase) trains in."""
        for p in self.phases:
            if step < p.end:
                return p
        return self.phases[-1]

    def next_boundary(self, step: int) -> int:
        """The first phase boundary (a phase's end) after ``step``."""
        return self.phase(step).end if step < self.total_steps else self.total_steps

    def is_phase_end(self, step: int) -> bool:
        """Whether ``step`` completed steps end a phase (after the last step of one)."""
        return any(p.end == step for p in self.phases)


def schedule(resolutions: Sequence[int], fade_steps: int, stable_steps: int, total_steps: int) -> Schedule:
    """The :class:`Schedule` of phases at ``resolutions`` (increasing powers of two, each twice the one before).

    Phase 0 trains ``stable_steps`` without fade; each later phase fades in over ``fade_steps`` and stabilises over
    ``stable_steps``; the last phase stabilises until ``total_steps``.

    Raises:
      ValueError: resolutions that do not double, a step count below 1, or ``total_steps`` that ends before the
        last phase has faded in and trained a step at ``alpha = 1`` (naming the steps it needs).
    """
    res = [int(r) for r in resolutions]
    if not res or any(r < 4 or 2 ** round(math.log2(r)) != r for r in res):
        raise ValueError(f"progressive growing: resolutions must be powers of two >= 4, got {list(resolutions)}")
    if any(b != 2 * a for a, b in zip(res, res[1:])):
        raise ValueError(f"progressive growing: each resolution must double the one before, got {res}")
    if fade_steps < 1 or stable_steps < 1:
        raise ValueError(f"progressive growing: fade_steps and stable_steps must be >= 1, got {fade_steps}, "
                         f"{stable_steps}")
    phases, start = [], 0
    for i, r in enumerate(res):
        fade = 0 if i == 0 else fade_steps
        end = start + fade + stable_steps
        phases.append(Phase(i, r, start, fade, end))
        start = end
    last = phases[-1]
    needed = last.start + last.fade + 1  # the last phase fades in fully and trains at least one step at alpha 1
    if total_steps < needed:
        raise ValueError(
            f"progressive growing: {total_steps} steps end before the {last.resolution}x{last.resolution} phase has "
            f"faded in (it starts at step {last.start} and fades over {last.fade}); give at least {needed} steps"
        )
    phases[-1] = last._replace(end=total_steps)
    return Schedule(tuple(phases), total_steps)


def make_progressive_step(
    phase: Phase,
    nets_at: Callable[[int, Any], tuple[Any, Any]],
    make_step: Callable[..., Callable],
    *,
    g_optimizer=None,
    d_optimizer=None,
    reset_optimizers: bool = True,
) -> Callable:
    """The pure train step of ``phase`` (see the module docstring).

    Args:
      phase: the :class:`Phase` this step trains.
      nets_at: ``nets_at(resolution, alpha) -> (generator, discriminator)`` :class:`jaxgan.models.adapters.Net`
        s of the phase at fade-in weight ``alpha`` (a traced scalar).
      make_step: ``make_step(generator, discriminator) -> train_step`` on a :class:`jaxgan.state.GANState`
        (e.g. ``functools.partial(jaxgan.train.make_train_step, loss=..., ...)`` with the nets as its first two
        arguments); called inside the trace, once per compilation.
      g_optimizer, d_optimizer: the optax transformations, needed when ``reset_optimizers``.
      reset_optimizers: at the phase's first step, set both optimizer states back to ``init(params)`` (phase 0:
        nothing to reset).

    Returns:
      ``step(state, batch)``; ``batch["x"]`` holds real images at the final resolution.
    """
    if reset_optimizers and phase.index > 0 and (g_optimizer is None or d_optimizer is None):
        raise ValueError("make_progressive_step: reset_optimizers needs g_optimizer and d_optimizer")
    resolution = phase.resolution
    probe = make_step(*nets_at(resolution, 1.0))  # builds (and checks) once on the host; gives n_critic

    def step(state, batch):
        alpha = phase.alpha(state.step)
        if reset_optimizers and phase.index > 0:
            first = state.step == phase.start

            def fresh(opt, params, current):
                return jax.tree.map(lambda a, b: jnp.where(first, a, b), opt.init(params), current)

            state = state.replace(
                g_opt_state=fresh(g_optimizer, state.g_params, state.g_opt_state),
                d_opt_state=fresh(d_optimizer, state.d_params, state.d_opt_state),
            )
        inner = make_step(*nets_at(resolution, alpha))
        batch = dict(batch, x=fade_real(batch["x"], resolution, alpha))
        state, metrics = inner(state, batch)
        metrics = dict(metrics)
        metrics["phase/resolution"] = jnp.float32(resolution)
        metrics["phase/alpha"] = jnp.asarray(alpha, jnp.float32)
        return state, metrics

    step.n_critic = getattr(probe, "n_critic", 1)
    return step
