"""Chromaluma's own rows of the quality benchmark: train on the benchmark's pairs, export, restore through
:func:`chromaluma.api.process` — the same path the plug-in and `chromaluma apply` take.

Training is :func:`chromaluma.train.train` (a wall-clock budget in minutes, CPU, exporting the model itself); if it
cannot run, the rows are reported as not measured, with the reason. Every run gets a fresh run folder and every
benchmark run fresh pairs folders (`train` refuses a folder that already holds a run, and pairs left by an
earlier benchmark with other settings must never be trained on).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from chromaluma.contract import read_model_contract
from chromaluma.errors import ChromalumaError
from chromaluma.models import DEFAULT_PROCESSING_SCALE
from chromaluma.models.blocks import grid_factor
from chromaluma.models.density import band_limit_px
from chromaluma.synth.pairs import write_pairs

if TYPE_CHECKING:
    from chromaluma.benchmarks.quality_plan import ShotPairs

log = logging.getLogger(__name__)


class TrainingUnavailable(ChromalumaError):
    """Chromaluma's training or export could not run for a benchmark row (module missing or run failed)."""


@dataclass
class TrainedModel:
    """An exported model and how it was trained; `restore` renders one frame through `chromaluma.api.process`."""

    path: Path
    note: str

    def restore(self, scan: np.ndarray) -> np.ndarray:
        from chromaluma.api import process

        rgb = np.ascontiguousarray(scan[..., :3], dtype=np.float32)
        out = np.empty_like(rgb)
        process(rgb, out, {"model": str(self.path)})
        return out


class ChromalumaTrainer:
    """Trains one model per (kind, situation, CPU minutes) on the shots' training pairs, under `workdir`."""

    def __init__(self, workdir: Path, quick: bool) -> None:
        self.workdir = workdir
        self.quick = quick
        self._pairs: dict[str, Path] = {}

    def fresh_folder(self, name: str) -> Path:
        """`workdir/name`, emptied: leftovers of an earlier benchmark run in this scratch folder are removed."""
        folder = self.workdir / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def pairs_folder(self, kind: str, shots: Sequence[ShotPairs], variant: str = "") -> Path:
        """The training pairs of every shot written as one pairs folder (docs/CONTRACT.md §5), once per run."""
        name = f"pairs-{kind}" + (f"-{variant}" if variant else "")
        if name not in self._pairs:
            folder = self.fresh_folder(name)
            scans = [s for shot in shots for s in shot.scans[shot.train]]
            references = [r for shot in shots for r in shot.references[shot.train]]
            write_pairs(folder, scans, references, list(range(1001, 1001 + len(scans))), source="benchmark")
            self._pairs[name] = folder
        return self._pairs[name]

    def train(self, kind: str, shots: Sequence[ShotPairs], minutes: float, variant: str = "",
              density: str | None = None) -> TrainedModel:
        """Train for `minutes` of CPU time (a chroma model with `density` keep or smooth) and export; raises
        TrainingUnavailable with the reason if it cannot."""
        try:
            from chromaluma.train import TrainConfig, train
        except ImportError as exc:
            raise TrainingUnavailable(f"chromaluma.train not importable ({exc})") from exc
        pairs = self.pairs_folder(kind, shots, variant)
        label = kind + (f"-{density}" if density else "") + (f"-{variant}" if variant else "") + f"-{minutes:g}min"
        out = self.workdir / f"{label}.onnx"
        started = time.perf_counter()
        config = TrainConfig(run_dir=self.fresh_folder(f"run-{label}"), kind=kind, pairs_dir=pairs, out=out,
                             minutes=minutes, device="cpu", seed=0, density=density,
                             **({"crop": 96, "batch": 2, "preview_every": 10**6} if self.quick else {}))
        try:
            out = Path(train(config))
        except ChromalumaError as exc:
            raise TrainingUnavailable(f"training failed: {exc}") from exc
        steps = read_model_contract(out).card.get("training", {}).get("parameters", {}).get("steps_done")
        note = (f"trained {time.perf_counter() - started:.0f} s ({steps} steps) on "
                f"{len(list((pairs / 'scan').iterdir()))} pairs")
        if density == "smooth":
            note += f", density band-limited to {band_limit_px(grid_factor(DEFAULT_PROCESSING_SCALE[kind]))} px"
        log.info("quality: %s model %s (%s)", kind, out.name, note)
        return TrainedModel(out, note)
