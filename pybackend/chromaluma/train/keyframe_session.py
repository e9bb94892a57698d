"""Training a keyframe model (`chromaluma train --kind keyframes --input SCAN --keyframes DIR`).

The run is an ordinary training run (run folder, checkpoints, resume, previews, trend, export) whose frames are the
painted keyframes registered onto their scan frames, and whose samples are made by
:mod:`chromaluma.train.keyframe_samples`. Every keyframe is trained on; validation scores a fixed, seeded set of
such samples (ΔE2000 of the colour on the frame's luma). The run folder also holds `keyframes/` (the registered
keyframes, the folder the plug-in's Keyframes parameter points at) and `keyframes_registration.json`; the card's
`training.keyframes` lists every keyframe with its hash, its registration and the scan's shot cuts.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import torch

from chromaluma.io import open_shot
from chromaluma.io.atomic import write_text_atomically
from chromaluma.keyframes import KeyframeSet, register_keyframes, scan_cuts, write_registered
from chromaluma.metrics import delta_e2000
from chromaluma.train import objective
from chromaluma.train.keyframe_samples import KeyframeBatch, sample_keyframe_batch
from chromaluma.train.loop import _Session
from chromaluma.train.pairs import Pair
from chromaluma.train.previews import write_contact_sheet
from chromaluma.train.windows import scan_frame_rgba

log = logging.getLogger(__name__)

REGISTERED_FOLDER = "keyframes"
REGISTRATION_REPORT = "keyframes_registration.json"
VALIDATION_SAMPLES = 8
# training motion reaches this fraction of the model's search, so the true cell stays inside it with room to spare
MOTION_OF_SEARCH = 0.8


class KeyframeSession(_Session):
    """A training run on painted keyframes."""

    def __init__(self, config: Any, resume: bool, progress: bool = True, **placement: Any) -> None:
        self.keyframe_set: KeyframeSet | None = None
        self.registration: list[dict[str, Any]] = []
        super().__init__(config, resume, progress, **placement)  # world and device on several processes
        self.train_pairs, self.val_pairs = self.pairs, []  # every keyframe trains; validation has its own samples
        self.reach_px = MOTION_OF_SEARCH * self.model.search * self.model.factor
        self.validation_batch = sample_keyframe_batch(self.pairs, self.crop, VALIDATION_SAMPLES, self.reach_px,
                                                      np.random.default_rng([self.config.seed, 0x4B46]),
                                                      self.model.carries)

    def _load_pairs(self) -> list[Pair]:
        """The keyframes as pairs: scan frame (RGBA) → registered painting, numbered by their shot."""
        config = self.config
        shot = open_shot(config.input)
        cuts = scan_cuts(shot)
        self.keyframe_set, self.registration = register_keyframes(config.keyframes, shot, cuts)
        positions = {frame_id: index for index, frame_id in enumerate(shot.frame_ids)}
        pairs = []
        for keyframe in self.keyframe_set.keyframes:
            scan = scan_frame_rgba(shot.read(positions[keyframe.frame]))
            entry = next(e for e in self.registration if e["frame"] == keyframe.frame)
            record = {"frame": keyframe.frame, "file": str(keyframe.path), "sha256": keyframe.sha256,
                      "registration": {k: entry[k] for k in ("method", "score", "coverage", "verdict", "size")}}
            shot_index = sum(1 for cut in cuts if cut <= keyframe.frame)
            pairs.append(Pair(keyframe.frame, scan, keyframe.image[..., :3].copy(),
                              np.ones(scan.shape[:2], np.float32), record, shot_index))
        self.card_training["keyframes"] = {"folder": str(config.keyframes), "cuts": [int(c) for c in cuts],
                                           "keyframes": [p.record for p in pairs]}
        log.info("%d keyframes registered onto %s (%d shot(s)): frames %s", len(pairs), config.input,
                 max(1, len(cuts)), ", ".join(str(p.frame) for p in pairs))
        return pairs

    def _validates(self) -> bool:
        return True

    def _record_run(self, pairs: list[Pair]) -> None:
        super()._record_run(pairs)
        assert self.keyframe_set is not None
        write_registered(self.keyframe_set, self.run_dir / REGISTERED_FOLDER)
        write_text_atomically(self.run_dir / REGISTRATION_REPORT, json.dumps(self.registration, indent=2))

    def _announce(self) -> None:
        super()._announce()
        log.info("registered keyframes written to %s (point the plug-in's Keyframes parameter there)",
                 self.run_dir / REGISTERED_FOLDER)

    def _training_batch(self) -> tuple[torch.Tensor, ...]:
        batch = sample_keyframe_batch(self.train_pairs, self.crop, self.config.batch, self.reach_px, self.rng,
                                      self.model.carries)
        return batch.frame, batch.keyframes, batch.target, batch.valid

    def _training_terms(self, model: torch.nn.Module, *batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return objective.keyframe_training_terms(model, *batch)

    @torch.no_grad()
    def _restore_batch(self, batch: KeyframeBatch) -> np.ndarray:
        self.model.eval()
        restored, _ = self.model(batch.frame.to(self.device), batch.keyframes.to(self.device))
        return restored[..., :3].float().cpu().numpy()

    def _validate(self) -> dict[str, float]:
        batch = self.validation_batch
        results = self._restore_batch(batch)
        scores = [delta_e2000(result, target, valid) for result, target, valid in
                  zip(results, batch.target.numpy(), batch.valid.numpy(), strict=True)]
        result = {"delta_e2000_mean": float(np.mean([s.mean for s in scores])),
                  "delta_e2000_p95": float(np.mean([s.p95 for s in scores]))}
        self.validation.append((self.step, result))
        return result

    def _preview(self) -> None:
        batch = self.validation_batch
        results = self._restore_batch(batch)
        rows = [(batch.frame[i].numpy(), batch.target[i].numpy(), results[i]) for i in range(min(3, len(results)))]
        write_contact_sheet(self.run_dir / "previews" / f"step_{self.step:07d}.png", rows,
                            f"STEP {self.step}   moved scan | painted colour | result")
