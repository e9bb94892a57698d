"""A temporal window's neighbouring frames moved onto the frame they surround (motion compensation).

The repair kind (model format 5, docs/CONTRACT.md §1.8) and the classical spike detector
(:mod:`chromaluma.damage_baselines`) compare a frame with its neighbours pixel by pixel: the neighbours must first
show the picture where the frame shows it. Motion is DIS optical flow (OpenCV) on 8-bit luma no larger than
FLOW_SIZE px. A defect pulls the flow measured on it (a speck "moves" in a locked-off shot), and a fill read along
that flow brings the defect's surroundings into it: where a first spike test suspects a defect, the flow is that of
the pixels around it instead.

:func:`compensated_neighbours` returns each neighbour warped onto the frame (bicubic, edges clamped) with its alpha
replaced by evidence: 1 where the warp read the neighbour inside its picture, 0 where it read beyond the edge (the
edge repeated is not the picture that moved in) and everywhere for a neighbour that is a copy of the frame (the
edge rule at a clip's ends, §1.6: it holds the frame's own damage).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from chromaluma.contract import LUMA_WEIGHTS

FLOW_SIZE = 1024  # px: the longest side flow is measured at (a 2K frame at half size)
MIN_FLOW_SIDE = 16  # px: smaller pictures are taken as still (DIS needs room for its patches)
SUSPECT_SPIKE = 0.02  # luma beyond the warped neighbours' range that suspects a defect …
SUSPECT_REACH = 10  # … within this many px: the flow there is the mean of the flow …
SURROUNDING_BOX = 47  # … over this many px² around that is not suspect
_EDGE = 0.01  # px beyond the outermost pixel centres a read still counts as inside (flow rounding in a still shot)
_REC709 = np.array(LUMA_WEIGHTS, dtype=np.float32)


def shot_flows(centre_luma: np.ndarray, neighbour_lumas: Sequence[np.ndarray]) -> list[np.ndarray]:
    """DIS optical flow centre → each neighbour (H×W×2 float32, px): where in the neighbour each centre pixel is.
    Measured on 8-bit luma no larger than FLOW_SIZE px (a defect of a few pixels hardly moves the flow there; the
    medium preset, unlike the fast one, is not pulled off by a speck on small frames), the centre coded once for all
    its neighbours; zero for pictures smaller than MIN_FLOW_SIDE."""
    height, width = centre_luma.shape
    if min(height, width) < MIN_FLOW_SIDE:
        return [np.zeros((height, width, 2), np.float32) for _ in neighbour_lumas]
    code = flow_code(centre_luma)
    return [full_size_flow(coded_flow(code, flow_code(luma)), (height, width)) for luma in neighbour_lumas]


def flow_code(luma: np.ndarray, size: int = FLOW_SIZE) -> np.ndarray:
    """Luma (H×W, 0–1) as the 8-bit picture flow is measured on: no larger than `size` px on its longest side."""
    scale = min(1.0, size / max(luma.shape))
    code = np.clip(np.rint(luma * 255.0), 0, 255).astype(np.uint8)
    return code if scale == 1.0 else cv2.resize(code, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def coded_flow(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """DIS flow (medium preset) first → second of two :func:`flow_code` pictures, in their px."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(first, second, None)


def full_size_flow(flow: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A flow measured on a :func:`flow_code` picture brought to the picture's own size `shape` (H, W), in its px."""
    height, width = shape
    if flow.shape[:2] == (height, width):
        return flow
    return cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR) * np.float32(width / flow.shape[1])


def round_trip_consistent(forward: np.ndarray, back_there: np.ndarray, floor: float) -> np.ndarray:
    """Bool H×W: the backward flow read where `forward` points (`back_there`) leads back to the pixel, Sundaram et
    al. 2010's test: |fw + bw|² < 0.01·(|fw|² + |bw|²) + `floor` (px², in the flows' own px). Occlusions fail it."""
    fx, fy, bx, by = forward[..., 0], forward[..., 1], back_there[..., 0], back_there[..., 1]
    mismatch = (fx + bx) ** 2 + (fy + by) ** 2
    return mismatch < 0.01 * ((fx * fx + fy * fy) + (bx * bx + by * by)) + floor


def compensated_neighbours(frame: np.ndarray, neighbours: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """`neighbours` ([K, H, W, ≥3] float, finite, or K such frames) moved onto `frame` ([H, W, ≥3]) → [K, H, W, 4]
    float32: RGB warped along the flow (suspected defects read along their surroundings' flow), alpha the evidence
    (see the module docstring)."""
    frame_luma = luma_plane(frame)
    lumas = [luma_plane(neighbour) for neighbour in neighbours]
    copies = [same_frame(neighbour, frame) for neighbour in neighbours]
    measured = iter(shot_flows(frame_luma, [luma for luma, copy in zip(lumas, copies, strict=True) if not copy]))
    flows = [np.zeros(frame_luma.shape + (2,), np.float32) if copy else next(measured) for copy in copies]
    samplings = [flow_sampling(flow) for flow in flows]
    warped = [_warped(luma, sampling) for luma, sampling in zip(lumas, samplings, strict=True)]
    suspect = _suspects(frame_luma, warped, _evidence(samplings, copies, frame_luma.shape))
    if suspect.any():
        samplings = _surrounding_samplings(flows, samplings, copies, suspect)
    moved = np.empty((len(neighbours),) + frame_luma.shape + (4,), np.float32)
    evidence = _evidence(samplings, copies, frame_luma.shape)
    for index, (neighbour, sampling) in enumerate(zip(neighbours, samplings, strict=True)):
        rgba = np.ascontiguousarray(neighbour, dtype=np.float32)
        if rgba.shape[-1] != 4:
            rgba = np.concatenate([rgba[..., :3], np.ones_like(rgba[..., :1])], axis=-1)
        _warped(rgba, sampling, out=moved[index])
        moved[index, ..., 3] = evidence[index]
    return moved


def same_frame(frame: np.ndarray, centre_frame: np.ndarray) -> bool:
    """Whether `frame` repeats the centre frame (a shot edge under the edge rule); a sparse look first is cheap."""
    if frame is centre_frame:
        return True
    return (frame.shape == centre_frame.shape and np.array_equal(frame[::17, ::17], centre_frame[::17, ::17])
            and np.array_equal(frame, centre_frame))


Sampling = tuple[np.ndarray, np.ndarray] | None  # x and y maps (H×W float32 each) for cv2.remap; None: in place


def flow_sampling(flow: np.ndarray) -> Sampling:
    """The (x, y) maps that read a picture along `flow` (H×W×2, px); None where the flow is zero everywhere (a
    still shot, a copy of the frame: every pixel reads itself)."""
    if not flow.any():
        return None
    return _pixel_positions(flow.shape, 0) + flow[..., 0], _pixel_positions(flow.shape, 1) + flow[..., 1]


def luma_plane(image: np.ndarray) -> np.ndarray:
    """Rec.709 luma (float32 H×W), read from the channels in place (no copy of the picture)."""
    luma = image[..., 0].astype(np.float32) * _REC709[0]
    luma += image[..., 1] * _REC709[1]
    luma += image[..., 2] * _REC709[2]
    return luma


def _warped(image: np.ndarray, sampling: Sampling, out: np.ndarray | None = None) -> np.ndarray:
    """`image` (H×W or H×W×4, float32) read at `sampling` (:func:`flow_sampling`), bicubic (a bilinear half-pixel
    shift softens a highlight into a false spike), edges clamped; into `out` if given."""
    if sampling is None:
        if out is None:
            return image.copy()
        out[...] = image
        return out
    return cv2.remap(image, *sampling, cv2.INTER_CUBIC, dst=out, borderMode=cv2.BORDER_REPLICATE)


def _evidence(samplings: list[Sampling], copies: list[bool], shape: tuple[int, int]) -> list[np.ndarray]:
    """Bool H×W per neighbour: not a copy of the frame, and read within its outermost pixel centres."""
    return [np.zeros(shape, bool) if copy else inside_picture(sampling, shape)
            for sampling, copy in zip(samplings, copies, strict=True)]


def inside_picture(sampling: Sampling, shape: tuple[int, int]) -> np.ndarray:
    """Bool H×W (`shape`): `sampling` reads the picture within its outermost pixel centres."""
    if sampling is None:
        return np.ones(shape, bool)
    xs, ys = sampling
    height, width = xs.shape
    return (xs > -_EDGE) & (xs < width - 1 + _EDGE) & (ys > -_EDGE) & (ys < height - 1 + _EDGE)


def _suspects(frame_luma: np.ndarray, warped: list[np.ndarray], present: list[np.ndarray]) -> np.ndarray:
    """Bool H×W: within SUSPECT_REACH px of a pixel whose luma lies more than SUSPECT_SPIKE outside the range of the
    present warped neighbours (where at least two of more, or the one of one, are present)."""
    if not warped:
        return np.zeros(frame_luma.shape, bool)
    stack, there = np.stack(warped), np.stack(present)
    highest = np.where(there, stack, -np.inf).max(axis=0)
    lowest = np.where(there, stack, np.inf).min(axis=0)
    needed = max(1, min(2, len(warped) - 1))
    found = (np.maximum(frame_luma - highest, lowest - frame_luma) > SUSPECT_SPIKE) & (there.sum(axis=0) >= needed)
    found = found.astype(np.uint8)
    reach = 2 * SUSPECT_REACH + 1
    return cv2.dilate(found, np.ones((reach, reach), np.uint8)).astype(bool)


def _surrounding_samplings(flows: list[np.ndarray], samplings: list[Sampling], copies: list[bool],
                           suspect: np.ndarray) -> list[Sampling]:
    """The samplings of each neighbour that is not a copy of the frame along its flow where no defect is suspected,
    and at suspected pixels along the mean flow of the SURROUNDING_BOX² px around them that are not suspect
    (unchanged where all of them are). The box sums of what is not suspect are shared by every neighbour, and a
    sampling is changed only where the flow is (at 2K, in OpenCV's single passes: 285 → 140 ms for four)."""
    keep = np.logical_not(suspect).astype(np.float32)
    weight = _box_sum(keep)
    outside = np.logical_not(suspect & (weight > 0.5))  # where the flow stays
    weight = np.maximum(weight, np.float32(1e-6))
    moved: list[Sampling] = []
    for flow, sampling, copy in zip(flows, samplings, copies, strict=True):
        if copy or sampling is None:  # a still flow: the mean of zeros is zero
            moved.append(sampling)
            continue
        read = []
        for axis, (plane, grid) in enumerate(zip(cv2.split(flow), sampling, strict=True)):
            around = cv2.divide(_box_sum(cv2.multiply(plane, keep)), weight)
            around += _pixel_positions(plane.shape, axis)
            np.copyto(around, grid, where=outside)
            read.append(around)
        moved.append((read[0], read[1]))
    return moved


def _pixel_positions(shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Each pixel's x (`axis` 0) or y (1) position, broadcast against an H×W plane of `shape` (H, W, …)."""
    if axis == 0:
        return np.arange(shape[1], dtype=np.float32)[None, :]
    return np.arange(shape[0], dtype=np.float32)[:, None]


def _box_sum(plane: np.ndarray) -> np.ndarray:
    """The sum over SURROUNDING_BOX² px around each pixel, nothing beyond the edge."""
    box = (SURROUNDING_BOX, SURROUNDING_BOX)
    return cv2.boxFilter(plane, -1, box, normalize=False, borderType=cv2.BORDER_CONSTANT)
