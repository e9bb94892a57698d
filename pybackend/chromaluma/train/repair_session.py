"""Training a repair model (`chromaluma train --kind repair --input SCAN [--target CLEANER] [--damage-samples DIR]`).

An ordinary training run (run folder, checkpoints, resume, previews, trend, export) whose pairs are the scan's own
frames: each frame is its own target (or the --target print's frame is), and every sample has synthetic damage
drawn onto its window (:mod:`chromaluma.train.repair_samples`). The damage follows the film's own statistics when
--damage-samples gives crops of its defects, else typical print wear. Validation scores a fixed, seeded set of such
samples: the matte's pixel precision and recall at the default sensitivity and the composed result's error inside
the damage. The card's `training.damage` records the statistics and where they came from.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from chromaluma.synth.damage import DamageStatistics
from chromaluma.train import objective
from chromaluma.train.loop import _Session
from chromaluma.train.pairs import Pair, load_pairs
from chromaluma.train.previews import write_contact_sheet
from chromaluma.train.repair_samples import RepairBatch, sample_repair_batch, training_statistics

log = logging.getLogger(__name__)

VALIDATION_SAMPLES = 8
SENSITIVITY = 0.5  # the default render's: repaired where the matte exceeds 1 − sensitivity


class RepairSession(_Session):
    """A training run on the scan's own frames with synthetic damage."""

    def __init__(self, config: Any, resume: bool, progress: bool = True, **placement: Any) -> None:
        super().__init__(config, resume, progress, **placement)  # world and device on several processes
        self.train_pairs, self.val_pairs = self.pairs, []  # every frame trains; validation has its own samples
        self.statistics = self._statistics()
        self.crop_statistics = training_statistics(self.statistics, self.crop)
        self.found: dict[int, np.ndarray] = {}  # each frame's real damage, found once when first sampled
        self.validation_batch = sample_repair_batch(self.pairs, self.crop, VALIDATION_SAMPLES, self.radius,
                                                    self.crop_statistics,
                                                    np.random.default_rng([self.config.seed, 0x5E9A]), self.found)

    def _load_pairs(self) -> list[Pair]:
        """The scan's frames, each paired with itself (or with the --target print's frame)."""
        config = self.config
        target = config.target if config.target is not None else config.input
        pairs = load_pairs("repair", None, config.input, target)
        self.card_training["repair_target"] = "scan itself" if config.target is None else str(config.target)
        return pairs

    def _statistics(self) -> DamageStatistics:
        samples = self.config.damage_samples
        statistics = DamageStatistics.default() if samples is None else DamageStatistics.from_samples(samples)
        self.card_training["damage"] = {"source": "default print wear" if samples is None else str(samples),
                                        "statistics": asdict(statistics)}
        return statistics

    def _validates(self) -> bool:
        return True

    def _announce(self) -> None:
        super()._announce()
        log.info("synthetic damage: %s", self.card_training["damage"]["source"])

    def _training_batch(self) -> tuple[torch.Tensor, ...]:
        batch = sample_repair_batch(self.train_pairs, self.crop, self.config.batch, self.radius, self.crop_statistics,
                                    self.rng, self.found)
        return batch.window, batch.clean, batch.damage, batch.ignore

    def _training_terms(self, model: torch.nn.Module, *batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return objective.repair_training_terms(model, *batch)

    @torch.no_grad()
    def _repair_batch(self, batch: RepairBatch) -> tuple[np.ndarray, np.ndarray]:
        """(composed RGB [B, s, s, 3] at the default sensitivity, applied matte [B, s, s])."""
        self.model.eval()
        restored, _, matte = self.model(batch.window.to(self.device))
        applied = (matte[:, 0] > 1.0 - SENSITIVITY).cpu().numpy()
        frame = batch.window[:, self.radius, ..., :3].numpy()
        return np.where(applied[..., None], restored[..., :3].float().cpu().numpy(), frame), applied

    def _validate(self) -> dict[str, float]:
        batch = self.validation_batch
        composed, applied = self._repair_batch(batch)
        truth = batch.damage.numpy() >= objective.REPAIR_DAMAGE_FLOOR
        counted = batch.ignore.numpy() < 0.5
        found = applied & truth & counted
        error = np.abs(composed - batch.clean.numpy()).mean(axis=-1)
        result = {"damage_mae": float(error[truth & counted].mean()) if (truth & counted).any() else 0.0,
                  "matte_precision": float(found.sum() / max(1, (applied & counted).sum())),
                  "matte_recall": float(found.sum() / max(1, (truth & counted).sum()))}
        self.validation.append((self.step, result))
        return result

    def _preview(self) -> None:
        batch = self.validation_batch
        composed, applied = self._repair_batch(batch)
        rows = [(batch.window[i, self.radius, ..., :3].numpy(), composed[i],
                 np.repeat(applied[i, ..., None].astype(np.float32), 3, axis=-1)) for i in range(min(3, len(composed)))]
        write_contact_sheet(self.run_dir / "previews" / f"step_{self.step:07d}.png", rows,
                            f"STEP {self.step}   damaged | repaired | matte")
