"""The quality benchmark's plan, shots and scores (:mod:`chromaluma.benchmarks.quality`): the value types the
benchmark, its training (:mod:`~chromaluma.benchmarks.quality_training`) and its report
(:mod:`~chromaluma.benchmarks.quality_report`) share, so none of them imports another for its types."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chromaluma.metrics import delta_e2000, psnr, ssim

ChromaRun = tuple[float, str]  # (CPU minutes, density mode) of one Chromaluma chroma model


@dataclass(frozen=True)
class QualityPlan:
    """Sizes and budgets of one benchmark run (`full` for BENCHMARKS.md, `quick` for a smoke test)."""

    width: int
    height: int
    frames: int
    held_out: int
    shots: tuple[tuple[str, str], ...]
    chroma_runs: tuple[ChromaRun, ...]  # the density-graded table's Chromaluma models
    luma_minutes: float
    static_frames: int
    ungraded_runs: tuple[ChromaRun, ...] = ()

    @classmethod
    def full(cls) -> QualityPlan:
        """About 41 CPU minutes of training: smooth density at 1, 5 and 15 min and density keep at 5 min
        (graded), smooth density and density keep at 5 min (ungraded), luma at 5 min."""
        return cls(1280, 720, 10, 3, (("astronaut", "pan"), ("coffee", "zoom"), ("rocket", "pan")),
                   ((1.0, "smooth"), (5.0, "smooth"), (15.0, "smooth"), (5.0, "keep")), 5.0, 8,
                   ((5.0, "smooth"), (5.0, "keep")))

    @classmethod
    def quick(cls) -> QualityPlan:
        return cls(160, 96, 4, 1, (("coffee", "pan"),), ((0.05, "smooth"), (0.05, "keep")), 0.05, 3,
                   ((0.05, "smooth"),))


@dataclass
class ShotPairs:
    """One benchmark shot: clean truth, degraded scan, registered reference and its mask, split train/held-out."""

    name: str
    truth: list[np.ndarray]
    scans: list[np.ndarray]
    references: list[np.ndarray]
    mask: np.ndarray
    held_out: int

    @property
    def train(self) -> slice:
        return slice(0, len(self.truth) - self.held_out)

    @property
    def test(self) -> slice:
        return slice(len(self.truth) - self.held_out, None)


@dataclass
class Scores:
    """Quality of one method over all held-out frames of all shots."""

    method: str
    delta_e: list[float] = field(default_factory=list)
    delta_e_p95: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    note: str = ""

    def add(self, result: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> None:
        distance = delta_e2000(result, truth, mask)
        self.delta_e.append(distance.mean)
        self.delta_e_p95.append(distance.p95)
        self.psnr.append(psnr(result[..., :3], truth[..., :3]))
        self.ssim.append(ssim(result, truth))

    def row(self) -> list[object]:
        if not self.delta_e:
            return [self.method, "—", "—", "—", "—", self.note or "not measured"]
        return [self.method, float(np.mean(self.delta_e)), float(np.mean(self.delta_e_p95)),
                float(np.mean(self.psnr)), float(np.mean(self.ssim)), self.note]

    def summary(self) -> dict[str, object]:
        measured = bool(self.delta_e)
        return {"method": self.method, "note": self.note,
                "delta_e2000_mean": float(np.mean(self.delta_e)) if measured else None,
                "delta_e2000_p95": float(np.mean(self.delta_e_p95)) if measured else None,
                "psnr_db": float(np.mean(self.psnr)) if measured else None,
                "ssim": float(np.mean(self.ssim)) if measured else None}
