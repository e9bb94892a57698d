"""§1.2: restored colour an integer type cannot hold is brought into range along its own luma, not clipped per channel.

A chroma model keeps the scan's luma by construction; an 8- or 16-bit delivery must not take that back by clipping
R, G and B separately (which shifts luma and hue in saturated colours).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx.helper as oh
import pytest
from onnx import TensorProto

from chromaluma import api, contract
from chromaluma.integer_samples import fit_chroma_into_range
from model_fixtures import save_with_metadata

WEIGHTS = np.array(contract.LUMA_WEIGHTS)
BOOST = 3.0


def _saturation_model(path: Path) -> Path:
    """restored = Y + BOOST·(rgb − Y): a luma-exact chroma model that pushes colours out of range."""
    mix = BOOST * np.eye(4) + (1.0 - BOOST) * np.outer(np.r_[WEIGHTS, 0.0], np.r_[1.0, 1.0, 1.0, 0.0])
    mix[3, :] = [0.0, 0.0, 0.0, 1.0]
    weights = oh.make_tensor("mix", TensorProto.FLOAT, [4, 4], mix.astype(np.float32).ravel().tolist())
    graph = oh.make_graph([oh.make_node("MatMul", ["image", "mix"], ["restored"])], "saturate",
                          [oh.make_tensor_value_info("image", TensorProto.FLOAT, [1, "H", "W", 4])],
                          [oh.make_tensor_value_info("restored", TensorProto.FLOAT, [1, "H", "W", 4])],
                          initializer=[weights])
    return save_with_metadata(oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)]), path, kind="chroma")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_saturated_restoration_keeps_scan_luma_in_integer_frames(tmp_path: Path, rng: np.random.Generator,
                                                                 dtype: type):
    top = np.iinfo(dtype).max
    scan = np.rint(rng.uniform(0.05, 0.95, (24, 32, 3)) * top).astype(dtype)
    restored = np.empty_like(scan)
    api.process(scan, restored, {"model": str(_saturation_model(tmp_path / "sat.onnx")), "device": "cpu"})

    scan_luma = scan.astype(np.float64) @ WEIGHTS / top
    restored_luma = restored.astype(np.float64) @ WEIGHTS / top
    assert np.abs(restored_luma - scan_luma).max() <= 0.51 / top + 1e-9  # rounding of each channel only
    boosted = scan_luma[..., None] + BOOST * (scan / top - scan_luma[..., None])
    assert ((boosted < 0) | (boosted > 1)).any(), "the test model must push some colours out of range"
    # the colour still moved away from grey in the model's direction (not flattened by the fit)
    change = restored.astype(np.float64) / top - scan_luma[..., None]
    original = scan.astype(np.float64) / top - scan_luma[..., None]
    assert (np.sum(change * original, axis=-1) >= -1e-6).all()


def test_fit_moves_only_out_of_range_pixels_along_their_luma():
    colour = np.array([[[0.2, 0.5, 0.7], [1.4, 0.6, -0.2], [-0.1, 0.3, 0.9]]], dtype=np.float32)
    before = colour.copy()
    fit_chroma_into_range(colour)
    np.testing.assert_array_equal(colour[0, 0], before[0, 0])
    assert colour.min() >= -1e-6 and colour.max() <= 1 + 1e-6
    np.testing.assert_allclose(colour @ WEIGHTS.astype(np.float32), before @ WEIGHTS.astype(np.float32), atol=1e-6)
    # hue kept: the chroma vector only shrinks
    for index in (1, 2):
        luma = before[0, index] @ WEIGHTS
        ratio = (colour[0, index] - luma) / (before[0, index] - luma)
        np.testing.assert_allclose(ratio, ratio[0], atol=1e-5)
        assert 0.0 < ratio[0] < 1.0
