"""References for synthetic shots: a DVD/telecine transfer (engineer A's :mod:`chromaluma.synth.telecine`), either
as the disc would deliver it or already registered onto the scan's pixel grid (what `chromaluma align` would
produce, with a perfect alignment).

The registered ("aligned") reference uses a *neutral* transfer: no colour matrix, no gamma change, full-range
levels. It keeps everything else a DVD does to a picture (overscan, 720×576 resampling, 4:2:0 chroma, block
compression), so the ground truth of a restoration is still the clean film. A graded DVD would make the
restored colour follow the DVD's grade, by design, and leave no single right answer to measure against.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from chromaluma.synth.telecine import TelecineSettings, TelecineTruth, make_reference


def dvd_reference(film: Sequence[np.ndarray], seed: int) -> tuple[list[np.ndarray], TelecineTruth]:
    """A PAL DVD of the clean film as a disc delivers it: graded, 720×576, 25 fps (seeded)."""
    return make_reference(list(film), TelecineSettings(seed=seed))


def neutral_settings(seed: int) -> TelecineSettings:
    """A progressive PAL transfer with the film's own colour: the reference the benchmarks train from."""
    return TelecineSettings(colour_matrix=None, gamma=1.0, video_levels=False, cadence="progressive",
                            rotation_deg=0.0, seed=seed)


def aligned_reference(film: Sequence[np.ndarray], seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Neutral DVD frames resampled back onto the scan grid (one per film frame) and the picture mask (H×W, 0/1)."""
    frames, truth = make_reference(list(film), neutral_settings(seed))
    height, width = film[0].shape[:2]
    to_scan = truth.reference_to_scan[:2].astype(np.float64)
    registered = [np.clip(cv2.warpAffine(frame, to_scan, (width, height), flags=cv2.INTER_CUBIC,
                                         borderMode=cv2.BORDER_REPLICATE), 0.0, 1.0).astype(np.float32)
                  for frame in frames]
    coverage = cv2.warpAffine(np.ones(frames[0].shape[:2], np.float32), to_scan, (width, height),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    mask = (cv2.erode(coverage, np.ones((5, 5), np.uint8)) > 0.99).astype(np.float32)
    return registered, mask
