"""Analytic FLOPs of the benchmark's models (dcgan28, mlp2d, sngan32): 2 x the multiply-adds of every
convolution, transposed convolution and dense layer that a train step runs, forward and backward; equal to what
PyTorch's ``FlopCounterMode`` counts for the reference step (:mod:`jaxgan.bench.torch_reference`)."""

from __future__ import annotations

MODELS = ("dcgan28", "mlp2d", "sngan32")
N_CRITIC = {"dcgan28": 1, "mlp2d": 1, "sngan32": 5}
LATENT = {"dcgan28": 100, "mlp2d": 2, "sngan32": 128}


def _conv(h: int, w: int, k: int, c_in: int, c_out: int) -> int:
    """Multiply-adds per sample of a k x k convolution with an h x w output (transposed: h x w is its input)."""
    return h * w * k * k * c_in * c_out


def layer_macs(model: str, upsample: str = "transpose") -> tuple[list[int], int, list[int], int]:
    """Per-sample multiply-adds of every conv / dense layer: ``(g_layers, g_input, d_layers, d_input)``.

    ``g_input`` / ``d_input`` are the multiply-adds of the layers that read the network's input (latents, data):
    their input gradient is never needed.
    """
    if model == "dcgan28":
        if upsample == "resize_conv":  # k x k convolutions at the output resolution
            up = [_conv(14, 14, 4, 128, 64), _conv(28, 28, 4, 64, 1)]
        else:  # transposed convolutions, real taps only (transpose and subpixel are the same function)
            up = [_conv(7, 7, 4, 128, 64), _conv(14, 14, 4, 64, 1)]
        g = [100 * 7 * 7 * 128, *up]
        d = [_conv(14, 14, 4, 1, 64), _conv(7, 7, 4, 64, 128), 7 * 7 * 128]
        return g, g[0], d, d[0]
    if model == "mlp2d":
        g = [2 * 400, 400 * 400, 400 * 400, 400 * 400, 400 * 2]
        d = [2 * 1000, 200 * 1000, 200 * 1000, 200 * 1]  # maxout: a dense to 200 x 5 pieces
        return g, g[0], d, d[0]
    if model == "sngan32":
        ch, dch = 256, 128
        g = [128 * 4 * 4 * ch]
        for r in (8, 16, 32):  # GBlock output sizes: conv1, conv2 (3x3) and the 1x1 shortcut, all at r x r
            g += [_conv(r, r, 3, ch, ch), _conv(r, r, 3, ch, ch), _conv(r, r, 1, ch, ch)]
        g.append(_conv(32, 32, 3, ch, 3))
        d_in = [_conv(32, 32, 3, 3, dch), _conv(16, 16, 1, 3, dch)]  # block1 conv1, shortcut (on avg_pool(x))
        d = d_in + [_conv(32, 32, 3, dch, dch)]  # block1 conv2
        d += [_conv(16, 16, 3, dch, dch), _conv(16, 16, 3, dch, dch), _conv(16, 16, 1, dch, dch)]  # block2 (down)
        d += [_conv(8, 8, 3, dch, dch)] * 4  # blocks 3 and 4
        d.append(dch)  # SN dense head
        return g, g[0], d, sum(d_in)
    raise ValueError(f"unknown model {model!r}; models: {', '.join(MODELS)}")


def step_macs(model: str, batch: int, upsample: str = "transpose") -> int:
    """Multiply-adds of one train step with ``batch`` rows per discriminator update.

    Per D update: ``G`` forward on B (no gradient), ``D`` forward on 2B (real + fake), ``D`` backward on 2B
    (parameter gradients, plus input gradients of every layer but those reading the data). G update: ``G``
    forward on B, ``D`` forward on B and its input gradients down to the image, ``G`` backward (parameter
    gradients plus input gradients of every layer but the one reading z). A backward pass of a layer for one
    kind of gradient costs what its forward costs.
    """
    g, g_in, d, d_in = layer_macs(model, upsample)
    gf, df = sum(g), sum(d)
    d_update = batch * gf + 2 * batch * df + 2 * batch * (2 * df - d_in)
    g_update = batch * gf + batch * df + batch * df + batch * (2 * gf - g_in)
    return N_CRITIC[model] * d_update + g_update


def step_flops(model: str, batch: int, upsample: str = "transpose") -> int:
    return 2 * step_macs(model, batch, upsample)
