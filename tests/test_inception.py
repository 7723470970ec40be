"""Tests for jaxgan.metrics.inception: a random-weight forward pass, the weights file and the converter."""

import importlib.util
import pathlib
import zipfile

import jax
import numpy as np
import pytest

from jaxgan.metrics import inception

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def variables():
    return inception.init_inception_params(seed=0)


def leaves_equal(a, b):
    flat_a, flat_b = inception.flatten_variables(a), inception.flatten_variables(b)
    assert flat_a.keys() == flat_b.keys()
    for key in flat_a:
        np.testing.assert_array_equal(np.asarray(flat_a[key]), np.asarray(flat_b[key]), err_msg=key)


def test_param_shapes():
    shapes = inception.inception_param_shapes()
    assert len(shapes) == 472  # 94 conv + batch norm blocks x 5 arrays + fc kernel and bias
    assert shapes["Conv2d_1a_3x3/conv/kernel"] == (3, 3, 3, 32)
    assert shapes["Mixed_6b/branch7x7_2/conv/kernel"] == (1, 7, 128, 128)
    assert shapes["Mixed_7c/branch_pool/conv/kernel"] == (1, 1, 2048, 192)
    assert shapes["fc/kernel"] == (2048, 1008)
    # pytorch-fid's FID Inception: 23,850,960 trained numbers, plus a running mean and variance per channel.
    n_stats = sum(int(np.prod(s)) for k, s in shapes.items() if k.endswith(("/mean", "/var")))
    assert sum(int(np.prod(s)) for s in shapes.values()) - n_stats == 23_850_960


def test_forward_shapes_and_finite(variables):
    images = np.random.default_rng(0).uniform(-1, 1, size=(2, 32, 32, 3)).astype(np.float32)
    # Three images in batches of 2: the last batch is padded, one compilation serves both.
    pool3, logits = inception.inception_features(variables, np.concatenate([images, images[:1]]), batch_size=2)
    assert pool3.shape == (3, 2048) and logits.shape == (3, 1008)
    assert pool3.dtype == np.float32 and logits.dtype == np.float32
    assert np.isfinite(pool3).all() and np.isfinite(logits).all()
    assert (pool3 >= 0).all()  # an average of ReLU outputs
    assert np.abs(pool3[0] - pool3[1]).max() > 1e-3  # different images, different features
    np.testing.assert_allclose(pool3[2], pool3[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits[2], logits[0], rtol=1e-5, atol=1e-5)
    # The logits leave out the output bias, as the original Inception Score code does.
    fc = variables["params"]["fc"]
    assert np.abs(np.asarray(fc["bias"])).max() > 0.01
    np.testing.assert_allclose(logits, pool3 @ np.asarray(fc["kernel"]), rtol=1e-4, atol=1e-4)


def test_classifier_output_bias():
    x = np.random.default_rng(1).normal(size=(2, 2048)).astype(np.float32)
    params = {"kernel": np.full((2048, 1008), 0.01, np.float32), "bias": np.arange(1008, dtype=np.float32)}
    without = inception.Classifier().apply({"params": params}, x)
    with_bias = inception.Classifier(use_bias=True).apply({"params": params}, x)
    np.testing.assert_allclose(with_bias - without, np.broadcast_to(params["bias"], (2, 1008)), atol=1e-4)


def test_resize_matches_half_pixel_bilinear():
    """F.interpolate(mode="bilinear", align_corners=False) values, computed by hand."""
    ramp = np.broadcast_to(np.arange(4, dtype=np.float32), (1, 4, 4))[..., None]
    up = np.asarray(inception.resize_images(jax.numpy.asarray(ramp), size=8))
    np.testing.assert_allclose(up[0, 3, :, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3], atol=1e-6)
    # Downsampling 2x samples at 2i + 0.5, the mean of two neighbours; an antialiasing filter would spread wider.
    squares = np.broadcast_to(np.arange(4, dtype=np.float32) ** 2, (1, 4, 4))[..., None]
    down = np.asarray(inception.resize_images(jax.numpy.asarray(squares), size=2))
    np.testing.assert_allclose(down[0, :, :, 0], [[0.5, 6.5], [0.5, 6.5]], atol=1e-6)


def test_save_load_round_trip(variables, tmp_path):
    path = tmp_path / "inception.npz"
    inception.save_inception_params(variables, path)
    loaded = inception.load_inception_params(path)
    leaves_equal(loaded, variables)


def test_loader_errors(variables, tmp_path):
    with pytest.raises(FileNotFoundError, match="convert_inception_weights"):
        inception.load_inception_params(tmp_path / "missing.npz")

    not_npz = tmp_path / "weights.npz"
    not_npz.write_bytes(b"\x00 definitely not a zip archive")
    with pytest.raises(ValueError, match="not an npz"):
        inception.load_inception_params(not_npz)

    pth = tmp_path / "pt_inception.pth"  # torch.save writes a zip of pickles and raw storages
    with zipfile.ZipFile(pth, "w") as z:
        z.writestr("archive/data.pkl", b"pickle")
        z.writestr("archive/data/0", b"storage")
    with pytest.raises(ValueError, match="PyTorch .pth"):
        inception.load_inception_params(pth)

    npy = tmp_path / "array.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError, match="not an npz"):
        inception.load_inception_params(npy)

    flat = {k: np.asarray(v) for k, v in inception.flatten_variables(variables).items()}
    missing = dict(flat)
    del missing["Mixed_6c/branch7x7dbl_3/bn/var"]
    np.savez(tmp_path / "missing_key.npz", **missing)
    with pytest.raises(ValueError, match="Mixed_6c/branch7x7dbl_3/bn/var"):
        inception.load_inception_params(tmp_path / "missing_key.npz")

    wrong = dict(flat)
    wrong["fc/kernel"] = wrong["fc/kernel"].T
    np.savez(tmp_path / "wrong_shape.npz", **wrong)
    with pytest.raises(ValueError, match=r"'fc/kernel' has shape \(1008, 2048\), expected \(2048, 1008\)"):
        inception.load_inception_params(tmp_path / "wrong_shape.npz")


def test_converter_maps_a_pytorch_state_dict(variables):
    """Builds a pytorch-fid-style state dict (OIHW kernels, running stats) from Flax variables and converts it
    back with scripts/convert_inception_weights.py."""
    spec = importlib.util.spec_from_file_location("convert", ROOT / "scripts" / "convert_inception_weights.py")
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)

    torch_names = {"kernel": "weight", "scale": "weight", "bias": "bias", "mean": "running_mean", "var": "running_var"}
    state_dict = {"AuxLogits.fc.weight": np.zeros((1000, 768)), "Conv2d_1a_3x3.bn.num_batches_tracked": 0}
    for key, value in inception.flatten_variables(variables).items():
        *path, leaf = key.split("/")
        value = np.asarray(value)
        if leaf == "kernel":
            value = value.T if path == ["fc"] else value.transpose(3, 2, 0, 1)
        state_dict[".".join(path + [torch_names[leaf]])] = value
    arrays = convert.convert_state_dict(state_dict)
    convert.check_against_model(arrays)
    leaves_equal(inception.unflatten_variables(arrays), variables)

    with pytest.raises(ValueError, match="unexpected key"):
        convert.convert_state_dict({"Mixed_5b.branch1x1.weird": np.zeros(1)})
    del arrays["fc/bias"]
    with pytest.raises(ValueError, match="fc/bias"):
        convert.check_against_model(arrays)
