"""chromaluma.backend.tiling and tiled rendering: geometry, seamless equality with the untiled result, bounded
memory."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from chromaluma import api
from chromaluma.backend import tiling
from chromaluma.errors import ParameterError
from model_fixtures import chroma_conv_model, pointwise_model


@pytest.mark.parametrize("out_start,out_len,src_len,origin,tile,context,feather,factor", [
    (0, 500, 500, 0, 100, 10, 8, 4),
    (13, 301, 340, 7, 90, 5, 5, 1),
    (20, 257, 300, 102, 160, 20, 16, 4),
    (0, 64, 64, 0, 200, 20, 16, 4),  # fits: one tile
])
def test_plan_partitions_the_output_with_full_context(out_start, out_len, src_len, origin, tile, context, feather,
                                                       factor):
    spans = tiling.plan_axis(out_start, out_len, src_len, origin, tile=tile, context=context, feather=feather,
                             factor=factor)
    total = np.zeros(src_len)
    for span in spans:
        weights = np.ones(span.out_len) if span.weights is None else span.weights
        total[span.out_start:span.out_stop] += weights
        assert span.in_len <= tile
        assert span.in_start == 0 or (origin + span.in_start) % factor == 0  # on the frame's f-grid
        # full context before the output, except that staying on the grid may cost < f pixels at src's own edge
        assert span.in_start <= max(0, span.out_start - context) or span.in_start < factor
        assert span.in_stop >= min(src_len, span.out_stop + context)
    np.testing.assert_allclose(total[out_start:out_start + out_len], 1.0, atol=1e-6)
    assert not total[:out_start].any() and not total[out_start + out_len:].any()


def test_blend_bands_ramp_smoothly():
    spans = tiling.plan_axis(0, 400, 400, 0, tile=120, context=4, feather=8, factor=1)
    assert len(spans) > 2
    middle = spans[1].weights
    assert middle is not None
    assert middle[0] < 0.1 and middle[-1] < 0.1 and middle[len(middle) // 2] == 1.0
    assert np.all(np.diff(middle[:16]) > 0)


def test_too_small_a_tile_names_the_minimum():
    with pytest.raises(ParameterError, match=r"tile_size >= \d+"):
        tiling.plan_axis(0, 1000, 1000, 0, tile=60, context=20, feather=16, factor=4)


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(chroma_conv_model(tmp_path_factory.mktemp("tiling") / "chroma.onnx"))


def _frame(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth colour gradients plus grain: a quarter-resolution model's output changes at every pixel."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([xx / width, yy / height, 0.5 + 0.3 * np.sin(xx / 7 + yy / 11)], axis=2)
    frame = np.ones((height, width, 4), np.float32)
    frame[..., :3] = rgb + rng.normal(0, 0.05, rgb.shape).astype(np.float32)
    return frame


def test_tiled_equals_untiled_for_a_reduced_resolution_conv_model(chroma, rng, monkeypatch):
    frame = _frame(rng, 190, 230)
    whole = np.zeros_like(frame)
    api.process(frame, whole, {"model": chroma})
    tiled = np.zeros_like(frame)
    api.process(frame, tiled, {"model": chroma, "tile_size": 150})  # 2 × 3 tiles
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    # The check has teeth: tiles that ignore the frame's 4-pixel grid do not match.
    monkeypatch.setattr(tiling, "scale_factor", lambda scale: 1)
    off_grid = np.zeros_like(frame)
    api.process(frame, off_grid, {"model": chroma, "tile_size": 150})
    assert np.abs(off_grid - whole).max() > 1e-3


def test_tiled_window_inside_a_larger_source_matches(chroma, rng):
    frame = _frame(rng, 170, 210)
    whole = np.zeros_like(frame)
    api.process(frame, whole, {"model": chroma})
    x0, y0 = 23, 31
    src = frame[y0 - 21:, x0 - 22:]
    dst = np.zeros((120, 150, 4), np.float32)
    api.process(src, dst, {"model": chroma, "tile_size": 140, "window": (22, 21), "frame_origin": (x0 - 22, y0 - 21)})
    np.testing.assert_allclose(dst, whole[y0:y0 + 120, x0:x0 + 150], atol=1e-4)


def _traced_peak(model: str, height: int, width: int, tile: int) -> int:
    src = np.full((height, width, 4), 128, np.uint8)
    dst = np.zeros_like(src)
    tracemalloc.start()
    try:
        api.process(src, dst, {"model": model, "tile_size": tile})
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_follows_tile_size_not_frame_height(tmp_path: Path):
    model = str(pointwise_model(tmp_path / "p.onnx"))
    api.process(None, None, {"model": model})  # session creation is not part of what is measured
    short = _traced_peak(model, 128, 256, tile=64)
    tall = _traced_peak(model, 1536, 256, tile=64)
    frame_as_float = 1536 * 256 * 4 * 4
    assert tall < 1.3 * short
    assert tall < 0.25 * frame_as_float


_EIGHT_K = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from chromaluma import api
    src = np.full((4320, 7680, 4), 30000, np.uint16)
    dst = np.zeros_like(src)
    api.process(None, None, {"model": sys.argv[1]})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    api.process(src, dst, {"model": sys.argv[1], "premultiplied": False})
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert abs(float(dst[100, 100, 0]) / 65535 - (30000 / 65535 * 0.5 + 0.25)) < 1e-4
    print((after - before) * 1024)
""")


@pytest.mark.slow
def test_an_8k_frame_needs_far_less_than_2_gb(tmp_path: Path):
    """Measured in a fresh process (RSS growth during process(), host frames excluded), ORT's memory included."""
    model = str(pointwise_model(tmp_path / "p.onnx"))
    result = subprocess.run([sys.executable, "-c", _EIGHT_K, model], capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr
    growth = int(result.stdout.strip().splitlines()[-1])
    assert growth < 1.0 * 2**30, f"8K process() grew RSS by {growth / 2**20:.0f} MiB"
