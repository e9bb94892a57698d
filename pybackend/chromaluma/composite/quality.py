"""How good each print is, place by place: damage, sharpness and density, and the weights that merge the prints.

All prints are compared on the first print's grid, after each has been brought to the first print's density
(:func:`match_density`): a per-channel gain and offset, fitted again without the pixels a first fit shows
disagreeing (damage), so a faded or lighter print is judged on its picture, not its grade, and the merged frame
has the first print's density throughout.

- **Damage** (1 = damage, per pixel): a print is damaged where it disagrees with the other prints and it is the
  odd one out. With three prints or more that is the distance from the per-pixel median; with two, the print
  that carries evidence of damage of its own: a spike in time against its own neighbouring frames (the
  spike-detection index of :func:`chromaluma.damage_baselines.spike_matte`: dust, sparkle, hairs, blotches last
  one frame) or a thin vertical line (a scratch, which lasts and so shows no spike). A difference with no such
  evidence is picture — a sharper print's detail is not damage in the softer one's eyes.
- **Sharpness**: high-pass energy of luma inside a cell, on pixels no print has damage, relative to the sharpest
  print (a soft duplicate scores below an earlier generation).
- **Density**: the share of clipped pixels (crushed blacks, blown highlights cannot be brought back) and the
  contrast inside a cell relative to the most contrasted print (a faded print scores lower).

Every cell of a grid takes the print with the best score; the choice is feathered across cell borders, and a
pixel that is damage in the chosen print is taken from an undamaged print wherever there is one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import median_filter

from chromaluma.align.structure import luma

DISAGREEMENT = 0.06  # luma difference (0–1) above which two prints are taken to show different things
CLIP_LOW, CLIP_HIGH = 0.004, 0.996  # luma at or beyond which a sample is crushed or blown
DAMAGE_WEIGHT = 4.0  # a cell that is all damage loses this much score
CLIP_WEIGHT = 2.0
SHARPNESS_WEIGHT = 1.0
CONTRAST_WEIGHT = 0.5
EVIDENCE_SIGMA = 2.0  # px over which damage evidence is pooled where two prints disagree
EVIDENCE_MARGIN = 0.03  # luma: how much more evidence of damage makes one of two disagreeing prints the damaged one
LINE_FRACTION = 0.5  # a scratch runs straight down at least this share of the frame's height
LINE_WIDTH = 7  # px: a scratch is narrower than half of this
DENSITY_SIGMA = 2.0  # px: prints are matched in density at a resolution every print holds
GAIN_LIMITS = (0.25, 4.0)  # gains are kept in this range: beyond it the fit is chasing damage, not density


@dataclass(frozen=True)
class PrintFrame:
    """One print's frame on the first print's grid: RGB (density-matched), validity, own spike index (or None)."""

    rgb: np.ndarray
    valid: np.ndarray
    spike: np.ndarray | None = None


def match_density(rgb: np.ndarray, first_rgb: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """`rgb` with each channel brought to the first print's by a gain and offset fitted on `usable` pixels.

    Fitted on both prints blurred alike (DENSITY_SIGMA) by matching mean and spread: a regression would
    shrink the gain when one print is sharper or grainier than the other. Returns the matched RGB and the
    (gain, offset) of each channel as [g0, o0, g1, o1, g2, o2]."""
    out = np.empty_like(rgb)
    fit: list[float] = []
    for channel in range(3):
        smooth = cv2.GaussianBlur(rgb[..., channel], (0, 0), DENSITY_SIGMA)[usable]
        target = cv2.GaussianBlur(first_rgb[..., channel], (0, 0), DENSITY_SIGMA)[usable]
        gain, offset = 1.0, 0.0
        if smooth.size >= 16 and float(smooth.std()) > 1e-4:
            gain = float(np.clip(target.std() / smooth.std(), *GAIN_LIMITS))
            offset = float(target.mean() - gain * smooth.mean())
        out[..., channel] = rgb[..., channel] * gain + offset
        fit += [gain, offset]
    return out, fit


def line_evidence(image: np.ndarray) -> np.ndarray:
    """How strongly each pixel lies on a thin vertical line (a scratch): luma averaged down a long column, minus
    its median across a few columns. Picture detail rarely runs straight down half the frame; a scratch does."""
    length = max(3, int(image.shape[0] * LINE_FRACTION) | 1)
    column = cv2.blur(image.astype(np.float32), (1, length))
    return np.abs(column - median_filter(column, size=(1, LINE_WIDTH), mode="reflect"))


def _pooled(evidence: np.ndarray, where: np.ndarray) -> np.ndarray:
    """`evidence` averaged over the pixels of `where` within EVIDENCE_SIGMA px (0 far from any)."""
    weight = cv2.GaussianBlur(where.astype(np.float32), (0, 0), EVIDENCE_SIGMA) + 1e-6
    return cv2.GaussianBlur((evidence * where).astype(np.float32), (0, 0), EVIDENCE_SIGMA) / weight


def damage_mattes(prints: list[PrintFrame]) -> np.ndarray:
    """Damage of every print on the first print's grid (P×H×W, float32 0–1, 1 = damage).

    With three prints or more, a print is damaged where it leaves the per-pixel median of the prints. With two,
    where they disagree, the one with clearly more evidence of damage of its own — a one-frame spike in time
    (dust, sparkle, hair, blotch) or a vertical line (scratch) — is damaged; where neither carries such evidence
    the difference is taken for picture (a sharper print's detail, grain) and neither is marked."""
    lumas = np.stack([luma(p.rgb) for p in prints])
    valid = np.stack([p.valid for p in prints])
    if len(prints) > 2:
        consensus = np.nanmedian(np.where(valid, lumas, np.nan), axis=0)
        odd = np.abs(lumas - consensus[None]) > DISAGREEMENT
    else:
        second = np.where(valid[1], lumas[1], lumas[0])  # outside the second print's picture: no disagreement
        disagrees = np.abs(lumas[0] - second) > DISAGREEMENT
        evidence = [_pooled(line_evidence(image) + (p.spike if p.spike is not None else 0.0), disagrees)
                    for image, p in zip((lumas[0], second), prints, strict=True)]
        odd = np.stack([disagrees & (evidence[0] > evidence[1] + EVIDENCE_MARGIN),
                        disagrees & (evidence[1] > evidence[0] + EVIDENCE_MARGIN)])
    mattes = np.zeros_like(lumas)
    for index in range(len(prints)):
        matte = (odd[index] & valid[index]).astype(np.uint8)
        mattes[index] = cv2.dilate(matte, np.ones((3, 3), np.uint8)).astype(np.float32)
    return mattes


@dataclass(frozen=True)
class CellScores:
    """Per print and cell (P×rows×cols): the score and its parts, for the report and for choosing."""

    score: np.ndarray
    damage: np.ndarray
    sharpness: np.ndarray
    clipped: np.ndarray
    contrast: np.ndarray


def _cell_mean(values: np.ndarray, weights: np.ndarray, cell: int) -> np.ndarray:
    """Weighted mean of `values` (H×W) over cells of `cell` px (rows×cols; a cell without weight is 0)."""
    height, width = values.shape
    rows, cols = -(-height // cell), -(-width // cell)
    padded_v = np.zeros((rows * cell, cols * cell), np.float64)
    padded_w = np.zeros_like(padded_v)
    padded_v[:height, :width] = values * weights
    padded_w[:height, :width] = weights
    total = padded_v.reshape(rows, cell, cols, cell).sum(axis=(1, 3))
    weight = padded_w.reshape(rows, cell, cols, cell).sum(axis=(1, 3))
    return np.where(weight > 0, total / np.maximum(weight, 1e-12), 0.0)


def cell_scores(prints: list[PrintFrame], raw_lumas: list[np.ndarray], mattes: np.ndarray, cell: int) -> CellScores:
    """Score every cell of every print: −damage, −clipping, +relative sharpness, +relative contrast."""
    anywhere_damaged = mattes.max(axis=0) > 0
    parts: dict[str, list[np.ndarray]] = {"damage": [], "sharpness": [], "clipped": [], "contrast": []}
    for p, raw, matte in zip(prints, raw_lumas, mattes, strict=True):
        valid = p.valid.astype(np.float64)
        clean = valid * ~anywhere_damaged
        image = luma(p.rgb)
        detail = image - cv2.GaussianBlur(image, (0, 0), 1.0)
        parts["damage"].append(_cell_mean(matte, valid, cell))
        parts["sharpness"].append(_cell_mean(detail * detail, clean, cell))
        parts["clipped"].append(_cell_mean(((raw <= CLIP_LOW) | (raw >= CLIP_HIGH)).astype(np.float64), valid, cell))
        raw_mean = _cell_mean(raw, clean, cell)  # contrast before the density match: fading shows there
        spread = _cell_mean(raw * raw, clean, cell) - raw_mean * raw_mean
        parts["contrast"].append(np.sqrt(np.maximum(spread, 0.0)))
    stacked = {name: np.stack(values) for name, values in parts.items()}
    sharp = stacked["sharpness"] / np.maximum(stacked["sharpness"].max(axis=0), 1e-12)
    contrast = stacked["contrast"] / np.maximum(stacked["contrast"].max(axis=0), 1e-12)
    coverage = np.stack([_cell_mean(p.valid.astype(np.float64), np.ones(p.valid.shape), cell) for p in prints])
    score = (-DAMAGE_WEIGHT * stacked["damage"] - CLIP_WEIGHT * stacked["clipped"] + SHARPNESS_WEIGHT * sharp
             + CONTRAST_WEIGHT * contrast)
    score = np.where(coverage >= 0.999, score, -np.inf)  # a print that misses part of a cell never takes it
    return CellScores(score, stacked["damage"], sharp, stacked["clipped"], contrast)


def merge_weights(scores: np.ndarray, mattes: np.ndarray, valid: np.ndarray, cell: int,
                  feather: float) -> np.ndarray:
    """Per-pixel weights (P×H×W, summing to 1): each cell's best print, feathered over `feather` px, moved off
    damaged pixels onto an undamaged valid print wherever one exists."""
    count, height, width = mattes.shape
    choice = np.argmax(scores, axis=0)  # ties go to the earlier print: the first print is the reference grade
    weights = np.empty((count, height, width), np.float32)
    for index in range(count):
        chosen = (choice == index).astype(np.float32)
        full = np.repeat(np.repeat(chosen, cell, axis=0), cell, axis=1)[:height, :width]
        weights[index] = cv2.GaussianBlur(full, (0, 0), feather) if feather > 0 else full
    weights *= valid
    usable = valid * (1.0 - mattes)
    # the 1e-3 floor lets any undamaged print take a pixel the chosen print has damaged, however far its own
    # cells are; the 1e-6 term keeps the feathered choice where every print is damaged
    weights = (weights + 1e-3) * usable + 1e-6 * weights
    total = weights.sum(axis=0)
    weights /= np.where(total > 0, total, 1.0)[None]
    weights[0] = np.where(total > 0, weights[0], 1.0)  # nowhere else to take it from: the first print
    return weights
