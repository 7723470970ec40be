"""How good a learned representation or an unsupervised code is, as classification accuracies (numpy / scipy).

* :func:`matched_accuracy`: accuracy of an unsupervised categorical code as a classifier after the best
  one-to-one matching of code values to classes (the Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``);
  InfoGAN's "5 % error" on MNIST is this measure.
* :func:`linear_probe_accuracy`: multinomial logistic regression (L2-regularised, L-BFGS) trained on one set of
  features and scored on another; BiGAN's "logistic" row.
* :func:`nearest_neighbour_accuracy`: 1-NN with cosine similarity (BiGAN's "1NN" row: the BiGAN code scores
  nearest neighbours by cosine similarity of the L2-normalised features).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize


def confusion(codes: np.ndarray, classes: np.ndarray, num_codes: int, num_classes: int) -> np.ndarray:
    """``[num_codes, num_classes]`` counts of (code value, class) pairs."""
    m = np.zeros((num_codes, num_classes), np.int64)
    np.add.at(m, (np.asarray(codes, np.int64), np.asarray(classes, np.int64)), 1)
    return m


def matched_accuracy(codes: np.ndarray, classes: np.ndarray, num_codes: int,
                     num_classes: int) -> tuple[float, np.ndarray]:
    """Accuracy of ``codes [n]`` as predictions of ``classes [n]`` under the one-to-one matching of code values to
    classes that maximises it. Returns ``(accuracy, mapping)``, ``mapping[code] = class`` (``-1`` for a code
    value left unmatched when ``num_codes > num_classes``)."""
    m = confusion(codes, classes, num_codes, num_classes)
    rows, cols = optimize.linear_sum_assignment(-m)
    mapping = np.full(num_codes, -1, np.int64)
    mapping[rows] = cols
    return float(m[rows, cols].sum() / max(1, len(codes))), mapping


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = train.mean(0), train.std(0) + 1e-6
    return (train - mu) / sd, (test - mu) / sd


def linear_probe_accuracy(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, *,
    l2: float = 1e-4, max_iter: int = 500,
) -> float:
    """Test accuracy of a multinomial logistic regression on standardised features (train statistics), fit by
    L-BFGS to ``mean CE + l2 * ||W||^2`` (the bias is not regularised)."""
    xtr, xte = _standardise(np.asarray(train_x, np.float64), np.asarray(test_x, np.float64))
    ytr = np.asarray(train_y, np.int64)
    n, d = xtr.shape
    k = int(max(ytr.max(), np.max(test_y)) + 1)
    onehot = np.eye(k)[ytr]

    def loss_grad(flat):
        w, b = flat[: d * k].reshape(d, k), flat[d * k:]
        logits = xtr @ w + b
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        loss = -np.mean(np.log(p[np.arange(n), ytr] + 1e-12)) + l2 * np.sum(w * w)
        g = (p - onehot) / n
        return loss, np.concatenate([(xtr.T @ g + 2 * l2 * w).ravel(), g.sum(0)])

    res = optimize.minimize(loss_grad, np.zeros(d * k + k), jac=True, method="L-BFGS-B",
                            options={"maxiter": max_iter})
    w, b = res.x[: d * k].reshape(d, k), res.x[d * k:]
    return float(np.mean(np.argmax(xte @ w + b, 1) == np.asarray(test_y)))


def nearest_neighbour_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                               test_y: np.ndarray) -> float:
    """Test accuracy of 1-nearest-neighbour classification by cosine similarity."""

    def unit(a):
        a = np.asarray(a, np.float64)
        return a / (np.linalg.norm(a, axis=1, keepdims=True) + 1e-12)

    sims = unit(test_x) @ unit(train_x).T
    return float(np.mean(np.asarray(train_y)[np.argmax(sims, 1)] == np.asarray(test_y)))
