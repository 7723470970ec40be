"""Tests of the per-op profile (:mod:`jaxgan.bench.op_profile`): the sums over trace events and the reading of
the compiled module's text; one real traced run of the mlp2d step, marked slow."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import pytest

from jaxgan.bench import op_profile


def test_op_times_sums_complete_events_per_name_without_the_runtime_scopes():
    events = [
        {"ph": "X", "name": "dot.1", "dur": 10.0},
        {"ph": "X", "name": "dot.1", "dur": 5.5},
        {"ph": "X", "name": "fusion.2", "dur": 2.0},
        {"ph": "B", "name": "dot.1"},  # not a complete event
        {"ph": "X", "name": "ThunkExecutor::Execute", "dur": 100.0},
        {"ph": "X", "name": "$runners.py:22 _run", "dur": 100.0},
        {"ph": "X", "name": "SlinkyThreadPool::Await", "dur": 7.0},
    ]
    total, count = op_profile.op_times(events)
    assert dict(total) == {"dot.1": 15.5, "fusion.2": 2.0}
    assert dict(count) == {"dot.1": 2, "fusion.2": 1}


def test_describe_names_shape_operation_and_source():
    def f(x, w):
        return jnp.tanh(x @ w).sum()

    x, w = jnp.ones((8, 16)), jnp.ones((16, 4))
    hlo = jax.jit(jax.grad(f, argnums=1)).lower(x, w).compile().as_text()
    names = [ln.split(" = ")[0].strip().removeprefix("ROOT ").lstrip("%") for ln in hlo.splitlines() if " = " in ln]
    described = {n: op_profile.describe(hlo, n) for n in names}
    products = [(what, src) for what, src in described.values() if "dot_general" in src]
    assert products and all(what.startswith(("f32[16,4]", "f32[8,4]")) for what, _ in products), products
    assert op_profile.describe(hlo, "no_such_op") == ("", "")


def test_describe_lists_the_ops_a_library_fusion_calls():
    x, w = jnp.ones((100, 400)), jnp.ones((400, 400))
    hlo = jax.jit(lambda x, w: x @ w).lower(x, w).compile().as_text()
    fusions = [ln.split(" = ")[0].strip().removeprefix("ROOT ").lstrip("%") for ln in hlo.splitlines()
               if '"kind":"__' in ln and " fusion(" in ln]  # fmt: skip
    if not fusions:
        pytest.skip("this backend calls no library fusion for a matrix product")
    what, _ = op_profile.describe(hlo, fusions[0])
    assert re.fullmatch(r"f32\[100,400\] __\w+\[dot\]", what), what


@pytest.mark.slow
def test_profile_of_the_mlp2d_step_finds_its_products():
    ops, per_step_us, steps = op_profile.profile("mlp2d", 16, calls=1, top=5)
    assert steps == 100 and len(ops) == 5 and per_step_us > 0
    assert all(o.us_per_step > 0 and o.what and 0 < o.share <= 1 for o in ops)
    assert sum(o.share for o in ops) <= 1 + 1e-9
    assert [o.share for o in ops] == sorted((o.share for o in ops), reverse=True)  # heaviest first
    assert any("dot_general" in o.source for o in ops), ops  # a matrix-product step: its products are among them


def _op(name, what, share=0.1, us=10.0):
    return op_profile.Op(name, us, share, 1, what, "")


def test_kind_of_classes_each_op_from_its_name_and_text():
    cases = {
        ("ynn_fusion.19", "f32[64,4,4,128] __ynn_fusion[convolution]"): "convolution",
        ("conv.3", "f32[64,14,14,64] convolution(...), window={size=4x4 pad=2_2x2_2 lhs_dilate=2x2}"): "convolution",
        ("ynn_fusion.39", "f32[64,6272] __ynn_fusion[dot]"): "matrix product",
        ("ynn_fusion.37", "f32[100,200,5] __ynn_fusion[broadcast, divide, dot, reduce]"): "matrix product",
        ("dot.8", "f32[100,6272] dot(...), lhs_contracting_dims={0}, rhs_contracting_dims={0}"): "matrix product",
        ("transpose_copy_fusion.4", "f32[64,14,14,64] fusion(...), kind=kLoop"): "transpose or copy",
        ("copy.2", "f32[4,4,64,128] copy(...)"): "transpose or copy",
        ("ynn_fusion.10", "f32[1,1,1,64] __ynn_fusion[bitcast, multiply, reduce]"): "reduction",
        ("reduce.1", "f32[64] reduce(...), dimensions={0}"): "reduction",
        ("multiply_select_fusion.16", "f32[64,14,14,64] fusion(...), kind=kLoop"): "elementwise",
        ("PjitFunction(<unnamed function>)", ""): "runtime",
        ("rng.1", "u32[4] rng-bit-generator(...)"): "other",
    }
    for (name, what), kind in cases.items():
        assert op_profile.kind_of(_op(name, what)) == kind, (name, what)
    assert set(cases.values()) == set(op_profile.KINDS)


def test_by_kind_sums_the_share_per_kind_in_a_fixed_order_and_times_it_from_the_step():
    ops = [
        _op("fusion.1", "f32[8] fusion(...), kind=kLoop", 0.1, 5.0),
        _op("conv.1", "f32[8,4,4,2] convolution(...)", 0.5, 40.0),
        _op("conv.2", "f32[8,4,4,2] convolution(...)", 0.25, 20.0),
        _op("transpose.1", "f32[2,8] transpose(...)", 0.15, 12.0),
    ]
    rows = op_profile.by_kind(ops, 80.0)
    assert [k for k, _, _ in rows] == ["convolution", "transpose or copy", "elementwise"]
    assert [us for _, us, _ in rows] == pytest.approx([60.0, 12.0, 8.0])
    assert [share for _, _, share in rows] == pytest.approx([0.75, 0.15, 0.1])
    assert op_profile.by_kind([], 80.0) == []
