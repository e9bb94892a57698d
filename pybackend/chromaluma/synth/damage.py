"""Physical damage on a film: dust, vertical scratches and exposure flicker.

The physics imitated:

- **Dust and dirt.** A particle on the film blocks light. On the film being scanned it shows dark; on the
  negative a print was struck from it blocked the printing light, so on the *print* it shows white. Hence a
  positive (print) shows mostly white specks with some black ones (dirt on the print itself), and a negative
  scan shows black specks. Specks last one frame and are soft-edged blobs of 1–6 pixels.
- **Vertical scratches.** Running the film through a projector or printer with grit in the gate cuts a line
  along the film: in a shot it stays at nearly the same column, wandering slowly, and flickers in strength.
  An emulsion scratch on a print removes dye (a bright line), a base scratch scatters light (a dark line).
- **Flicker.** Uneven exposure from frame to frame (printer lamp, uneven development, fading at the edges of
  splices): each frame's density moves by a small random amount.

`amount` (0–1) scales all three; 0 returns the frame unchanged. A shot's scratches are planned once from the
seed (:meth:`DamagePlan.for_shot`) and drawn per frame, so frames can be rendered in any order.

Damage with ground truth (for training and benchmarking damage repair) is :class:`ShotDamage`: it draws specks
and dirt of both polarities, hairs, sparkle, short and long vertical scratches and blotches from a
:class:`DamageStatistics` (densities per megapixel, sizes, polarity, edge softness; fitted from crops of a real
scan with :meth:`DamageStatistics.from_samples`) and returns each damaged frame with its exact opacity matte and
per-pixel class (:data:`DAMAGE_CLASSES`). A defect replaces the picture with its own colour in proportion to its
opacity, as dust blocking light does; where the opacity is 0 the frame is the input, bit for bit.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields, replace
from numbers import Real
from pathlib import Path

import cv2
import numpy as np

from chromaluma.errors import ParameterError
from chromaluma.synth.damage_samples import DamageSampleError, SampleSurvey, survey_samples
from chromaluma.synth.damage_shapes import DamageLayer, blobs, hair, scratch_band, smooth_profile
from chromaluma.synth.density import shift_density

log = logging.getLogger(__name__)

__all__ = ["DAMAGE_CLASSES", "DamagePlan", "DamageSampleError", "DamageStatistics", "DamagedFrame", "Scratch",
           "ScratchTrack", "ShotDamage"]

SPECKS_PER_MEGAPIXEL = 30.0
FLICKER_DENSITY = 0.05  # standard deviation of a frame's density change at amount 1


@dataclass(frozen=True)
class Scratch:
    """One vertical scratch: start column, drift per frame (pixels), width, bright (emulsion) or dark (base)."""

    column: float
    drift: float
    width: float
    bright: bool


@dataclass(frozen=True)
class DamagePlan:
    """What damage a shot carries: the amount, the film's polarity, its scratches, and the seed for per-frame draws."""

    amount: float
    film: str
    scratches: tuple[Scratch, ...]
    seed: int

    @classmethod
    def for_shot(cls, width: int, amount: float, seed: int, film: str = "positive") -> DamagePlan:
        if not 0.0 <= amount <= 1.0:
            raise ParameterError(f"--damage {amount}: damage amount must lie in 0–1 (0 = clean, 1 = heavily worn).")
        if film not in ("positive", "negative"):
            raise ParameterError(f"film {film!r}: choose 'positive' (a print) or 'negative'.")
        rng = np.random.default_rng([seed, 0xDA3])
        count = int(rng.binomial(4, amount)) if amount > 0 else 0
        scratches = tuple(Scratch(column=float(rng.uniform(0.05, 0.95) * width), drift=float(rng.normal(0, 0.3)),
                                  width=float(rng.uniform(0.8, 2.0)), bright=bool(rng.random() < 0.6))
                          for _ in range(count))
        return cls(amount, film, scratches, seed)

    def apply(self, rgb: np.ndarray, frame_index: int) -> np.ndarray:
        """Frame `frame_index` of the shot with this plan's damage (display-referred HWC, 0–1)."""
        if self.amount == 0.0:
            return rgb.astype(np.float32, copy=True)
        rng = np.random.default_rng([self.seed, frame_index, 0xD57])
        flicker = float(rng.normal(0.0, FLICKER_DENSITY * self.amount))
        out = shift_density(rgb, np.full(3, flicker, dtype=np.float32))
        height, width = out.shape[:2]
        value, weight = self._speck_layer(height, width, rng)
        self._scratch_layer(value, weight, frame_index, rng)
        out[..., :3] = out[..., :3] * (1.0 - weight[..., None]) + value[..., None] * weight[..., None]
        return np.clip(out, 0.0, 1.0) if out.shape[-1] == 3 else _clip_colour(out)

    def _speck_layer(self, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel speck value (0 black, 1 white) and opacity for one frame's dust."""
        value = np.zeros((height, width), dtype=np.float32)
        weight = np.zeros((height, width), dtype=np.float32)
        count = int(rng.poisson(SPECKS_PER_MEGAPIXEL * self.amount * height * width / 1e6))
        white_share = 0.8 if self.film == "positive" else 0.0
        for _ in range(count):
            centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            axes = (int(rng.integers(1, 6)), int(rng.integers(1, 4)))
            shade = 1.0 if rng.random() < white_share else 0.0
            cv2.ellipse(value, centre, axes, float(rng.uniform(0, 180)), 0, 360, shade, -1)
            cv2.ellipse(weight, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        if count:
            weight = cv2.GaussianBlur(weight, (0, 0), 0.7)
        return value, weight

    def _scratch_layer(self, value: np.ndarray, weight: np.ndarray, frame_index: int,
                       rng: np.random.Generator) -> None:
        """Draw this frame's part of each scratch into the speck layer (in place)."""
        columns = np.arange(value.shape[1], dtype=np.float32)
        for scratch in self.scratches:
            if rng.random() < 0.15:  # the scratch fades out for a frame now and then
                continue
            centre = scratch.column + scratch.drift * frame_index + float(rng.normal(0, 0.3))
            profile = np.exp(-0.5 * ((columns - centre) / (0.5 * scratch.width)) ** 2).astype(np.float32)
            strength = np.broadcast_to(self.amount * float(rng.uniform(0.4, 0.8)) * profile, weight.shape)
            take = strength > weight
            value[take] = 1.0 if scratch.bright else 0.0
            weight[take] = strength[take]


def _clip_colour(rgba: np.ndarray) -> np.ndarray:
    rgba[..., :3] = np.clip(rgba[..., :3], 0.0, 1.0)
    return rgba


# --- Damage with ground truth (specks, hairs, sparkle, scratches, blotches) ----------------------------------------

DAMAGE_CLASSES = ("speck", "hair", "sparkle", "scratch", "blotch")  # class ids 1..5; 0 = undamaged
SPECK, HAIR, SPARKLE, SCRATCH, BLOTCH = range(1, 6)
FILMS = ("positive", "negative")
_DENSITIES = ("specks", "hairs", "sparkle", "scratches_per_shot", "blotches")
_RANGES = ("speck_radius", "hair_length", "blotch_radius")
_SHARES = ("white_share", "long_scratch_share")


@dataclass(frozen=True)
class DamageStatistics:
    """How much damage a film carries and what it looks like. Densities are per frame per megapixel, except
    `scratches_per_shot`; radii and lengths in pixels; `edge_softness` is the Gaussian sigma of edges (px).

    `white_share` is the share of specks that are white: on a print, dust on the negative it was printed from
    blocked the printing light (white); dirt on the print itself is dark. A negative scan shows mostly dark dust.
    Long scratches (`long_scratch_share` of them) last the whole shot; short ones a few to tens of frames.
    """

    specks: float
    speck_radius: tuple[float, float]
    white_share: float
    hairs: float
    hair_length: tuple[float, float]
    sparkle: float
    scratches_per_shot: float
    long_scratch_share: float
    blotches: float
    blotch_radius: tuple[float, float]
    edge_softness: float

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            pair = field.name in _RANGES
            values = tuple(value) if pair and isinstance(value, (tuple, list)) else (value,)
            if (pair and len(values) != 2) or not all(_finite_number(v) for v in values):
                raise ParameterError(f"damage statistics {field.name}={value!r}: must be "
                                     f"{'a pair (low, high) of finite numbers' if pair else 'a finite number'}.")
            # plain floats whatever numeric type came in (numpy scalars from fitting), so statistics compare and print
            object.__setattr__(self, field.name, tuple(float(v) for v in values) if pair else float(value))
        for name in (*_DENSITIES, "edge_softness"):
            if getattr(self, name) < 0:
                raise ParameterError(f"damage statistics {name}={getattr(self, name)}: must be 0 or more.")
        for name in _SHARES:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ParameterError(f"damage statistics {name}={getattr(self, name)}: a share, must lie in 0–1.")
        for name in _RANGES:
            low_high = getattr(self, name)
            if not 0 < low_high[0] <= low_high[1]:
                raise ParameterError(f"damage statistics {name}={low_high}: give (low, high) with 0 < low <= high.")

    @classmethod
    def default(cls, film: str = "positive") -> DamageStatistics:
        """Typical wear of a projected print (`positive`, mostly white dust) or of a camera/duplicate negative
        (`negative`, mostly dark dust, little sparkle)."""
        _check_film(film)
        positive = film == "positive"
        return cls(specks=80.0, speck_radius=(0.5, 4.0), white_share=0.8 if positive else 0.1,
                   hairs=4.0, hair_length=(10.0, 80.0), sparkle=25.0 if positive else 5.0,
                   scratches_per_shot=1.5, long_scratch_share=0.4, blotches=3.0, blotch_radius=(4.0, 15.0),
                   edge_softness=0.7)

    @classmethod
    def from_samples(cls, folder: Path, film: str = "positive") -> DamageStatistics:
        """Statistics fitted from crops the restorer cut out of the scan, one defect each (`--damage-samples`).

        Sizes, polarity (`white_share`), the share of hairs and blotches and the edge softness come from the
        crops; densities from `damage_samples.json` (`{"frames_inspected": N, "frame_size": [W, H]}`) when the
        folder has one, else the defaults' total density shared out as the crops are. Raises
        :class:`DamageSampleError` (one line naming the file and the fix) for a bad folder or crop.
        """
        fitted = _fitted(cls.default(film), survey := survey_samples(Path(folder)))
        log.info("damage statistics fitted from %d crop(s) in %s: %s", len(survey.defects), folder, fitted)
        return fitted

    def scaled(self, amount: float) -> DamageStatistics:
        """The same damage with every density (specks, hairs, sparkle, scratches, blotches) × `amount`."""
        if not _finite_number(amount) or amount < 0:
            raise ParameterError(f"damage amount {amount!r}: must be a finite number 0 or more (1 = as given).")
        return replace(self, **{name: getattr(self, name) * float(amount) for name in _DENSITIES})


def _finite_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)


def _check_film(film: str) -> None:
    if film not in FILMS:
        raise ParameterError(f"film {film!r}: choose 'positive' (a print) or 'negative'.")


def _spread(values: list[float], floor: float) -> tuple[float, float]:
    """A (low, high) size range covering the measured sizes (10th–90th percentile, widened by 15 %)."""
    low = max(floor, float(np.percentile(values, 10)) * 0.85)
    return low, max(low, float(np.percentile(values, 90)) * 1.15)


def _fitted(base: DamageStatistics, survey: SampleSurvey) -> DamageStatistics:
    specks = [d for d in survey.defects if d.kind == "speck"]
    hairs = [d for d in survey.defects if d.kind == "hair"]
    blotches = [d for d in survey.defects if d.kind == "blotch"]
    changes: dict[str, object] = {}
    if specks:
        changes["speck_radius"] = _spread([d.radius for d in specks], 0.5)
        changes["white_share"] = float(np.mean([d.white for d in specks]))
    if hairs:
        changes["hair_length"] = _spread([d.length for d in hairs], 4.0)
    if blotches:
        changes["blotch_radius"] = _spread([d.radius for d in blotches], 2.0)
    softness = [d.softness for d in survey.defects if d.kind in ("speck", "hair", "blotch")]
    if softness:
        changes["edge_softness"] = float(np.median(softness))
    counted = len(specks) + len(hairs) + len(blotches)
    if survey.megapixels_inspected is not None:
        per_megapixel = 1.0 / survey.megapixels_inspected
        changes.update(specks=len(specks) * per_megapixel, hairs=len(hairs) * per_megapixel,
                       blotches=len(blotches) * per_megapixel)
    elif counted:
        total = base.specks + base.hairs + base.blotches
        changes.update(specks=total * len(specks) / counted, hairs=total * len(hairs) / counted,
                       blotches=total * len(blotches) / counted)
    return replace(base, **changes)


@dataclass(frozen=True)
class DamagedFrame:
    """A damaged frame with its ground truth.

    `frame`: float32 HWC (channels as given, 0–1, alpha untouched); `opacity`: float32 HW 0–1, how much of each
    pixel is damage (exactly 0 where the frame is the input bit for bit); `classes`: uint8 HW, the
    :data:`DAMAGE_CLASSES` id (1-based) of the strongest defect at the pixel, 0 where opacity is 0.
    """

    frame: np.ndarray
    opacity: np.ndarray
    classes: np.ndarray


@dataclass(frozen=True)
class ScratchTrack:
    """One vertical scratch through frames `first`..`last`: its column wanders slowly (drift plus a slow sway),
    its strength flickers from frame to frame and along its length. `bright`: an emulsion scratch (dye
    removed); dark: a base scratch (light scattered)."""

    first: int
    last: int
    column: float
    drift: float
    sway: float
    sway_period: float
    phase: float
    width: float
    tilt: float
    strength: float
    shade: float
    bright: bool
    key: int

    def centre(self, index: int) -> float:
        """The scratch's column at frame `index` before the per-frame jitter."""
        return (self.column + self.drift * (index - self.first)
                + self.sway * math.sin(2.0 * math.pi * index / self.sway_period + self.phase))


@dataclass(frozen=True)
class ShotDamage:
    """The damage of one shot: scratch tracks planned once from the seed, one-frame defects drawn per frame from
    (seed, index), so any frame can be damaged alone and in any order with the same result."""

    width: int
    height: int
    frames: int
    statistics: DamageStatistics
    seed: int
    scratches: tuple[ScratchTrack, ...]

    @classmethod
    def plan(cls, width: int, height: int, frames: int, statistics: DamageStatistics, seed: int) -> ShotDamage:
        for name, value in (("width", width), ("height", height), ("frames", frames)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ParameterError(f"shot damage {name}={value!r}: must be a whole number 1 or more.")
        if not isinstance(statistics, DamageStatistics):
            raise ParameterError(f"shot damage statistics: expected DamageStatistics, got {type(statistics).__name__}.")
        rng = np.random.default_rng([int(seed), 0x5C7A])
        count = int(rng.poisson(statistics.scratches_per_shot))
        scratches = tuple(_plan_scratch(rng, int(width), int(frames), statistics.long_scratch_share, key)
                          for key in range(count))
        return cls(int(width), int(height), int(frames), statistics, int(seed), scratches)

    def apply(self, frame: np.ndarray, index: int) -> DamagedFrame:
        """Frame `index` of the shot with its damage (float32 HWC 0–1, 1, 3 or 4 channels, alpha untouched)."""
        pixels = self._checked(frame, index)
        layer = DamageLayer(self.height, self.width)
        megapixels = self.width * self.height / 1e6
        stats = self.statistics
        # each class draws from its own stream: changing one density leaves the other defects where they were
        _draw_blotches(layer, stats, self._stream(index, BLOTCH), megapixels)
        _draw_specks(layer, stats, self._stream(index, SPECK), megapixels)
        _draw_sparkle(layer, stats, self._stream(index, SPARKLE), megapixels)
        _draw_hairs(layer, stats, self._stream(index, HAIR), megapixels)
        for track in self.scratches:
            _draw_scratch(layer, track, index, stats.edge_softness,
                          np.random.default_rng([self.seed, index, SCRATCH, track.key]))
        return DamagedFrame(layer.composite(pixels), layer.opacity, layer.classes)

    def _stream(self, index: int, class_id: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, index, class_id])

    def _checked(self, frame: np.ndarray, index: int) -> np.ndarray:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.frames:
            raise ParameterError(f"frame index {index!r}: this shot's damage was planned for frames 0–"
                                 f"{self.frames - 1}; give an index in that range or plan the shot with more frames.")
        pixels = np.asarray(frame)
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4) or pixels.shape[:2] != (self.height, self.width):
            raise ParameterError(f"frame of shape {pixels.shape}: this shot's damage was planned for "
                                 f"{self.width}×{self.height} HWC frames with 1–4 channels; plan it for this size.")
        return pixels.astype(np.float32, copy=False)


def _plan_scratch(rng: np.random.Generator, width: int, frames: int, long_share: float, key: int) -> ScratchTrack:
    long = bool(rng.random() < long_share)
    first = 0 if long else int(rng.integers(0, frames))
    last = frames - 1 if long else min(first + int(rng.integers(3, 31)) - 1, frames - 1)
    bright = bool(rng.random() < 0.6)
    return ScratchTrack(first=first, last=last, column=float(rng.uniform(0.03, 0.97) * width),
                        drift=float(np.clip(rng.normal(0.0, 0.12), -0.3, 0.3)), sway=float(rng.uniform(0.0, 1.5)),
                        sway_period=float(rng.uniform(30.0, 90.0)), phase=float(rng.uniform(0.0, 2.0 * math.pi)),
                        width=float(rng.uniform(1.0, 3.0)), tilt=float(rng.normal(0.0, 0.0015)),
                        strength=float(rng.uniform(0.2, 0.7)),
                        shade=float(rng.uniform(0.85, 1.0) if bright else rng.uniform(0.0, 0.15)), bright=bright,
                        key=key)


def _count(rng: np.random.Generator, density: float, megapixels: float) -> int:
    return int(rng.poisson(density * megapixels)) if density > 0 else 0


def _place(layer: DamageLayer, rng: np.random.Generator, count: int, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners of `count` patches whose centres fall uniformly on the frame."""
    return rng.integers(0, layer.height, count) - half, rng.integers(0, layer.width, count) - half


def _grey(shade: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(shade, np.float32)[:, None], 3, axis=1)


def _draw_specks(layer: DamageLayer, stats: DamageStatistics, rng: np.random.Generator, megapixels: float) -> None:
    count = _count(rng, stats.specks, megapixels)
    if not count:
        return
    low, high = stats.speck_radius
    radius = np.exp(rng.uniform(np.log(low), np.log(high), count))  # many small specks, few large
    white = rng.random(count) < stats.white_share
    shade = np.where(white, rng.uniform(0.82, 1.0, count), rng.uniform(0.0, 0.12, count))
    peak = rng.uniform(0.6, 1.0, count) * np.minimum(1.0, 0.55 + 0.45 * radius)  # sub-pixel dust covers part of it
    covers, half = blobs(radius, stats.edge_softness * rng.uniform(0.6, 1.4, count), peak, rng)
    layer.paint_many(*_place(layer, rng, count, half), covers, _grey(shade), SPECK)


def _draw_sparkle(layer: DamageLayer, stats: DamageStatistics, rng: np.random.Generator, megapixels: float) -> None:
    count = _count(rng, stats.sparkle, megapixels)
    if not count:
        return
    covers, half = blobs(rng.uniform(0.35, 0.8, count), min(stats.edge_softness, 0.5) * rng.uniform(0.5, 1.0, count),
                         rng.uniform(0.6, 1.0, count), rng, roughness=0.1)
    layer.paint_many(*_place(layer, rng, count, half), covers, np.ones((count, 3), np.float32), SPARKLE)


def _draw_blotches(layer: DamageLayer, stats: DamageStatistics, rng: np.random.Generator, megapixels: float) -> None:
    count = _count(rng, stats.blotches, megapixels)
    if not count:
        return
    radius = rng.uniform(*stats.blotch_radius, count)
    softness = np.maximum(2.0 * stats.edge_softness, radius * rng.uniform(0.2, 0.45, count))
    covers, half = blobs(radius, softness, rng.uniform(0.12, 0.35, count), rng, roughness=0.35)
    # a stain is a density change with a tint: brownish dark (dirt, water marks) or bleached light
    dark = rng.random(count) < 0.6
    colours = np.where(dark[:, None], np.array([1.0, 0.85, 0.65]) * rng.uniform(0.1, 0.3, (count, 1)),
                       np.array([0.92, 0.9, 0.82]))
    layer.paint_many(*_place(layer, rng, count, half), covers, colours, BLOTCH)


def _draw_hairs(layer: DamageLayer, stats: DamageStatistics, rng: np.random.Generator, megapixels: float) -> None:
    for _ in range(_count(rng, stats.hairs, megapixels)):
        cover, top, left = hair(rng.uniform(*stats.hair_length), rng.uniform(0.5, 1.3),
                                stats.edge_softness * rng.uniform(0.5, 1.0), rng.uniform(0.6, 0.95), rng)
        shade = rng.uniform(0.02, 0.15)
        row, col = int(rng.integers(0, layer.height)), int(rng.integers(0, layer.width))
        layer.paint(row + top, col + left, cover, (shade, shade, shade), HAIR)


def _draw_scratch(layer: DamageLayer, track: ScratchTrack, index: int, softness: float,
                  rng: np.random.Generator) -> None:
    if not track.first <= index <= track.last or rng.random() < 0.08:  # now and then a scratch skips a frame
        return
    flicker = track.strength * rng.uniform(0.65, 1.0)  # the pressure on the film changes from frame to frame
    strength = smooth_profile(layer.height, rng, 0.3, 1.0, knots=10) * np.float32(flicker)
    centre = track.centre(index) + float(rng.normal(0.0, 0.15))
    cover, left = scratch_band(layer.height, centre, track.width, softness, track.tilt, strength)
    layer.paint(0, left, cover, (track.shade, track.shade, track.shade), SCRATCH)
