"""Random training crops from all pairs, with flips; driven by a seeded numpy generator (saved in checkpoints).

Per crop the generator draws, in this order: the pair, the crop's top and left, the horizontal and vertical flip,
and, only when exposure jitter is on, one exposure offset per frame of the window. A single-frame run without
jitter therefore draws exactly what it always did, and the same seed gives the same crops.
"""

from __future__ import annotations

import numpy as np
import torch

from chromaluma.train.pairs import Pair


def crop_size(pairs: list[Pair], crop: int) -> int:
    """The crop edge used: `crop`, or the smallest frame's shorter edge if frames are smaller."""
    return max(1, min([crop] + [min(p.scan.shape[:2]) for p in pairs]))


def sample_batch(pairs: list[Pair], size: int, batch: int, rng: np.random.Generator, radius: int = 0,
                 exposure_jitter: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`batch` crops: scan RGBA [B, s, s, 4] (a window [B, T, s, s, 4], centre at index `radius`, when `radius`
    > 0), reference RGB [B, s, s, 3], validity [B, s, s].

    Every frame of a window is cut at the same place and flipped the same way. `exposure_jitter` S > 0
    multiplies each scan frame's RGB by exp(n), n ~ Normal(0, S) drawn per frame: the reference stays as it
    is, so the model learns colour that does not follow the scan's exposure flicker.
    """
    scans, references, valids = [], [], []
    for _ in range(batch):
        pair = pairs[int(rng.integers(len(pairs)))]
        height, width = pair.scan.shape[:2]
        top = int(rng.integers(height - size + 1))
        left = int(rng.integers(width - size + 1))
        flip_x, flip_y = bool(rng.integers(2)), bool(rng.integers(2))
        window = (slice(top, top + size), slice(left, left + size))
        # a window's frames stacked on a leading axis: the flips below index rows and columns from the end
        scan = np.stack([frame[window] for frame in pair.window()]) if radius else pair.scan[window]
        parts = [scan, pair.reference[window], pair.valid[window]]
        if flip_x:
            parts = [p[..., ::-1, :] for p in parts[:2]] + [parts[2][:, ::-1]]
        if flip_y:
            parts = [p[..., ::-1, :, :] for p in parts[:2]] + [parts[2][::-1]]
        if exposure_jitter > 0.0:
            parts[0] = _jittered(parts[0], exposure_jitter, rng)
        scans.append(parts[0])
        references.append(parts[1])
        valids.append(parts[2])
    return (torch.from_numpy(np.ascontiguousarray(np.stack(scans))),
            torch.from_numpy(np.ascontiguousarray(np.stack(references))),
            torch.from_numpy(np.ascontiguousarray(np.stack(valids))))


def _jittered(scan: np.ndarray, spread: float, rng: np.random.Generator) -> np.ndarray:
    """`scan` (a crop [s, s, 4] or a window [T, s, s, 4]) with each frame's RGB scaled by exp(Normal(0, spread)),
    alpha as it was."""
    frames = scan.reshape(-1, *scan.shape[-3:])
    gains = np.exp(rng.normal(0.0, spread, size=len(frames))).astype(np.float32)
    scaled = frames * np.concatenate([np.repeat(gains[:, None], 3, axis=1), np.ones((len(frames), 1), np.float32)],
                                     axis=1)[:, None, None, :]
    return scaled.reshape(scan.shape)
