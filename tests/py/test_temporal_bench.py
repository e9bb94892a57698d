"""The temporal benchmark: its measures against known answers, its pairs folder, and a quick run of the area."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.color import lab2rgb, rgb2lab

from chromaluma.errors import ParameterError
from chromaluma.metrics import (
    chroma_drift,
    chroma_flicker,
    chroma_stability,
    consistent_flow,
    flow_temporal_error,
    grain_power_ratio,
)
from chromaluma.synth.flicker import ExposureFlicker, flicker_exposure

ROOT = Path(__file__).resolve().parents[2]


def _lab_frame(lightness: float, a: float, b: float, size: tuple[int, int] = (8, 8)) -> np.ndarray:
    lab = np.empty((*size, 3))
    lab[...] = (lightness, a, b)
    return lab2rgb(lab).astype(np.float32)


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Colourful blobs with structure at several scales: optical flow can follow it."""
    noise = rng.random((height, width, 3)).astype(np.float32)
    return np.clip(0.5 * cv2.GaussianBlur(noise, (0, 0), 6) * 4 - 0.75 + 0.5 * cv2.GaussianBlur(noise, (0, 0), 1.5),
                   0.0, 1.0)


def _panned(rng: np.random.Generator, frames: int, step: int, height: int = 96, width: int = 128) -> list[np.ndarray]:
    """A camera panning `step` px per frame over a still texture: frame t = texture columns shifted by t·step."""
    wide = _texture(rng, height, width + step * frames)
    return [np.ascontiguousarray(wide[:, t * step:t * step + width]) for t in range(frames)]


def _with_chroma_offset(frame: np.ndarray, a: float) -> np.ndarray:
    lab = rgb2lab(frame.astype(np.float64))
    lab[..., 1] += a
    return lab2rgb(lab).astype(np.float32)


def test_constant_shot_has_no_flicker_and_no_drift():
    shot = [_lab_frame(60, 12, -8)] * 5
    assert chroma_flicker(shot) == pytest.approx(0.0, abs=1e-9)
    assert chroma_drift(shot) == pytest.approx(0.0, abs=1e-9)


def test_alternating_mean_chroma_by_d_flickers_by_d_and_drifts_by_half_d():
    d = 6.0
    shot = [_lab_frame(50, 0.0, 0.0), _lab_frame(50, d, 0.0)] * 3
    assert chroma_flicker(shot) == pytest.approx(d, abs=0.05)
    assert chroma_drift(shot) == pytest.approx(d / 2, abs=0.05)


def test_drift_is_the_farthest_frame_from_the_shots_mean():
    shot = [_lab_frame(50, 0, 0)] * 3 + [_lab_frame(50, 0, 8)]  # mean b* = 2: the last frame is 6 away
    assert chroma_drift(shot) == pytest.approx(6.0, abs=0.05)
    assert chroma_flicker(shot) == pytest.approx(8.0 / 3, abs=0.05)


def test_mask_limits_flicker_to_valid_pixels():
    first, second = _lab_frame(50, 0, 0), _lab_frame(50, 0, 0)
    second[:, :4] = _lab_frame(50, 20, 0, (8, 4))  # the change lies outside the valid area only
    mask = np.zeros((8, 8), np.float32)
    mask[:, 4:] = 1.0
    assert chroma_flicker([first, second], mask) == pytest.approx(0.0, abs=1e-6)
    assert chroma_flicker([first, second]) > 5.0


def test_stability_against_the_truth_ignores_the_scenes_own_colour_change():
    truths = [_lab_frame(50, 4.0 * t, 0.0) for t in range(4)]  # the scene's colour moves along the shot
    outputs = [_with_chroma_offset(t, 3.0) for t in truths]  # a steady cast: no flicker of its own
    flicker, drift = chroma_stability(outputs, truths=truths)
    assert flicker == pytest.approx(0.0, abs=0.05) and drift == pytest.approx(0.0, abs=0.05)
    assert chroma_flicker(outputs) > 3.5  # measured alone, the scene's change counts


def test_flow_temporal_error_is_near_zero_for_the_truth_and_d_for_a_chroma_flicker_of_d():
    truths = _panned(np.random.default_rng(5), 4, step=2)
    floor = flow_temporal_error(truths, truths)
    flickering = [_with_chroma_offset(frame, 5.0 * (t % 2)) for t, frame in enumerate(truths)]
    assert floor < 0.6
    assert flow_temporal_error(flickering, truths) == pytest.approx(5.0, abs=0.8)


def test_flow_temporal_error_catches_an_output_that_does_not_follow_the_motion():
    truths = _panned(np.random.default_rng(6), 4, step=3)
    stuck = [truths[0]] * len(truths)  # right colours, but the picture stands still while the camera pans
    assert flow_temporal_error(stuck, truths) > 4 * max(flow_temporal_error(truths, truths), 0.5)


def test_flow_is_not_trusted_where_the_content_leaves_the_frame():
    truths = _panned(np.random.default_rng(7), 2, step=4)
    flow, valid = consistent_flow(truths[0], truths[1])
    assert np.median(flow[..., 0][valid]) == pytest.approx(-4.0, abs=0.3)  # the scene moves left under the pan
    assert not valid[:, 0].any() and valid[:, :4].mean() < 0.2  # the left 4 columns have left the next frame
    assert valid[:, 4:].mean() > 0.9


def test_flow_temporal_error_refuses_mismatched_lengths():
    frames = [_lab_frame(50, 0, 0)] * 3
    with pytest.raises(ValueError, match="one per truth frame"):
        flow_temporal_error(frames, frames[:2])


def test_grain_power_ratio_of_known_noise():
    rng = np.random.default_rng(8)
    reference = [np.full((128, 128, 3), 0.5, np.float32) + rng.normal(0, 0.05, (128, 128, 1)).astype(np.float32)
                 for _ in range(2)]
    same = [np.full((128, 128, 3), 0.5, np.float32) + rng.normal(0, 0.05, (128, 128, 1)).astype(np.float32)
            for _ in range(2)]
    double = [0.5 + 2.0 * (frame - 0.5) for frame in same]
    smoothed = [cv2.GaussianBlur(frame, (0, 0), 2.0) for frame in same]
    assert grain_power_ratio(same, reference) == pytest.approx(1.0, abs=0.1)
    assert grain_power_ratio(double, reference) == pytest.approx(4.0, rel=0.1)  # power: amplitude squared
    assert grain_power_ratio(smoothed, reference) < 0.2


def test_exposure_flicker_is_per_frame_seeded_and_zero_leaves_frames_unchanged():
    frames = [np.full((4, 4, 3), 0.4, np.float32)] * 3
    flickered = flicker_exposure(frames, ExposureFlicker(seed=3))
    assert not np.allclose(flickered[0], flickered[1])
    assert np.array_equal(flicker_exposure(frames[2:], ExposureFlicker(seed=3))[0], flicker_exposure(
        frames, ExposureFlicker(seed=3))[0])  # frame 0 of any shot: same change
    assert np.allclose(flicker_exposure(frames, ExposureFlicker(0.0, 0.0))[1], frames[1], atol=1e-6)
    with pytest.raises(ParameterError, match="must be ≥ 0"):
        ExposureFlicker(density=-0.1)


def test_shot_pairs_give_training_windows_from_the_scan_source(tmp_path: Path):
    """Sparse keyframes: a pair's neighbours are that shot's scan frames, never the next shot's."""
    from chromaluma.benchmarks.quality_plan import ShotPairs
    from chromaluma.benchmarks.temporal_training import write_shot_pairs
    from chromaluma.train.pairs import load_pairs
    from chromaluma.train.windows import attach_windows, manifest_sources

    def shot(base: float) -> ShotPairs:
        scans = [np.full((16, 16, 3), base + 0.05 * i, np.float32) for i in range(4)]
        references = [s * np.array([1.0, 0.8, 0.6], np.float32) for s in scans]  # a colour reference
        return ShotPairs("s", scans, scans, references, np.ones((16, 16), np.float32), 1)

    folder = write_shot_pairs(tmp_path / "pairs", [shot(0.1), shot(0.5)], [[0, 3], [0]])
    source, spans = manifest_sources(folder)
    pairs = {pair.frame: pair for pair in load_pairs("chroma", folder, None, None)}
    assert sorted(pairs) == [1001, 1004, 1005]  # one reel: shot 0 is frames 1001-1004, shot 1 1005-1008
    counts = attach_windows(list(pairs.values()), 1, source, spans)
    assert (counts.from_pairs, counts.from_scan_source, counts.by_edge_rule) == (0, 3, 3)
    assert pairs[1001].neighbours[1][..., :3] == pytest.approx(0.15, abs=1e-4)  # scan frame 1 of shot 0
    assert pairs[1004].neighbours[0][..., :3] == pytest.approx(0.2, abs=1e-4)  # scan frame 2 of shot 0
    assert pairs[1004].neighbours[1][..., :3] == pytest.approx(0.25, abs=1e-4)  # the shot's end: itself, not 0.5
    assert pairs[1005].neighbours[0][..., :3] == pytest.approx(0.5, abs=1e-4)  # shot 1's start: itself


@pytest.mark.slow
def test_quick_area_run_writes_every_row_and_column(tmp_path: Path):
    out = tmp_path / "BENCHMARKS.md"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--only", "temporal", "--quick",
                           "--out", str(out), "--workdir", str(tmp_path / "work"), "--plots-dir", str(tmp_path / "p")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    assert "## Temporal" in text
    tables = _tables(text)
    chroma = tables["Temporal: colour stability (chroma)"]
    assert chroma[0] == ["method", "locked-off flicker", "locked-off drift", "locked-off ΔE2000", "panning flicker",
                         "panning drift", "panning temporal error", "panning ΔE2000", "note"]
    expected = ["ground truth (floor)", "faded scan, density graded (input)", "histogram matching", "3D LUT (17³)",
                "Chromaluma chroma, single frame (radius 0)", "Chromaluma chroma, radius 1",
                "Chromaluma chroma, radius 2", "Chromaluma chroma, radius 2 + exposure jitter 0.1"]
    assert [row[0] for row in chroma[1:]] == expected
    for row in chroma[1:]:
        assert all(_number(cell) for cell in row[1:8]), row  # every method measured on both shots
    for row in chroma[5:]:
        assert "2 steps" in row[-1]  # every time-limited number says its steps
    keyframes = tables["Temporal: few keyframes"]
    assert [row[0] for row in keyframes[1:]] == ["faded scan, density graded (input)",
                                                  "Chromaluma chroma, single frame (radius 0)",
                                                  "Chromaluma chroma, radius 2 + exposure jitter 0.1"]
    assert all(_number(cell) for row in keyframes[1:] for cell in row[1:7])
    luma = tables["Temporal: detail (luma)"]
    assert luma[0][:5] == ["method", "PSNR dB", "PSNR gain over input dB", "SSIM", "grain power ÷ reference print's"]
    assert [row[0] for row in luma[1:]] == [
        "duplicate negative scan (input)", "reference print itself (informative)",
        "scan with the truth's luma (ceiling, informative)",
        "linear filter fitted on the truth itself (bound, informative)",
        "linear filter on 5 frames moved by flow, fitted on the truth (bound, informative)",
        "linear filter fitted on the reference print (what the reference teaches, informative)",
        "Chromaluma luma, single frame (radius 0)", "Chromaluma luma, radius 2"]
    assert all(_number(cell) for row in luma[1:] for cell in row[1:5])
    gains = {row[0]: float(row[2]) for row in luma[1:] if not row[0].startswith("reference print")}
    assert gains["scan with the truth's luma (ceiling, informative)"] >= max(gains.values()) - 1e-9  # luma-only rows
    cost = tables["Temporal: cost"]
    assert [row[:2] for row in cost[1:]] == [["0", "1"], ["1", "3"], ["2", "5"]]
    assert all(_number(row[2]) and _number(row[4]) for row in cost[1:])
    assert "flicker ≤ 0.3" in text and "drift ≤ 1.0" in text and "+4 dB" in text


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _tables(text: str) -> dict[str, list[list[str]]]:
    """Each `### title` section's markdown table as rows of cells (header first, separator dropped)."""
    tables: dict[str, list[list[str]]] = {}
    title = ""
    for line in text.splitlines():
        if line.startswith("### "):
            title = line[4:].strip()
        elif line.startswith("|") and title and not line.startswith("|---"):
            tables.setdefault(title, []).append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return tables


def test_a_training_without_window_flags_is_reported_not_run():
    from dataclasses import dataclass as plain

    from chromaluma.benchmarks.quality_training import TrainingUnavailable
    from chromaluma.benchmarks.temporal_training import TrainingRun, _window_options

    @plain
    class OldConfig:  # a training build from before --temporal-radius
        kind: str = "chroma"

    assert _window_options(OldConfig, TrainingRun("r0")) == {}  # a single-frame model still trains
    with pytest.raises(TrainingUnavailable, match="no --temporal-radius"):
        _window_options(OldConfig, TrainingRun("r2", radius=2))


def test_plugin_cost_without_a_build_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from chromaluma.benchmarks.temporal_training import plugin_ms

    monkeypatch.setenv("CHROMALUMA_BUILD_DIR", str(tmp_path / "no-build"))
    monkeypatch.delenv("CHROMALUMA_OFX_RENDER", raising=False)
    assert plugin_ms(tmp_path / "m.onnx", tmp_path, 1) == (None, "not measured: the plug-in or ofx-render is not "
                                                                 "built (make build)")


def test_a_shot_is_scored_against_its_truth_colour_and_motion():
    from chromaluma.benchmarks.quality_plan import ShotPairs
    from chromaluma.benchmarks.temporal import score_shot, shot_truths

    truths = [_with_chroma_offset(frame, 3.0 * t) for t, frame in enumerate(_panned(np.random.default_rng(9), 4, 2))]
    shot = ShotPairs("pan", truths, truths, truths, np.ones(truths[0].shape[:2], np.float32), held_out=2)
    truth = shot_truths({"pan": shot}, moving=("pan",))["pan"]
    cast = score_shot([_with_chroma_offset(f, 4.0) for f in truths], shot, truth)  # steady: adds no flicker
    assert cast.flicker == pytest.approx(0.0, abs=0.3) and cast.drift == pytest.approx(0.0, abs=0.3)
    floor = score_shot(truths, shot, truth)  # the scene's own colour change along the motion
    assert floor.delta_e == 0.0 and cast.delta_e > 1.0
    assert cast.temporal == pytest.approx(floor.temporal, abs=0.5)
    flickering = score_shot([_with_chroma_offset(f, 4.0 * (t % 2)) for t, f in enumerate(truths)], shot, truth)
    # a* steps of 3 + 4, 3 − 4, 3 + 4 along the motion: mean |Δ| = (7 + 1 + 7) / 3 = 5
    assert flickering.flicker == pytest.approx(4.0, abs=0.4) and flickering.temporal == pytest.approx(5.0, abs=0.5)
