"""The confidence plane a grid model exports: smooth at its grid (no lattice of cells) and free of tiling marks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chromaluma import export
from chromaluma.backend.restore import process_frame
from chromaluma.benchmarks.confidence_measure import lattice_ratio
from chromaluma.card import build_card
from chromaluma.models import build_model

SMALL = {"width": 8, "dilations": [1, 2]}
FACTOR = 4  # processing scale 0.25


def _scene(height: int, width: int) -> np.ndarray:
    """A frame with structure at many scales (edges, gradients, texture), so the confidence varies across it."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frame = np.empty((height, width, 4), np.float32)
    for channel, phase in enumerate((0.0, 1.0, 2.0)):
        frame[..., channel] = (0.5 + 0.3 * np.sin(x / 7.0 + phase) * np.cos(y / 11.0) + 0.2 * (x > width / 2)
                               + 0.05 * rng.standard_normal((height, width)))
    frame[..., 3] = 1.0
    return frame


@pytest.fixture(scope="module")
def chroma_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small chroma model with perturbed weights (its log_sigma varies from cell to cell), exported."""
    torch.manual_seed(11)
    model = build_model("chroma", 0.25, SMALL)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    training = {"pairs": [], "validation_frames": [], "parameters": {"steps": 1}, "device": "cpu", "duration_s": 1.0}
    card = build_card("chroma", "display", training, {"validation": {}}, opset=export.OPSET,
                      model_details={"architecture": SMALL, "receptive_field": model.receptive_field,
                                     "processing_scale": 0.25})
    return export.export_model(model.eval(), tmp_path_factory.mktemp("confidence") / "chroma.onnx", "display", card)


def _confidence(model: Path, frame: np.ndarray, **params: object) -> np.ndarray:
    out = np.empty_like(frame)
    confidence = np.empty(frame.shape[:2], np.float32)
    process_frame(frame, out, {"model": str(model), **params}, confidence=confidence)
    return confidence


def test_confidence_shows_no_lattice_of_grid_cells(chroma_model: Path):
    confidence = _confidence(chroma_model, _scene(96, 128))
    assert np.ptp(confidence) > 0.05, "the fixture's confidence must vary for the measure to mean anything"
    assert np.all((confidence >= 0.0) & (confidence <= 1.0))
    # bilinear upsampling (slope jumps through every cell centre) and nearest blocks both measure 2.0
    assert lattice_ratio(confidence, FACTOR) < 1.6


def test_lattice_ratio_tells_blocks_and_creases_from_a_smooth_plane():
    y, x = np.mgrid[0:64, 0:64].astype(np.float64)
    smooth = np.sin(x / 5.0) * np.cos(y / 7.0)
    cells = np.random.default_rng(0).random((16, 16))
    blocks = np.kron(cells, np.ones((FACTOR, FACTOR)))
    creased = torch.nn.functional.interpolate(torch.from_numpy(cells)[None, None], scale_factor=FACTOR,
                                              mode="bilinear", align_corners=False)[0, 0].numpy()
    assert lattice_ratio(smooth, FACTOR) == pytest.approx(1.0, abs=0.1)
    assert lattice_ratio(creased, FACTOR) == pytest.approx(2.0, abs=0.1)
    assert lattice_ratio(blocks, FACTOR) == pytest.approx(2.0, abs=0.1)


def test_tiled_confidence_equals_whole_frame_confidence(chroma_model: Path):
    frame = _scene(200, 232)
    whole = _confidence(chroma_model, frame)
    # the smallest tile this model allows: several tiles each way, blended over feathered bands
    tiled = _confidence(chroma_model, frame, tile_size=150)
    np.testing.assert_allclose(tiled, whole, atol=2e-6)
