"""Colour operations that live inside every exported graph: Rec.709 luma and the two colour-difference channels.

Y = 0.2126 R + 0.7152 G + 0.0722 B, Cb = B − Y, Cr = R − Y. The pair is exactly invertible and linear, so it
works on any encoding (display, log, scene-linear values above 1.0) without clamping.

Full-resolution work stays in the contract's NHWC layout and is written as fixed channel mixes (MatMul with a
4×k matrix) and same-shape products: ONNX Runtime runs those at memory speed, where 4-channel 1×1 convolutions,
channel slices, concatenations and broadcasts over a 2K frame are several times slower (measured with
onnxruntime 1.31 on 2 CPU cores).
"""

from __future__ import annotations

import torch

from chromaluma.contract import LUMA_WEIGHTS  # the one definition of luma (docs/CONTRACT.md)

_WR, _WG, _WB = LUMA_WEIGHTS

# RGBA → [Y, Cb, Cr]
YCC_FROM_RGBA = ((_WR, _WG, _WB, 0.0), (-_WR, -_WG, 1.0 - _WB, 0.0), (1.0 - _WR, -_WG, -_WB, 0.0))
# RGBA → [Y, Y, Y, A]: the scan's luma in each colour channel and its alpha, for out = guide·P + Q
GUIDE_FROM_RGBA = ((_WR, _WG, _WB, 0.0),) * 3 + ((0.0, 0.0, 0.0, 1.0),)
# (Cb, Cr) → change of (R, G, B) at fixed Y: R = Y + Cr, B = Y + Cb, G = Y − (wR·Cr + wB·Cb) / wG
RGB_FROM_CHROMA = ((0.0, 1.0), (-_WB / _WG, -_WR / _WG), (1.0, 0.0))


def fixed_mix(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Per-pixel linear channel mix of NHWC `x` by `matrix` [out, in] (a MatMul in the graph)."""
    return torch.matmul(x, matrix.t())


def planar(x: torch.Tensor) -> torch.Tensor:
    """NHWC → NCHW (for pooling, convolutions and resizing)."""
    return x.permute(0, 3, 1, 2)


def interleaved(x: torch.Tensor) -> torch.Tensor:
    """NCHW → NHWC."""
    return x.permute(0, 2, 3, 1)


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """Rec.709 luma of NHWC RGB(A), shape [N, H, W] (for tests and metrics)."""
    return _WR * rgb[..., 0] + _WG * rgb[..., 1] + _WB * rgb[..., 2]
