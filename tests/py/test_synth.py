"""chromaluma.synth: dye fading physics, generation loss, damage, seeds, identity at strength 0, ranges, writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chromaluma.errors import FrameWriteError, ParameterError
from chromaluma.io import atomic as atomic_module
from chromaluma.synth import pairs as pairs_module
from chromaluma.synth.damage import DamagePlan
from chromaluma.synth.degrade import Degradation, degrade_shot
from chromaluma.synth.fading import DyeFade, fade_dyes
from chromaluma.synth.generation import PrintGeneration, print_generations
from chromaluma.synth.pairs import write_json, write_pairs
from chromaluma.synth.shots import CameraMove, photo_shot


def _density(display: np.ndarray) -> np.ndarray:
    """Optical density of sRGB-encoded values, computed independently of chromaluma.synth.density."""
    v = np.clip(display.astype(np.float64), 1e-6, 1.0)
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    return -np.log10(linear)


def _grey_wedge() -> np.ndarray:
    """A step wedge of neutral greys from light to dark, 8 steps of 4x4 pixels."""
    levels = np.linspace(0.85, 0.15, 8, dtype=np.float32)
    return np.repeat(np.repeat(levels[None, :, None], 4, axis=0), 4, axis=1).repeat(3, axis=2)


def _textured(rng: np.random.Generator, height: int = 40, width: int = 56) -> np.ndarray:
    smooth = np.linspace(0.1, 0.9, width, dtype=np.float32)[None, :, None] * np.ones((height, 1, 3), np.float32)
    return np.clip(smooth + 0.1 * rng.standard_normal((height, width, 3)).astype(np.float32), 0.0, 1.0)


def test_cyan_and_yellow_dyes_fade_faster_than_magenta() -> None:
    wedge = _grey_wedge()
    faded = fade_dyes(wedge, DyeFade(0.6))
    kept = _density(faded).mean(axis=(0, 1)) / _density(wedge).mean(axis=(0, 1))  # red, green, blue density kept
    cyan_kept, magenta_kept, yellow_kept = kept
    assert cyan_kept < magenta_kept - 0.1
    assert yellow_kept < magenta_kept - 0.1
    assert magenta_kept < 1.0  # magenta fades too, only more slowly
    red, green, blue = faded.mean(axis=(0, 1))
    assert red > green and blue > green  # a neutral grey turns magenta


def test_fading_is_non_linear_in_density_and_lifts_blacks() -> None:
    wedge = _grey_wedge()
    faded = fade_dyes(wedge, DyeFade(0.6))
    kept = _density(faded)[0, :, 0] / _density(wedge)[0, :, 0]  # cyan density kept, light → dark steps
    ratios = kept[::4]  # one sample per step
    assert not np.allclose(ratios, ratios[0], atol=0.02)  # not a uniform scale of density
    black = np.zeros((4, 4, 3), np.float32)
    faded_black = fade_dyes(black, DyeFade(0.6))
    assert faded_black[..., 0].min() > 0.05  # cyan lost its maximum density: blacks turn a milky red-magenta
    assert faded_black[..., 1].max() < faded_black[..., 0].min()  # the surviving magenta still holds green


def test_stronger_fade_moves_further_from_the_original(rng: np.random.Generator) -> None:
    frame = _textured(rng)
    distances = [np.abs(fade_dyes(frame, DyeFade(s)) - frame).mean() for s in (0.2, 0.5, 0.9)]
    assert distances[0] < distances[1] < distances[2]


def test_strength_zero_is_identity(rng: np.random.Generator) -> None:
    frames = [_textured(rng) for _ in range(3)]
    out = list(degrade_shot(frames, Degradation(fade=0.0, generations=0, damage=0.0, seed=5)))
    for clean, degraded in zip(frames, out, strict=True):
        np.testing.assert_allclose(degraded, clean, atol=1e-5)


def test_seeds_reproduce_and_differ(rng: np.random.Generator) -> None:
    frames = [_textured(rng) for _ in range(2)]
    settings = {"fade": 0.5, "generations": 2, "damage": 0.8}
    first = list(degrade_shot(frames, Degradation(seed=3, **settings)))
    again = list(degrade_shot(frames, Degradation(seed=3, **settings)))
    other = list(degrade_shot(frames, Degradation(seed=4, **settings)))
    np.testing.assert_array_equal(first[1], again[1])
    assert np.abs(first[1] - other[1]).mean() > 1e-3
    assert np.abs(first[0] - first[1]).mean() > 1e-3  # grain differs frame to frame


def test_outputs_stay_in_range_even_at_the_extremes() -> None:
    frame = np.zeros((32, 48, 4), np.float32)
    frame[:, ::2, :3] = 1.0
    frame[..., 3] = 0.5
    out = list(degrade_shot([frame, frame], Degradation(fade=1.0, generations=4, damage=1.0, seed=1)))
    for degraded in out:
        assert degraded.shape == frame.shape and degraded.dtype == np.float32
        assert np.isfinite(degraded).all() and degraded.min() >= 0.0 and degraded.max() <= 1.0
        np.testing.assert_array_equal(degraded[..., 3], frame[..., 3])  # alpha passes through


def test_generation_loss_blurs_and_builds_contrast() -> None:
    bars = np.zeros((16, 1920, 3), np.float32)  # blur and grain are sized for a frame 1920 pixels wide
    bars[:, ::8] = 0.9
    bars[:, 1::8] = 0.9
    bars += 0.05
    loss = PrintGeneration(generations=3, stock="35mm", weave=0.0)
    printed = print_generations(bars, loss, seed=0, frame_index=0)
    edge_energy = np.abs(np.diff(bars, axis=1)).mean()
    assert np.abs(np.diff(printed, axis=1)).mean() < 0.8 * edge_energy
    ramp = np.repeat(np.linspace(0.2, 0.8, 96, dtype=np.float32)[None, :, None], 64, 0).repeat(3, 2)
    smooth = print_generations(ramp, PrintGeneration(generations=3, weave=0.0, blur=0.0), seed=0, frame_index=0)
    spread = np.ptp(_density(smooth)[:, 8:-8].mean(axis=(0, 2)))
    assert spread > 1.2 * np.ptp(_density(ramp)[:, 8:-8].mean(axis=(0, 2)))  # contrast build-up (grain averaged)


def test_grain_is_coarser_on_a_coarser_stock() -> None:
    grey = np.full((32, 1920, 3), 0.45, np.float32)

    def correlation(stock: str) -> float:
        loss = PrintGeneration(generations=1, stock=stock, blur=0.0, contrast=1.0, weave=0.0)
        noise = _density(print_generations(grey, loss, seed=2, frame_index=0))[..., 1]
        noise = noise - noise.mean()
        return float((noise[:, 1:] * noise[:, :-1]).mean() / noise.var())

    assert correlation("super8") > correlation("35mm") + 0.1


def test_dust_polarity_and_persistent_scratches() -> None:
    grey = np.full((200, 300, 3), 0.5, np.float32)
    positive = DamagePlan.for_shot(300, 1.0, seed=11, film="positive")
    negative = DamagePlan.for_shot(300, 1.0, seed=11, film="negative")
    # many frames so specks are counted reliably; flicker moves the whole frame, specks are local outliers
    white = black = 0
    for index in range(20):
        for plan, sign in ((positive, 1), (negative, -1)):
            frame = plan.apply(grey, index)
            local = frame - np.median(frame)
            if sign > 0:
                white += int((local > 0.3).sum())
            else:
                black += int((local < -0.3).sum())
                assert int((local > 0.3).sum()) <= int(sum(s.bright for s in plan.scratches)) * 200 * 3 * 3
    assert white > 0 and black > 0
    assert positive.scratches, "amount 1 plans scratches for this seed"
    scratch = positive.scratches[0]
    columns = [int(round(scratch.column + scratch.drift * i)) for i in (0, 1)]
    assert abs(columns[1] - columns[0]) <= 2  # a scratch stays near its column from frame to frame


def test_bad_parameters_name_the_flag() -> None:
    with pytest.raises(ParameterError, match="--fade"):
        DyeFade(1.5)
    with pytest.raises(ParameterError, match="--damage"):
        DamagePlan.for_shot(10, -0.1, seed=0)
    with pytest.raises(ParameterError, match="--generation"):
        PrintGeneration(generations=-1)


def test_photo_shot_pans_slowly() -> None:
    shot = photo_shot("coffee", 3, width=64, height=36, move=CameraMove("pan", 0.1), seed=0)
    assert len(shot) == 3 and shot[0].shape == (36, 64, 3)
    step = np.abs(shot[1] - shot[0]).mean()
    assert 0.0 < step < 0.2
    static = photo_shot("coffee", 2, width=64, height=36, move=CameraMove("static"), seed=0)
    np.testing.assert_array_equal(static[0], static[1])


def test_pairs_folder_follows_the_contract_and_is_never_half_written(tmp_path, monkeypatch, rng) -> None:
    frames = [_textured(rng, 16, 24) for _ in range(2)]
    manifest_path = write_pairs(tmp_path / "pairs", frames, frames, [1001, 1002])
    manifest = json.loads(manifest_path.read_text())
    assert manifest["format_version"] == 1 and [p["scan_frame"] for p in manifest["pairs"]] == [1001, 1002]
    assert all((tmp_path / "pairs" / p["reference"]).is_file() for p in manifest["pairs"])
    assert not list((tmp_path / "pairs").rglob(".*partial*"))

    calls = {"n": 0}
    real_write = pairs_module.write_frame

    def failing_write(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise FrameWriteError("disk full (simulated)")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(pairs_module, "write_frame", failing_write)
    with pytest.raises(FrameWriteError):
        write_pairs(tmp_path / "broken", frames, frames, [1, 2])
    assert not (tmp_path / "broken" / "manifest.json").exists()  # no manifest → never taken for a finished folder


def test_json_write_keeps_the_old_file_when_replace_fails(tmp_path, monkeypatch) -> None:
    target = tmp_path / "result.json"
    target.write_text('{"old": true}\n')

    def refuse(*args, **kwargs):
        raise OSError("read-only file system (simulated)")

    monkeypatch.setattr(atomic_module.os, "replace", refuse)  # where write_json renames (chromaluma.io.atomic)
    with pytest.raises(FrameWriteError, match="result.json"):
        write_json(target, {"new": True})
    assert json.loads(target.read_text()) == {"old": True}
    assert list(tmp_path.iterdir()) == [target]


def test_uneven_fade_varies_smoothly_across_the_frame_and_along_the_shot() -> None:
    from chromaluma.synth.uneven import UnevenFade

    uneven = UnevenFade(1.0, seed=4)
    first, later = uneven.strength_map(0.6, 90, 160, 0), uneven.strength_map(0.6, 90, 160, 6)
    assert first.shape == (90, 160) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    assert first.std() > 0.03  # the strength varies over the frame
    edges = np.concatenate([first[:, :8], first[:, -8:]], axis=1).mean()
    assert edges > first[:, 64:96].mean() + 0.05  # the film's edges faded more than the middle
    assert np.abs(np.diff(first, axis=1)).max() < 0.05  # smooth: low-frequency, no pixel-to-pixel noise
    assert 0.005 < np.abs(later - first).mean() < 0.5 * np.abs(first - first.mean()).mean() + 0.05  # evolves slowly
    np.testing.assert_array_equal(first, UnevenFade(1.0, seed=4).strength_map(0.6, 90, 160, 0))  # seeded
    assert np.abs(first - UnevenFade(1.0, seed=5).strength_map(0.6, 90, 160, 0)).mean() > 0.01


def test_uneven_zero_is_the_uniform_fade(rng: np.random.Generator) -> None:
    frames = [_textured(rng) for _ in range(2)]
    uniform = list(degrade_shot(frames, Degradation(fade=0.6, seed=2)))
    even = list(degrade_shot(frames, Degradation(fade=0.6, seed=2, uneven=0.0)))
    np.testing.assert_array_equal(uniform[1], even[1])
    flat = np.full(frames[0].shape[:2], 0.6, np.float32)
    np.testing.assert_allclose(fade_dyes(frames[0], DyeFade(0.6), flat), uniform[0], atol=1e-6)
    with pytest.raises(ParameterError, match="--uneven"):
        next(degrade_shot(frames, Degradation(uneven=1.5)))


def test_uneven_fading_leaves_a_cast_no_global_map_can_remove() -> None:
    grey = np.full((60, 120, 3), 0.55, np.float32)
    even = next(degrade_shot([grey], Degradation(fade=0.6, seed=8)))
    uneven = next(degrade_shot([grey], Degradation(fade=0.6, seed=8, uneven=1.0)))
    assert np.ptp(even[..., 1]) < 1e-6  # a uniform fade of a flat grey stays flat
    # the same grey in, different colours out: a global colour mapping cannot undo both places at once
    assert np.abs(uneven[:, :6].mean(axis=(0, 1)) - uneven[:, 57:63].mean(axis=(0, 1))).max() > 0.01
