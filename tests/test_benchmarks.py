"""jaxgan/bench (``jaxgan bench``, benchmarks/step_throughput.py): analytic FLOPs, the PyTorch reference's
equivalence, the command from outside the checkout, an end-to-end tiny run.

No wall-clock time is asserted anywhere: these tests check what the benchmark counts and prints, not how fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")

from jaxgan.bench import flops, runners  # noqa: E402
from jaxgan.bench import step_throughput as st  # noqa: E402


def test_dcgan28_flops_by_hand():
    # Per sample, forward multiply-adds: G = 627,200 (dense) + 6,422,528 + 200,704 (the transposed convs, 4 real
    # taps per output pixel) = 7,250,432; D = 200,704 + 6,422,528 + 6,272 = 6,629,504.
    g, g_in, d, d_in = flops.layer_macs("dcgan28")
    assert g == [627_200, 14 * 14 * 64 * 4 * 128, 28 * 28 * 1 * 4 * 64]
    assert (sum(g), sum(d), g_in, d_in) == (7_250_432, 6_629_504, 627_200, 200_704)
    # step = G: 4 G_F - dense (fwd in D update, fwd + param grads + input grads in G update);
    #        D: 8 D_F - 2 conv1 (fwd + 2 backward on 2B rows, fwd + input grads on B rows)
    assert flops.step_macs("dcgan28", 1) == 4 * 7_250_432 - 627_200 + 8 * 6_629_504 - 2 * 200_704 == 81_009_152
    assert flops.step_flops("dcgan28", 64) == 64 * 2 * 81_009_152
    # resize_conv is a different model: k x k convolutions at the output resolution, 4x the upsampling MACs
    g_rc = flops.layer_macs("dcgan28", "resize_conv")[0]
    assert g_rc[1:] == [4 * x for x in g[1:]]


def test_sngan32_counts_n_critic_discriminator_updates():
    one = flops.step_macs("sngan32", 1)
    g, g_in, d, d_in = flops.layer_macs("sngan32")
    gf, df = sum(g), sum(d)
    assert one == 5 * (gf + 2 * df + 2 * (2 * df - d_in)) + (3 * gf + 2 * df - g_in)


def test_ratio_records_are_speed_ratios():
    def row(impl, variant, ms):
        return {"model": "dcgan28", "batch": 64, "impl": impl, "variant": variant, "step_ms_median": ms}

    rows = [row("jaxgan", "transpose", 40.0), row("jaxgan", "subpixel", 20.0), row("torch", "eager", 30.0),
            row("minimal_jax", "subpixel", 19.0)]  # fmt: skip
    got = {(r["name"], r["a"]): r["speed_ratio"] for r in st.ratio_records(rows)}
    assert got[("jaxgan/torch_eager", "jaxgan [subpixel]")] == 1.5
    assert got[("jaxgan/torch_eager", "jaxgan [transpose]")] == 0.75
    assert got[("subpixel/transpose", "jaxgan [subpixel]")] == 2.0
    assert got[("jaxgan/minimal_jax", "jaxgan [subpixel]")] == 0.95


def test_bf16_rows_are_jaxgan_rows_in_mixed_precision_paired_with_their_float32_rows():
    import argparse

    import jax

    args = argparse.Namespace(steps_per_call=4, lever_upsample="transpose", image_steps_per_call=2, torch_compile=False)
    f32 = runners.entries_for("dcgan28", 4, args, with_torch=False)
    bf16 = runners.entries_for("dcgan28", 4, args, with_torch=False, levers=True, dtype="bfloat16")
    assert {e.impl for e in bf16} == {"jaxgan bf16"}  # no references, no levers: those are float32 rows
    assert [e.variant for e in bf16] == [e.variant for e in f32 if e.impl == "jaxgan"]
    built = {}

    def parts():  # shapes only: the step is traced and lowered, nothing is computed
        step, state, real, _ = runners.jaxgan_parts("dcgan28", 2, dtype="bfloat16")
        built["step"] = step
        return state, real

    state, real = jax.eval_shape(parts)
    hlo = jax.jit(built["step"]).lower(state, real).as_text()
    ops = [line for line in hlo.splitlines() if "stablehlo.convolution" in line or "stablehlo.dot_general" in line]
    assert len(ops) > 10 and all(line.rstrip().endswith("bf16>") for line in ops)
    assert {x.dtype.name for x in jax.tree.leaves(state.g_params)} == {"float32"}

    def row(impl, variant, ms):
        return {"model": "dcgan28", "batch": 4, "impl": impl, "variant": variant, "step_ms_median": ms}

    rows = [row("jaxgan", "subpixel", 20.0), row("jaxgan bf16", "subpixel", 50.0), row("jaxgan", "transpose", 30.0)]
    got = {(r["name"], r["a"], r["b"]): r["speed_ratio"] for r in st.ratio_records(rows)}
    assert got == {("jaxgan_bf16/jaxgan", "jaxgan bf16 [subpixel]", "jaxgan [subpixel]"): 0.4,
                   ("subpixel/transpose", "jaxgan [subpixel]", "jaxgan [transpose]"): 1.5}  # fmt: skip


def test_an_unknown_dtype_is_refused_before_anything_is_measured(capsys):
    with pytest.raises(SystemExit):
        st.main(["--dtype", "float32,float16", "--no-torch"])
    assert "unknown dtype 'float16'; dtypes: float32, bfloat16" in capsys.readouterr().err


def test_an_accelerator_missing_here_is_refused_in_a_fresh_process():
    cmd = [sys.executable, "-m", "jaxgan.bench.step_throughput", "--device", "tpu", "--model", "mlp2d"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "JAX_PLATFORMS": ""})
    assert p.returncode == 2 and "| model" not in p.stdout
    assert "--device tpu: JAX has no tpu backend here (" in p.stderr and "install the jax build for it" in p.stderr


def test_the_cpu_only_pytorch_reference_is_refused_beside_an_accelerator(monkeypatch, capsys):
    import jax

    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")  # what a GPU machine's process reports
    with pytest.raises(SystemExit):
        st.main(["--torch", "--model", "mlp2d"])
    assert "--torch: the PyTorch reference runs on the CPU; its ratio to a gpu step" in capsys.readouterr().err
    platforms = jax.config.jax_platforms
    try:
        with pytest.raises(SystemExit):  # asked for a backend other than the one this process already runs
            st.main(["--device", "tpu", "--model", "mlp2d"])
    finally:
        jax.config.update("jax_platforms", platforms)
    assert "--device tpu: this process already runs JAX on gpu; run the benchmark in a fresh process" in (
        capsys.readouterr().err
    )


def _jaxgan_params(model):
    import jax

    state = jax.eval_shape(lambda: runners.jaxgan_parts(model, 2)[1])  # shapes only: nothing is computed
    return tuple(sum(x.size for x in jax.tree.leaves(t)) for t in (state.g_params, state.d_params))


def test_jaxgan_param_counts():
    want = {"dcgan28": (759_681, 138_689), "mlp2d": (484_802, 405_201), "sngan32": (4_276_739, 1_053_825)}
    for model, counts in want.items():
        assert _jaxgan_params(model) == counts, model


@pytest.fixture(scope="module")
def torch_ref():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from jaxgan.bench import torch_reference

    return torch_reference


@pytest.mark.parametrize("model", ["dcgan28", "mlp2d"])
def test_torch_reference_matches_jaxgan(torch_ref, model):
    """Same parameter count as jaxgan's networks, and FlopCounterMode counts the analytic FLOPs exactly."""
    assert torch_ref.TorchStep(model, 2).params == _jaxgan_params(model)
    assert torch_ref.count_flops(model, 2) == flops.step_flops(model, 2)


def test_torch_sngan32_params(torch_ref):
    g, d = torch_ref.SNGANGenerator(), torch_ref.SNGANDiscriminator()
    assert (torch_ref.param_count(g), torch_ref.param_count(d)) == (4_276_739, 1_053_825)


def test_minimal_jax_has_jaxgan_params():
    import jax

    from jaxgan.bench.minimal_jax import make_minimal_dcgan28

    state = jax.eval_shape(lambda: make_minimal_dcgan28(2)[0])
    count = lambda t: sum(x.size for x in jax.tree.leaves(t))
    assert (count(state.g_vars["params"]), count(state.d_vars["params"])) == (759_681, 138_689)


JAXGAN = [sys.executable, "-c", "import sys; from jaxgan.run.cli import main; sys.exit(main())"]


def test_packaged_with_jaxgan():
    """The benchmark is a package of jaxgan's, so a wheel carries it and ``jaxgan bench`` runs from one: the wheel
    takes the packages under ``jaxgan*`` (pyproject.toml), and every folder of jaxgan/ with modules is a package."""
    import tomllib
    from pathlib import Path

    find = tomllib.loads((Path(ROOT) / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert find["include"] == ["jaxgan*"]
    folders = {p.parent for p in (Path(ROOT) / "jaxgan").rglob("*.py")}
    assert {f for f in folders if not (f / "__init__.py").is_file()} == set()
    assert {"bench", "run", "models", "configs"} <= {f.name for f in folders}


@pytest.mark.parametrize("how", ["jaxgan bench", "script"])
def test_help_outside_the_checkout(tmp_path, how):
    cmd = JAXGAN + ["bench", "--help"] if how == "jaxgan bench" else [
        sys.executable, os.path.join(BENCH, "step_throughput.py"), "--help"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "--model" in p.stdout and "--levers" in p.stdout


@pytest.mark.slow
def test_end_to_end_tiny_run(tmp_path):
    """Through ``jaxgan bench`` from a folder outside the checkout."""
    out = tmp_path / "bench.jsonl"
    cmd = [*JAXGAN, "bench", "--model", "dcgan28,mlp2d", "--batch", "4", "--device", "cpu",
           "--steps", "3", "--warmup", "1", "--steps-per-call", "2", "--rounds", "2", "--threads", "1",
           "--ceiling-size", "128", "--impl", "subpixel,scan,loop,torch", "--json", str(out)]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "load average" in p.stdout and "| model" in p.stdout and "JAX backend: cpu (" in p.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    env = records[0]
    assert env["record"] == "env" and env["jax_backend"] == "cpu" and env["device_peak_mib"] is None
    for key in ("cpu", "jax", "load_start", "load_end", "ceiling_gflops", "matmul_gflops_start", "ru_maxrss_mib"):
        assert key in env
    rows = [r for r in records if r["record"] == "row"]
    labels = {(r["model"], r["impl"], r["variant"]) for r in rows}
    assert labels >= {("dcgan28", "jaxgan", "subpixel"), ("dcgan28", "minimal_jax", "subpixel"),
                      ("mlp2d", "jaxgan", "scan x2"), ("mlp2d", "jaxgan", "loop x1")}  # fmt: skip
    assert ("dcgan28", "jaxgan", "transpose") not in labels  # --impl filters rows
    for r in rows:
        assert set(st.ROW_KEYS) <= set(r)
        assert r["timed_steps"] >= 3 and r["step_ms_p10"] <= r["step_ms_median"] <= r["step_ms_p90"]
        assert r["flops_per_step"] == flops.step_flops(
            r["model"], 4, r["variant"] if r["variant"] == "resize_conv" else "transpose"
        )
        assert r["images_per_s"] == pytest.approx(4 * 1e3 / r["step_ms_median"], rel=0.01)
    ratios = {r["name"] for r in records if r["record"] == "ratio"}
    assert {"jaxgan/minimal_jax", "scan/synced_each"} <= ratios
    if env.get("torch"):
        assert "jaxgan/torch_eager" in ratios
        assert all(r["equal"] for r in records if r["record"] == "flop_check")


# ---------------------------------------------------------------------------------------------------------------
# the per-layer profile (jaxgan/bench/layers.py, benchmarks/layer_profile.py)


def test_layer_profile_reads_the_shipped_layers_and_their_multiply_adds():
    from jaxgan.bench import layers

    got = [(x.net, x.name, x.describe(), x.reads_input, x.form) for x in layers.model_layers("dcgan28", 2)]
    assert got == [
        ("G", "Dense_0", "dense 100->6272", True, "xla"),
        ("G", "Upsample2x_0/conv_transpose", "up2x 7x7x128->64", False, "per_product"),  # upsample="auto", CPU
        ("G", "Upsample2x_1/conv_transpose", "up2x 14x14x64->1", False, "transpose"),
        ("D", "Conv_0", "conv4x4 s2 28x28x1->64", True, "xla"),
        ("D", "Conv_1", "conv4x4 s2 14x14x64->128", False, "xla"),
        ("D", "head", "dense 6272->1", False, "xla"),
    ]
    forms = {(x.net, x.name): x.form for x in layers.model_layers("sngan32", 8)}  # conv="auto" on the CPU
    assert forms[("G", "block4/conv1")] == forms[("D", "block1/conv2/conv")] == "dot_dw"  # 8 x 32 x 32 rows
    assert forms[("G", "block2/shortcut")] == "dot_dw"  # 1x1
    assert forms[("G", "block3/conv1")] == forms[("G", "conv_out")] == forms[("D", "block2/conv1/conv")] == "xla"
    for model in ("dcgan28", "sngan32"):  # the same multiply-adds as the step benchmark's analytic count
        found = layers.model_layers(model, 3)
        g, _, d, _ = flops.layer_macs(model)
        assert sum(x.macs for x in found if x.net == "G") == 3 * sum(g), model
        assert sum(x.macs for x in found if x.net == "D") == 3 * sum(d), model


def _layer_results(fns, args):
    import numpy as np

    return {d: np.asarray(f(*args)) for d, f in fns.items()}


def test_layer_profile_forms_compute_the_same_products():
    import numpy as np

    from jaxgan.bench import layers

    for layer in layers.model_layers("dcgan28", 2) + layers.model_layers("sngan32", 1)[1:4]:
        x, w, dy = layers.arrays(layer)
        results = {form: _layer_results(layers.directions(f), (x, w, dy)) for form, f in layers.forms(layer).items()}
        ref = results.pop(next(iter(results)))
        others = {"dense": set(), "up2x": {"subpixel", "phases", "per_product"}, "conv": {"s2d"}}
        if layer.kind == "conv" and layer.strides == (1, 1):
            others["conv"] = {"dot_dw"}
        assert set(results) == others[layer.kind]
        for form, got in results.items():
            for d in layers.DIRECTIONS:
                np.testing.assert_allclose(got[d], ref[d], atol=1e-3, rtol=1e-4, err_msg=f"{layer.name} {form} {d}")


def test_layer_profile_names_the_batch_chunked_forms_the_networks_compute_past_64_rows():
    import dataclasses

    import numpy as np

    from jaxgan.bench import layers

    got = {x.name: x.form for x in layers.model_layers("dcgan28", 256)}  # abstract: nothing of batch 256 runs
    assert got == {"Dense_0": "xla", "Upsample2x_0/conv_transpose": "per_product_chunk64",
                   "Upsample2x_1/conv_transpose": "transpose", "Conv_0": "xla",  # 1 input channel: not chunked
                   "Conv_1": "xla_chunk64", "head": "xla"}  # fmt: skip
    small = {(x.net, x.name): x for x in layers.model_layers("dcgan28", 2)}
    for key in (("G", "Upsample2x_0/conv_transpose"), ("D", "Conv_1")):
        layer = dataclasses.replace(small[key], x_shape=(66, *small[key].x_shape[1:]))  # chunks of 64 and 2
        fs = layers.forms(layer)
        plain, chunk = ("per_product", "per_product_chunk64") if layer.kind == "up2x" else ("xla", "xla_chunk64")
        assert chunk in fs and layers.forms(small[key]).keys() == fs.keys() - {chunk}
        x, w, dy = layers.arrays(layer)
        ref, got = (_layer_results(layers.directions(fs[f]), (x, w, dy)) for f in (plain, chunk))
        for d in layers.DIRECTIONS:
            np.testing.assert_allclose(got[d], ref[d], atol=1e-4, rtol=1e-5, err_msg=f"{key} {d}")


def test_layer_profile_torch_layers_compute_the_same_products(torch_ref):
    import numpy as np

    from jaxgan.bench import layers

    odd = layers.Layer("D", "Conv_2", "conv", (2, 7, 7, 8), 16, (4, 4), (2, 2), ((1, 2), (1, 2)))  # "SAME" 7 -> 4
    found = layers.model_layers("dcgan28", 2) + layers.model_layers("sngan32", 1)[:3] + [odd]
    for layer in found:
        x, w, dy = layers.arrays(layer)
        ref = _layer_results(layers.directions(next(iter(layers.forms(layer).values()))), (x, w, dy))
        t = layers.torch_directions(layer, threads=1)
        prep = t.pop("prep", None)
        tx, tw, tdy = layers.to_torch(layer, x, w, dy)
        targs = (prep(tx) if prep else tx, tw, tdy)
        got = {d: t[d](*targs).numpy() for d in layers.DIRECTIONS}
        if layer.kind != "dense":  # back to NHWC / HWIO
            got["fwd"] = got["fwd"].transpose(0, 2, 3, 1)
            got["dx"] = got["dx"].transpose(0, 2, 3, 1)
            (t_, b), (le, r) = layer.padding
            if prep is not None:  # the gradient of the explicitly padded input: cut the border
                got["dx"] = got["dx"][:, t_ : got["dx"].shape[1] - b, le : got["dx"].shape[2] - r]
            if layer.kind == "up2x":
                got["dw"] = got["dw"].transpose(2, 3, 0, 1)[::-1, ::-1]
            else:
                got["dw"] = got["dw"].transpose(2, 3, 1, 0)
        else:
            got["dw"] = got["dw"].T
        for d in layers.DIRECTIONS:
            np.testing.assert_allclose(got[d], ref[d], atol=1e-3, rtol=1e-4, err_msg=f"{layer.name} torch {d}")


def test_layer_profile_end_to_end(tmp_path, capsys):
    from jaxgan.bench import layers

    out = tmp_path / "layers.jsonl"
    assert layers.main(["--model", "dcgan28", "--batch", "2", "--reps", "1", "--rounds", "1", "--no-torch",
                        "--layers", "Conv_,Upsample2x_0", "--json", str(out)]) == 0  # fmt: skip
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("| ") and "ms" not in line]
    # Upsample2x_0: transpose / subpixel / phases / per_product; Conv_0 and Conv_1: xla / s2d
    assert [r.split(" | ")[1] + " " + r.split(" | ")[3] for r in rows] == [
        "Upsample2x_0/conv_transpose transpose", "Upsample2x_0/conv_transpose subpixel",
        "Upsample2x_0/conv_transpose phases", "Upsample2x_0/conv_transpose per_product", "Conv_0 xla", "Conv_0 s2d",
        "Conv_1 xla", "Conv_1 s2d",
    ]  # fmt: skip
    assert "(" not in rows[4]  # D's first layer: its dx is needed in the G update (only the latents' is not)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    estimate = records.pop()
    assert estimate["record"] == "step_estimate" and set(estimate["ms"]) == {"model", "best"}
    assert len(records) == 8 * 3 and all(r["ms"] > 0 and r["gflops"] > 0 for r in records)
    assert {r["mflop"] for r in records if r["layer"] == "Conv_1"} == {2 * 2 * 7 * 7 * 16 * 64 * 128 / 1e6}


def test_layer_profile_step_counts_are_the_step_benchmarks_multiply_adds():
    """Each product counted as often as a train step runs it gives flops.step_macs exactly."""
    from jaxgan.bench import layers

    found = layers.model_layers("dcgan28", 5)
    total = sum(c * x.macs for x in found for c in layers.step_counts(x, n_critic=1).values())
    assert total == flops.step_macs("dcgan28", 5)
    d0 = next(x for x in found if x.name == "Conv_0")
    assert layers.step_counts(d0, n_critic=5) == {"fwd": 11, "dx": 1, "dw": 10}  # dx only in the G update


def test_layer_profile_step_estimate_adds_the_counted_products():
    from jaxgan.bench import layers

    found = [x for x in layers.model_layers("dcgan28", 2) if x.name in ("Upsample2x_0/conv_transpose", "Conv_1")]
    ms = {"transpose": 5.0, "subpixel": 3.0, "phases": 2.0, "per_product": 6.0, "xla": 1.0, "s2d": 4.0, "torch": 1.5}
    records = [{"net": x.net, "layer": x.name, "form": f, "direction": d, "ms": ms[f] * (1 + (d == "dw"))}
               for x in found for f in [*layers.forms(x), "torch"] for d in layers.DIRECTIONS]  # fmt: skip
    # G up2x (per_product in the model on the CPU, phases the fastest here): fwd 2 + dx 1 + dw 1 (x2 ms);
    # D Conv_1 (xla): fwd 3 + dx 3 + dw 2 (x2 ms)
    assert layers.step_estimate(records, found, n_critic=1) == {
        "model": 6.0 * 5 + 1.0 * 10, "best": 2.0 * 5 + 1.0 * 10, "torch": 1.5 * 5 + 1.5 * 10,
    }  # fmt: skip


@pytest.mark.slow
def test_conv_forms_sweeps_run_and_agree_with_xla(monkeypatch, capsys):
    """The sweeps behind "auto" (benchmarks/conv_forms.py), on tiny shapes: every row printed, the per-tap weight
    gradient equal to XLA's to round-off, and chunks smaller than the batch only."""
    from jaxgan.bench import conv_forms

    monkeypatch.setattr(conv_forms, "DW_SHAPES", [(2, 8, 4, 5, 3), (2, 8, 4, 5, 1)])
    assert conv_forms.main(["--sweep", "dw,chunk", "--reps", "1", "--batch", "40"]) == 0
    out = capsys.readouterr().out
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith("| 2x8^2x4 -> 5")]
    assert [r[1] for r in rows] == ["3x3", "1x1"] and all(float(r[-1].rstrip(" |")) < 1e-5 for r in rows)
    chunks = [line.split(" | ")[1] for line in out.splitlines() if line.startswith("| D Conv_1")]
    assert chunks == ["whole", "32", "16"]
    monkeypatch.setattr(conv_forms, "LAYOUT_SHAPES", [("s2", 2, 8, 3, 4, 4, 2), ("s1", 2, 6, 4, 5, 3, 1)])
    assert conv_forms.main(["--sweep", "layout", "--reps", "1"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| s")]
    assert [r[0] for r in rows] == ["| s2 2x8^2x3 -> 4", "| s1 2x6^2x4 -> 5"]
    assert all(float(r[-1].rstrip(" |")) < 1e-5 for r in rows)  # NCHW's products, transposed back, are NHWC's
    with pytest.raises(SystemExit):
        conv_forms.main(["--sweep", "layouts"])
    assert "unknown sweep 'layouts'; sweeps: dw, chunk, layout" in capsys.readouterr().err


@pytest.mark.slow
def test_config_steps_times_a_shipped_config_with_the_cpu_forms_on_and_off(capsys):
    """benchmarks/config_steps.py: one fresh process per setting builds the config's experiment and times its
    step as ``jaxgan train`` does (image batches from the host, toy data drawn on the device); each row has both
    times and their ratio."""
    from jaxgan.bench import config_steps

    assert config_steps.main(["--configs", "dcgan_digits,ring_nonsat", "--steps", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    for name in ("dcgan_digits", "ring_nonsat"):
        row = next(line for line in out if line.startswith(f"| {name} |"))
        on, off, ratio = (float(c.strip().rstrip("x")) for c in row.split("|")[2:5])
        assert on > 0 and off > 0 and ratio == pytest.approx(off / on, abs=0.02), row
