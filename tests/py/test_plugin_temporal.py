"""A temporal-window model through the OpenFX plug-in: Chromaluma.ofx.bundle in `ofx-render`, frames read at
other times through OFX temporal clip access (docs/CONTRACT.md §1.6, SPEC issue 18).

Every render is compared with `chromaluma.api.process` given the same frame and the same neighbours (None where
the frame lies outside the clip, so the backend's edge rule fills it). The model has random weights, so its output
depends on every frame of its window: a plug-in that passed the wrong frames, or none, would differ. Fixtures are
made in the test (a window model of radius 1, exported in seconds; frames of 24x36).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from chromaluma import api
from chromaluma.benchmarks.plugin import PluginBuild, ofx_render
from chromaluma.io.frames import read_frame, write_frame
from model_fixtures import window_model
from test_plugin import FORMATS, plugin_build, random_frame, write_sequence

FRAMES = 5


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return window_model(tmp_path_factory.mktemp("models") / "window.onnx", radius=1)


@pytest.fixture
def shot(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, list[np.ndarray]]:
    """Five opaque frames (opaque: premultiplied and straight colour agree, so only the window can differ)."""
    frames = [random_frame(rng, opaque=True) for _ in range(FRAMES)]
    return write_sequence(tmp_path / "shot", frames), frames


def render(build: PluginBuild, pattern: Path, out: Path, model: Path, frames: tuple[int, int],
           *options: str) -> subprocess.CompletedProcess[str]:
    done = ofx_render(build, pattern, out, {"modelFile": model}, frames=frames,
                      options=["--input-frames", f"1-{FRAMES}", *options])
    assert done.returncode == 0, f"ofx-render exit {done.returncode}\n{done.stderr[-3000:]}"
    assert "refused clipGetImage" not in done.stderr, done.stderr  # every frame read was declared in frames needed
    assert "did not release" not in done.stderr, done.stderr
    return done


def output(pattern: Path, frame: int) -> np.ndarray:
    pixels, _ = read_frame(str(pattern).replace("####", f"{frame:04d}"))
    return pixels


def by_process(model: Path, frames: list[np.ndarray], index: int, neighbours: list[np.ndarray | None]) -> np.ndarray:
    dst = np.zeros_like(frames[index])
    api.process(frames[index], dst, {"model": str(model), "neighbours": neighbours})
    return dst


def clip_neighbours(frames: list[np.ndarray], index: int) -> list[np.ndarray | None]:
    """The window a host gives at frame index + 1: the frames before and after, None outside the clip."""
    return [frames[index - 1] if index > 0 else None, frames[index + 1] if index + 1 < len(frames) else None]


@pytest.mark.slow
def test_window_render_equals_process_with_the_same_neighbours(build: PluginBuild, model: Path, tmp_path: Path,
                                                               shot: tuple[Path, list[np.ndarray]]) -> None:
    pattern, frames = shot
    out = tmp_path / "out.####.tif"
    render(build, pattern, out, model, (1, FRAMES))
    for index in range(FRAMES):
        got = output(out, index + 1)
        np.testing.assert_allclose(got, by_process(model, frames, index, clip_neighbours(frames, index)),
                                   atol=1e-5, rtol=0, err_msg=f"frame {index + 1}")
        alone = by_process(model, frames, index, [None, None])  # the frame repeated: what ignoring time would give
        assert np.abs(got - alone).max() > 1e-3, f"frame {index + 1}: the neighbours changed nothing"


@pytest.mark.slow
def test_clip_ends_repeat_the_nearest_frame(build: PluginBuild, model: Path, tmp_path: Path,
                                            shot: tuple[Path, list[np.ndarray]]) -> None:
    """At the clip's first and last frame the missing neighbour is the frame itself (the edge rule, stated here
    with explicit frames rather than None), not black and not a frame from the other end."""
    pattern, frames = shot
    out = tmp_path / "out.####.tif"
    render(build, pattern, out, model, (1, FRAMES))
    first, last = output(out, 1), output(out, FRAMES)
    np.testing.assert_allclose(first, by_process(model, frames, 0, [frames[0], frames[1]]), atol=1e-5, rtol=0)
    np.testing.assert_allclose(last, by_process(model, frames, FRAMES - 1, [frames[-2], frames[-1]]), atol=1e-5,
                               rtol=0)
    black = np.zeros_like(frames[0])
    black[..., 3] = 1.0
    assert np.abs(first - by_process(model, frames, 0, [black, frames[1]])).max() > 1e-3


@pytest.mark.slow
def test_render_order_does_not_change_a_frame(build: PluginBuild, model: Path, tmp_path: Path,
                                              shot: tuple[Path, list[np.ndarray]]) -> None:
    """Hosts and farms render frames in any order, one at a time: a frame's bytes depend on its window only."""
    pattern, _ = shot
    forward, backward, single = tmp_path / "fwd.####.tif", tmp_path / "rev.####.tif", tmp_path / "one.####.tif"
    render(build, pattern, forward, model, (1, FRAMES))
    render(build, pattern, backward, model, (1, FRAMES), "--frame-order", "reverse")
    render(build, pattern, single, model, (3, 3))
    for frame in range(1, FRAMES + 1):
        assert output(forward, frame).tobytes() == output(backward, frame).tobytes(), f"frame {frame}"
    assert output(single, 3).tobytes() == output(forward, 3).tobytes()


@pytest.mark.slow
def test_neighbour_of_another_size_is_replaced_and_reported(build: PluginBuild, model: Path, tmp_path: Path,
                                                            shot: tuple[Path, list[np.ndarray]]) -> None:
    """A neighbouring frame that does not cover the region rendered (here: frame 2 is smaller) would give the model
    misaligned pixels: the plug-in passes it as missing (edge rule) and says so in a warning."""
    pattern, frames = shot
    write_frame(tmp_path / "shot" / "src.0002.tif", frames[1][:20, :30], FORMATS["float"])
    out = tmp_path / "out.####.tif"
    done = render(build, pattern, out, model, (3, 3))
    assert "Source frame 2 does not cover the region" in done.stderr, done.stderr
    np.testing.assert_allclose(output(out, 3), by_process(model, frames, 2, [None, frames[3]]), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_model_info_shows_the_window(build: PluginBuild, model: Path, tmp_path: Path,
                                     shot: tuple[Path, list[np.ndarray]]) -> None:
    pattern, _ = shot
    done = render(build, pattern, tmp_path / "out.####.tif", model, (2, 2), "--print-params")
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    infos = [str(e["values"]["modelInfo"]) for e in events if e.get("event") == "params"]
    assert infos and all("window: 1 frame before, 1 after" in info for info in infos), infos
