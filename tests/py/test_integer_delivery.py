"""One integer policy for every writer (CONTRACT §1.2, chromaluma.integer_samples): the plug-in at byte and short
depth and `chromaluma apply` writing 16-bit frames give the same pixels, also where restored colour leaves 0–1.

The frame is an ordinary faded photograph restored by the bundled model, which pushes a few percent of its pixels
out of range; before the policy was shared, apply clipped each channel there while the plug-in kept luma.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from chromaluma import api
from chromaluma.benchmarks.plugin import ofx_render
from chromaluma.cli import main
from chromaluma.io.frames import FrameFormat, read_frame, write_frame
from chromaluma.synth.fading import fade_dyes, fade_for_shot
from test_plugin import assert_render_ok, plugin_build

BUNDLED = Path(__file__).resolve().parents[2] / "models" / "chromaluma-demo-chroma.onnx"
TIFF16 = FrameFormat(".tif", "uint16", 16, 3)


def faded_coffee(levels: int) -> np.ndarray:
    """A faded print of scikit-image's coffee photograph, quantised to `levels` + 1 codes (255 or 65535)."""
    picture = cv2.resize(skimage.data.coffee(), (192, 128), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    faded = fade_dyes(picture, fade_for_shot(0.6, 1)).astype(np.float32)
    return (np.rint(np.clip(faded, 0, 1) * levels) / levels).astype(np.float32)


def out_of_range_share(frame: np.ndarray) -> float:
    restored = np.empty_like(frame)
    api.process(frame, restored, {"model": str(BUNDLED), "device": "cpu"})
    return float(((restored < 0) | (restored > 1)).any(axis=-1).mean())


def apply_16bit(scan: Path, output: Path, extension: str) -> np.ndarray:
    code = main(["apply", "--model", str(BUNDLED), "--input", str(scan), "--output", str(output), "--device", "cpu",
                 "--format", extension, "--no-progress"])
    assert code == 0
    pixels, frame_format = read_frame(next(output.glob(f"*.{extension}")))
    assert frame_format.sample_type == "uint16"
    return pixels


@pytest.mark.slow
@pytest.mark.parametrize("depth", ["short", "byte"])
def test_plugin_and_apply_deliver_the_same_integer_pixels(tmp_path: Path, depth: str) -> None:
    build = plugin_build()
    levels = 65535 if depth == "short" else 255
    frame = faded_coffee(levels)
    assert out_of_range_share(frame) > 0.01, "the frame must push restored colour out of 0-1, or nothing is tested"
    scan = tmp_path / "scan"
    scan.mkdir()
    write_frame(scan / "scan.0001.tif", frame, TIFF16)  # 8-bit codes are exact in 16 bits (v·257)

    rendered = tmp_path / "ofx.####.tif"
    assert_render_ok(ofx_render(build, scan / "scan.####.tif", rendered, {"modelFile": BUNDLED, "device": "CPU"},
                                options=["--depth", depth, "--components", "RGB"]))
    plugin, plugin_format = read_frame(str(rendered).replace("####", "0001"))
    assert plugin_format.bits == (16 if depth == "short" else 8)

    for extension in ("tif", "png"):
        applied = apply_16bit(scan, tmp_path / f"apply-{extension}", extension)
        # rounding only: half a code of each writer (the same float restoration, quantised at two depths)
        tolerance = 0.5 / levels + 0.5 / 65535 + 1e-6
        difference = np.abs(applied - plugin)
        assert difference.max() <= tolerance, (
            f"apply ({extension}) and the plug-in ({depth}) differ by {difference.max():.4f} on "
            f"{(difference > tolerance).mean():.1%} of samples")


def test_file_writer_keeps_luma_where_colour_leaves_the_range(tmp_path: Path) -> None:
    """write_frame follows the same policy as the plug-in's store: out-of-range colour keeps its luma."""
    colour = np.array([[[1.3, 0.6, 0.1], [-0.2, 0.4, 0.9], [0.25, 0.5, 0.75]]], dtype=np.float32)
    target = tmp_path / "frame.tif"
    write_frame(target, colour, TIFF16)
    written, _ = read_frame(target)
    weights = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    np.testing.assert_allclose(written @ weights, np.clip(colour @ weights, 0, 1), atol=1.5 / 65535)
    np.testing.assert_allclose(written[0, 2], colour[0, 2], atol=0.5 / 65535)  # in range: rounding only
