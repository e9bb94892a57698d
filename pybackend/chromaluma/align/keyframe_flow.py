"""Painted keyframes moved onto the frame they colour, along optical flow (keyframe model format 6).

A keyframe shows the shot at another moment: before its colour can be read pixel by pixel it must show the picture
where the frame shows it. Motion is the same DIS optical flow the repair kind uses
(:func:`chromaluma.align.neighbours.shot_flows`, 8-bit luma no larger than FLOW_SIZE px), measured both ways: frame →
keyframe says where each frame pixel lies in the keyframe, and keyframe → frame read back there must return to the
pixel (Sundaram et al. 2010's forward-backward check). Where it does not — occlusions, picture that came into view,
flow that failed — the keyframe holds no evidence for that pixel.

:func:`moved_keyframes` returns each keyframe warped onto the frame (bicubic, edges clamped) with its alpha replaced
by that evidence: 1 where the flow is consistent and read the keyframe inside its picture (times the keyframe's own
alpha: a registered painting that does not cover the whole frame is transparent where it is missing), 0 elsewhere.
Used by the backend before a format-6 keyframe model reads its keyframes, by that model's training on every sample,
and by the classical baseline (:mod:`chromaluma.keyframe_baseline`): all three carry colour along the same flow.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from chromaluma.align.neighbours import (
    MIN_FLOW_SIDE,
    coded_flow,
    flow_code,
    flow_sampling,
    full_size_flow,
    inside_picture,
    luma_plane,
    round_trip_consistent,
    same_frame,
)

CONSISTENT_PX = 0.7  # px of the frame: the forward-backward test's floor (round_trip_consistent)
KEYFRAME_FLOW_SIZE = 1024  # px: the longest side the keyframes' flow is measured at


def moved_keyframes(frame: np.ndarray, keyframes: Sequence[np.ndarray]) -> np.ndarray:
    """`keyframes` (each [H, W, ≥3] float, finite, the frame's geometry) moved onto `frame` ([H, W, ≥3]) →
    [K, H, W, 4] float32: RGB warped along the flow, alpha the evidence (module docstring). A keyframe given twice
    (one side of a shot has none) is moved once. Different keyframes are moved side by side (OpenCV's flow and
    remap release the GIL and leave a core idle in parts), each into its own slice: the same result as one by one."""
    frame_luma = luma_plane(frame)
    frame_code = flow_code(frame_luma, KEYFRAME_FLOW_SIZE) if min(frame_luma.shape) >= MIN_FLOW_SIDE else None
    moved = np.empty((len(keyframes),) + frame_luma.shape + (4,), np.float32)
    earlier = [next((i for i in range(index) if same_frame(keyframes[i], keyframe)), None)
               for index, keyframe in enumerate(keyframes)]
    distinct = [index for index, first in enumerate(earlier) if first is None]
    if len(distinct) > 1:
        with ThreadPoolExecutor(max_workers=len(distinct), thread_name_prefix="chromaluma-keyframes") as movers:
            list(movers.map(lambda index: _move(frame_code, np.asarray(keyframes[index]), moved[index]), distinct))
    else:
        for index in distinct:
            _move(frame_code, np.asarray(keyframes[index]), moved[index])
    for index, first in enumerate(earlier):
        if first is not None:
            moved[index] = moved[first]
    return moved


def _move(frame_code: np.ndarray | None, keyframe: np.ndarray, out: np.ndarray) -> None:
    """One keyframe moved onto the frame whose :func:`flow_code` is `frame_code` (None: too small for flow, taken
    as still), into `out` [H, W, 4]."""
    rgba = np.ascontiguousarray(keyframe[..., :4] if keyframe.shape[-1] >= 4 else keyframe[..., :3], np.float32)
    if rgba.shape[-1] == 3:
        rgba = np.concatenate([rgba, np.ones_like(rgba[..., :1])], axis=-1)
    shape = out.shape[:2]
    if frame_code is None:
        out[...] = rgba
        return
    key_code = flow_code(luma_plane(rgba), KEYFRAME_FLOW_SIZE)
    forward = coded_flow(frame_code, key_code)
    sampling = flow_sampling(full_size_flow(forward, shape))
    if sampling is None:  # the keyframe is the frame's picture where it stands: every pixel reads itself
        out[...] = rgba
        return
    consistent = _consistent(forward, coded_flow(key_code, frame_code), shape[1] / forward.shape[1])
    if consistent.shape != shape:
        consistent = cv2.resize(consistent.astype(np.uint8), (shape[1], shape[0]),
                                interpolation=cv2.INTER_NEAREST).astype(bool)
    cv2.remap(rgba, *sampling, cv2.INTER_CUBIC, dst=out, borderMode=cv2.BORDER_REPLICATE)
    out[..., 3] = np.clip(out[..., 3], 0.0, 1.0) * (inside_picture(sampling, shape) & consistent)


def _consistent(forward: np.ndarray, backward: np.ndarray, frame_px: float) -> np.ndarray:
    """Bool, at the flow's own size: the backward flow read where the forward one points leads back to the pixel
    (`frame_px`: frame pixels per flow pixel)."""
    sampling = flow_sampling(forward)
    back = backward if sampling is None else cv2.remap(backward, *sampling, cv2.INTER_LINEAR,
                                                       borderMode=cv2.BORDER_REPLICATE)
    return round_trip_consistent(forward, back, (CONSISTENT_PX / frame_px) ** 2)
