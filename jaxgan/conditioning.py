"""What a conditional image run's generator and discriminator are conditioned on: class labels or clusters.

Two kinds (one :class:`Conditioning` per run, built by :func:`from_config`):

* ``"class"`` (``config.conditional=True``): the dataset's class labels (Mirza & Osindero 2014). Generated samples
  take the classes in turn, ``0, 1, ..., C-1, 0, ...``, so every class is equally represented.
* ``"cluster"`` (``config.clusters=K``): the k-means clusters of the training images' pixels, a conditional GAN
  trained without labels on pseudo-labels (the clustering approach of Lucic et al. 2019, "High-Fidelity Image
  Generation With Fewer Labels", and of Sage et al. 2018, "Logo Synthesis and Manipulation with Clustered
  Generative Adversarial Networks"). The model is a mixture ``p(x) = sum_c p(c) p(x | c)`` with ``p(c)`` the
  clusters' frequencies in the data, so generated samples draw their cluster from those frequencies and the
  whole is an unconditional generator of the data. Real batches carry each image's cluster, and each fake
  is generated with the cluster of the real row beside it, as for class labels.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxgan.files import write_file


class Conditioning(NamedTuple):
    """The labels a conditional run trains on.

    Attributes:
      kind: ``"class"`` or ``"cluster"``.
      labels: int32 ``[n]``, one per training image, in ``[0, num_classes)``.
      num_classes: number of classes or clusters.
    """

    kind: str
    labels: np.ndarray
    num_classes: int

    @property
    def frequencies(self) -> np.ndarray:
        """float64 ``[num_classes]``: each label's fraction of the training images."""
        return np.bincount(self.labels, minlength=self.num_classes) / len(self.labels)

    def sample(self, n: int, seed: int = 0, start: int = 0) -> np.ndarray:
        """int32 ``[n]`` labels for ``n`` generated samples.

        Classes: ``start, start + 1, ...`` modulo ``num_classes`` (every class equally often). Clusters: drawn
        from the clusters' frequencies with ``numpy.random.default_rng((seed, start))``, so a given ``(seed,
        start)`` always gives the same labels.
        """
        if self.kind == "class":
            return ((start + np.arange(n)) % self.num_classes).astype(np.int32)
        rng = np.random.default_rng((seed, start))
        return rng.choice(self.num_classes, size=n, p=self.frequencies).astype(np.int32)

    def grid(self, rows: int, cols: int, seed: int = 0, per_row: bool = False) -> np.ndarray:
        """int32 ``[rows * cols]`` labels for a sample grid, row by row: one row per class (cycling when ``rows``
        exceeds the classes); for clusters, each image's cluster drawn from their frequencies (a grid of the whole
        model), or with ``per_row`` one drawn cluster per row (for interpolation strips)."""
        if self.kind == "class":
            return np.repeat(np.arange(rows) % self.num_classes, cols).astype(np.int32)
        if per_row:
            return np.repeat(self.sample(rows, seed), cols)
        return self.sample(rows * cols, seed)


def kmeans_labels(images: np.ndarray, k: int, seed: int = 0, cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """int32 ``[n]`` k-means cluster labels of ``images`` ``[n, ...]`` (flattened pixels; scikit-learn's
    ``KMeans`` with 3 initialisations from ``random_state=seed``). The same images and seed give the same labels,
    with any number of threads, so a resumed run and every host of a multi-host run see the same clusters.

    With ``cache_dir``, the labels are kept in ``cache_dir/kmeans-<key>.npy``, ``<key>`` a SHA-256 of the images'
    shape and bytes, ``k``, ``seed`` and scikit-learn's version, and read from there the next time (MNIST's
    10,000 digits into 100 clusters take 9 s on a 2-core CPU; a restarted run, ``jaxgan sample`` and ``jaxgan
    eval`` build the run again). A cached file that cannot be read, or holds other than ``n`` labels in
    ``[0, k)``, is computed again; one that cannot be written is a warning."""
    import sklearn
    from sklearn.cluster import KMeans

    x = np.asarray(images, np.float32).reshape(len(images), -1)
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= len(x):
        raise ValueError(f"k-means needs 2 <= clusters <= the number of images ({len(x)}); got {k!r}")
    path = None
    if cache_dir is not None:
        h = hashlib.sha256(f"{x.shape} k={k} seed={seed} scikit-learn {sklearn.__version__}".encode())
        h.update(memoryview(np.ascontiguousarray(x)).cast("B"))
        path = Path(cache_dir) / f"kmeans-{h.hexdigest()[:24]}.npy"
        if path.is_file():
            try:
                labels = np.load(path, allow_pickle=False)
                if labels.shape == (len(x),) and labels.dtype == np.int32 and labels.min() >= 0 and labels.max() < k:
                    return labels
            except (OSError, ValueError):
                pass  # computed again and rewritten below
    labels = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(x).astype(np.int32)
    if path is not None:
        buf = io.BytesIO()
        np.save(buf, labels)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_file(path, buf.getvalue())
        except OSError as e:
            warnings.warn(f"the k-means labels are not cached: {e}", stacklevel=2)
    return labels


def from_config(config, dataset, cache_dir: str | os.PathLike | None = None) -> Conditioning | None:
    """The :class:`Conditioning` of an image run (``None`` for unconditional runs); ``cache_dir``: where
    :func:`kmeans_labels` keeps the clusters' labels."""
    if config.conditional:
        if dataset.labels is None:
            raise ValueError(f"conditional=true needs labels, and dataset {config.data!r} has none")
        return Conditioning("class", dataset.labels.astype(np.int32), int(dataset.num_classes))
    if config.clusters is not None:
        labels = kmeans_labels(dataset.images, config.clusters, config.seed, cache_dir)
        return Conditioning("cluster", labels, config.clusters)
    return None
