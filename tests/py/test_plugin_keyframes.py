"""A keyframe model through the OpenFX plug-in: Chromaluma.ofx.bundle in `ofx-render` with the Keyframes folder
parameter (keyframesFolder; docs/CONTRACT.md §1.7, the folder form; SPEC issue 19 §8).

The plug-in passes the folder, the frame number and the Source frame's size; Python picks the pair. Each render is
checked two ways: against `chromaluma.api.process` given the same folder form, and against process() given the
pair this test picks itself (arrays form), so a wrong frame number would show as other pixels. A recording backend
(CHROMALUMA_PLUGIN_BACKEND) also shows what the bridge passed. The model has random weights, so its colour depends
on both keyframes. Fixtures are made in the test (a tiny keyframe model, frames of 24x36, keyframes at 1 and 4).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from chromaluma import api
from chromaluma.benchmarks.plugin import PluginBuild, ofx_render, timing_events
from chromaluma.io.frames import read_frame, write_frame
from model_fixtures import keyframe_model
from test_plugin import FORMATS, HEIGHT, WIDTH, plugin_build, random_frame, write_sequence

FRAMES = 5
KEYFRAME_FRAMES = (1, 4)
# The pair §1 gives each frame of the shot (one shot: the model's card records no cuts).
PAIRS = {1: (1, 1), 2: (1, 4), 3: (1, 4), 4: (4, 4), 5: (4, 4)}

Shot = tuple[Path, list[np.ndarray], Path, dict[int, np.ndarray]]  # scan pattern, frames, keyframes folder, keyframes

RECORDING_BACKEND = '''
import json
import os

from chromaluma import api


def process(src, dst, params):
    """chromaluma.api.process, after writing down the keyframe entries of each render's params."""
    if src is not None:
        entry = {key: params.get(key) for key in ("keyframes", "frame", "frame_size", "frame_origin")}
        with open(os.environ["CHROMALUMA_TEST_PARAMS_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\\n")
    return api.process(src, dst, params)
'''


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return keyframe_model(tmp_path_factory.mktemp("models") / "keyframes.onnx")


@pytest.fixture
def library() -> None:
    """The keyframe library (chromaluma.keyframes) that process() reads the folder form with."""
    import chromaluma.keyframes  # noqa: F401  (a core dependency: never skipped)


@pytest.fixture
def shot(tmp_path: Path, rng: np.random.Generator) -> Shot:
    """Five opaque scan frames and a folder of registered keyframes (full frames) at frames 1 and 4."""
    frames = [random_frame(rng, opaque=True) for _ in range(FRAMES)]
    pattern = write_sequence(tmp_path / "shot", frames)
    folder = tmp_path / "keyframes"
    folder.mkdir()
    keyframes = {}
    for number in KEYFRAME_FRAMES:
        keyframes[number] = random_frame(rng, opaque=True)
        write_frame(folder / f"{number:04d}.tif", keyframes[number], FORMATS["float"])
    return pattern, frames, folder, keyframes


def render(build: PluginBuild, pattern: Path, out: Path, params: dict[str, object], frames: tuple[int, int],
           *options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return ofx_render(build, pattern, out, params, frames=frames, options=["--input-frames", f"1-{FRAMES}", *options],
                      env=env)


def rendered_ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"ofx-render exit {done.returncode}\n{done.stderr[-3000:]}"
    assert "did not release" not in done.stderr, done.stderr
    return done


def output(pattern: Path, frame: int) -> np.ndarray:
    pixels, _ = read_frame(str(pattern).replace("####", f"{frame:04d}"))
    return pixels


def by_process(model: Path, src: np.ndarray, keyframes: object, **folder_form: object) -> np.ndarray:
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": str(model), "keyframes": keyframes, **folder_form})
    return dst


@pytest.mark.usefixtures("library")
@pytest.mark.slow
def test_render_equals_process_with_the_same_keyframes(build: PluginBuild, model: Path, tmp_path: Path,
                                                       shot: Shot) -> None:
    pattern, frames, folder, keyframes = shot
    out, log = tmp_path / "out.####.tif", tmp_path / "params.jsonl"
    backend = tmp_path / "recording_backend.py"
    backend.write_text(RECORDING_BACKEND)
    env = {"CHROMALUMA_PLUGIN_BACKEND": f"{backend}:process", "CHROMALUMA_TEST_PARAMS_LOG": str(log)}
    rendered_ok(render(build, pattern, out, {"modelFile": model, "keyframesFolder": folder}, (1, FRAMES), env=env))

    passed = [json.loads(line) for line in log.read_text().splitlines()]
    assert [entry["frame"] for entry in passed] == list(range(1, FRAMES + 1))
    assert all(entry["keyframes"] == str(folder) and entry["frame_size"] == [WIDTH, HEIGHT]
               and entry["frame_origin"] == [0, 0] for entry in passed), passed
    for frame in range(1, FRAMES + 1):
        got, src = output(out, frame), frames[frame - 1]
        by_folder = by_process(model, src, str(folder), frame=frame, frame_size=(WIDTH, HEIGHT))
        np.testing.assert_allclose(got, by_folder, atol=1e-5, rtol=0, err_msg=f"frame {frame}")
        pair = [keyframes[number] for number in PAIRS[frame]]
        np.testing.assert_allclose(got, by_process(model, src, pair), atol=1e-5, rtol=0, err_msg=f"frame {frame}")
        other = [keyframes[1]] * 2 if PAIRS[frame] != (1, 1) else [keyframes[4]] * 2  # another pair: other colour
        assert np.abs(got - by_process(model, src, other)).max() > 1e-3, f"frame {frame}: keyframes change nothing"


@pytest.mark.usefixtures("library")
@pytest.mark.slow
def test_render_order_does_not_change_a_frame(build: PluginBuild, model: Path, tmp_path: Path,
                                              shot: Shot) -> None:
    """Hosts and farms render in any order, one frame at a time: a frame's bytes depend on it and its keyframes."""
    pattern, _, folder, _ = shot
    params = {"modelFile": model, "keyframesFolder": folder}
    forward, backward, single = tmp_path / "fwd.####.tif", tmp_path / "rev.####.tif", tmp_path / "one.####.tif"
    rendered_ok(render(build, pattern, forward, params, (1, FRAMES)))
    rendered_ok(render(build, pattern, backward, params, (1, FRAMES), "--frame-order", "reverse"))
    rendered_ok(render(build, pattern, single, params, (3, 3)))
    for frame in range(1, FRAMES + 1):
        assert output(forward, frame).tobytes() == output(backward, frame).tobytes(), f"frame {frame}"
    assert output(single, 3).tobytes() == output(forward, 3).tobytes()


@pytest.mark.slow
def test_empty_keyframes_parameter_fails_the_frame_and_says_what_to_set(
        build: PluginBuild, model: Path, tmp_path: Path, shot: Shot) -> None:
    pattern = shot[0]
    out = tmp_path / "out.####.tif"
    done = render(build, pattern, out, {"modelFile": model}, (2, 2))
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stderr[-3000:]}"  # one frame failed
    assert "is a keyframe model but Keyframes is empty: set Keyframes to the folder" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert not list(tmp_path.glob("out.*")), "a failed frame must leave no output"


@pytest.mark.usefixtures("library")
@pytest.mark.slow
def test_keyframe_error_reaches_the_host_as_one_line(build: PluginBuild, model: Path, tmp_path: Path,
                                                     shot: Shot) -> None:
    """A keyframe not registered onto this scan (another size): Python's KeyframeError, naming the file, is the
    frame's message, on one line, and the frame fails with no output."""
    pattern, _, folder, keyframes = shot
    write_frame(folder / "0004.tif", keyframes[4][:20, :30], FORMATS["float"])
    done = render(build, pattern, tmp_path / "out.####.tif", {"modelFile": model, "keyframesFolder": folder}, (3, 3),
                  "--timing")
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    failed = [e for e in timing_events(done.stdout) if e["event"] == "frame" and e["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["frame"] == 3, done.stdout
    message = failed[0]["message"]  # what the host's message suite got
    assert "0004.tif" in message and "\n" not in message and "Traceback" not in done.stderr, message
    assert not list(tmp_path.glob("out.*"))


@pytest.mark.usefixtures("library")
@pytest.mark.slow
def test_model_info_shows_the_keyframes_in_use(build: PluginBuild, model: Path, tmp_path: Path,
                                               shot: Shot) -> None:
    """Model Info (written at instance changed, at the host's current time: frame 2 here) names the frame's
    keyframes and where they lie from it: 1 frame before, 2 after."""
    pattern, _, folder, _ = shot
    done = rendered_ok(render(build, pattern, tmp_path / "out.####.tif",
                              {"modelFile": model, "keyframesFolder": folder}, (2, 2), "--print-params"))
    infos = [str(e["values"]["modelInfo"]) for e in timing_events(done.stdout) if e["event"] == "params"]
    assert infos and all("frame 2: keyframes 1 (\u22121 frame), 4 (+2 frames)" in info for info in infos), infos
    assert all(info.startswith("keyframes model") for info in infos), infos
