"""Translation networks (jaxgan/models/translation.py) through
jaxgan.models.adapters.from_linen: shapes at 28 and 32 px,
the U-Net's dropout noise, the PatchGAN's receptive field measured as a gradient support, StarGAN's two heads,
and parameter counts equal to the reference implementations' at their sizes."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import adapters
from jaxgan.models import translation as T

sys.path.insert(0, str(Path(__file__).parent))
from _numpy_init import numpy_init  # noqa: E402

KEY = jax.random.PRNGKey(0)


def _net(module, x, labels=None):
    """The module as a Net with numpy-filled variables and a jitted ``apply``."""
    args = () if labels is None else (labels,)
    variables = dict(numpy_init(module, x, *args, train=False))
    params = variables.pop("params")
    return adapters.Net(None, jax.jit(adapters.from_linen(module).apply, static_argnames="train")), params, variables


def _count(module, x, *args):
    """Parameters of ``module`` at input ``x``, from shapes only (no compute)."""
    rngs = {"params": KEY, "dropout": KEY}
    shapes = jax.eval_shape(lambda: module.init(rngs, x, *args, train=False))
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(shapes["params"]))


def _out_shape(module, x, *args):
    """The output shape(s) of a training call, from shapes only."""
    rngs = {"params": KEY, "dropout": KEY}
    variables = jax.eval_shape(lambda: module.init(rngs, x, *args, train=False))
    out = jax.eval_shape(lambda v: module.apply(v, x, *args, train=True, rngs={"dropout": KEY}), variables)
    return jax.tree.map(lambda s: s.shape, out)


@pytest.mark.parametrize("side", [28, 32])
def test_shapes_at_28_and_32_pixels(side):
    x = jnp.zeros((2, side, side, 1))
    assert _out_shape(T.UNetGenerator(num_downs=5, base_features=4), x) == (2, side, side, 1)
    assert _out_shape(T.ResnetGenerator(base_features=4, n_blocks=2), x) == (2, side, side, 1)
    assert _out_shape(T.PatchGANDiscriminator(4, n_layers=1), x) == (2, side // 2 - 2, side // 2 - 2, 1)  # 12, 14
    assert _out_shape(T.PatchGANDiscriminator(4, n_layers=2), x) == (2, side // 4 - 2, side // 4 - 2, 1)  # 5, 6
    pair = jnp.zeros((2, side, side, 2))  # pix2pix's conditional D: (input, output) channels
    assert _out_shape(T.PatchGANDiscriminator(4, n_layers=2), pair) == (2, side // 4 - 2, side // 4 - 2, 1)
    g = T.StarGANGenerator(4, base_features=4, repeat_num=1)
    assert _out_shape(g, x, jnp.zeros((2,), jnp.int32)) == (2, side, side, 1)
    d = T.StarGANDiscriminator(4, base_features=4, repeat_num=2)
    assert _out_shape(d, x) == ((2, side // 4, side // 4, 1), (2, 4))


UNET = T.UNetGenerator(num_downs=3, base_features=4, dropout_blocks=1)  # 28 does not divide by 8: padded


def test_unet_pads_28_to_32_by_reflection_and_crops_back():
    x = jax.random.uniform(KEY, (2, 28, 28, 1), minval=-1, maxval=1)
    net, params, state = _net(UNET, x)
    out28 = net.apply(params, state, x, train=False)[0]
    out32 = net.apply(params, state, T.reflect_pad(x, 2), train=False)[0]
    assert out28.shape == x.shape
    np.testing.assert_allclose(out28, out32[:, 2:30, 2:30], atol=1e-6)


def test_unet_dropout_is_the_noise_in_train_mode_and_off_at_eval():
    x = jax.random.uniform(KEY, (2, 32, 32, 1), minval=-1, maxval=1)
    net, params, state = _net(UNET, x)

    def run(train, seed, p=params):
        return np.asarray(net.apply(p, state, x, train=train, rng=jax.random.PRNGKey(seed))[0])

    assert not np.allclose(run(True, 1), run(True, 2), atol=1e-4)  # different dropout masks
    np.testing.assert_array_equal(run(True, 1), run(True, 1))
    np.testing.assert_array_equal(run(False, 1), run(False, 2))  # no dropout at eval
    assert not np.allclose(run(False, 1), run(True, 1), atol=1e-4)
    assert sorted(params) == sorted(
        ["down0", "down1", "down2", "down1_norm", "up0", "up1", "up2", "up1_norm", "up2_norm"]
    )
    with pytest.raises(Exception, match="dropout"):
        net.apply(params, state, x, train=True)  # train mode needs the dropout rng
    det = T.UNetGenerator(num_downs=3, base_features=4, dropout_blocks=0)
    a = net.apply(params, state, x, train=True, rng=jax.random.PRNGKey(1))[0]
    b = jax.jit(adapters.from_linen(det).apply, static_argnames="train")
    np.testing.assert_array_equal(
        b(params, state, x, train=True, rng=jax.random.PRNGKey(1))[0],
        b(params, state, x, train=True, rng=jax.random.PRNGKey(2))[0],
    )
    assert not np.allclose(a, b(params, state, x, train=True, rng=jax.random.PRNGKey(1))[0], atol=1e-4)


@pytest.mark.parametrize("n_layers,side", [(1, 32), (2, 64), (3, 96)])
def test_patchgan_receptive_field_is_the_gradient_support_of_one_output(n_layers, side):
    module = T.PatchGANDiscriminator(base_features=4, n_layers=n_layers, norm="none")
    x = jax.random.uniform(KEY, (1, side, side, 2), minval=-1, maxval=1)
    net, params, state = _net(module, x)
    out_side = net.apply(params, state, x, train=False)[0].shape[1]
    p = out_side // 2
    grad = jax.grad(lambda v: net.apply(params, state, v, train=False)[0][0, p, p, 0])(x)
    rows, cols = np.nonzero(np.abs(np.asarray(grad[0])).sum(-1))
    rf = T.patchgan_receptive_field(n_layers)
    assert rows.min() > 0 and rows.max() < side - 1  # the whole field lies inside the image
    assert rows.max() - rows.min() + 1 == cols.max() - cols.min() + 1 == rf
    assert rf == {1: 16, 2: 34, 3: 70}[n_layers]


def test_stargan_generator_reads_the_target_domain_and_its_heads():
    x = jax.random.uniform(KEY, (3, 28, 28, 1), minval=-1, maxval=1)
    module = T.StarGANGenerator(num_domains=4, base_features=4, repeat_num=1)
    net, params, state = _net(module, x, jnp.zeros((3,), jnp.int32))
    to = jnp.array([1, 2, 3])
    a = net.apply(params, state, x, to, train=True)[0]
    np.testing.assert_allclose(a, net.apply(params, state, x, jax.nn.one_hot(to, 4), train=True)[0], atol=1e-6)
    b = net.apply(params, state, x, jnp.array([0, 2, 1]), train=True)[0]
    assert not np.allclose(a[0], b[0], atol=1e-4) and np.allclose(a[1], b[1], atol=1e-6)
    with pytest.raises(ValueError, match="target domain"):
        module.apply({"params": params}, x)
    with pytest.raises(ValueError, match=r"float \[batch, 4\]"):
        net.apply(params, state, x, jnp.zeros((3, 5)), train=True)
    d = T.StarGANDiscriminator(num_domains=4, base_features=4, repeat_num=2)
    net, params, state = _net(d, x)
    src, cls = net.apply(params, state, x, train=True)[0]
    assert src.shape == (3, 7, 7, 1) and cls.shape == (3, 4)
    assert params["cls"]["kernel"].shape == (7, 7, 8, 4)  # the whole last map


def test_parameter_counts_equal_the_references_at_their_sizes():
    rgb = lambda side: jnp.zeros((1, side, side, 3))  # noqa: E731
    # pix2pix unet_256 (batch norm): 54,413,955; CycleGAN resnet_9blocks: 11,378,179; basic D: 2,764,737
    assert _count(T.UNetGenerator(channels=3, num_downs=8, norm="batch"), rgb(256)) == 54_413_955
    assert _count(T.UNetGenerator(channels=3, num_downs=8), rgb(256)) == 54_413_955  # affine IN = BN's params
    assert _count(T.ResnetGenerator(channels=3, n_blocks=9), rgb(32)) == 11_378_179
    assert _count(T.PatchGANDiscriminator(n_layers=3), rgb(64)) == 2_764_737
    # yunjey/stargan at c_dim=5, 128 px: G 8,430,528, D 44,762,048
    assert _count(T.StarGANGenerator(5, channels=3), rgb(32), jnp.zeros((1,), jnp.int32)) == 8_430_528
    assert _count(T.StarGANDiscriminator(5), rgb(128)) == 44_762_048
    # the small nets of a 2-core CPU config stay small
    assert _count(T.UNetGenerator(num_downs=5, base_features=16), jnp.zeros((1, 28, 28, 1))) < 2_000_000


def test_bad_settings_are_refused():
    x = jnp.zeros((1, 28, 28, 1))
    with pytest.raises(ValueError, match="norm must be one of"):
        T.PatchGANDiscriminator(norm="layer").init(KEY, x)
    with pytest.raises(ValueError, match="divide by 8"):
        T.ResnetGenerator(n_downsampling=3).init(KEY, x)
    with pytest.raises(ValueError, match="num_downs must be >= 2"):
        T.UNetGenerator(num_downs=2).init({"params": KEY, "dropout": KEY}, x)
