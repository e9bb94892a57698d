"""The keyframe benchmark's plan, shots and scores (:mod:`chromaluma.benchmarks.keyframes`): the value types the
benchmark, its training (:mod:`~chromaluma.benchmarks.keyframes_training`) and its report
(:mod:`~chromaluma.benchmarks.keyframes_report`) share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chromaluma.keyframes.selection import nearest_pair

LOCKED_OFF = "locked-off"
# (label, photograph, camera move): the move is a CameraMove kind, or "handheld" for synth.shots.handheld_shot
ShotSpec = tuple[str, str, str]


@dataclass(frozen=True)
class KeyframePlan:
    """Sizes and budgets of one run (`full` for BENCHMARKS.md, `quick` for a smoke test)."""

    width: int
    height: int
    frames: int  # per shot
    spacing: int  # one painted keyframe every `spacing` frames, from the shot's first frame
    distances: tuple[int, ...]  # frames from the keyframe at which the one-sided renders are scored
    shots: tuple[ShotSpec, ...]
    keyframe_minutes: tuple[float, ...]  # one keyframe model per budget
    per_frame_minutes: float
    cost_size: tuple[int, int]
    cost_frames: int

    @classmethod
    def full(cls) -> KeyframePlan:
        """About 15 minutes on 2 cores: keyframe models of 1 and 5 CPU minutes, a 2-minute per-frame model
        (each run adds about half a minute of registration, validation and export), then the renders."""
        shots = ((LOCKED_OFF, "astronaut", "static"), ("pan", "chelsea", "pan"), ("zoom", "coffee", "zoom"),
                 ("handheld", "rocket", "handheld"))
        return cls(480, 270, 49, 24, (0, 6, 12, 24), shots, (1.0, 5.0), 2.0, (2048, 1080), 5)

    @classmethod
    def quick(cls) -> KeyframePlan:
        """Tiny frames, short shots; the models' budgets name the rows as in `full` but a quick run trains a few
        steps (:data:`~chromaluma.benchmarks.keyframes_training.QUICK_BUDGET`)."""
        shots = ((LOCKED_OFF, "astronaut", "static"), ("pan", "chelsea", "pan"))
        return cls(96, 64, 7, 6, (0, 2, 3, 6), shots, (1.0, 5.0), 2.0, (160, 96), 1)

    def keyframe_indices(self) -> list[int]:
        """The painted frames of a shot (0-based): every `spacing` frames from its first."""
        return list(range(0, self.frames, self.spacing))

    @property
    def goal_distance(self) -> int:
        """Half-way to the next keyframe (12 of 24 frames): where issue 19's ΔE2000 ratio goal is measured."""
        return self.spacing // 2

    def shots_note(self) -> str:
        moves = ", ".join(f"{label} ({photo})" for label, photo, _ in self.shots)
        return (f"Shots: {moves}; {self.frames} frames each at {self.width}×{self.height} made from scikit-image's "
                "public-domain photographs (synth.shots: a pan travels a tenth of the frame over the shot, a zoom "
                "pushes in 10 %, a handheld shot shakes, blurs and flickers). The scan is the truth decolourised "
                f"(Rec.709 luma in R, G and B); the painted keyframes are the truth at frames "
                f"{', '.join(str(i) for i in self.keyframe_indices())} of each shot (one every {self.spacing}).")


@dataclass
class KeyframeShot:
    """One benchmark shot: the clean colour truth, the grey scan, and which frames are painted keyframes."""

    label: str
    truth: list[np.ndarray]
    scans: list[np.ndarray]
    keyframes: list[int]

    def pair_for(self, index: int) -> tuple[int, int]:
        """The keyframe pair of frame `index` (SPEC §1): nearest at or before, nearest at or after; one side's
        when the other has none."""
        return nearest_pair(self.keyframes, index)


@dataclass
class MethodScore:
    """One method on every shot: ΔE2000 (mean, p95) per distance from the keyframe (one-sided renders), and its
    normal render's colourfulness, flicker, drift (means over shots) and the locked-off shot's a*b* distance from
    its keyframe's (largest over frames)."""

    method: str
    delta_e: dict[int, list[float]] = field(default_factory=dict)
    delta_e_p95: dict[int, list[float]] = field(default_factory=dict)
    colourfulness: list[float] = field(default_factory=list)
    flicker: list[float] = field(default_factory=list)
    drift: list[float] = field(default_factory=list)
    locked_off_shift: float | None = None
    note: str = ""

    @property
    def measured(self) -> bool:
        return bool(self.delta_e)

    def mean_delta_e(self, distance: int) -> float | None:
        values = self.delta_e.get(distance)
        return float(np.mean(values)) if values else None

    def mean_delta_e_p95(self, distance: int) -> float | None:
        values = self.delta_e_p95.get(distance)
        return float(np.mean(values)) if values else None

    def summary(self) -> dict[str, object]:
        def mean(values: list[float]) -> float | None:
            return float(np.mean(values)) if values else None

        return {"method": self.method, "note": self.note,
                "delta_e2000_mean": {str(d): self.mean_delta_e(d) for d in self.delta_e},
                "delta_e2000_p95": {str(d): self.mean_delta_e_p95(d) for d in self.delta_e_p95},
                "colourfulness": mean(self.colourfulness), "flicker": mean(self.flicker),
                "drift": mean(self.drift), "locked_off_shift": self.locked_off_shift}


TRUTH_ROW = "ground truth (floor)"
GREY_ROW = "grey scan (input)"
HELD_ROW = "keyframe colour held in place (no motion)"
BASELINE_ROW = "optical flow + guided filter (classical baseline)"
FARNEBACK_ROW = "the same with Farneback flow (the classical baseline's first version)"
BASELINE_ROWS = (BASELINE_ROW, FARNEBACK_ROW)
PER_FRAME_ROW = "Chromaluma chroma, per frame, trained on the keyframe pairs"


def keyframe_row(minutes: float) -> str:
    return f"Chromaluma keyframes after {minutes:g} CPU min"
