"""A damage-repair model through the OpenFX plug-in: Chromaluma.ofx.bundle in `ofx-render` with Output Mode "Damage
Matte" and the Sensitivity parameter (docs/CONTRACT.md §1.8; SPEC issue 20 R3).

The model is :func:`model_fixtures.repair_onnx` with `graded=True`: its matte is the input's green, its repair
REPAIR_COLOUR everywhere, so each test computes the pixels it expects itself: a pixel is repaired with weight
w = [green > 1 − sensitivity] · mix · mask, and where w is 0 the output is the source bit for bit. Frames are opaque
float RGBA made in the test (premultiplication then changes nothing), 24×36.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from chromaluma.benchmarks.plugin import PluginBuild, ofx_render, timing_events
from model_fixtures import REPAIR_COLOUR, pointwise_model, repair_expected_matte, repair_onnx
from test_plugin import HEIGHT, WIDTH, plugin_build, random_frame, read_output, write_sequence

MASK_OPTIONS = ("--context", "general", "--mask")


@pytest.fixture(scope="module")
def build() -> PluginBuild:
    return plugin_build()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return repair_onnx(tmp_path_factory.mktemp("models") / "repair.onnx", graded=True)


@pytest.fixture
def frame(rng: np.random.Generator) -> np.ndarray:
    """Opaque; green spread over 0–1 so that every sensitivity tried here repairs another set of pixels."""
    return random_frame(rng, opaque=True)


def rendered(build: PluginBuild, frame: np.ndarray, folder: Path, params: dict[str, object],
             mask: np.ndarray | None = None, options: tuple[str, ...] = ()) -> np.ndarray:
    """Frame 1 as the plug-in renders it (float host depth), after checking that the render succeeded."""
    pattern = write_sequence(folder, [frame])
    extra = list(options)
    if mask is not None:
        extra += [*MASK_OPTIONS, str(write_sequence(folder, [mask], name="mask"))]
    out = folder / "out.####.tif"
    done = ofx_render(build, pattern, out, params, options=extra)
    assert done.returncode == 0, f"ofx-render exit {done.returncode}\n{done.stderr[-3000:]}"
    return read_output(out, 1, "float")


def applied_weight(frame: np.ndarray, sensitivity: float, mix: float = 1.0,
                   mask: np.ndarray | None = None) -> np.ndarray:
    """w (H, W, 1): the share of REPAIR_COLOUR in each output pixel, by §1.8's rule."""
    matte = repair_expected_matte(frame[..., :3], graded=True).astype(np.float64)
    weight = (matte > 1.0 - sensitivity) * mix
    if mask is not None:
        weight = weight * mask[..., 3]
    return weight[..., np.newaxis]


def assert_repaired(got: np.ndarray, frame: np.ndarray, weight: np.ndarray) -> None:
    """Repaired colour where w > 0, the source's own bits where w == 0, alpha copied."""
    rgb = frame[..., :3].astype(np.float64)
    want = rgb + weight * (np.asarray(REPAIR_COLOUR) - rgb)
    np.testing.assert_allclose(got[..., :3], want, atol=1e-5, rtol=0)
    untouched = weight[..., 0] == 0
    assert untouched.any() and (~untouched).any(), "the case must have repaired and untouched pixels"
    assert got[untouched].tobytes() == frame[untouched].tobytes(), "pixels outside the applied matte changed"
    assert got[..., 3].tobytes() == frame[..., 3].tobytes()


def test_damage_matte_output_is_the_applied_matte(build: PluginBuild, model: Path, tmp_path: Path,
                                                  frame: np.ndarray) -> None:
    """Damage Matte shows w as grey: thresholded at 1 − Sensitivity, times Mix and the Mask."""
    mask = np.zeros((HEIGHT, WIDTH, 4), dtype=np.float32)
    mask[: HEIGHT // 2] = 1.0
    mask[HEIGHT // 2:, : WIDTH // 2] = 0.5
    got = rendered(build, frame, tmp_path, {"modelFile": model, "outputMode": "Damage Matte", "sensitivity": 0.3,
                                            "mix": 0.8}, mask=mask)
    weight = applied_weight(frame, 0.3, 0.8, mask)
    assert 0 < np.count_nonzero(weight) < weight.size
    np.testing.assert_allclose(got[..., :3], np.repeat(weight, 3, axis=2), atol=1e-6, rtol=0)


@pytest.mark.slow
def test_sensitivity_sets_what_is_repaired(build: PluginBuild, model: Path, tmp_path: Path,
                                           frame: np.ndarray) -> None:
    """Each sensitivity repairs exactly the pixels whose matte exceeds 1 − sensitivity: more as it rises."""
    repaired = []
    for sensitivity in (0.25, 0.75):
        got = rendered(build, frame, tmp_path / str(sensitivity), {"modelFile": model, "sensitivity": sensitivity})
        weight = applied_weight(frame, sensitivity)
        assert_repaired(got, frame, weight)
        repaired.append(np.count_nonzero(weight))
    assert repaired[0] < repaired[1], repaired


def test_default_sensitivity_is_one_half(build: PluginBuild, model: Path, tmp_path: Path,
                                         frame: np.ndarray) -> None:
    """Without a Sensitivity set, the plug-in's default (0.5) repairs exactly the pixels whose matte exceeds 0.5."""
    got = rendered(build, frame, tmp_path, {"modelFile": model})
    assert_repaired(got, frame, applied_weight(frame, 0.5))


@pytest.mark.parametrize("depth", ["float", "short"])
def test_sensitivity_zero_gives_the_source_bit_for_bit(build: PluginBuild, model: Path, tmp_path: Path,
                                                       frame: np.ndarray, depth: str) -> None:
    """Sensitivity 0 repairs nothing: every output sample is the source's own, at the host's depth."""
    frame[0, 0, 0] = -0.0  # a sign bit an arithmetic round trip would lose
    pattern = write_sequence(tmp_path, [frame], depth=depth)
    source = read_output(pattern, 1, depth)  # the source as the host holds it
    out = tmp_path / "out.####.tif"
    done = ofx_render(build, pattern, out, {"modelFile": model, "sensitivity": 0.0}, options=["--depth", depth])
    assert done.returncode == 0, f"ofx-render exit {done.returncode}\n{done.stderr[-3000:]}"
    assert read_output(out, 1, depth).tobytes() == source.tobytes()


def test_damage_matte_at_sensitivity_zero_is_black(build: PluginBuild, model: Path, tmp_path: Path,
                                                   frame: np.ndarray) -> None:
    matte = rendered(build, frame, tmp_path, {"modelFile": model, "sensitivity": 0.0, "outputMode": "Damage Matte"})
    assert not matte[..., :3].any()


def test_mix_and_mask_still_limit_the_repair(build: PluginBuild, model: Path, tmp_path: Path,
                                             frame: np.ndarray) -> None:
    mask = np.zeros((HEIGHT, WIDTH, 4), dtype=np.float32)  # bottom half: off (mask and picture rows must agree)
    mask[: HEIGHT // 2, : WIDTH // 2] = 1.0
    mask[: HEIGHT // 2, WIDTH // 2:] = 0.5
    got = rendered(build, frame, tmp_path, {"modelFile": model, "mix": 0.6, "sensitivity": 0.8}, mask=mask)
    assert_repaired(got, frame, applied_weight(frame, 0.8, 0.6, mask))
    assert got[HEIGHT // 2:].tobytes() == frame[HEIGHT // 2:].tobytes()  # mask off: the source


@pytest.mark.slow
def test_damage_matte_at_mix_zero_is_not_the_source(build: PluginBuild, model: Path, tmp_path: Path,
                                                    frame: np.ndarray) -> None:
    """Restored at Mix 0 is the source (the host may skip the render); Damage Matte at Mix 0 shows no repair."""
    restored = rendered(build, frame, tmp_path / "restored", {"modelFile": model, "mix": 0.0})
    assert restored.tobytes() == frame.tobytes()
    matte = rendered(build, frame, tmp_path / "matte", {"modelFile": model, "mix": 0.0, "outputMode": "Damage Matte"})
    assert not matte[..., :3].any()


def model_info(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, f"ofx-render exit {done.returncode}\n{done.stderr[-3000:]}"
    infos = [str(e["values"]["modelInfo"]) for e in timing_events(done.stdout) if e["event"] == "params"]
    assert infos, done.stdout
    return infos


@pytest.mark.slow
def test_model_info_names_a_repair_model(build: PluginBuild, model: Path, tmp_path: Path,
                                         frame: np.ndarray) -> None:
    pattern = write_sequence(tmp_path, [frame])
    done = ofx_render(build, pattern, tmp_path / "out.####.tif", {"modelFile": model}, options=["--print-params"])
    assert all("damage repair, matte output" in info for info in model_info(done)), done.stdout
    other = pointwise_model(tmp_path / "chroma.onnx")
    done = ofx_render(build, pattern, tmp_path / "other.####.tif", {"modelFile": other}, options=["--print-params"])
    assert not any("damage repair" in info for info in model_info(done)), done.stdout


def test_damage_matte_of_a_model_without_one_fails_and_says_what_to_choose(
        build: PluginBuild, tmp_path: Path, frame: np.ndarray) -> None:
    other = pointwise_model(tmp_path / "chroma.onnx")
    pattern = write_sequence(tmp_path, [frame])
    done = ofx_render(build, pattern, tmp_path / "out.####.tif", {"modelFile": other, "outputMode": "Damage Matte"},
                      options=["--timing"])
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stderr[-3000:]}"  # the one frame failed
    failed = [e for e in timing_events(done.stdout) if e["event"] == "frame" and e["status"] == "failed"]
    assert len(failed) == 1, done.stdout
    message = failed[0]["message"]
    assert "chroma.onnx" in message and "no damage matte" in message and "\n" not in message, message
    assert "Traceback" not in done.stderr, done.stderr
    assert not list(tmp_path.glob("out.*")), "a failed frame must leave no output"


def test_temporal_repair_model_repairs_from_its_window(build: PluginBuild, tmp_path: Path,
                                                       rng: np.random.Generator) -> None:
    """A repair model with a window (radius 1) renders in both modes, and its matte and repair are the frame's own,
    at the clip's first frame too (the fixture's outputs do not depend on the neighbours' pixels: what the window
    holds is tests/py/test_plugin_temporal.py's subject)."""
    model = repair_onnx(tmp_path / "temporal.onnx", graded=True, radius=1)
    frames = [random_frame(rng, opaque=True) for _ in range(3)]
    pattern = write_sequence(tmp_path / "shot", frames)
    params = {"modelFile": model, "sensitivity": 0.6}
    for mode in ("Restored", "Damage Matte"):
        out = tmp_path / f"{mode.replace(' ', '_')}.####.tif"
        done = ofx_render(build, pattern, out, {**params, "outputMode": mode}, frames=(1, 2),
                          options=["--input-frames", "1-3"])
        assert done.returncode == 0, f"ofx-render exit {done.returncode}\n{done.stderr[-3000:]}"
        for number in (1, 2):
            got, weight = read_output(out, number, "float"), applied_weight(frames[number - 1], 0.6)
            if mode == "Restored":
                assert_repaired(got, frames[number - 1], weight)
            else:
                np.testing.assert_allclose(got[..., :3], np.repeat(weight, 3, axis=2), atol=1e-6, rtol=0)
