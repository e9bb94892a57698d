"""The classical damage-repair baselines (chromaluma.damage_baselines, exported from chromaluma.baselines): the
SDI/ROD spike detector with motion-compensated temporal median fill, and the spatial threshold detector with Telea
inpainting. Damage is drawn in the test (soft dark/white specks, a vertical scratch) on tiny synthetic shots."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from chromaluma.baselines import SpikeDetectionRepair, ThresholdInpaintRepair, spike_matte
from chromaluma.damage_baselines import LINE_THRESHOLD, line_contrast
from chromaluma.errors import ChromalumaError, PairMismatchError, ParameterError
from chromaluma.synth.shots import CameraMove, photo_shot

WIDTH, HEIGHT = 160, 120
SPECK = (20, 85, 3.5)  # centre x, centre y, radius (px): on the astronaut's orange suit in the panning shot


def _pan(frames: int = 5) -> list[np.ndarray]:
    """A panning shot over a photograph, about 10 px of camera travel per frame."""
    return photo_shot("astronaut", frames, WIDTH, HEIGHT, CameraMove("pan", 0.25), seed=2)


def _speck_cover(x: float, y: float, radius: float) -> np.ndarray:
    """How much of each pixel a round speck with a soft (1 px) edge covers, 0–1."""
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    return np.clip(radius - np.hypot(xx - x, yy - y) + 0.5, 0.0, 1.0).astype(np.float32)


def _with_speck(frame: np.ndarray, value: float = 0.02, speck: tuple[float, float, float] = SPECK
                ) -> tuple[np.ndarray, np.ndarray]:
    """`frame` with dirt of grey `value` laid over it (it replaces the picture as far as it covers), and the cover."""
    cover = _speck_cover(*speck)[..., None]
    damaged = frame.copy()
    damaged[..., :3] = frame[..., :3] * (1.0 - cover) + value * cover
    return damaged.astype(np.float32), cover[..., 0]


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a.astype(np.float64) - b) ** 2)))


def test_a_speck_on_a_panning_shot_is_found_and_filled_from_the_neighbours() -> None:
    clean = _pan()
    damaged, cover = _with_speck(clean[2])
    window = [clean[0], clean[1], damaged, clean[3], clean[4]]
    repaired, matte = SpikeDetectionRepair().repair(window, 2)
    speck = cover > 0.2
    assert matte.dtype == np.float32 and matte.shape == (HEIGHT, WIDTH)
    assert matte[speck].min() == 1.0  # every pixel the dirt visibly covers is in the matte
    near_speck = cv2.dilate(speck.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert matte[~near_speck].sum() <= 0.002 * matte.size  # the rest of the moving picture is (almost) left alone
    assert _rms(damaged[speck], clean[2][speck]) > 0.3
    assert _rms(repaired[speck], clean[2][speck]) < 0.04  # filled with what the moving camera saw there


def test_without_motion_compensation_the_same_fill_would_smear_the_pan() -> None:
    clean = _pan()
    damaged, cover = _with_speck(clean[2])
    window = [clean[0], clean[1], damaged, clean[3], clean[4]]
    speck = cover > 0.2
    still, _ = SpikeDetectionRepair(flow=False).repair(window, 2)
    compensated, _ = SpikeDetectionRepair().repair(window, 2)
    assert _rms(compensated[speck], clean[2][speck]) < 0.5 * _rms(still[speck], clean[2][speck])


def _moving_object_shot(step: int = 4) -> tuple[list[np.ndarray], np.ndarray]:
    """A textured square moving `step` px a frame over a still, gently shaded background; no damage anywhere.
    Returns the frames and where the square is in the centre frame (2)."""
    yy, xx = np.mgrid[:HEIGHT, :WIDTH].astype(np.float32)
    background = 0.35 + 0.1 * np.sin(xx / 9.0) * np.cos(yy / 11.0)
    texture = cv2.resize(np.random.default_rng(5).uniform(0.2, 0.9, (6, 6)).astype(np.float32), (30, 30),
                         interpolation=cv2.INTER_CUBIC)
    frames = []
    for t in range(5):
        frame = background.copy()
        frame[45:75, 40 + step * t:70 + step * t] = texture
        frames.append(np.repeat(frame[..., None], 3, axis=-1).astype(np.float32))
    square = np.zeros((HEIGHT, WIDTH), bool)
    square[45:75, 40 + 2 * step:70 + 2 * step] = True
    return frames, square


def test_a_moving_object_is_not_damage_once_motion_is_compensated() -> None:
    frames, square = _moving_object_shot()
    assert spike_matte(frames, 2, flow=False)[square].mean() > 0.3  # the classic false alarm of a plain SDI
    assert spike_matte(frames, 2)[square].mean() < 0.02
    assert spike_matte(frames, 2).sum() < 30


def test_a_speck_on_the_first_frame_of_a_shot_is_found_when_the_window_repeats_the_edge_frame() -> None:
    clean = _pan()[:3]
    damaged, cover = _with_speck(clean[0], value=0.98)
    window = [damaged, damaged, damaged, clean[1], clean[2]]  # the edge rule: t-2, t-1 are the first frame again
    repaired, matte = SpikeDetectionRepair().repair(window, 2)
    speck = cover > 0.2
    assert matte[speck].min() == 1.0
    assert _rms(repaired[speck], clean[0][speck]) < 0.2 * _rms(damaged[speck], clean[0][speck])


def _scratched(frame: np.ndarray, lift: float, column: float = 83.0) -> tuple[np.ndarray, np.ndarray]:
    """`frame` with a vertical scratch about 2 px wide down its whole height, wandering by a pixel, that brightens
    the picture by `lift`."""
    yy, xx = np.mgrid[:HEIGHT, :WIDTH].astype(np.float32)
    centre = column + np.sin(yy / HEIGHT * np.pi)
    cover = np.clip(1.5 - np.abs(xx - centre), 0.0, 1.0)[..., None]
    damaged = frame.copy()
    damaged[..., :3] = frame[..., :3] * (1.0 - cover) + np.clip(frame[..., :3] + lift, 0.0, 1.0) * cover
    return damaged.astype(np.float32), cover[..., 0]


@pytest.mark.parametrize("lift", [0.2, 0.9])
def test_a_vertical_scratch_is_found_and_inpainted_by_the_threshold_detector(lift: float) -> None:
    clean = photo_shot("chelsea", 1, WIDTH, HEIGHT, CameraMove("static"), seed=1)[0]  # a cat's fur: fine texture
    damaged, cover = _scratched(clean, lift)
    repaired, matte = ThresholdInpaintRepair().repair([damaged, damaged, damaged], 1)
    scratch = cover > 0.2
    assert matte[scratch].mean() > 0.9
    assert _rms(repaired[scratch], clean[scratch]) < 0.5 * _rms(damaged[scratch], clean[scratch])
    assert matte.mean() < 0.05


def test_a_faint_scratch_is_found_by_the_vertical_line_test_not_by_the_speck_threshold() -> None:
    clean = photo_shot("chelsea", 1, WIDTH, HEIGHT, CameraMove("static"), seed=1)[0]
    damaged, cover = _scratched(clean, 0.2)
    scratch = cover > 0.2
    assert ThresholdInpaintRepair().matte(damaged)[scratch].mean() > 0.9
    assert ThresholdInpaintRepair(scratch_threshold=1.0).matte(damaged)[scratch].mean() < 0.3  # line test off


def test_a_speck_is_found_by_the_threshold_detector() -> None:
    clean = _pan(1)[0]
    damaged, cover = _with_speck(clean, value=0.97)
    repaired, matte = ThresholdInpaintRepair().repair([damaged, damaged], 0)
    speck = cover > 0.2
    assert matte[speck].min() == 1.0
    assert _rms(repaired[speck], clean[speck]) < 0.25 * _rms(damaged[speck], clean[speck])


@pytest.mark.parametrize("method", [SpikeDetectionRepair(), ThresholdInpaintRepair()], ids=lambda m: m.name)
def test_every_pixel_outside_the_matte_and_alpha_everywhere_keep_their_bits(method) -> None:
    clean = [np.concatenate([f, np.full((HEIGHT, WIDTH, 1), 0.75, np.float32)], axis=-1) for f in _pan()]
    damaged, cover = _with_speck(clean[2])
    damaged, _ = _scratched(damaged, 0.5)
    damaged[45, 60, :3] = -0.0  # on the black collar: signed zero and odd alpha bits must come back as given
    damaged[9, 11, 3] = np.float32(np.nan)
    damaged[3, 4, 3] = np.nextafter(np.float32(0.75), np.float32(1.0))
    window = [clean[0], clean[1], damaged, clean[3], clean[4]]
    before = damaged.copy()
    repaired, matte = method.repair(window, 2)
    assert np.array_equal(damaged.view(np.uint32), before.view(np.uint32))  # the input is never written to
    assert repaired.dtype == damaged.dtype and repaired.shape == damaged.shape
    outside = matte == 0
    assert outside[45, 60]
    assert matte[cover > 0.2].min() == 1.0 and outside.mean() > 0.5
    assert np.array_equal(repaired.view(np.uint32)[outside], damaged.view(np.uint32)[outside])
    assert np.array_equal(repaired[..., 3].view(np.uint32), damaged[..., 3].view(np.uint32))
    assert not np.array_equal(repaired[~outside], damaged[~outside])


def test_tune_picks_the_threshold_that_repairs_the_training_shot() -> None:
    clean = _pan()
    windows, truths = [], []
    for t, speck in ((1, (15, 80, 3.0)), (2, SPECK), (3, (100, 85, 2.5))):
        damaged, _ = _with_speck(clean[t], speck=speck)
        windows.append([damaged if i == t else clean[i] for i in range(t - 1, t + 2)])
        truths.append(clean[t])
    tuned = SpikeDetectionRepair.tune(windows, [1, 1, 1], truths, thresholds=(0.9, 0.05, 0.5))
    assert tuned.threshold == 0.05  # the only one of the three that finds dark dirt on the orange suit


def _one_line_error(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert isinstance(error.value, ChromalumaError) and "\n" not in message
    return message


def test_a_window_of_mismatched_frame_sizes_is_refused() -> None:
    clean = _pan(3)
    small = np.zeros((HEIGHT // 2, WIDTH, 3), np.float32)
    for call in (lambda: spike_matte([clean[0], small, clean[2]], 0),
                 lambda: SpikeDetectionRepair().repair([clean[0], clean[1], small], 1),
                 lambda: ThresholdInpaintRepair().repair([small, clean[1]], 1)):
        with pytest.raises(PairMismatchError) as error:
            call()
        message = _one_line_error(error)
        assert f"{WIDTH}x{HEIGHT // 2}" in message and "same size" in message


@pytest.mark.parametrize("centre", [3, -1, True, 1.0, None])
def test_a_centre_outside_the_window_is_refused(centre) -> None:
    clean = _pan(3)
    for call in (lambda: spike_matte(clean, centre), lambda: SpikeDetectionRepair().repair(clean, centre),
                 lambda: ThresholdInpaintRepair().repair(clean, centre)):
        with pytest.raises(ParameterError) as error:
            call()
        assert "centre" in _one_line_error(error) and "0…2" in str(error.value)


def test_bad_frames_and_settings_are_refused() -> None:
    clean = _pan(2)
    cases = [
        (lambda: spike_matte([clean[0]], 0), "at least one neighbour"),
        (lambda: spike_matte([clean[0], clean[1][..., 0]], 0), "window frame 1 has shape"),
        (lambda: spike_matte([clean[0], (clean[1] * 255).astype(np.uint8)], 0), "window frame 1 is uint8"),
        (lambda: spike_matte(clean, 0, threshold=0.0), "threshold 0.0"),
        (lambda: SpikeDetectionRepair(threshold=float("nan")).repair(clean, 0), "threshold nan"),
        (lambda: ThresholdInpaintRepair(median_size=6).repair(clean, 0), "median_size 6"),
        (lambda: SpikeDetectionRepair.tune([clean], [0], []), "clean truths"),
        (lambda: ThresholdInpaintRepair.tune([clean], [0], [clean[0][:10]]), "clean truth 0"),
    ]
    for call, words in cases:
        with pytest.raises(ChromalumaError) as error:
            call()
        assert words in _one_line_error(error)


def _lined(frame: np.ndarray, column: int, lift: float) -> np.ndarray:
    """`frame` with a 2 px line at `column`, |`lift`| of the way to white (positive) or to black (negative)."""
    lined = frame.copy()
    band = lined[:, column:column + 2, :3]
    lined[:, column:column + 2, :3] = band + abs(lift) * ((1.0 if lift > 0 else 0.0) - band)
    return lined


@pytest.mark.parametrize("lift", [0.08, -0.08])
def test_the_line_contrast_finds_a_faint_scratch_of_either_polarity_down_its_length(lift: float):
    rng = np.random.default_rng(3)
    xx = np.linspace(0.3, 0.6, WIDTH, dtype=np.float32)[None, :, None]
    grained = np.broadcast_to(xx, (HEIGHT, WIDTH, 3)) + rng.normal(0, 0.01, (HEIGHT, WIDTH, 3)).astype(np.float32)
    frame = _lined(grained.astype(np.float32), 70, lift)
    bright, dark = line_contrast(frame @ np.array([0.2126, 0.7152, 0.0722], np.float32))
    found, other = (bright, dark) if lift > 0 else (dark, bright)
    assert (found[:, 70:72] > LINE_THRESHOLD).all()
    assert not (other[:, 68:74] > LINE_THRESHOLD).any()
    elsewhere = np.ones_like(found, dtype=bool)
    elsewhere[:, 67:75] = False
    assert not (found[elsewhere] > LINE_THRESHOLD).any()
