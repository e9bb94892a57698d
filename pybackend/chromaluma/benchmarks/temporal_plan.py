"""The temporal benchmark's plan (:mod:`chromaluma.benchmarks.temporal`): sizes, budgets and the panning shot's
degradation, shared by the benchmark and its report (:mod:`~chromaluma.benchmarks.temporal_report`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chromaluma.benchmarks.quality_plan import QualityPlan
from chromaluma.synth.degrade import Degradation
from chromaluma.synth.flicker import ExposureFlicker

LOCKED_OFF, PANNING = "locked-off", "panning"
PAN_DEGRADATION = Degradation(fade=0.6, generations=1, damage=0.2, seed=400, uneven=1.0)
PAN_FLICKER = ExposureFlicker(density=0.06, colour=0.015, seed=401)


@dataclass(frozen=True)
class TemporalPlan:
    """Sizes and budgets of one run (`full` for BENCHMARKS.md, `quick` for a smoke test)."""

    width: int
    height: int
    frames: int
    held_out: int
    keyframes: int
    chroma_minutes: float
    keyframe_minutes: float
    luma_minutes: float
    cost_size: tuple[int, int]
    cost_frames: int
    luma: QualityPlan
    plugin: bool = True

    @classmethod
    def full(cls) -> TemporalPlan:
        """About 34 CPU minutes of training: 4 chroma models × 5 min, 2 keyframe models × 2 min, 2 luma × 5 min
        (each run adds about half a minute of loading, validation and export)."""
        luma = QualityPlan(640, 360, 10, 3, (("astronaut", "pan"), ("coffee", "zoom"), ("rocket", "pan")), (), 0.0, 0)
        return cls(640, 360, 48, 8, 4, 5.0, 2.0, 5.0, (2048, 1080), 5, luma)

    @classmethod
    def quick(cls) -> TemporalPlan:
        luma = QualityPlan(96, 64, 4, 1, (("coffee", "pan"),), (), 0.0, 0)
        return cls(96, 64, 6, 2, 2, 0.05, 0.05, 0.05, (128, 96), 1, luma, plugin=False)

    def keyframe_indices(self) -> list[int]:
        """`keyframes` frames spread evenly over the training frames (never a held-out frame)."""
        last = self.frames - self.held_out - 1
        return sorted({round(i) for i in np.linspace(0, last, self.keyframes)})

    def shots_note(self) -> str:
        return (f"Shots: {LOCKED_OFF} (astronaut, the quality area's static shot: fade 0.6 uneven, damage 0.6 with "
                f"its exposure flicker) and {PANNING} (chelsea, a slow pan of a tenth of the frame over the shot; "
                f"fade 0.6 uneven, one print generation, damage 0.2, then exposure flicker σ {PAN_FLICKER.density} "
                f"density and σ {PAN_FLICKER.colour} per dye); {self.frames} frames each at "
                f"{self.width}×{self.height}, the last {self.held_out} held out; a registered PAL DVD reference; "
                "each shot density graded by a curve fitted on its training pairs. Baselines fitted per shot on "
                "its training pairs.")
