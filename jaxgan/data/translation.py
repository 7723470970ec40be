"""Image-to-image translation data from digit images: named transforms and paired / unpaired / multi-domain splits.

Every domain is a deterministic transform of the same digit source (any :func:`jaxgan.data.images.load_dataset`
spec: ``mnist``, ``idx:<dir>``, ``npz:<file>``, ``digits``), so nothing is downloaded and the true translation
of every held-out image is known. Transforms map float ``[n, h, w, c]`` images in [-1, 1] (background -1) to
the same shape and range (:data:`TRANSFORMS`):

================ ===============================================================================================
``identity``     the image itself (alias ``plain``).
``edges``        the morphological gradient, ``grey_dilation(x, 3x3) - grey_erosion(x, 3x3) - 1``: 0..2 moved to
                 [-1, 1], so flat regions are background and the strongest edges are 1.
``thick``        ``scipy.ndimage.grey_dilation`` over a 3x3 window (strokes about two pixels wider).
``thin``         ``scipy.ndimage.grey_erosion`` over a 3x3 window.
``rot30``        ``scipy.ndimage.rotate`` by 30 degrees counter-clockwise as displayed (row 0 at the top) about
                 the image centre, ``reshape=False``, bilinear (``order=1``, so values stay in [-1, 1]), pixels
                 from outside the image are background (``mode="grid-constant", cval=-1``).
``down4``        each pixel replaced by the mean of its cell of a 4x4 grid: a 7x7 average pool of a 28x28 image
                 upsampled back by nearest neighbour (4x4 information at full size). For other sizes the rows
                 are cut into 4 runs as ``np.array_split`` cuts them (sizes differ by at most one: 8 each at
                 32, ``[2, 2, 2, 2]`` at 8), and the columns likewise.
``mask_bottom``  rows ``h // 2`` to ``h - 1`` (the lower half; 14..27 at 28) set to the background value -1.
================ ===============================================================================================

Edges of the 3x3 windows repeat the border pixel (``mode="nearest"``). Each transform acts on every image and
channel separately.

Specs (:func:`load_translation`), ``<source>`` being a :func:`load_dataset` spec (it may contain ``:``):

* ``paired:<source>:<a>-><b>``: :class:`PairedData`, ``a = T_a(x)`` and ``b = T_b(x)`` of the same ``x``
  (pix2pix); batches ``{"a": [B, h, w, c], "b": [B, h, w, c]}``.
* ``unpaired:<source>:<a>-><b>``: :class:`PairedData` with ``paired=False``: the training rows are cut into two
  halves; ``a`` is ``T_a`` of the first half, ``b`` is ``T_b`` of the second (CycleGAN), so no training image
  is in both domains (with an odd count the last training row is dropped: both halves have ``n // 2`` rows).
  Row ``i`` of ``a`` and row ``i`` of ``b`` are unrelated images. Same batch keys.
* ``domains:<source>:<t1>,<t2>,...``: :class:`DomainData` (StarGAN): the training rows are cut into ``k``
  consecutive runs of near-equal size (``np.array_split`` of the split's order, itself a seed-fixed
  permutation), run ``j`` transformed by ``t_j`` and labelled domain ``j``: every training image is in exactly
  one domain. Batches ``{"x": [B, h, w, c], "domain": int32 [B]}``.

Held-out images. The rows are split with :func:`jaxgan.metrics.classifier_training.split_indices` using the digit
classifier's own holdout fraction and seed (``TRAIN_DEFAULTS``, read at call time), so for the classifier's
source (10,000 MNIST test digits: 8,500 / 1,500) the held-out images are exactly the 1,500 the classifier never
trained on, and no training image of any domain is among them. Every held-out image is given in every domain
(``test_a`` / ``test_b`` of the same ``x``, or ``test_x [k, n_test, ...]``), so evaluation can compare an output
with the true transform even for unpaired training.

Size: about 400 lines, under 200 of them code: the transforms, the three data specs (paired, unpaired,
multi-domain) and their parser are one vocabulary, documented where they are defined.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from jaxgan.data.images import load_dataset

BACKGROUND = -1.0
ALIASES = {"plain": "identity"}
SPEC_KINDS = ("paired", "unpaired", "domains")


# -------------------------------------------------------------------------------------------------- transforms


def _per_image(fn: Callable[..., np.ndarray], images: np.ndarray, **kwargs) -> np.ndarray:
    """``fn`` over the ``[h, w]`` plane of every image and channel (a window of 1 on the batch and channel axes)."""
    return fn(images, size=(1, 3, 3, 1), mode="nearest", **kwargs)


def identity(images: np.ndarray) -> np.ndarray:
    """The images unchanged (a float32 copy). ``[n, h, w, c] -> [n, h, w, c]``."""
    return np.array(images, np.float32)


def edges(images: np.ndarray) -> np.ndarray:
    """Morphological gradient minus one: ``dilate3x3(x) - erode3x3(x) - 1`` in [-1, 1]. ``[n, h, w, c]``."""
    grad = _per_image(ndimage.morphological_gradient, images)
    return np.clip(grad - 1.0, -1.0, 1.0).astype(np.float32)


def thick(images: np.ndarray) -> np.ndarray:
    """Grey dilation over a 3x3 window (the maximum of each pixel's 3x3 neighbourhood). ``[n, h, w, c]``."""
    return _per_image(ndimage.grey_dilation, images).astype(np.float32)


def thin(images: np.ndarray) -> np.ndarray:
    """Grey erosion over a 3x3 window (the minimum of each pixel's 3x3 neighbourhood). ``[n, h, w, c]``."""
    return _per_image(ndimage.grey_erosion, images).astype(np.float32)


def rot30(images: np.ndarray) -> np.ndarray:
    """Rotation by 30 degrees counter-clockwise as displayed, about the centre, bilinear, background fill.

    ``[n, h, w, c] -> [n, h, w, c]`` (``reshape=False``: the corners leave the frame).
    """
    out = ndimage.rotate(
        np.asarray(images, np.float32),
        30.0,
        axes=(2, 1),
        reshape=False,
        order=1,
        mode="grid-constant",
        cval=BACKGROUND,
    )
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def _cells(size: int, parts: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of ``np.array_split``'s ``parts`` runs of ``range(size)``."""
    lengths = np.array([len(r) for r in np.array_split(np.arange(size), parts)])
    if np.any(lengths == 0):
        raise ValueError(f"down4 needs images of at least 4x4 pixels, got a side of {size}")
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths


def down4(images: np.ndarray) -> np.ndarray:
    """Each pixel set to the mean of its cell of a 4x4 grid (see the module docstring). ``[n, h, w, c]``.

    At 28x28: a 7x7 average pool to 4x4, upsampled back to 28x28 by nearest neighbour.
    """
    x = np.asarray(images, np.float64)
    (r0, rn), (c0, cn) = _cells(x.shape[1]), _cells(x.shape[2])
    sums = np.add.reduceat(np.add.reduceat(x, r0, axis=1), c0, axis=2)  # [n, 4, 4, c]
    means = sums / (rn[:, None] * cn[None, :])[None, :, :, None]
    return np.repeat(np.repeat(means, rn, axis=1), cn, axis=2).astype(np.float32)


def mask_bottom(images: np.ndarray) -> np.ndarray:
    """Rows ``h // 2`` onward set to the background value -1. ``[n, h, w, c]``."""
    out = np.array(images, np.float32)
    out[:, out.shape[1] // 2 :] = BACKGROUND
    return out


TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": identity,
    "edges": edges,
    "thick": thick,
    "thin": thin,
    "rot30": rot30,
    "down4": down4,
    "mask_bottom": mask_bottom,
}


def _valid_names() -> str:
    return ", ".join([*TRANSFORMS, *(f"{a} (= {t})" for a, t in ALIASES.items())])


def get_transform(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The transform called ``name`` (or an alias, ``plain`` = ``identity``); ``ValueError`` naming the choices."""
    key = ALIASES.get(name, name)
    if key not in TRANSFORMS:
        raise ValueError(f"unknown image transform {name!r}; valid transforms: {_valid_names()}")
    return TRANSFORMS[key]


def apply_transform(name: str, images: np.ndarray) -> np.ndarray:
    """``get_transform(name)(images)`` on float ``[n, h, w, c]`` images in [-1, 1]."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"transforms take [n, h, w, c] images, got shape {images.shape}")
    return get_transform(name)(images)


# ------------------------------------------------------------------------------------------------------- specs


@dataclasses.dataclass(frozen=True)
class TranslationSpec:
    """A parsed spec: ``kind`` in :data:`SPEC_KINDS`, the ``source`` dataset spec and the transform names."""

    kind: str
    source: str
    transforms: tuple[str, ...]


_SYNTAX = "'paired:<source>:<a>-><b>', 'unpaired:<source>:<a>-><b>' or 'domains:<source>:<t1>,<t2>,...'"


def parse_spec(spec: str) -> TranslationSpec:
    """Parses a translation data spec (see the module docstring); ``ValueError`` with the syntax when malformed."""
    if not isinstance(spec, str):
        raise ValueError(f"a translation data spec is a string like {_SYNTAX}; got {spec!r}")
    kind, _, rest = spec.partition(":")
    source, sep, mapping = rest.rpartition(":")
    if kind not in SPEC_KINDS or not sep or not source or not mapping:
        raise ValueError(f"bad translation data spec {spec!r}: expected {_SYNTAX}")
    if kind == "domains":
        names = tuple(n.strip() for n in mapping.split(","))
        if len(names) < 2 or not all(names):
            raise ValueError(
                f"bad translation data spec {spec!r}: 'domains' needs two or more comma-separated "
                f"transforms; got {mapping!r}"
            )
    else:
        parts = mapping.split("->")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(f"bad translation data spec {spec!r}: {kind!r} needs '<a>-><b>'; got {mapping!r}")
        names = tuple(p.strip() for p in parts)
    canonical = tuple(ALIASES.get(n, n) for n in names)
    for n in names:
        get_transform(n)
    if len(set(canonical)) != len(canonical):
        raise ValueError(f"bad translation data spec {spec!r}: the domains {list(names)} are not all different")
    return TranslationSpec(kind, source, canonical)


# ------------------------------------------------------------------------------------------------------- data


@dataclasses.dataclass(frozen=True)
class PairedData:
    """Two-domain translation data (pix2pix when ``paired``, CycleGAN otherwise).

    Attributes:
      train_a, train_b: float32 ``[n, h, w, c]`` training images of domains A and B. Paired: row ``i`` of both
        is the same source image; unpaired: from disjoint halves of the training rows.
      train_labels_a, train_labels_b: int32 ``[n]`` digit labels of the training rows, or ``None``.
      test_a, test_b: float32 ``[m, h, w, c]``: ``T_a`` and ``T_b`` of the same held-out images.
      test_labels: int32 ``[m]`` digit labels of the held-out images, or ``None``.
      transforms: ``(a, b)`` transform names.
      paired: whether row ``i`` of ``train_a`` and ``train_b`` show the same image.
      name: the spec it was loaded from.
    """

    train_a: np.ndarray
    train_b: np.ndarray
    train_labels_a: np.ndarray | None
    train_labels_b: np.ndarray | None
    test_a: np.ndarray
    test_b: np.ndarray
    test_labels: np.ndarray | None
    transforms: tuple[str, str]
    paired: bool
    name: str

    def arrays(self) -> dict[str, np.ndarray]:
        """The batchable training dict ``{"a": train_a, "b": train_b}``."""
        return {"a": self.train_a, "b": self.train_b}


@dataclasses.dataclass(frozen=True)
class DomainData:
    """Multi-domain translation data (StarGAN).

    Attributes:
      train_x: float32 ``[n, h, w, c]``: every training image once, transformed by its domain's transform.
      train_domain: int32 ``[n]``: the domain of each training row, an index into ``transforms``.
      train_labels: int32 ``[n]`` digit labels, or ``None``.
      test_x: float32 ``[k, m, h, w, c]``: every held-out image in every domain (``test_x[j] = T_j(held out)``).
      test_labels: int32 ``[m]`` digit labels of the held-out images, or ``None``.
      transforms: the ``k`` transform names, in domain order.
      name: the spec it was loaded from.
    """

    train_x: np.ndarray
    train_domain: np.ndarray
    train_labels: np.ndarray | None
    test_x: np.ndarray
    test_labels: np.ndarray | None
    transforms: tuple[str, ...]
    name: str

    @property
    def num_domains(self) -> int:
        return len(self.transforms)

    def arrays(self) -> dict[str, np.ndarray]:
        """The batchable training dict ``{"x": train_x, "domain": train_domain}``."""
        return {"x": self.train_x, "domain": self.train_domain}


def holdout_split(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)`` row indices of ``n`` images: the digit classifier's split (its holdout and seed)."""
    from jaxgan.metrics.classifier_training import TRAIN_DEFAULTS, split_indices

    return split_indices(n, TRAIN_DEFAULTS["holdout"], TRAIN_DEFAULTS["seed"])


def _take(labels: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if labels is None else labels[rows]


def make_translation(
    spec: TranslationSpec | str, images: np.ndarray, labels: np.ndarray | None = None, name: str | None = None
) -> PairedData | DomainData:
    """Builds the translation data of ``spec`` from images in memory (the source part of the spec is ignored).

    Args:
      spec: a spec string or a parsed :class:`TranslationSpec`.
      images: float ``[n, h, w, c]`` in [-1, 1].
      labels: int ``[n]`` digit labels, or ``None``.
      name: recorded as the data's name (default: the spec).

    Returns:
      :class:`PairedData` (``paired`` / ``unpaired``) or :class:`DomainData` (``domains``).
    """
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    name = name if name is not None else (spec if isinstance(spec, str) else f"{parsed.kind}:{parsed.source}")
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"translation data needs [n, h, w, c] images, got shape {images.shape}")
    labels = None if labels is None else np.asarray(labels, np.int32)
    train, held = holdout_split(images.shape[0])
    test_labels = _take(labels, held)
    if parsed.kind == "domains":
        runs = np.array_split(train, len(parsed.transforms))
        if min(len(r) for r in runs) == 0:
            raise ValueError(f"{len(train)} training images cannot fill {len(parsed.transforms)} domains")
        train_x = np.concatenate([apply_transform(t, images[r]) for t, r in zip(parsed.transforms, runs)])
        domain = np.concatenate([np.full(len(r), j, np.int32) for j, r in enumerate(runs)])
        test_x = np.stack([apply_transform(t, images[held]) for t in parsed.transforms])
        return DomainData(
            train_x, domain, _take(labels, np.concatenate(runs)), test_x, test_labels, parsed.transforms, name
        )
    t_a, t_b = parsed.transforms
    if parsed.kind == "paired":
        rows_a = rows_b = train
    else:
        half = len(train) // 2
        if half == 0:
            raise ValueError(f"{len(train)} training image(s) cannot be split into two unpaired domains")
        rows_a, rows_b = train[:half], train[half : 2 * half]
    return PairedData(
        train_a=apply_transform(t_a, images[rows_a]),
        train_b=apply_transform(t_b, images[rows_b]),
        train_labels_a=_take(labels, rows_a),
        train_labels_b=_take(labels, rows_b),
        test_a=apply_transform(t_a, images[held]),
        test_b=apply_transform(t_b, images[held]),
        test_labels=test_labels,
        transforms=(t_a, t_b),
        paired=parsed.kind == "paired",
        name=name,
    )


# ---------------------------------------------------------------------------------------------------- batches


class UnpairedBatcher:
    """Batches of two unpaired domains, each shuffled on its own: ``{"a": [B / P, ...], "b": [B / P, ...]}``.

    Two :class:`jaxgan.data.pipeline.Batcher` s, domain A's order from ``seed`` and domain B's from
    ``seed + 2**32`` (a seed no config has: config seeds are below 2**32). One Batcher over both arrays would
    apply one permutation to both, and with the two halves of equal length row ``i`` of A would meet row ``i`` of
    B in every epoch; here the rows that meet change from epoch to epoch. Like a Batcher, ``batch(t)`` depends
    only on ``(seed, t)``; :meth:`position` records both orders and :meth:`restore` checks both.

    Args:
      train_a, train_b: ``[n_a, ...]`` and ``[n_b, ...]`` images of the two domains.
      batch_size, seed, process_index, process_count: as for :class:`~jaxgan.data.pipeline.Batcher`.
    """

    B_SEED_OFFSET = 2**32

    def __init__(self, train_a: np.ndarray, train_b: np.ndarray, batch_size: int, seed: int, *,
                 process_index: int = 0, process_count: int = 1):
        from jaxgan.data.pipeline import Batcher

        kw = dict(process_index=process_index, process_count=process_count)
        self.a = Batcher({"a": train_a}, batch_size, seed, **kw)
        self.b = Batcher({"b": train_b}, batch_size, seed + self.B_SEED_OFFSET, **kw)
        self.batch_size = batch_size
        self.num_examples = min(self.a.num_examples, self.b.num_examples)

    def batch(self, step: int) -> dict[str, np.ndarray]:
        """This process's rows of step ``step``: ``{"a": [B / P, ...], "b": [B / P, ...]}``."""
        return {**self.a.batch(step), **self.b.batch(step)}

    def stacked(self, step: int, k: int) -> dict[str, np.ndarray]:
        """Batches ``step .. step + k - 1`` stacked ``[k, B / P, ...]``."""
        return {**self.a.stacked(step, k), **self.b.stacked(step, k)}

    def position(self, step: int) -> dict:
        """``{"step": step, "a": <A's Batcher.position>, "b": <B's>}``."""
        return {"step": int(step), "a": self.a.position(step), "b": self.b.position(step)}

    def restore(self, position) -> int:
        """Checks a :meth:`position` against both orders and returns its step; ValueError when it differs."""
        if not all(isinstance(position.get(k), dict) for k in ("a", "b")):
            raise ValueError("cannot resume this data order: the checkpoint's data position is not two "
                             f"independently shuffled domains (got keys {sorted(position)})")
        self.a.restore(position["a"])
        self.b.restore(position["b"])
        return int(position["step"])


def load_translation(spec: str, size: int | None = None) -> PairedData | DomainData:
    """Loads the source of ``spec`` with :func:`jaxgan.data.images.load_dataset` and builds its translation data.

    Args:
      spec: see the module docstring, e.g. ``"paired:mnist:edges->identity"``, ``"unpaired:mnist:plain->thick"``,
        ``"domains:digits:plain,thick,thin,rot30"``.
      size: resize the source images to ``size x size`` first (``None``: native; digits are 8x8 natively, so
        give e.g. 28 for them).

    Returns:
      :class:`PairedData` or :class:`DomainData`.
    """
    parsed = parse_spec(spec)
    dataset = load_dataset(parsed.source, size, channels=1)
    return make_translation(parsed, dataset.images, dataset.labels, name=spec)
