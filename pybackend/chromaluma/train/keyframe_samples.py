"""Training samples for the keyframe kind, made from the film's own painted keyframes and their scan frames.

Nothing but this film: each sample takes a keyframe and its scan frame and moves both by the same random camera
motion (translation up to the model's search reach, a little rotation and zoom), so the model must find where each
cell of the moved scan lies in the keyframe it is given unmoved. The moved scan is the frame (its own colour,
the scan's density varied by exposure, contrast and grain changes); the moved painting's colour is the target,
on the frame's luma. Some samples get a patch of a new object: picture moved in from elsewhere, given a colour the
keyframes cannot know, so the confidence learns to be low where nothing matches. The second keyframe input is
another keyframe of the same shot (or the same one), in either order. For a carrying model (format 6) both keyframes
are then moved onto the frame along optical flow, exactly as the backend moves them before a render
(:func:`chromaluma.align.keyframe_flow.moved_keyframes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from chromaluma.align.keyframe_flow import moved_keyframes
from chromaluma.contract import LUMA_WEIGHTS
from chromaluma.train.objective import colour_truth
from chromaluma.train.pairs import Pair

ROTATION_DEGREES = 3.0
ZOOM = 0.08  # log zoom spread
EXPOSURE = 0.1  # log exposure spread of the frame
CONTRAST = 0.1  # log gamma spread
GRAIN = 0.015  # largest grain σ
NEW_OBJECT_CHANCE = 0.5
_WEIGHTS = np.asarray(LUMA_WEIGHTS, np.float32)


@dataclass(frozen=True)
class KeyframeBatch:
    """frame [B, s, s, 4], keyframes [B, 2, s, s, 4], target RGB [B, s, s, 3] (the colour on the frame's luma is what
    the model can reach), valid [B, s, s]."""

    frame: torch.Tensor
    keyframes: torch.Tensor
    target: torch.Tensor
    valid: torch.Tensor


def sample_keyframe_batch(keyframes: list[Pair], size: int, batch: int, reach_px: float,
                          rng: np.random.Generator, moved: bool = False) -> KeyframeBatch:
    """`batch` samples of edge `size` from the keyframes (Pair: scan = the scan frame RGBA, reference = the registered
    painting RGB, shot = its shot); motion up to `reach_px` pixels; the keyframes `moved` onto the frame or not."""
    parts = [_sample(keyframes, size, reach_px, rng) for _ in range(batch)]
    if moved:
        parts = [(frame, moved_keyframes(frame, list(keys)), target, valid) for frame, keys, target, valid in parts]
    groups = zip(*parts, strict=True)
    return KeyframeBatch(*(torch.from_numpy(np.ascontiguousarray(np.stack(group))) for group in groups))


def _sample(keyframes: list[Pair], size: int, reach_px: float, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    key = keyframes[int(rng.integers(len(keyframes)))]
    same_shot = [k for k in keyframes if k.shot == key.shot]
    other = same_shot[int(rng.integers(len(same_shot)))]
    height, width = key.scan.shape[:2]
    top, left = int(rng.integers(height - size + 1)), int(rng.integers(width - size + 1))
    motion = _motion(left, top, size, reach_px, rng)
    frame = _warp(key.scan, motion, size, cv2.BORDER_REFLECT)
    painted = _warp(key.reference, motion, size, cv2.BORDER_REFLECT)
    valid = _warp(np.ones((height, width), np.float32), motion, size, cv2.BORDER_CONSTANT) > 0.999
    if rng.random() < NEW_OBJECT_CHANCE:
        _new_object(frame, painted, key, size, rng)
    frame = _scan_variation(frame, rng)
    target = colour_truth(frame, painted)  # the painting's colour on the frame's luma: what keeping luma can reach
    box = (slice(top, top + size), slice(left, left + size))
    pair = [_rgba(key.reference[box]), _rgba(other.reference[box])]
    if rng.random() < 0.5:
        pair.reverse()
    keys = np.stack(pair)
    if rng.random() < 0.5:  # the same horizontal flip for everything: the model must not prefer a direction
        frame, keys, target, valid = frame[:, ::-1], keys[:, :, ::-1], target[:, ::-1], valid[:, ::-1]
    return frame, keys, target, valid.astype(np.float32)


def _motion(left: int, top: int, size: int, reach_px: float, rng: np.random.Generator) -> np.ndarray:
    """Full-frame → crop matrix of a camera moved by up to `reach_px` about the crop's centre."""
    angle = rng.uniform(-ROTATION_DEGREES, ROTATION_DEGREES)
    zoom = math.exp(rng.uniform(-ZOOM, ZOOM))
    shift_x, shift_y = rng.uniform(-reach_px, reach_px, 2)
    centre = (left + size / 2.0, top + size / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, angle, zoom)
    matrix[:, 2] += (shift_x - left, shift_y - top)
    return matrix


def _warp(image: np.ndarray, matrix: np.ndarray, size: int, border: int) -> np.ndarray:
    return cv2.warpAffine(np.ascontiguousarray(image), matrix, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=border)


def _new_object(frame: np.ndarray, painted: np.ndarray, key: Pair, size: int, rng: np.random.Generator) -> None:
    """Paste picture from elsewhere in the scan into the crop, painted in a colour the keyframes do not hold (its
    colour differences turned by a random angle)."""
    side = int(rng.integers(max(2, size // 6), max(3, size // 3)))
    height, width = key.scan.shape[:2]
    src_y, src_x = int(rng.integers(height - side + 1)), int(rng.integers(width - side + 1))
    dst_y, dst_x = int(rng.integers(size - side + 1)), int(rng.integers(size - side + 1))
    source = (slice(src_y, src_y + side), slice(src_x, src_x + side))
    target = (slice(dst_y, dst_y + side), slice(dst_x, dst_x + side))
    frame[target] = key.scan[source]
    colour = key.reference[source]
    luma = colour @ _WEIGHTS
    cb, cr = colour[..., 2] - luma, colour[..., 0] - luma
    angle = rng.uniform(0.5, 2.0 * math.pi - 0.5)
    cos, sin = math.cos(angle), math.sin(angle)
    painted[target] = _rgb_of(luma, cos * cb - sin * cr, sin * cb + cos * cr)


def _scan_variation(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The scan frame as another frame of the shot might be: exposure, contrast and grain differ."""
    rgb = np.clip(frame[..., :3], 0.0, None) ** math.exp(rng.normal(0.0, CONTRAST))
    rgb = rgb * math.exp(rng.normal(0.0, EXPOSURE))
    rgb = rgb + rng.normal(0.0, rng.uniform(0.0, GRAIN), size=rgb.shape[:2])[..., None].astype(np.float32)
    return np.concatenate([rgb.astype(np.float32), frame[..., 3:]], axis=-1)


def _rgb_of(luma: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    blue, red = luma + cb, luma + cr
    green = (luma - _WEIGHTS[0] * red - _WEIGHTS[2] * blue) / _WEIGHTS[1]
    return np.stack([red, green, blue], axis=-1).astype(np.float32)


def _rgba(rgb: np.ndarray) -> np.ndarray:
    return np.concatenate([rgb, np.ones((*rgb.shape[:2], 1), np.float32)], axis=-1)
