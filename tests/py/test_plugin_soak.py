"""Soak of the OpenFX plug-in: 8 render threads × 200 frames, two instances with different models at once.

Through `ofx-render --threads 8 --instances 2`, renders of both instances interleave on one worker pool; every
frame must render, each instance's frames must be byte-identical to a single-threaded, single-instance run of
its model (itself checked against `chromaluma.api.process`), and the host's resident memory must stay flat
after warm-up. Frames are small (64×48) so the soak stays within about a minute on two cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromaluma import api
from chromaluma.benchmarks.plugin import PluginBuild, ofx_render
from chromaluma.benchmarks.soak import memory_growth_mib, run_soak
from chromaluma.io.frames import FrameFormat, read_frame, write_frame
from model_fixtures import chroma_conv_model, luma_conv_model
from test_plugin import plugin_build

HEIGHT, WIDTH = 48, 64
FRAMES = 200
THREADS = 8
WARMUP_FRAMES = 50
# Growth allowed after warm-up. Flat runs stay within a few MiB (allocator arenas settling); a leak of 100 KB per
# render would add about 29 MiB over the 300 renders after warm-up.
GROWTH_BOUND_MIB = 16.0


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


def write_shot(folder: Path, frames: int, seed: int = 7) -> tuple[Path, list[np.ndarray]]:
    """`frames` different opaque float RGBA frames src.0001.tif …; returns the pattern and the frames."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    shot = []
    for index in range(1, frames + 1):
        frame = rng.random((HEIGHT, WIDTH, 4), dtype=np.float32)
        frame[..., 3] = 1.0
        write_frame(folder / f"src.{index:04d}.tif", frame, FrameFormat(".tif", "float", 32, 4))
        shot.append(frame)
    return folder / "src.####.tif", shot


def frame_file(pattern: Path, frame: int) -> Path:
    return Path(str(pattern).replace("####", f"{frame:04d}"))


@pytest.mark.slow
def test_eight_threads_two_models_two_hundred_frames(build: PluginBuild, tmp_path: Path) -> None:
    models = [chroma_conv_model(tmp_path / "chroma.onnx"), luma_conv_model(tmp_path / "luma.onnx")]
    source, shot = write_shot(tmp_path / "shot", FRAMES)
    references = []
    for index, model in enumerate(models):  # one thread, one instance: what each model makes of each frame
        pattern = tmp_path / f"reference{index}" / "ref.####.tif"
        pattern.parent.mkdir()
        done = ofx_render(build, source, pattern, {"modelFile": model}, frames=(1, FRAMES))
        assert done.returncode == 0, done.stderr[-3000:]
        for frame in (1, FRAMES):
            by_process = np.zeros_like(shot[frame - 1])
            api.process(shot[frame - 1], by_process, {"model": str(model)})
            np.testing.assert_allclose(read_frame(frame_file(pattern, frame))[0], by_process, atol=1e-5, rtol=0)
        references.append(pattern)

    outputs = [tmp_path / f"soak{index}" / "out.####.tif" for index in range(len(models))]
    for pattern in outputs:
        pattern.parent.mkdir()
    soak = run_soak(build, source, models, FRAMES, tmp_path, outputs=outputs, threads=THREADS, timeout=600)

    assert soak.returncode == 0 and not soak.failed, f"exit {soak.returncode}: {soak.stderr[-3000:]}"
    summary = soak.summary()
    assert (summary["renders"], summary["failed"], summary["threads"]) == (2 * FRAMES, 0, THREADS), summary
    differing = [(index, frame) for index in range(len(models)) for frame in range(1, FRAMES + 1)
                 if frame_file(outputs[index], frame).read_bytes() != frame_file(references[index], frame).read_bytes()]
    assert not differing, f"{len(differing)} frames differ from the single-threaded run, first {differing[:5]}"
    assert frame_file(outputs[0], 1).read_bytes() != frame_file(outputs[1], 1).read_bytes(), "the models' outputs match"

    rendered = sorted((s["frame"], s["instance"]) for s in soak.renders)
    assert rendered == [(f, i) for f in range(1, FRAMES + 1) for i in (0, 1)], "a render is missing from the memory log"
    growth = memory_growth_mib(soak, warmup_renders=2 * WARMUP_FRAMES)
    assert growth < GROWTH_BOUND_MIB, f"resident memory grew {growth:.1f} MiB after warm-up (bound {GROWTH_BOUND_MIB})"
