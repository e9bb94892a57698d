"""api.process on models built by the real architectures and exporter (chromaluma.models + chromaluma.export).

Untrained (seeded) weights are enough: what is tested is that the shipped designs honour the tiling rule of
docs/CONTRACT.md §3 through the backend (tiled == untiled, host render windows == the whole frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromaluma import api
from model_fixtures import model_card

export = pytest.importorskip("chromaluma.export")
models = pytest.importorskip("chromaluma.models")


def _exported(folder: Path, kind: str) -> tuple[str, int]:
    import torch

    torch.manual_seed(3)
    scale = models.DEFAULT_PROCESSING_SCALE[kind]
    module = models.build_model(kind, scale, {"width": 8, "dilations": [1, 2]})
    with torch.no_grad():  # untrained heads start near identity; make the restoration visibly position-dependent
        for parameter in module.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    path = export.export_model(module, folder / f"{kind}.onnx", "display", model_card(kind))
    return str(path), int(module.receptive_field)


def _frame(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frame = np.ones((height, width, 4), np.float32)
    frame[..., 0] = xx / width
    frame[..., 1] = 0.5 + 0.3 * np.sin(yy / 9)
    frame[..., 2] = rng.random((height, width), dtype=np.float32) * 0.3 + 0.2
    return frame


@pytest.mark.parametrize("kind", ["chroma", "luma"])
def test_real_model_tiles_and_windows_match_the_whole_frame(tmp_path: Path, rng, kind):
    model, receptive_field = _exported(tmp_path, kind)
    report = api.process(None, None, {"model": model})
    assert report.kind == kind and report.receptive_field == receptive_field
    frame = _frame(rng, 150, 170)
    whole = np.zeros_like(frame)
    api.process(frame, whole, {"model": model})
    assert np.abs(whole[..., :3] - frame[..., :3]).max() > 1e-3  # the model does something
    factor = round(1 / report.processing_scale)
    tile = 2 * receptive_field + 2 * 16 + factor + 4 * 16 + 8
    tiled = np.zeros_like(frame)
    api.process(frame, tiled, {"model": model, "tile_size": tile})
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    x0, y0, margin = 41, 37, receptive_field + factor
    src = frame[max(0, y0 - margin):y0 + 60 + margin, max(0, x0 - margin):x0 + 70 + margin]
    origin = (max(0, x0 - margin), max(0, y0 - margin))
    dst = np.zeros((60, 70, 4), np.float32)
    api.process(src, dst, {"model": model, "window": (x0 - origin[0], y0 - origin[1]), "frame_origin": origin})
    np.testing.assert_allclose(dst, whole[y0:y0 + 60, x0:x0 + 70], atol=1e-4)
