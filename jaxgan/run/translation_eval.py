"""The evaluation and pictures of translation runs (pix2pix, CycleGAN, StarGAN) on their held-out images.

Every measure is computed on the held-out images of :mod:`jaxgan.data.translation` (the digit classifier's
1,500 of MNIST's 10,000, every one given in every domain) with the generators in inference mode (U-Net dropout
off; the EMA when the run kept one), beside the identity map (the input taken as the output) in the same units:

* ``l1``: the mean absolute pixel difference in [0, 1] units (half the difference of [-1, 1] images), so that
  an image against itself is 0 and black against white is 1;
* ``psnr``: the mean over images of ``10 log10(1 / mse)``, ``mse`` the image's mean squared difference in [0, 1]
  units (capped at 100 dB for identical images). On MNIST edges -> digits the identity map gives 0.152 / 9.8 dB;
* ``digit_accuracy``: the fraction of outputs the run's digit classifier
  (:func:`jaxgan.metrics.classifier_training.get_classifier`, trained on the source digits' other 8,500) gives the
  input's label, beside its accuracy on the real targets (``target_digit_accuracy``);
* ``fid_digits`` (pix2pix): the Fréchet distance between the classifier's 128-d penultimate features of the
  outputs and of the real targets (:func:`jaxgan.metrics.fid.fid_from_features`);
* domain accuracy (CycleGAN, StarGAN): a :class:`jaxgan.models.classifier.DigitClassifier` with one class per
  domain, trained (:func:`jaxgan.metrics.classifier_training.get_classifier`, cached in ``WORKDIR/classifier``) on
  the held-out real images of the domains, 85 % of them, its accuracy on the other 15 % reported as
  ``domain_classifier_real_accuracy``; ``domain_accuracy`` is the fraction of outputs it puts in the target
  domain.

Keys per family: pix2pix ``l1``, ``psnr``, ``digit_accuracy``, ``fid_digits`` and ``identity_*`` of each,
``target_digit_accuracy``; CycleGAN ``domain_ab`` (G_AB(a) called B), ``domain_ba``, ``digit_accuracy_ab``,
``digit_accuracy_ba``, ``cycle_l1_a`` (``|G_BA(G_AB(a)) - a|``), ``cycle_l1_b``, ``l1_ab`` (to the true
``T_B(x)``, a transform the model never saw paired), ``l1_ba``, ``psnr_ab``, ``psnr_ba``, ``identity_*``;
StarGAN (held-out image ``i`` in source domain ``i mod K``, translated to every domain) ``domain_accuracy``,
``domain_accuracy_per_target``, ``digit_accuracy``, ``target_digit_accuracy``, ``digit_accuracy_ratio``, and
over the pairs whose target is not the source, ``l1`` / ``psnr`` to the true ``T_c'(x)`` and ``identity_*``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.run.pieces import net_params, run_classifier

BATCH = 250
PSNR_CAP_DB = 100.0


# ----------------------------------------------------------------------------------------------------- measures


def l1(output: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute difference of ``[n, h, w, c]`` images in [-1, 1], in [0, 1] pixel units (``|a - b| / 2``)."""
    return float(np.mean(np.abs(np.asarray(output, np.float64) - np.asarray(target, np.float64))) / 2)


def psnr(output: np.ndarray, target: np.ndarray) -> float:
    """Mean over images of ``10 log10(1 / mse)`` dB, ``mse`` per image in [0, 1] units, capped at 100 dB."""
    diff = (np.asarray(output, np.float64) - np.asarray(target, np.float64)) / 2
    mse = np.mean(diff.reshape(len(diff), -1) ** 2, axis=1)
    return float(np.mean(np.minimum(10 * np.log10(1.0 / np.maximum(mse, 1e-300)), PSNR_CAP_DB)))


# --------------------------------------------------------------------------------------------------- the networks


def translate(exp, state, name: str, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Network ``name`` of the system (its EMA when kept) on ``x [n, h, w, c]`` with target domains ``labels
    [n]`` (StarGAN) in inference mode, ``BATCH`` rows at a time (one compilation). Returns ``[n, h, w, c]``."""
    params, model_state = net_params(state, name)
    net = exp.system.nets[name]
    f = jax.jit(lambda p, m, xb, lb: net.apply(p, m, xb, lb, train=False, rng=jax.random.PRNGKey(0))[0])
    x = np.asarray(x, np.float32)
    n, b = len(x), min(BATCH, len(x))
    out = []
    for i in range(0, n, b):
        xb = x[i:i + b]
        lb = None if labels is None else np.asarray(labels[i:i + b], np.int32)
        pad = b - len(xb)
        if pad:
            xb = np.concatenate([xb, np.zeros((pad,) + xb.shape[1:], xb.dtype)])
            lb = None if lb is None else np.concatenate([lb, np.zeros(pad, np.int32)])
        out.append(np.asarray(f(params, model_state, jnp.asarray(xb), lb))[:b - pad])
    return np.concatenate(out)


def _columns(exp, state, rows: np.ndarray) -> list[np.ndarray]:
    """The picture's columns for held-out rows ``rows``: pix2pix ``a | G(a) | b``; CycleGAN
    ``a | G_AB(a) | b | G_BA(b)`` (``b`` = the true ``T_B`` of the same image); StarGAN ``x | G(x, 0) | ... |
    G(x, K-1)`` with ``x`` held-out image ``i`` in domain ``i mod K``. Each ``[len(rows), h, w, c]``."""
    data, fam = exp.task.data, exp.config.family
    if fam == "stargan":
        k = data.num_domains
        x = data.test_x[rows % k, rows]
        outs = translate(exp, state, "g", np.tile(x, (k, 1, 1, 1)), np.repeat(np.arange(k), len(x)))
        return [x, *np.split(outs, k)]
    a, b = data.test_a[rows], data.test_b[rows]
    if fam == "pix2pix":
        return [a, translate(exp, state, "g", a), b]
    return [a, translate(exp, state, "g_ab", a), b, translate(exp, state, "g_ba", b)]


def _pick(exp, n: int, seed: int) -> np.ndarray:
    """``n`` held-out row indices chosen with ``seed`` (sorted; each at most once while ``n`` <= the count)."""
    m = _num_heldout(exp)
    order = np.random.default_rng(seed).permutation(m)
    return np.sort(order[np.arange(n) % m])


def _num_heldout(exp) -> int:
    data = exp.task.data
    return len(data.test_a) if hasattr(data, "test_a") else data.test_x.shape[1]


def write_rows(exp, state, out, *, n: int, seed: int = 0, rows: int = 8) -> Path:
    """A PNG of ``n`` held-out inputs, one per row (:func:`_columns`), in side-by-side blocks of ``rows`` rows
    (blank cells fill the last block): ``rows x (blocks * columns)`` cells of ``h + 1`` pixels."""
    from jaxgan.run import plots

    cols = _columns(exp, state, _pick(exp, n, seed))
    per = len(cols)
    rows = max(1, min(rows, n))
    blocks = -(-n // rows)
    cells = np.stack(cols, 1)  # [n, per, h, w, c]
    blank = np.full((blocks * rows - n,) + cells.shape[1:], -1.0, cells.dtype)
    cells = np.concatenate([cells, blank]).reshape((blocks, rows, per) + cells.shape[2:])
    grid = cells.transpose((1, 0, 2, 3, 4, 5)).reshape((rows * blocks * per,) + cells.shape[3:])
    return plots.image_grid(grid, rows, blocks * per, out)


def outputs(exp, state, n: int, seed: int = 0) -> np.ndarray:
    """Translations ``[n, h, w, c]`` of ``n`` held-out inputs chosen with ``seed``: ``G(a)``, CycleGAN's
    ``G_AB(a)``, StarGAN's ``G(x, i mod K)`` of its first domain's images."""
    rows = _pick(exp, n, seed)
    data, fam = exp.task.data, exp.config.family
    if fam == "stargan":
        return translate(exp, state, "g", data.test_x[0][rows], np.arange(n) % data.num_domains)
    return translate(exp, state, "g" if fam == "pix2pix" else "g_ab", data.test_a[rows])


# ----------------------------------------------------------------------------------------------------- classifiers


def _digit_classifier(exp, workdir: Path):
    """``(features_and_predictions, report)`` of the run's digit classifier, or ``(None, None)`` without labels."""
    from jaxgan.metrics import classifier

    if exp.dataset.labels is None:
        return None, None
    variables, report = run_classifier(exp.dataset, workdir)

    def classify(images):
        feats, logits = classifier.features_and_logits(variables, images)
        return feats, np.argmax(logits, -1)

    return classify, report


def _domain_classifier(exp, workdir: Path, domains: np.ndarray):
    """A classifier of the ``K`` domains of ``domains [K, m, h, w, c]`` (held-out real images): ``(predict,
    report)``, ``predict(images) -> [n]`` domain indices."""
    from jaxgan.data.images import ImageDataset
    from jaxgan.metrics import classifier

    k, m = domains.shape[:2]
    ds = ImageDataset(domains.reshape((k * m,) + domains.shape[2:]), np.repeat(np.arange(k, dtype=np.int32), m), k,
                      f"{exp.config.data} held-out domains")
    variables, report = run_classifier(ds, workdir, what="domain classifier")
    return lambda images: np.argmax(classifier.predict_proba(variables, images), -1), report


# ----------------------------------------------------------------------------------------------------- evaluation


def evaluate(exp, state, workdir: str | Path) -> dict[str, Any]:
    """The measures of ``exp.config.family`` (module docstring) for a full state or a system's
    :class:`jaxgan.state.SamplingState`; classifiers are trained on demand and cached in ``WORKDIR/classifier``."""
    workdir = Path(workdir)
    fam = exp.config.family
    out = {"pix2pix": pix2pix_eval, "cyclegan": cyclegan_eval, "stargan": stargan_eval}[fam](exp, state, workdir)
    return {**out, "num_heldout": _num_heldout(exp)}


def pix2pix_eval(exp, state, workdir: Path) -> dict[str, Any]:
    from jaxgan.metrics.fid import fid_from_features

    data = exp.task.data
    a, b, y = data.test_a, data.test_b, data.test_labels
    fake = translate(exp, state, "g", a)
    out = {"l1": l1(fake, b), "psnr": psnr(fake, b), "identity_l1": l1(a, b), "identity_psnr": psnr(a, b)}
    classify, report = _digit_classifier(exp, workdir)
    if classify is not None:
        (f_fake, p_fake), (f_a, p_a), (f_b, p_b) = classify(fake), classify(a), classify(b)
        out.update({
            "digit_accuracy": float(np.mean(p_fake == y)), "identity_digit_accuracy": float(np.mean(p_a == y)),
            "target_digit_accuracy": float(np.mean(p_b == y)), "fid_digits": fid_from_features(f_fake, f_b),
            "identity_fid_digits": fid_from_features(f_a, f_b), "classifier_real_accuracy": report["accuracy"],
        })
    return out


def cyclegan_eval(exp, state, workdir: Path) -> dict[str, Any]:
    data = exp.task.data
    a, b, y = data.test_a, data.test_b, data.test_labels
    ab, ba = translate(exp, state, "g_ab", a), translate(exp, state, "g_ba", b)
    aba, bab = translate(exp, state, "g_ba", ab), translate(exp, state, "g_ab", ba)
    domain, dom_report = _domain_classifier(exp, workdir, np.stack([a, b]))
    out = {
        "domain_ab": float(np.mean(domain(ab) == 1)), "domain_ba": float(np.mean(domain(ba) == 0)),
        "identity_domain_ab": float(np.mean(domain(a) == 1)), "identity_domain_ba": float(np.mean(domain(b) == 0)),
        "domain_classifier_real_accuracy": dom_report["accuracy"],
        "cycle_l1_a": l1(aba, a), "cycle_l1_b": l1(bab, b),
        "l1_ab": l1(ab, b), "l1_ba": l1(ba, a), "psnr_ab": psnr(ab, b), "psnr_ba": psnr(ba, a),
        "identity_l1": l1(a, b), "identity_psnr": psnr(a, b),
    }
    classify, report = _digit_classifier(exp, workdir)
    if classify is not None:
        acc = {name: float(np.mean(classify(images)[1] == y)) for name, images in (("ab", ab), ("ba", ba),
                                                                                     ("a", a), ("b", b))}
        out.update({"digit_accuracy_ab": acc["ab"], "digit_accuracy_ba": acc["ba"],
                    "real_digit_accuracy_a": acc["a"], "real_digit_accuracy_b": acc["b"],
                    "classifier_real_accuracy": report["accuracy"]})
    return out


def stargan_eval(exp, state, workdir: Path) -> dict[str, Any]:
    data = exp.task.data
    tx, y = data.test_x, data.test_labels
    k, m = tx.shape[:2]
    src = np.arange(m) % k
    x = tx[src, np.arange(m)]
    targets = np.repeat(np.arange(k), m)
    image = np.tile(np.arange(m), k)
    fake = translate(exp, state, "g", np.tile(x, (k, 1, 1, 1)), targets)
    true = tx[targets, image]
    off = targets != src[image]
    domain, dom_report = _domain_classifier(exp, workdir, tx)
    hit = domain(fake) == targets
    out = {
        "domain_accuracy": float(np.mean(hit)),
        "domain_accuracy_per_target": [float(np.mean(hit[targets == t])) for t in range(k)],
        "identity_domain_accuracy": float(np.mean(domain(x[image]) == targets)),
        "domain_classifier_real_accuracy": dom_report["accuracy"],
        "l1": l1(fake[off], true[off]), "psnr": psnr(fake[off], true[off]),
        "identity_l1": l1(x[image][off], true[off]), "identity_psnr": psnr(x[image][off], true[off]),
        "domains": list(data.transforms),
    }
    classify, report = _digit_classifier(exp, workdir)
    if classify is not None:
        acc, real = float(np.mean(classify(fake)[1] == y[image])), float(np.mean(classify(true)[1] == y[image]))
        out.update({"digit_accuracy": acc, "target_digit_accuracy": real,
                    "digit_accuracy_ratio": acc / real if real else float("nan"),
                    "classifier_real_accuracy": report["accuracy"]})
    return out
