"""Classical baselines: what a restorer does today without Chromaluma, fitted on the same training pairs.

Colour (fitted on faded scan → reference pairs, applied to held-out scan frames):

- :class:`ReinhardTransfer` — Reinhard et al. 2001 colour transfer: match each CIELAB channel's mean and
  standard deviation of the scan to the reference's.
- :class:`HistogramMatch` — per-channel histogram matching of each frame to the references' pooled pixels
  (``skimage.exposure.match_histograms``), a grader's "auto match".
- :class:`ColourLUT` — a per-shot 3D LUT (17³ lattice, trilinear) averaged from the pairs, empty cells filled
  by the polynomial fit: what a colourist builds with a LUT-matching tool.
- :class:`PolynomialColour` — a cubic polynomial colour regression RGB → RGB (least squares, light ridge).

Density (lightness), the colourist's first step on a faded print, before any colour work:

- :class:`DensityGrade` — a per-shot monotonic 1D tone curve on Rec.709 luma (scan Y → reference Y), fitted on
  the training pairs and applied to every frame's luma with the colour differences kept (ΔY added to R, G, B).

Detail (luma), fitted on damaged scan → better reference pairs by a small grid search on PSNR:

- :class:`UnsharpLuma` — unsharp mask (``skimage.filters.unsharp_mask``) on Rec.709 luma.
- :class:`DeconvolveLuma` — Richardson–Lucy deconvolution (``skimage.restoration.richardson_lucy``) with a
  Gaussian point-spread of fitted width, on luma.

Keyframes (colour carried from a few painted frames of a shot; no fitting, see :mod:`chromaluma.keyframe_baseline`):

- :class:`FlowPropagation` — optical flow from the frame to each keyframe, the keyframe's Cb, Cr warped along it
  and guided-filtered on the frame's luma (luma kept); `propagate(frame, keyframes, distances)`.

Damage (dust, dirt, hairs, sparkle, scratches; no fitting, see :mod:`chromaluma.damage_baselines`):

- :func:`spike_matte` — the spike-detection index (SDI/ROD) on a motion-compensated temporal window (DIS flow).
- :class:`SpikeDetectionRepair` — that matte filled with the motion-compensated temporal median of the neighbours.
- :class:`ThresholdInpaintRepair` — a spatial threshold detector (median residual, vertical-line test for
  scratches) and OpenCV Telea inpainting inside its matte. Both repairs' `repair(window, centre)` return
  (frame, matte) with every pixel outside the matte bit-exact; `tune(windows, centres, truths)` picks their
  thresholds on a training shot.

All frames are float32 HWC RGB, display-referred, 0–1; masks are H×W, > 0.5 where the reference has picture.
Every colour, density and detail baseline has `fit(scans, references, masks)` and `apply(scan)`; `apply` before
`fit` raises.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from chromaluma.contract import LUMA_WEIGHTS
from chromaluma.damage_baselines import SpikeDetectionRepair, ThresholdInpaintRepair, spike_matte  # noqa: F401
from chromaluma.errors import ChromalumaError, PairMismatchError
from chromaluma.keyframe_baseline import FlowPropagation  # noqa: F401 — every baseline is found here

log = logging.getLogger(__name__)
REC709 = np.array(LUMA_WEIGHTS, dtype=np.float32)
MAX_FIT_PIXELS = 400_000  # pixels drawn from the training pairs for colour fits (plenty for 3-D statistics)


class BaselineNotFittedError(ChromalumaError):
    """A baseline was applied before `fit` was called on training pairs."""


def paired_pixels(scans: Sequence[np.ndarray], references: Sequence[np.ndarray],
                  masks: Sequence[np.ndarray | None] | None = None, limit: int = MAX_FIT_PIXELS,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Corresponding scan and reference RGB pixels (N×3 each) from valid mask areas, evenly subsampled."""
    if len(scans) != len(references) or not scans:
        raise PairMismatchError(f"baseline fit: {len(scans)} scans and {len(references)} references; "
                                "give at least one pair, one reference per scan.")
    masks = masks if masks is not None else [None] * len(scans)
    scan_pixels, reference_pixels = [], []
    for scan, reference, mask in zip(scans, references, masks, strict=True):
        if scan.shape[:2] != reference.shape[:2]:
            raise PairMismatchError(f"baseline fit: scan {scan.shape[:2]} and reference {reference.shape[:2]} "
                                    "differ in size; register the reference onto the scan grid first.")
        valid = np.ones(scan.shape[:2], bool) if mask is None else np.asarray(mask).reshape(scan.shape[:2]) > 0.5
        scan_pixels.append(scan[..., :3][valid])
        reference_pixels.append(reference[..., :3][valid])
    scan_all, reference_all = np.concatenate(scan_pixels), np.concatenate(reference_pixels)
    if len(scan_all) > limit:
        pick = np.random.default_rng(seed).choice(len(scan_all), limit, replace=False)
        scan_all, reference_all = scan_all[pick], reference_all[pick]
    return scan_all.astype(np.float32), reference_all.astype(np.float32)


class _Baseline:
    name = "baseline"
    fitted = False

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise BaselineNotFittedError(f"{self.name}: call fit(scans, references) on training pairs before apply.")


@dataclass
class ReinhardTransfer(_Baseline):
    """Match the scan's CIELAB mean and standard deviation per channel to the reference's."""

    name: str = "Reinhard colour transfer"
    scan_stats: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)))
    reference_stats: np.ndarray = field(default_factory=lambda: np.zeros((2, 3)))

    def fit(self, scans, references, masks=None) -> ReinhardTransfer:
        from skimage.color import rgb2lab

        scan_px, reference_px = paired_pixels(scans, references, masks)
        scan_lab, reference_lab = rgb2lab(scan_px[None]), rgb2lab(reference_px[None])
        self.scan_stats = np.stack([scan_lab.mean(axis=(0, 1)), scan_lab.std(axis=(0, 1)) + 1e-6])
        self.reference_stats = np.stack([reference_lab.mean(axis=(0, 1)), reference_lab.std(axis=(0, 1))])
        self.fitted = True
        return self

    def apply(self, scan: np.ndarray) -> np.ndarray:
        from skimage.color import lab2rgb, rgb2lab

        self._check_fitted()
        lab = rgb2lab(np.clip(scan[..., :3], 0, 1).astype(np.float64))
        lab = (lab - self.scan_stats[0]) / self.scan_stats[1] * self.reference_stats[1] + self.reference_stats[0]
        return np.clip(lab2rgb(lab), 0.0, 1.0).astype(np.float32)


@dataclass
class HistogramMatch(_Baseline):
    """Match each frame's per-channel histograms to the pooled reference pixels (skimage)."""

    name: str = "histogram matching"
    reference_pixels: np.ndarray | None = None

    def fit(self, scans, references, masks=None) -> HistogramMatch:
        _, self.reference_pixels = paired_pixels(scans, references, masks)
        self.fitted = True
        return self

    def apply(self, scan: np.ndarray) -> np.ndarray:
        from skimage.exposure import match_histograms

        self._check_fitted()
        matched = match_histograms(scan[..., :3], self.reference_pixels[None], channel_axis=-1)
        return np.clip(matched, 0.0, 1.0).astype(np.float32)


def _cubic_terms(rgb: np.ndarray) -> np.ndarray:
    """The 20 monomials of R, G, B up to degree 3 (1, R, G, B, R², RG, …, B³) for N×3 pixels."""
    r, g, b = (rgb[:, i].astype(np.float64) for i in range(3))
    ones = np.ones_like(r)
    terms = [ones, r, g, b, r * r, g * g, b * b, r * g, r * b, g * b,
             r**3, g**3, b**3, r * r * g, r * r * b, g * g * r, g * g * b, b * b * r, b * b * g, r * g * b]
    return np.stack(terms, axis=1)


@dataclass
class PolynomialColour(_Baseline):
    """Cubic polynomial regression RGB → RGB fitted by ridge-regularised least squares on the pairs."""

    name: str = "polynomial colour regression"
    ridge: float = 1e-4
    coefficients: np.ndarray | None = None

    def fit(self, scans, references, masks=None) -> PolynomialColour:
        scan_px, reference_px = paired_pixels(scans, references, masks)
        self.fit_pixels(scan_px, reference_px)
        return self

    def fit_pixels(self, scan_px: np.ndarray, reference_px: np.ndarray) -> None:
        terms = _cubic_terms(scan_px)
        gram = terms.T @ terms / len(terms) + self.ridge * np.eye(terms.shape[1])
        self.coefficients = np.linalg.solve(gram, terms.T @ reference_px.astype(np.float64) / len(terms))
        self.fitted = True

    def apply_pixels(self, rgb: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.clip(_cubic_terms(rgb) @ self.coefficients, 0.0, 1.0).astype(np.float32)

    def apply(self, scan: np.ndarray) -> np.ndarray:
        height, width = scan.shape[:2]
        return self.apply_pixels(scan[..., :3].reshape(-1, 3)).reshape(height, width, 3)


@dataclass
class ColourLUT(_Baseline):
    """A per-shot 3D LUT: mean reference colour per lattice cell of scan colour, trilinear between cells."""

    name: str = "3D LUT (17³)"
    size: int = 17
    min_samples: int = 4
    lattice: np.ndarray | None = None

    def fit(self, scans, references, masks=None) -> ColourLUT:
        scan_px, reference_px = paired_pixels(scans, references, masks)
        fallback = PolynomialColour()
        fallback.fit_pixels(scan_px, reference_px)
        n = self.size
        cells = np.clip(np.rint(scan_px * (n - 1)), 0, n - 1).astype(np.int64)
        index = (cells[:, 0] * n + cells[:, 1]) * n + cells[:, 2]
        counts = np.bincount(index, minlength=n**3).astype(np.float64)
        sums = np.stack([np.bincount(index, reference_px[:, c], minlength=n**3) for c in range(3)], axis=1)
        nodes = np.stack(np.meshgrid(*[np.linspace(0, 1, n)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
        lattice = fallback.apply_pixels(nodes.astype(np.float32)).astype(np.float64)
        # blend each node's own average with the polynomial by how well the node is sampled
        weight = (counts / (counts + self.min_samples))[:, None]
        lattice = weight * sums / np.maximum(counts, 1)[:, None] + (1 - weight) * lattice
        self.lattice = lattice.reshape(n, n, n, 3).astype(np.float32)
        self.fitted = True
        log.debug("3D LUT: %d of %d cells sampled", int((counts > 0).sum()), n**3)
        return self

    def apply(self, scan: np.ndarray) -> np.ndarray:
        self._check_fitted()
        height, width = scan.shape[:2]
        position = np.clip(scan[..., :3].reshape(-1, 3), 0, 1) * (self.size - 1)
        low = np.minimum(np.floor(position).astype(np.int64), self.size - 2)
        frac = (position - low).astype(np.float32)
        out = np.zeros_like(position, dtype=np.float32)
        for corner in range(8):
            bits = [(corner >> k) & 1 for k in (2, 1, 0)]
            weight = np.ones(len(position), np.float32)
            for axis, bit in enumerate(bits):
                weight *= frac[:, axis] if bit else 1.0 - frac[:, axis]
            out += weight[:, None] * self.lattice[low[:, 0] + bits[0], low[:, 1] + bits[1], low[:, 2] + bits[2]]
        return np.clip(out, 0.0, 1.0).reshape(height, width, 3)


def with_luma(scan: np.ndarray, new_luma: np.ndarray) -> np.ndarray:
    """The scan with its Rec.709 luma replaced (colour differences kept): out = rgb + (Y' − Y)."""
    luma = scan[..., :3] @ REC709
    return np.clip(scan[..., :3] + (new_luma - luma)[..., None], 0.0, 1.0).astype(np.float32)


@dataclass
class DensityGrade(_Baseline):
    """A colourist's density grade of a faded print: one monotonic tone curve on Rec.709 luma per shot.

    Fitted on training pairs only: the scan's luma is cut into `bins` equal-count bins, each bin's median scan Y
    is paired with the median reference Y of the same pixels, and the nodes are made non-decreasing (pool
    adjacent violators), as a colourist's luma curve would be. Between nodes the curve is linear, beyond the end
    nodes it continues with the end segments' slopes. Applied by adding ΔY = curve(Y) − Y to R, G and B, which
    keeps the colour differences Cb = B − Y and Cr = R − Y (a Y-only curve with full luma mix, in Resolve's terms),
    so the grade sets lightness and leaves colour to what follows. Exact for the luma unless a channel clips.
    """

    name: str = "density grade (luma curve)"
    bins: int = 32
    scan_nodes: np.ndarray | None = None
    graded_nodes: np.ndarray | None = None

    def fit(self, scans, references, masks=None) -> DensityGrade:
        scan_px, reference_px = paired_pixels(scans, references, masks)
        scan_y, reference_y = scan_px @ REC709, reference_px @ REC709
        order = np.argsort(scan_y, kind="stable")
        groups = np.array_split(order, min(self.bins, len(order)))
        nodes = np.array([[np.median(scan_y[g]), np.median(reference_y[g])] for g in groups if len(g)])
        self.scan_nodes = nodes[:, 0]
        self.graded_nodes = non_decreasing(nodes[:, 1], np.array([len(g) for g in groups if len(g)], np.float64))
        self.fitted = True
        return self

    def curve(self, luma: np.ndarray) -> np.ndarray:
        """The fitted tone curve at `luma` (any shape), clipped to 0–1."""
        self._check_fitted()
        x, y = self.scan_nodes, self.graded_nodes
        out = np.interp(luma, x, y)
        if len(x) > 1:
            low_slope = (y[1] - y[0]) / max(x[1] - x[0], 1e-6)
            high_slope = (y[-1] - y[-2]) / max(x[-1] - x[-2], 1e-6)
            out = np.where(luma < x[0], y[0] + (luma - x[0]) * low_slope, out)
            out = np.where(luma > x[-1], y[-1] + (luma - x[-1]) * high_slope, out)
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def apply(self, scan: np.ndarray) -> np.ndarray:
        return with_luma(scan, self.curve(scan[..., :3] @ REC709))


def non_decreasing(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted least-squares non-decreasing fit to `values` (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(values.astype(np.float64), weights, strict=True):
        blocks.append([float(value), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, total, count = blocks.pop()
            previous = blocks[-1]
            merged = previous[1] + total
            blocks[-1] = [(previous[0] * previous[1] + mean * total) / merged, merged, previous[2] + count]
    return np.concatenate([np.full(int(count), mean) for mean, _, count in blocks])


def _best_by_psnr(candidates: Sequence[dict[str, float]], restore, scans, references) -> dict[str, float]:
    """The parameter set whose restoration of the training scans has the lowest error against the references.

    Searched on the centre 384×384 of at most three pairs: the grid is tried many times, the full frames once.
    """
    scans, references = [_centre(s) for s in scans[:3]], [_centre(r) for r in references[:3]]

    def error(params: dict[str, float]) -> float:
        return float(np.mean([np.mean((restore(s, **params) - r[..., :3]) ** 2) for s, r in zip(scans, references,
                                                                                                  strict=True)]))

    return min(candidates, key=error)


def _centre(frame: np.ndarray, size: int = 384) -> np.ndarray:
    top, left = max(0, (frame.shape[0] - size) // 2), max(0, (frame.shape[1] - size) // 2)
    return frame[top:top + size, left:left + size]


class _GridSearchedLuma(_Baseline):
    """A luma filter whose parameters are the candidate from GRID with the best PSNR on the training pairs."""

    GRID: list[dict[str, float]] = []
    params: dict[str, float]

    @staticmethod
    def _restore(scan: np.ndarray, **params: float) -> np.ndarray:
        raise NotImplementedError

    def fit(self, scans, references, masks=None) -> _GridSearchedLuma:
        self.params = _best_by_psnr(self.GRID, self._restore, scans, references)
        self.fitted = True
        return self

    def apply(self, scan: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return self._restore(scan, **self.params)


@dataclass
class UnsharpLuma(_GridSearchedLuma):
    """Unsharp mask on luma, radius and amount chosen on the training pairs."""

    name: str = "unsharp mask"
    params: dict[str, float] = field(default_factory=lambda: {"radius": 1.5, "amount": 1.0})
    GRID = [{"radius": r, "amount": a} for r in (0.7, 1.5, 3.0) for a in (0.3, 0.7, 1.2, 2.0)]

    @staticmethod
    def _restore(scan: np.ndarray, radius: float, amount: float) -> np.ndarray:
        from skimage.filters import unsharp_mask

        luma = scan[..., :3] @ REC709
        return with_luma(scan, unsharp_mask(luma, radius=radius, amount=amount, preserve_range=True))


def gaussian_psf(sigma: float) -> np.ndarray:
    """A normalised Gaussian point-spread function of standard deviation `sigma` pixels."""
    radius = max(1, int(np.ceil(3 * sigma)))
    axis = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (axis[:, None] ** 2 + axis[None, :] ** 2) / sigma**2)
    return kernel / kernel.sum()


@dataclass
class DeconvolveLuma(_GridSearchedLuma):
    """Richardson–Lucy deconvolution of luma with a Gaussian PSF whose width is chosen on the training pairs."""

    name: str = "Richardson–Lucy deconvolution"
    params: dict[str, float] = field(default_factory=lambda: {"sigma": 1.0, "iterations": 10})
    GRID = [{"sigma": s, "iterations": n} for s in (0.6, 1.0, 1.6, 2.4) for n in (5, 15)]

    @staticmethod
    def _restore(scan: np.ndarray, sigma: float, iterations: float) -> np.ndarray:
        from skimage.restoration import richardson_lucy

        psf = gaussian_psf(sigma)
        pad = psf.shape[0]  # reflect-pad: RL convolves with zeros outside, which would darken the frame's edges
        luma = np.pad(np.clip(scan[..., :3] @ REC709, 1e-4, 1.0).astype(np.float64), pad, mode="reflect")
        sharp = richardson_lucy(luma, psf, num_iter=int(iterations), clip=True)[pad:-pad, pad:-pad]
        return with_luma(scan, sharp.astype(np.float32))


def colour_baselines() -> list[_Baseline]:
    """Fresh, unfitted colour baselines in the order BENCHMARKS.md lists them."""
    return [ReinhardTransfer(), HistogramMatch(), ColourLUT(), PolynomialColour()]


def luma_baselines() -> list[_Baseline]:
    """Fresh, unfitted detail baselines in the order BENCHMARKS.md lists them."""
    return [UnsharpLuma(), DeconvolveLuma()]
