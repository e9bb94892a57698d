"""Where the reference's pixels sit on the scan: feature matching + RANSAC, then ECC refinement, then warping.

All transforms here are 3×3 matrices taking *reference* pixel coordinates to *scan* pixel coordinates
(docs/CONTRACT.md §5: x right, y down, pixel centres at integers). Three models:

- `similarity`: rotation, one scale per axis (a DVD's pixels are not square) and translation — 5 degrees of
  freedom, what a telecine does to a frame;
- `affine`: adds shear (6);
- `homography`: adds keystone (8), for a reference filmed off a screen or a print scanned at an angle.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from chromaluma.align.structure import Grid, structure

log = logging.getLogger(__name__)

TRANSFORMS = ("similarity", "affine", "homography")
MIN_INLIERS = 12
FEATURE_WIDTH = 1024  # SIFT runs on frames no wider than this (registration precision comes from ECC after)


def _eight_bit(image: np.ndarray) -> np.ndarray:
    low, high = np.percentile(image, (0.5, 99.5))
    scaled = (image - low) / max(float(high - low), 1e-6)
    return np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)


def _shrink_matrix(width: int, height: int, max_width: int) -> tuple[np.ndarray, tuple[int, int]]:
    factor = min(1.0, max_width / width)
    size = (max(8, round(width * factor)), max(8, round(height * factor)))
    fx, fy = size[0] / width, size[1] / height
    return np.array([[fx, 0.0, 0.5 * fx - 0.5], [0.0, fy, 0.5 * fy - 0.5], [0.0, 0.0, 1.0]]), size


def feature_transform(scan_luma: np.ndarray, reference_luma: np.ndarray, model: str) -> np.ndarray | None:
    """Reference→scan matrix from SIFT matches and RANSAC, or None when too few matches agree."""
    scan_matrix, scan_size = _shrink_matrix(scan_luma.shape[1], scan_luma.shape[0], FEATURE_WIDTH)
    ref_matrix, ref_size = _shrink_matrix(reference_luma.shape[1], reference_luma.shape[0], FEATURE_WIDTH)
    scan_small = _eight_bit(cv2.resize(scan_luma, scan_size, interpolation=cv2.INTER_AREA))
    ref_small = _eight_bit(cv2.resize(reference_luma, ref_size, interpolation=cv2.INTER_AREA))
    sift = cv2.SIFT_create(nfeatures=4000)
    scan_points, scan_desc = sift.detectAndCompute(scan_small, None)
    ref_points, ref_desc = sift.detectAndCompute(ref_small, None)
    if scan_desc is None or ref_desc is None or len(scan_points) < MIN_INLIERS or len(ref_points) < MIN_INLIERS:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(ref_desc, scan_desc, k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = np.float32([ref_points[m.queryIdx].pt for m in good])
    dst = np.float32([scan_points[m.trainIdx].pt for m in good])
    if model == "homography":
        small, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 3.0)
    else:
        affine, inliers = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
        small = None if affine is None else np.vstack([affine, [0.0, 0.0, 1.0]])
    if small is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    full = np.linalg.inv(scan_matrix) @ small @ ref_matrix
    return constrain(full, model, reference_luma.shape[1], reference_luma.shape[0])


def constrain(matrix: np.ndarray, model: str, ref_width: int, ref_height: int) -> np.ndarray:
    """The nearest matrix of the chosen model (similarity drops shear; affine drops keystone).

    The frame centre keeps its mapping, so the correction is spread evenly over the frame.
    """
    matrix = matrix / matrix[2, 2]
    if model == "homography":
        return matrix
    centre = np.array([(ref_width - 1) / 2.0, (ref_height - 1) / 2.0, 1.0])
    mapped = matrix @ centre
    mapped = mapped[:2] / mapped[2]
    linear = matrix[:2, :2].copy()
    if model == "similarity":
        linear = _rotation_and_scales(linear)
    out = np.eye(3)
    out[:2, :2] = linear
    out[:2, 2] = mapped - linear @ centre[:2]
    return out


def _rotation_and_scales(linear: np.ndarray) -> np.ndarray:
    """Closest R(θ)·diag(sx, sy) to a 2×2 matrix in the Frobenius norm (θ by a fine search, scales in closed form)."""
    start = np.arctan2(linear[1, 0] - linear[0, 1], linear[0, 0] + linear[1, 1])
    theta = start + np.linspace(-0.05, 0.05, 4001)
    cos, sin = np.cos(theta), np.sin(theta)
    sx = cos * linear[0, 0] + sin * linear[1, 0]
    sy = -sin * linear[0, 1] + cos * linear[1, 1]
    best = int(np.argmax(sx * sx + sy * sy))
    c, s, x, y = cos[best], sin[best], sx[best], sy[best]
    return np.array([[c * x, -s * y], [s * x, c * y]])


def warp_to_grid(image: np.ndarray, reference_to_scan: np.ndarray, grid: Grid, interpolation: int = cv2.INTER_LINEAR,
                 border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """The reference image resampled onto a scan grid (anti-aliased where it shrinks)."""
    matrix = grid.from_scan @ reference_to_scan
    shrink = float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))
    source = np.ascontiguousarray(image, dtype=np.float32)
    if shrink < 0.8:
        sigma = 0.5 * float(np.sqrt(1.0 / shrink**2 - 1.0))
        source = cv2.GaussianBlur(source, (0, 0), sigma)
    return cv2.warpPerspective(source, matrix, (grid.width, grid.height), flags=interpolation, borderMode=border)


def validity_mask(box: tuple[int, int, int, int], reference_to_scan: np.ndarray, grid: Grid,
                  margin: float = 1.5) -> np.ndarray:
    """True where the scan grid sees reference picture (inside its bars), `margin` grid pixels clear of the edge."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0 - 0.5, y0 - 0.5], [x1 - 0.5, y0 - 0.5], [x1 - 0.5, y1 - 0.5], [x0 - 0.5, y1 - 0.5]])
    matrix = grid.from_scan @ reference_to_scan
    mapped = cv2.perspectiveTransform(corners[None].astype(np.float64), matrix)[0]
    inside = np.zeros((grid.height, grid.width), dtype=np.uint8)
    shift = 4  # sub-pixel polygon fill: cv2 takes fixed-point vertices
    cv2.fillPoly(inside, [np.rint(mapped * (1 << shift)).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=shift)
    radius = int(np.ceil(margin))
    if radius > 0:
        inside = cv2.erode(inside, cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1)))
    return inside.astype(bool)


def refine_ecc(scan_structure: np.ndarray, reference_luma: np.ndarray, reference_to_scan: np.ndarray,
               grid: Grid, mask: np.ndarray, model: str) -> np.ndarray | None:
    """Sub-pixel refinement by ECC between a scan's structure on `grid` and the reference warped onto it.

    `reference_luma` is in *reference* pixels; its structure is taken after warping, exactly as the scan's.
    Returns the refined reference→scan matrix, or None if ECC does not converge.
    """
    warped = structure(warp_to_grid(reference_luma, reference_to_scan, grid), *grid.sigmas())
    motion = cv2.MOTION_HOMOGRAPHY if model == "homography" else cv2.MOTION_AFFINE
    warp = np.eye(3, dtype=np.float32) if motion == cv2.MOTION_HOMOGRAPHY else np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 200, 1e-6)
    try:
        _, warp = cv2.findTransformECC(scan_structure.astype(np.float32), warped.astype(np.float32), warp, motion,
                                       criteria, mask.astype(np.uint8), 3)
    except cv2.error as exc:
        log.debug("ECC did not converge: %s", exc)
        return None
    residual = np.vstack([warp, [0.0, 0.0, 1.0]]) if warp.shape[0] == 2 else warp.astype(np.float64)
    # ECC found W with warped(W·x) ≈ scan(x); so scan→reference is T⁻¹·G⁻¹·W·G and reference→scan its inverse.
    to_grid = grid.from_scan
    refined = np.linalg.inv(to_grid) @ np.linalg.inv(residual.astype(np.float64)) @ to_grid @ reference_to_scan
    return refined / refined[2, 2]
