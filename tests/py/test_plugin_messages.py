"""What the plug-in tells the user through `ofx-render`, and the frames where it has something to say.

No model: the source passes through (isIdentity) with a persistent warning saying so. Non-finite source pixels:
passed through unchanged, the rest restored, and a warning on that frame only. Frames of one pixel, one row or one
column: rendered like `chromaluma.api.process` renders them, receptive field and processing scale included.
ofx-render prints every persistent message the plug-in sets ("plug-in persistent message [TYPE]: text") but not
when one is cleared: that a later clean frame clears a frame's warning is tested in tests/cpp/test_plugin_actions.cpp.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromaluma.benchmarks.plugin import PluginBuild, ofx_render
from model_fixtures import chroma_conv_model, pointwise_expected, pointwise_model
from test_plugin import assert_render_ok, expected_by_process, plugin_build, random_frame, read_output, write_sequence

WARNING = "plug-in persistent message [OfxMessageWarning]: "


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


@pytest.fixture(scope="module")
def pointwise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pointwise_model(tmp_path_factory.mktemp("models") / "pointwise.onnx")


def warnings_printed(stderr: str) -> list[str]:
    return [line.split(WARNING, 1)[1] for line in stderr.splitlines() if WARNING in line]


def test_no_model_passes_the_source_through_and_says_so(build: PluginBuild, tmp_path: Path,
                                                         rng: np.random.Generator) -> None:
    frame = random_frame(rng)
    pattern = write_sequence(tmp_path / "shot", [frame])
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {})
    assert_render_ok(done)
    np.testing.assert_array_equal(read_output(out, 1, "float"), frame)
    assert warnings_printed(done.stderr) == [
        "Chromaluma Restore: no model set - passing the source through; choose a Chromaluma .onnx file in Model File."
    ], done.stderr


def test_nonfinite_pixels_pass_through_and_warn_on_their_frame_only(build: PluginBuild, pointwise: Path,
                                                                     tmp_path: Path,
                                                                     rng: np.random.Generator) -> None:
    frames = [random_frame(rng, opaque=True) for _ in range(2)]
    bad = [(2, 3, np.nan), (10, 30, np.inf), (20, 0, -np.inf)]
    for y, x, value in bad:
        frames[0][y, x, 1] = value
    pattern = write_sequence(tmp_path / "shot", frames)
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": pointwise}, frames=(1, 2))
    assert_render_ok(done)
    first = read_output(out, 1, "float")
    nonfinite = ~np.isfinite(frames[0]).all(axis=2)
    assert nonfinite.sum() == len(bad)
    np.testing.assert_array_equal(first[nonfinite].view(np.uint32), frames[0][nonfinite].view(np.uint32))
    np.testing.assert_allclose(first[~nonfinite][:, :3], pointwise_expected(frames[0][~nonfinite][:, :3]),
                               atol=1e-5, rtol=0)
    np.testing.assert_allclose(read_output(out, 2, "float")[..., :3], pointwise_expected(frames[1][..., :3]),
                               atol=1e-5, rtol=0)
    said = [text for text in warnings_printed(done.stderr) if "NaN/Inf" in text]
    assert said == ["Chromaluma Restore: 3 pixel(s) with NaN/Inf in src were passed through unchanged (not fed to "
                    "the model)."], done.stderr  # frame 1 only


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return chroma_conv_model(tmp_path_factory.mktemp("models") / "chroma.onnx")


@pytest.mark.parametrize(("height", "width"), [(1, 1), (1, 9), (9, 1)])
def test_one_pixel_row_and_column_frames(build: PluginBuild, chroma: Path, tmp_path: Path, rng: np.random.Generator,
                                         height: int, width: int) -> None:
    """The chroma model works at 1/4 resolution with a 20-pixel receptive field: far larger than these frames."""
    model = chroma
    frame = rng.random((height, width, 4), dtype=np.float32)
    frame[..., 3] = 1.0
    pattern = write_sequence(tmp_path / "shot", [frame])
    out = tmp_path / "out.####.tif"
    assert_render_ok(ofx_render(build, pattern, out, {"modelFile": model}, options=["--negative-rowbytes"]))
    got = read_output(out, 1, "float")
    assert got.shape == frame.shape
    np.testing.assert_allclose(got, expected_by_process(frame, {"model": str(model)}), atol=1e-5, rtol=0)
