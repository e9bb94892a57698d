"""Training samples for the repair kind: crops of the film's own frames with synthetic damage added.

Per sample: a window of scan frames t−R … t+R cut at one place (flipped alike), a shot of damage planned for the
crop (:class:`chromaluma.synth.damage.ShotDamage`, scratches persisting across the window, one-frame defects drawn
per frame) drawn onto every frame, the damaged neighbours moved onto the damaged centre as the backend moves them
(:func:`moved_window`), the undamaged centre (or the --target print's crop) as the target, and the centre's damage
opacity as the matte's truth. Damage already in the scan is no example of clean picture: where the
spike test (:mod:`chromaluma.damage_baselines`) finds dust in the undamaged window, the sample's `ignore` is 1 and
no loss is taken; on the centre frame's own long thin vertical lines (a scratch, or picture) it is LINE_UNLABELLED
and only the matte's loss is left out (:func:`real_damage`).

Densities are raised so a small crop holds several defects (the model learns from what it sees, and a crop of a
real frame holds less than one on average); the shapes, sizes and polarity are the film's own statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from chromaluma.align.neighbours import compensated_neighbours
from chromaluma.damage_baselines import (
    LINE_THRESHOLD,
    SPIKE_THRESHOLD,
    compensate,
    grown_matte,
    line_contrast,
    spike_index,
)
from chromaluma.synth.damage import DamageStatistics, ShotDamage
from chromaluma.train.pairs import Pair

# One-frame defects per crop wanted on average, and long/short scratches per crop window.
DEFECTS_PER_CROP = 8.0
SCRATCHES_PER_CROP = 0.6
LINE_UNLABELLED = 0.5  # `ignore` where only the matte's loss is left out (see real_damage)


@dataclass(frozen=True)
class RepairBatch:
    """Damaged windows [B, T, s, s, 4], clean targets [B, s, s, 3], synthetic damage opacity of the centre [B, s, s],
    ignore [B, s, s] (1 where the scan itself is damaged: no loss there; LINE_UNLABELLED where only the matte's
    loss is left out; see real_damage)."""

    window: torch.Tensor
    clean: torch.Tensor
    damage: torch.Tensor
    ignore: torch.Tensor


def training_statistics(statistics: DamageStatistics, crop: int) -> DamageStatistics:
    """`statistics` with densities raised so a crop of `crop`² pixels holds DEFECTS_PER_CROP one-frame defects and
    SCRATCHES_PER_CROP scratches on average (never lowered)."""
    megapixels = crop * crop / 1e6
    per_crop = (statistics.specks + statistics.hairs + statistics.sparkle + statistics.blotches) * megapixels
    amount = max(1.0, DEFECTS_PER_CROP / max(per_crop, 1e-6))
    return replace(statistics.scaled(amount), scratches_per_shot=SCRATCHES_PER_CROP)


def sample_repair_batch(pairs: list[Pair], size: int, batch: int, radius: int, statistics: DamageStatistics,
                        rng: np.random.Generator, found: dict[int, np.ndarray]) -> RepairBatch:
    """`batch` samples (see the module docstring), drawn from `rng` only. `found` caches each pair's real damage
    (:func:`real_damage` on the whole frame: motion is measured on the whole picture, not on a crop)."""
    windows, cleans, damages, ignores = [], [], [], []
    for _ in range(batch):
        index = int(rng.integers(len(pairs)))
        if index not in found:
            found[index] = real_damage(pairs[index].window(), radius)
        window, clean, ignore = _crop_window(pairs[index], found[index], size, rng)
        plan = ShotDamage.plan(size, size, len(window), statistics, int(rng.integers(1 << 31)))
        damaged = [plan.apply(frame, index) for index, frame in enumerate(window)]
        windows.append(moved_window([d.frame for d in damaged], radius))
        cleans.append(clean)
        damages.append(damaged[radius].opacity)
        ignores.append(ignore)
    return RepairBatch(*(torch.from_numpy(np.ascontiguousarray(np.stack(parts)))
                         for parts in (windows, cleans, damages, ignores)))


def moved_window(frames: list[np.ndarray], radius: int) -> np.ndarray:
    """The window [T, s, s, 4] as the model reads it: the neighbours of frames[radius] moved onto it, alpha their
    evidence (:func:`chromaluma.align.neighbours.compensated_neighbours`, as the backend moves them)."""
    moved = compensated_neighbours(frames[radius], np.stack(frames[:radius] + frames[radius + 1:]))
    return np.concatenate([moved[:radius], frames[radius][None], moved[radius:]]).astype(np.float32)


def real_damage(window: list[np.ndarray], radius: int) -> np.ndarray:
    """What of the (undamaged) centre frame the loss must not take as clean picture, grown by 2 px: float32, 1 where
    the spike test finds the scan's own dust (no loss at all), LINE_UNLABELLED on the frame's own long thin vertical
    lines (a scratch the scan already has, or picture that the model's line test tells from one by its
    neighbours): there the matte learns nothing, and the fill still learns, else 0."""
    compensated = compensate([frame[..., :3] for frame in window], radius)
    box = np.ones((5, 5), np.uint8)
    dust = cv2.dilate(grown_matte(spike_index(compensated), SPIKE_THRESHOLD).astype(np.float32), box)
    lines = cv2.dilate((np.maximum(*line_contrast(compensated.luma)) > LINE_THRESHOLD).astype(np.float32), box)
    return np.maximum(dust, LINE_UNLABELLED * lines)


def _crop_window(pair: Pair, found: np.ndarray, size: int, rng: np.random.Generator
                 ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """A window of scan crops (RGBA, contiguous), the target's crop (RGB) and the real damage's, cut and flipped
    alike."""
    height, width = pair.scan.shape[:2]
    top, left = int(rng.integers(height - size + 1)), int(rng.integers(width - size + 1))
    flip_x, flip_y = bool(rng.integers(2)), bool(rng.integers(2))
    cut = (slice(top, top + size), slice(left, left + size))
    frames = [frame[cut] for frame in pair.window()] + [pair.reference[cut], found[cut]]
    if flip_x:
        frames = [frame[:, ::-1] for frame in frames]
    if flip_y:
        frames = [frame[::-1] for frame in frames]
    frames = [np.ascontiguousarray(frame, dtype=np.float32) for frame in frames]
    return frames[:-2], frames[-2], frames[-1]
