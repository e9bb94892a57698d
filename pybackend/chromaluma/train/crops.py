"""Random training crops from all pairs, with flips; driven by a seeded numpy generator (saved in checkpoints)."""

from __future__ import annotations

import numpy as np
import torch

from chromaluma.train.pairs import Pair


def crop_size(pairs: list[Pair], crop: int) -> int:
    """The crop edge used: `crop`, or the smallest frame's shorter edge if frames are smaller."""
    return max(1, min([crop] + [min(p.scan.shape[:2]) for p in pairs]))


def sample_batch(pairs: list[Pair], size: int, batch: int, rng: np.random.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`batch` crops: scan RGBA [B, s, s, 4], reference RGB [B, s, s, 3], validity [B, s, s]."""
    scans, references, valids = [], [], []
    for _ in range(batch):
        pair = pairs[int(rng.integers(len(pairs)))]
        height, width = pair.scan.shape[:2]
        top = int(rng.integers(height - size + 1))
        left = int(rng.integers(width - size + 1))
        flip_x, flip_y = bool(rng.integers(2)), bool(rng.integers(2))
        window = (slice(top, top + size), slice(left, left + size))
        parts = [pair.scan[window], pair.reference[window], pair.valid[window]]
        if flip_x:
            parts = [p[:, ::-1] for p in parts]
        if flip_y:
            parts = [p[::-1] for p in parts]
        scans.append(parts[0])
        references.append(parts[1])
        valids.append(parts[2])
    return (torch.from_numpy(np.ascontiguousarray(np.stack(scans))),
            torch.from_numpy(np.ascontiguousarray(np.stack(references))),
            torch.from_numpy(np.ascontiguousarray(np.stack(valids))))
