"""The repair benchmark's plan, shots and scores (:mod:`chromaluma.benchmarks.repair`): the value types the
benchmark, its training (:mod:`~chromaluma.benchmarks.repair_training`) and its report
(:mod:`~chromaluma.benchmarks.repair_report`) share. Nothing here needs the damage synthesis or the baselines."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chromaluma.benchmarks.repair_metrics import DetectionCounts, RegionScores

# (label, photograph, camera move)
ShotSpec = tuple[str, str, str]
# The damage mixes of the held-out shots: which classes of chromaluma.synth.damage each one draws.
MIXES: dict[str, tuple[str, ...]] = {
    "specks": ("speck", "sparkle"),
    "hairs": ("hair", "speck"),
    "scratches": ("scratch",),
    "mixed": ("speck", "hair", "sparkle", "scratch", "blotch"),
}
HEAVY_MIX = "mixed"  # drawn at HEAVY_AMOUNT × the default densities
HEAVY_AMOUNT = 2.0
SENSITIVITY = 0.5


@dataclass(frozen=True)
class RepairPlan:
    """Sizes and budgets of one run (`full` for BENCHMARKS.md, `quick` for a smoke test)."""

    width: int
    height: int
    frames: int  # per shot
    shots: tuple[ShotSpec, ...]  # held out: none of their photographs is in the training shot
    training_shot: ShotSpec
    training_damage: float  # the training scan carries the default damage × this (a scan is never clean)
    density_boost: float  # per-megapixel densities × this (tiny quick frames would otherwise hold no defect)
    minutes: tuple[float, ...]  # one repair model per CPU-minute budget
    cost_size: tuple[int, int]
    cost_frames: int
    quick_steps: int | None = None  # quick runs train this many steps instead of the minutes

    @classmethod
    def full(cls) -> RepairPlan:
        """About 35 minutes on 2 cores: repair models of 5 and 15 CPU minutes (each run adds its export), the
        baselines and models over 4 mixes × 3 shots × 24 frames at 640×360 (defects keep their sizes in pixels),
        then the 2K timings."""
        shots = (("pan", "chelsea", "pan"), ("zoom", "coffee", "zoom"), ("static", "astronaut", "static"))
        return cls(640, 360, 24, shots, ("training", "rocket", "pan"), 0.5, 1.0, (5.0, 15.0), (2048, 1080), 3)

    @classmethod
    def quick(cls) -> RepairPlan:
        """Tiny frames and shots; the rows are named by the budgets of `full` but a quick run trains 2 steps."""
        shots = (("pan", "chelsea", "pan"), ("static", "astronaut", "static"))
        return cls(96, 64, 5, shots, ("training", "rocket", "pan"), 0.5, 40.0, (5.0, 15.0), (160, 96), 1,
                   quick_steps=2)

    def shots_note(self) -> str:
        held = ", ".join(f"{label} ({photo})" for label, photo, _ in self.shots)
        label, photo, move = self.training_shot
        return (f"Held-out shots: {held}; {self.frames} frames each at {self.width}×{self.height}, clean footage from "
                "scikit-image's public-domain photographs (synth.shots.photo_shot). Training shot: a "
                f"{move} over {photo} (no held-out photograph), carrying the default damage × "
                f"{self.training_damage:g} as a real scan would. Damage mixes (chromaluma.synth.damage, fixed "
                "seeds): " + "; ".join(f"{mix}: {' + '.join(classes)}" for mix, classes in MIXES.items())
                + f" ({HEAVY_MIX} at {HEAVY_AMOUNT:g}× the default densities)"
                + (f"; per-megapixel densities × {self.density_boost:g} for the tiny frames" if self.density_boost
                   != 1.0 else "") + ".")


@dataclass
class RepairShot:
    """One held-out shot under one damage mix: clean frames, damaged frames, and the damage's ground truth."""

    label: str
    mix: str
    clean: list[np.ndarray]
    damaged: list[np.ndarray]
    opacity: list[np.ndarray]
    classes: list[np.ndarray]


@dataclass
class MixScore:
    """One method on one damage mix, pooled over its shots and frames."""

    detection: DetectionCounts = field(default_factory=DetectionCounts)
    regions: RegionScores = field(default_factory=RegionScores)
    frames: int = 0


@dataclass
class MethodScore:
    """One method on every mix, its 2K render time, and a note (every time-limited model's steps)."""

    method: str
    mixes: dict[str, MixScore] = field(default_factory=dict)
    ms_2k: float | None = None
    note: str = ""
    time_note: str = ""  # how the render time was measured, or why not
    detects: bool = True  # False for the damaged input: it has no matte

    @property
    def measured(self) -> bool:
        return any(score.frames for score in self.mixes.values())

    def mix(self, name: str) -> MixScore:
        return self.mixes.setdefault(name, MixScore())

    def summary(self, class_names: dict[int, str]) -> dict[str, object]:
        """The raw numbers (results.json): per mix, precision and recall overall and per class, PSNR, SSIM,
        bit-exact share; the 2K time and the note."""
        mixes: dict[str, object] = {}
        for name, score in self.mixes.items():
            counts = score.detection
            mixes[name] = {
                "frames": score.frames, "precision": counts.precision(), "recall": counts.recall(),
                "per_class": {class_names.get(c, str(c)): {"precision": counts.precision(c),
                                                           "recall": counts.recall(c), "defects": counts.defects[c]}
                              for c in counts.classes()},
                "false_detections": counts.false, "psnr_damaged": score.regions.psnr,
                "ssim_damaged": score.regions.ssim, "undamaged_exact": score.regions.exact_share}
        return {"method": self.method, "note": self.note, "ms_2k": self.ms_2k, "time_note": self.time_note,
                "mixes": mixes}


INPUT_ROW = "damaged input (no repair)"
SPIKE_ROW = "SDI/ROD + motion-compensated median (baseline)"
INPAINT_ROW = "threshold + spatial inpainting (baseline)"
BASELINE_ROWS = (SPIKE_ROW, INPAINT_ROW)


def repair_row(minutes: float) -> str:
    return f"Chromaluma repair after {minutes:g} CPU min"
