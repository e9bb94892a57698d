"""chromaluma.synth.damage ground-truth damage: determinism, untouched pixels, polarity, scratches, shapes, samples."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from chromaluma.errors import ParameterError
from chromaluma.io.frames import FrameFormat, write_frame
from chromaluma.synth.damage import DAMAGE_CLASSES, DamageSampleError, DamageStatistics, ShotDamage

SPECK, HAIR, SPARKLE, SCRATCH, BLOTCH = (DAMAGE_CLASSES.index(name) + 1 for name in
                                         ("speck", "hair", "sparkle", "scratch", "blotch"))
PNG16 = FrameFormat(".png", "uint16", 16, 3)


def _only(**densities: float) -> DamageStatistics:
    """Default shapes with every density 0 except those given."""
    return replace(DamageStatistics.default().scaled(0.0), **densities)


def _noise_frame(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.05, 0.95, (height, width, channels)).astype(np.float32)


def test_same_seed_and_index_give_the_same_damage_in_any_order() -> None:
    frame = _noise_frame(96, 128)
    statistics = DamageStatistics.default().scaled(40.0)
    forward = ShotDamage.plan(128, 96, 6, statistics, seed=9)
    backward = ShotDamage.plan(128, 96, 6, statistics, seed=9)
    first = {index: forward.apply(frame, index) for index in range(6)}
    for index in reversed(range(6)):
        again = backward.apply(frame, index)
        assert np.array_equal(again.frame, first[index].frame)
        assert np.array_equal(again.opacity, first[index].opacity)
        assert np.array_equal(again.classes, first[index].classes)
    assert not np.array_equal(first[0].opacity, first[1].opacity)  # one-frame defects are drawn afresh per frame
    other_seed = ShotDamage.plan(128, 96, 6, statistics, seed=10).apply(frame, 0)
    assert not np.array_equal(other_seed.opacity, first[0].opacity)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_pixels_without_damage_are_the_input_bit_for_bit(channels: int) -> None:
    frame = _noise_frame(120, 160, channels, seed=channels)
    frame[0, 0, 0] = -0.0  # odd bit patterns must pass through untouched too
    before = frame.copy()
    shot = ShotDamage.plan(160, 120, 4, DamageStatistics.default().scaled(30.0), seed=3)
    damaged = shot.apply(frame, 2)
    assert np.array_equal(frame, before), "the caller's frame is not modified"
    assert damaged.frame.dtype == np.float32 and damaged.frame.shape == frame.shape
    clean = damaged.opacity == 0
    assert 0.02 < 1.0 - clean.mean() < 0.9, "damage is drawn, and the frame is not all damage"
    assert np.array_equal(damaged.frame[clean].view(np.uint32), frame[clean].view(np.uint32))
    assert np.array_equal(damaged.classes == 0, clean), "a class exactly where the opacity is not 0"
    assert damaged.opacity.min() >= 0.0 and damaged.opacity.max() <= 1.0
    changed = np.any(damaged.frame[..., : min(channels, 3)] != frame[..., : min(channels, 3)], axis=2)
    assert changed[damaged.opacity > 0.05].mean() > 0.99, "where damage is drawn the picture changes"
    if channels == 4:
        assert np.array_equal(damaged.frame[..., 3].view(np.uint32), frame[..., 3].view(np.uint32)), "alpha untouched"


def test_damage_replaces_the_picture_with_its_own_value() -> None:
    shot = ShotDamage.plan(128, 128, 1, _only(specks=3000.0, hairs=200.0), seed=4)
    dark, light = (shot.apply(np.full((128, 128, 3), level, np.float32), 0) for level in (0.2, 0.7))
    assert np.array_equal(dark.opacity, light.opacity)
    drawn = dark.opacity > 0.05
    # dust blocks light: the result is the picture × (1 − opacity) + the defect's own value × opacity, so the
    # value recovered from two different pictures is the same (additive noise would differ by the pictures' gap)
    value_dark = (dark.frame[drawn, 0] - 0.2 * (1.0 - dark.opacity[drawn])) / dark.opacity[drawn]
    value_light = (light.frame[drawn, 0] - 0.7 * (1.0 - light.opacity[drawn])) / light.opacity[drawn]
    assert np.abs(value_dark - value_light).max() < 1e-3
    assert value_dark.min() >= -1e-3 and value_dark.max() <= 1.0 + 1e-3


@pytest.mark.parametrize(("film", "white_share", "bright_share"), [("positive", 1.0, (1.0, 1.0)),
                                                                  ("positive", 0.0, (0.0, 0.0)),
                                                                  ("positive", None, (0.6, 0.95)),
                                                                  ("negative", None, (0.0, 0.3))])
def test_speck_polarity_follows_the_film(film: str, white_share: float | None,
                                         bright_share: tuple[float, float]) -> None:
    base = DamageStatistics.default(film)
    statistics = replace(base.scaled(0.0), specks=2000.0, white_share=base.white_share if white_share is None
                         else white_share)
    grey = np.full((200, 200, 3), 0.5, np.float32)
    bright = dark = 0
    for index in range(3):
        damaged = ShotDamage.plan(200, 200, 3, statistics, seed=21).apply(grey, index)
        cores = []
        count, labels = cv2.connectedComponents((damaged.opacity > 0.3).astype(np.uint8))
        for label in range(1, count):  # one sign per speck: its strongest pixel
            speck = labels == label
            cores.append(damaged.frame[speck, 0][np.argmax(damaged.opacity[speck])] - 0.5)
        bright += sum(c > 0.1 for c in cores)
        dark += sum(c < -0.1 for c in cores)
    assert bright + dark > 50
    assert bright_share[0] <= bright / (bright + dark) <= bright_share[1]


def _one_scratch_shots(long_share: float, frames: int, count: int) -> list[ShotDamage]:
    """`count` shots (seeds from 0 up) whose plan holds exactly one scratch."""
    statistics = _only(scratches_per_shot=1.0, long_scratch_share=long_share)
    shots = [ShotDamage.plan(240, 100, frames, statistics, seed=seed) for seed in range(200)]
    chosen = [shot for shot in shots if len(shot.scratches) == 1][:count]
    assert len(chosen) == count, "seeds below 200 plan enough single-scratch shots"
    return chosen


def test_long_scratch_persists_at_a_slowly_moving_column() -> None:
    shot = _one_scratch_shots(1.0, 40, 1)[0]
    grey = np.full((100, 240, 3), 0.5, np.float32)
    columns = {}
    for index in range(40):
        damaged = shot.apply(grey, index)
        if damaged.opacity.any():
            assert set(np.unique(damaged.classes)) == {0, SCRATCH}
            rows_hit = (damaged.opacity > 0).any(axis=1).mean()
            assert rows_hit > 0.95, "a scratch runs over the whole frame height"
            columns[index] = float(np.average(np.arange(240), weights=damaged.opacity.sum(axis=0)))
    assert len(columns) >= 32, "a long scratch is in (nearly) every frame of the shot"
    steps = [abs(columns[i + 1] - columns[i]) for i in range(39) if i in columns and i + 1 in columns]
    assert max(steps) < 2.0, "from frame to frame it moves by a pixel or so"
    assert max(columns.values()) - min(columns.values()) < 25.0, "it stays near its column through the shot"


def test_short_scratches_come_and_go() -> None:
    grey = np.full((100, 240, 3), 0.5, np.float32)
    for shot in _one_scratch_shots(0.0, 80, 5):
        present = [bool(shot.apply(grey, index).opacity.any()) for index in range(80)]
        assert 1 <= sum(present) <= 30, "a short scratch lasts a few to tens of frames"
        first, last = present.index(True), len(present) - 1 - present[::-1].index(True)
        assert last - first < 31


def _components(damaged_opacity: np.ndarray, classes: np.ndarray, class_id: int) -> list[np.ndarray]:
    count, labels = cv2.connectedComponents(((damaged_opacity >= 0.05) & (classes == class_id)).astype(np.uint8))
    return [labels == label for label in range(1, count)]


def test_every_class_is_drawn_with_its_own_shape() -> None:
    statistics = replace(DamageStatistics.default(), specks=400.0, hairs=60.0, sparkle=400.0,
                         scratches_per_shot=4.0, blotches=60.0)
    shot = ShotDamage.plan(320, 240, 4, statistics, seed=5)
    frame = _noise_frame(240, 320)
    sizes: dict[int, list[tuple[int, int, int]]] = {class_id: [] for class_id in range(1, 6)}
    for index in range(4):
        damaged = shot.apply(frame, index)
        for class_id in sizes:
            for part in _components(damaged.opacity, damaged.classes, class_id):
                rows, cols = np.nonzero(part)
                sizes[class_id].append((int(part.sum()), int(np.ptp(rows)) + 1, int(np.ptp(cols)) + 1))
    assert all(sizes[class_id] for class_id in sizes), "every class appears"
    assert max(area for area, _, _ in sizes[SPARKLE]) <= 16, "sparkle is a tiny point"
    assert np.median([max(h, w) for _, h, w in sizes[SPECK]]) <= 8, "specks are a few pixels"
    assert np.median([max(h, w) for _, h, w in sizes[BLOTCH]]) >= 10, "blotches are larger stains"
    hair_widths = [area / max(h, w) for area, h, w in sizes[HAIR]]  # area over extent: at most the mean width
    assert np.median([max(h, w) for _, h, w in sizes[HAIR]]) >= 10 and np.median(hair_widths) <= 5, "hairs: long, thin"
    assert max(h for _, h, _ in sizes[SCRATCH]) >= 0.95 * 240, "scratches run the frame's height"


def test_damaging_a_frame_is_fast() -> None:
    frame = _noise_frame(512, 512)
    shot = ShotDamage.plan(512, 512, 8, DamageStatistics.default(), seed=1)
    shot.apply(frame, 0)
    times = []
    for index in range(8):
        start = time.perf_counter()
        shot.apply(frame, index)
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.1  # ~10–20 ms expected; the bound only catches a per-pixel Python loop


def test_statistics_scale_and_refuse_bad_values() -> None:
    base = DamageStatistics.default()
    doubled = base.scaled(2.0)
    assert doubled.specks == 2 * base.specks and doubled.scratches_per_shot == 2 * base.scratches_per_shot
    assert doubled.speck_radius == base.speck_radius and doubled.white_share == base.white_share
    for amount in (-1.0, float("nan"), True):
        with pytest.raises(ParameterError, match="damage amount"):
            base.scaled(amount)
    with pytest.raises(ParameterError, match="white_share"):
        replace(base, white_share=1.5)
    with pytest.raises(ParameterError, match="speck_radius"):
        replace(base, speck_radius=(3.0, 1.0))
    with pytest.raises(ParameterError, match="film"):
        DamageStatistics.default("slide")
    shot = ShotDamage.plan(32, 16, 2, base, seed=0)
    with pytest.raises(ParameterError, match="frame index 2"):
        shot.apply(np.zeros((16, 32, 3), np.float32), 2)
    with pytest.raises(ParameterError, match="32×16"):
        shot.apply(np.zeros((32, 16, 3), np.float32), 0)


# --- fitting statistics from crops the restorer cut out of a scan -------------------------------------------------

def _crop(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picture = 0.45 + 0.1 * np.linspace(0.0, 1.0, size)[None, :] + rng.normal(0.0, 0.01, (size, size))
    return picture.astype(np.float32)


def _write_speck(path: Path, radius: float, value: float, seed: int) -> None:
    picture = _crop(31, seed)
    rows, cols = np.mgrid[:31, :31]
    disc = cv2.GaussianBlur((np.hypot(rows - 15.3, cols - 14.8) <= radius).astype(np.float32), (0, 0), 0.8)
    write_frame(path, np.repeat((picture * (1 - disc) + value * disc)[..., None], 3, axis=2), PNG16)


def _write_hair(path: Path, seed: int) -> None:
    picture = _crop(45, seed)
    line = np.zeros((45, 45), np.float32)
    cv2.line(line, (4, 6 + seed), (40, 36), 1.0, 2, cv2.LINE_AA)  # 36 × 30 px: about 47 px long
    line = cv2.GaussianBlur(line, (0, 0), 0.6)
    write_frame(path, np.repeat((picture * (1 - line) + 0.05 * line)[..., None], 3, axis=2), PNG16)


def test_from_samples_fits_polarity_sizes_and_hairs(tmp_path: Path) -> None:
    white = tmp_path / "white"
    white.mkdir()
    for index, radius in enumerate((1.5, 2.0, 2.5, 3.0, 2.0)):
        _write_speck(white / f"speck{index}.png", radius, 0.97, index)
    _write_hair(white / "hair.png", 1)
    fitted = DamageStatistics.from_samples(white)
    assert fitted.white_share == 1.0
    assert 1.0 <= fitted.speck_radius[0] <= 2.0 and 2.8 <= fitted.speck_radius[1] <= 4.5
    assert 35.0 <= fitted.hair_length[0] <= fitted.hair_length[1] <= 60.0
    assert 0.3 <= fitted.edge_softness <= 1.6
    default = DamageStatistics.default()
    total = default.specks + default.hairs + default.blotches
    assert fitted.hairs == pytest.approx(total / 6) and fitted.specks == pytest.approx(total * 5 / 6)

    dark = tmp_path / "dark"
    dark.mkdir()
    for index in range(4):
        _write_speck(dark / f"dirt{index}.png", 2.0, 0.02, 10 + index)
    (dark / "damage_samples.json").write_text(json.dumps({"frames_inspected": 10, "frame_size": [1000, 500]}))
    fitted = DamageStatistics.from_samples(dark, film="positive")
    assert fitted.white_share == 0.0
    assert fitted.specks == pytest.approx(4 / (10 * 0.5)) and fitted.hairs == 0.0  # counts per megapixel
    assert fitted.sparkle == default.sparkle  # not measured: kept


def _bad_folder(tmp_path: Path, case: str) -> tuple[Path, str]:
    """A sample folder with one fault, and the words the refusal must contain."""
    folder = tmp_path / "samples"
    if case == "missing":
        return folder, "samples: not a folder"
    folder.mkdir()
    if case == "empty":
        (folder / "notes.txt").write_text("dust on frame 12")
        return folder, "no image crops"
    _write_speck(folder / "good.png", 2.0, 0.95, 0)
    if case == "truncated":
        _write_speck(folder / "cut.png", 2.0, 0.95, 1)
        (folder / "cut.png").write_bytes((folder / "cut.png").read_bytes()[:60])
        return folder, "cut.png"
    if case == "flat":
        write_frame(folder / "flat.png", np.full((20, 20, 3), 0.4, np.float32), PNG16)
        return folder, "flat.png: no defect"
    if case == "tiny":
        speck = np.full((4, 4, 3), 0.4, np.float32)
        speck[1:3, 1:3] = 0.95
        write_frame(folder / "tiny.png", speck, PNG16)
        return folder, "tiny.png: crop is 4×4"
    (folder / "damage_samples.json").write_text('{"frames_inspected": 0}' if case == "json values" else "{oops")
    return folder, "damage_samples.json"


@pytest.mark.parametrize("case", ["missing", "empty", "truncated", "flat", "tiny", "json values", "json syntax"])
def test_bad_sample_folders_are_refused_in_one_line(tmp_path: Path, case: str) -> None:
    folder, named = _bad_folder(tmp_path, case)
    with pytest.raises(DamageSampleError) as refused:
        DamageStatistics.from_samples(folder)
    message = str(refused.value)
    assert "\n" not in message and named in message
    assert any(fix in message for fix in ("remove", "Give", "Cut", "cut", "re-export", "fix"))
