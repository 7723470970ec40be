"""Each family's own evaluation, added to ``report.json["eval"]`` beside the image evaluation
(:func:`jaxgan.run.vision.evaluate`) on the digit classifier's 1,500 held-out images (its seed-fixed split of the
data, :func:`jaxgan.run.pieces.heldout_split`).

* ``acgan``: ``class_head_accuracy`` of D's class head on the held-out real digits (``heldout_in_training``
  says whether the run saw them: ``config.exclude_heldout``).
* ``infogan``: ``code_matched_accuracy``, the categorical code as an unsupervised digit classifier: 2,000
  samples (the same number per code value) classified by the digit classifier, code values matched one-to-one to
  digits by the Hungarian algorithm (:func:`jaxgan.metrics.representation.matched_accuracy`); ``code_mapping``;
  ``q_code_accuracy`` (Q recovers the code) and ``mutual_information_bound`` (``L_I`` on those samples, at most
  ``log K`` for the categorical part).
* ``bigan``: ``probe_logistic`` and ``probe_1nn`` on the encoder's codes ``E(x)`` of the held-out digits, trained
  on the other images' codes; the same for the encoder at its initialisation (``random_encoder_*``);
  ``reconstruction_accuracy`` (the digit classifier keeps the label of ``G(E(x))``) and ``reconstruction_l1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.run.pieces import heldout_split, net_params, run_classifier
from jaxgan.run.sampler import images_from_latents

BATCH = 500


def _batched(fn, x: np.ndarray) -> np.ndarray:
    f = jax.jit(fn)
    return np.concatenate([np.asarray(f(jnp.asarray(x[i:i + BATCH]))) for i in range(0, len(x), BATCH)])


def _images(exp, state, z: np.ndarray) -> np.ndarray:
    """The generator's images of latents ``z``, ``BATCH`` at a time
    (:func:`jaxgan.run.sampler.images_from_latents`)."""
    return np.concatenate([images_from_latents(exp, state, z[i:i + BATCH]) for i in range(0, len(z), BATCH)])


def _classifier(exp, workdir: Path):
    from jaxgan.metrics.classifier import predict_proba

    variables, _ = run_classifier(exp.dataset, workdir)
    return lambda images: np.argmax(predict_proba(variables, images), -1)


def evaluate(exp, state, workdir: str | Path) -> dict[str, Any]:
    """The evaluation of ``exp.config.family`` (module docstring) for a full :class:`jaxgan.system.SystemState`."""
    fam = exp.config.family
    if fam == "acgan":
        return acgan_eval(exp, state)
    if fam == "infogan":
        return infogan_eval(exp, state, Path(workdir))
    if fam == "bigan":
        return bigan_eval(exp, state, Path(workdir))
    return {}


def _heldout(exp):
    train, held = heldout_split(exp.dataset)
    return train, held


def acgan_eval(exp, state) -> dict[str, Any]:
    ds = exp.dataset
    _, held = _heldout(exp)
    params, model_state = net_params(state, "d")
    d = exp.system.nets["d"]
    logits = _batched(lambda x: d.apply(params, model_state, x, train=False)[0][1], ds.images[held])
    return {
        "class_head_accuracy": float(np.mean(np.argmax(logits, -1) == ds.labels[held])),
        "heldout_in_training": not exp.config.exclude_heldout,
    }


def infogan_eval(exp, state, workdir: Path, n: int = 2000, seed: int = 1234) -> dict[str, Any]:
    from jaxgan.families.infogan import mutual_information_bound
    from jaxgan.metrics.representation import matched_accuracy

    code = exp.code
    k = code.categories
    n = -(-n // k) * k
    cat = np.arange(n) % k
    base = jax.vmap(code.sample)(jax.random.split(jax.random.PRNGKey(seed), n))
    noise, _, cont = code.split(base)
    z = np.asarray(code.join(noise, jnp.asarray(cat), cont))
    images = _images(exp, state, z)
    predicted = _classifier(exp, workdir)(images)
    acc, mapping = matched_accuracy(cat, predicted, k, int(exp.dataset.num_classes or k))
    params, model_state = net_params(state, "d")
    q = _batched(lambda x: exp.system.nets["d"].apply(params, model_state, x, train=False)[0][1], images)
    mi, mi_cat, _ = mutual_information_bound(jnp.asarray(q), jnp.asarray(cat), jnp.asarray(cont), k)
    return {
        "code_matched_accuracy": acc,
        "code_mapping": mapping.tolist(),
        "q_code_accuracy": float(np.mean(np.argmax(q[:, :k], -1) == cat)),
        "mutual_information_bound": float(mi),
        "mutual_information_bound_cat": float(mi_cat),
        "log_categories": float(np.log(k)),
    }


def _probes(codes: np.ndarray, labels: np.ndarray, train: np.ndarray, held: np.ndarray) -> tuple[float, float]:
    from jaxgan.metrics.representation import linear_probe_accuracy, nearest_neighbour_accuracy

    return (
        linear_probe_accuracy(codes[train], labels[train], codes[held], labels[held]),
        nearest_neighbour_accuracy(codes[train], labels[train], codes[held], labels[held]),
    )


def bigan_eval(exp, state, workdir: Path, init_state=None) -> dict[str, Any]:
    ds = exp.dataset
    train, held = _heldout(exp)
    e = exp.system.nets["e"]
    params, model_state = net_params(state, "e")
    codes = _batched(lambda x: e.apply(params, model_state, x, train=False)[0], ds.images)
    logistic, nn1 = _probes(codes, ds.labels, train, held)
    init = init_state if init_state is not None else jax.device_get(jax.jit(exp.init_state)())
    p0, m0 = init.params["e"], init.model_state["e"]
    codes0 = _batched(lambda x: e.apply(p0, m0, x, train=False)[0], ds.images)
    logistic0, nn10 = _probes(codes0, ds.labels, train, held)
    recon = _images(exp, state, codes[held])
    recon_pred = _classifier(exp, workdir)(recon)
    return {
        "probe_logistic": logistic,
        "probe_1nn": nn1,
        "random_encoder_logistic": logistic0,
        "random_encoder_1nn": nn10,
        "reconstruction_accuracy": float(np.mean(recon_pred == ds.labels[held])),
        "reconstruction_l1": float(np.mean(np.abs(recon - ds.images[held]))),
        "heldout_in_training": not exp.config.exclude_heldout,
    }


def encode(exp, state, images: np.ndarray) -> np.ndarray:
    """BiGAN's encoder ``E(x)`` (its EMA when kept) of ``images [n, h, w, c]`` in [-1, 1], inference mode."""
    if "e" not in exp.system.nets:
        raise ValueError(f"family {exp.config.family!r} has no encoder")
    params, model_state = net_params(state, "e")
    return _batched(lambda x: exp.system.nets["e"].apply(params, model_state, x, train=False)[0], np.asarray(images))
