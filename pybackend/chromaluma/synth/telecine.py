"""How a DVD or telecine reference is made from clean film frames, with the ground truth kept.

A reference is the same film seen through a video transfer. This module simulates that transfer, step by step,
so that `chromaluma align` can be tested against known answers:

1. **Geometry** (:func:`telecine_matrix`, :func:`transfer_frame`): the film frame loses an overscan border
   (`overscan` of the width and height is cut from *each* edge), sits slightly rotated (`rotation_deg`,
   counter-clockwise as displayed) and off-centre (`framing_shift`, scan pixels), and is resampled onto
   720×576 storage pixels. A 4:3 film frame on 720×576 PAL pixels has a non-square pixel aspect, so the x
   and y scales differ. With `display_aspect` set, a frame of another aspect is letterboxed or pillarboxed
   inside the display (black bars), as DVDs of wide films are.
2. **Colour** (:func:`grade_reference`): the reference's colour differs by design (another print, another
   grade): a 3×3 colour matrix, a gamma and video levels (16–235).
3. **Video coding** (:func:`subsample_chroma_420`, :func:`compress_jpeg`): 4:2:0 chroma (per field when
   interlaced) and block compression (JPEG stands in for MPEG-2 intra coding).
4. **Time** (:func:`cadence_fields`): film frames become fields by a cadence. `"progressive"` keeps frames
   1:1 at the film's rate; `"pal"` is the same 1:1 frames run at 25 fps (24→25 speed-up); `"2:3"` is NTSC
   pulldown (2, 3, 2, 3 fields per film frame → 29.97 fps, interlaced, a mixed frame in every five);
   `"pal-2:2:3"` is the European pulldown that adds one field every 12 film frames (24 fps → 25 fps without
   the speed-up). Film frames listed in `drop_film_frames` never reach the reference (a lost splice),
   and `lead_in` frames of grey leader come first (a constant frame offset).

Frames are float32 HWC RGB in 0–1. Coordinates follow docs/CONTRACT.md §5: x right, y down, pixel centres at
integers. :class:`TelecineTruth` says, for every reference frame, which film frame each field shows
(`None` for leader) and the 3×3 matrix between scan and reference pixel coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from chromaluma.errors import ParameterError

CADENCES: dict[str, tuple[tuple[int, ...], float | None]] = {
    # name: (fields per film frame, cycled; video fps — None keeps the film's own rate)
    "progressive": ((2,), None),
    "pal": ((2,), 25.0),
    "2:3": ((2, 3), 30000.0 / 1001.0),
    "pal-2:2:3": ((2,) * 11 + (3,), 25.0),
}
REC601_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# A warmer, more saturated transfer: a plausible "the DVD looks different" grade.
DEFAULT_COLOUR_MATRIX = ((1.18, -0.10, -0.08), (-0.06, 1.12, -0.06), (-0.10, -0.14, 1.24))


@dataclass(frozen=True)
class TelecineSettings:
    """Every knob of the simulated transfer; the defaults are a PAL DVD of a 4:3 film with a mild grade."""

    width: int = 720
    height: int = 576
    overscan: float = 0.03
    rotation_deg: float = 0.3
    framing_shift: tuple[float, float] = (0.0, 0.0)
    display_aspect: float | None = None
    colour_matrix: tuple[tuple[float, float, float], ...] | None = DEFAULT_COLOUR_MATRIX
    gamma: float = 0.85
    video_levels: bool = True
    chroma_420: bool = True
    jpeg_quality: int = 80
    cadence: str = "pal"
    film_fps: float = 24.0
    lead_in: int = 0
    drop_film_frames: tuple[int, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if self.cadence not in CADENCES:
            raise ParameterError(f"cadence {self.cadence!r}: choose one of {', '.join(CADENCES)}.")
        if not 0.0 <= self.overscan < 0.25:
            raise ParameterError(f"overscan {self.overscan}: give a fraction per edge in [0, 0.25).")
        if self.width < 2 or self.height < 2 or self.height % 2:
            raise ParameterError(f"reference size {self.width}x{self.height}: needs an even height ≥ 2.")
        if not 1 <= self.jpeg_quality <= 100:
            raise ParameterError(f"jpeg_quality {self.jpeg_quality}: choose 1–100.")


@dataclass
class TelecineTruth:
    """What the simulated reference shows, for checking an alignment against.

    `fields[k] = (top, bottom)`: the film-frame index (position in the input list) shown by reference frame
    k's top field (rows 0, 2, …) and bottom field (rows 1, 3, …); `None` where it shows leader.
    `scan_to_reference` maps scan pixel coordinates to reference pixel coordinates; `reference_to_scan` is its
    inverse — the matrix `chromaluma align` should recover. `picture_box` is (x0, y0, x1, y1), the part of
    the reference that holds picture (inside letterbox/pillarbox bars), in reference pixels.
    """

    fields: list[tuple[int | None, int | None]]
    scan_to_reference: np.ndarray
    reference_to_scan: np.ndarray
    fps: float
    picture_box: tuple[int, int, int, int]
    settings: TelecineSettings = field(default_factory=TelecineSettings)

    def progressive_frame(self, reference_frame: int) -> int | None:
        """The film frame a reference frame shows whole (both fields), or None (mixed frame or leader)."""
        top, bottom = self.fields[reference_frame]
        return top if top is not None and top == bottom else None

    def frames_showing(self, film_frame: int) -> list[int]:
        """Reference frames with at least one field from `film_frame`."""
        return [k for k, pair in enumerate(self.fields) if film_frame in pair]


def picture_box(settings: TelecineSettings, scan_width: int, scan_height: int) -> tuple[int, int, int, int]:
    """Where the picture sits in the reference (x0, y0, x1, y1 exclusive): all of it unless bars are asked for."""
    if settings.display_aspect is None:
        return 0, 0, settings.width, settings.height
    keep = 1.0 - 2.0 * settings.overscan
    picture_aspect = (scan_width * keep) / (scan_height * keep)
    if picture_aspect >= settings.display_aspect:  # wider than the display: letterbox
        height = int(round(settings.height * settings.display_aspect / picture_aspect / 2.0)) * 2
        top = (settings.height - height) // 2
        return 0, top, settings.width, top + height
    width = int(round(settings.width * picture_aspect / settings.display_aspect / 2.0)) * 2
    left = (settings.width - width) // 2
    return left, 0, left + width, settings.height


def telecine_matrix(settings: TelecineSettings, scan_width: int, scan_height: int) -> np.ndarray:
    """3×3 matrix from scan pixel coordinates to reference pixel coordinates (pixel centres at integers).

    Rotation about the scan frame's centre, then the overscan crop (shifted by `framing_shift`) scaled onto
    the picture box — separately in x and y, which is where non-square pixels come from.
    """
    centre_x, centre_y = (scan_width - 1) / 2.0, (scan_height - 1) / 2.0
    angle = np.deg2rad(settings.rotation_deg)
    cos, sin = np.cos(angle), np.sin(angle)
    # y points down, so a counter-clockwise turn as displayed is (x, y) → (x cos + y sin, −x sin + y cos).
    rotate = np.array([[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]])
    about_centre = np.array([[1.0, 0.0, -centre_x], [0.0, 1.0, -centre_y], [0.0, 0.0, 1.0]])
    rotation = np.linalg.inv(about_centre) @ rotate @ about_centre
    left = settings.overscan * scan_width - 0.5 + settings.framing_shift[0]
    top = settings.overscan * scan_height - 0.5 + settings.framing_shift[1]
    crop_width = scan_width * (1.0 - 2.0 * settings.overscan)
    crop_height = scan_height * (1.0 - 2.0 * settings.overscan)
    box_x0, box_y0, box_x1, box_y1 = picture_box(settings, scan_width, scan_height)
    scale_x, scale_y = (box_x1 - box_x0) / crop_width, (box_y1 - box_y0) / crop_height
    crop_and_scale = np.array([[scale_x, 0.0, box_x0 - 0.5 - left * scale_x],
                               [0.0, scale_y, box_y0 - 0.5 - top * scale_y],
                               [0.0, 0.0, 1.0]])
    return crop_and_scale @ rotation


def transfer_frame(frame: np.ndarray, scan_to_reference: np.ndarray, width: int, height: int,
                   box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Resample a film frame onto the reference's pixel grid (anti-aliased when shrinking); black outside."""
    linear_part = scan_to_reference[:2, :2]
    shrink = float(np.sqrt(abs(np.linalg.det(linear_part))))
    source = np.ascontiguousarray(frame[..., :3], dtype=np.float32)
    if shrink < 1.0:  # blur to the output's Nyquist limit before sampling, as a telecine's optics would
        sigma = 0.5 * float(np.sqrt(1.0 / shrink**2 - 1.0))
        source = cv2.GaussianBlur(source, (0, 0), sigma)
    warped = cv2.warpAffine(source, scan_to_reference[:2].astype(np.float64), (width, height),
                            flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    if box is not None:
        x0, y0, x1, y1 = box
        outside = np.ones((height, width), dtype=bool)
        outside[y0:y1, x0:x1] = False
        warped[outside] = 0.0
    return np.clip(warped, 0.0, 1.0)


def grade_reference(frame: np.ndarray, settings: TelecineSettings) -> np.ndarray:
    """The reference's own colour: colour matrix, then gamma, then (optionally) 16–235 video levels."""
    graded = frame
    if settings.colour_matrix is not None:
        graded = graded @ np.asarray(settings.colour_matrix, dtype=np.float32).T
    graded = np.clip(graded, 0.0, 1.0) ** np.float32(settings.gamma)
    if settings.video_levels:
        graded = (16.0 + graded * (235.0 - 16.0)) / 255.0
    return graded.astype(np.float32)


def subsample_chroma_420(frame: np.ndarray, interlaced: bool = False) -> np.ndarray:
    """4:2:0 chroma: Cb/Cr at half resolution both ways (per field when `interlaced`), then back up."""
    if interlaced:
        out = np.empty_like(frame)
        out[0::2] = subsample_chroma_420(frame[0::2])
        out[1::2] = subsample_chroma_420(frame[1::2])
        return out
    ycrcb = cv2.cvtColor(np.ascontiguousarray(frame, dtype=np.float32), cv2.COLOR_RGB2YCrCb)
    height, width = frame.shape[:2]
    chroma = ycrcb[..., 1:]
    small = cv2.resize(chroma, (max(1, width // 2), max(1, height // 2)), interpolation=cv2.INTER_AREA)
    ycrcb[..., 1:] = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB), 0.0, 1.0)


def compress_jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    """Block-transform compression through an 8-bit JPEG round trip (quality 1–100)."""
    bgr = cv2.cvtColor(np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ParameterError("JPEG encoding failed in the telecine simulation; check jpeg_quality.")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def cadence_fields(film_frames: int, settings: TelecineSettings) -> list[tuple[int | None, int | None]]:
    """Which film frame each reference frame's (top, bottom) field shows, leader and dropped frames included."""
    dropped = set(settings.drop_film_frames)
    sources: list[int | None] = [None] * settings.lead_in + [k for k in range(film_frames) if k not in dropped]
    counts = CADENCES[settings.cadence][0]
    field_stream: list[int | None] = []
    for position, source in enumerate(sources):
        field_stream.extend([source] * counts[position % len(counts)])
    if len(field_stream) % 2:
        field_stream.pop()  # a lone last field makes no frame
    return [(field_stream[i], field_stream[i + 1]) for i in range(0, len(field_stream), 2)]


def make_reference(film: Sequence[np.ndarray], settings: TelecineSettings | None = None
                   ) -> tuple[list[np.ndarray], TelecineTruth]:
    """Make a DVD/telecine reference from clean film frames; returns its frames and the ground truth."""
    settings = settings or TelecineSettings()
    if not film:
        raise ParameterError("make_reference: no film frames given; pass at least one clean frame.")
    scan_height, scan_width = film[0].shape[:2]
    to_reference = telecine_matrix(settings, scan_width, scan_height)
    box = picture_box(settings, scan_width, scan_height)
    fields = cadence_fields(len(film), settings)
    interlaced = CADENCES[settings.cadence][0] != (2,)
    leader_rng = np.random.default_rng(settings.seed)
    transferred: dict[int, np.ndarray] = {}

    def picture(source: int | None) -> np.ndarray:
        if source is None:  # grey leader with a little noise: structureless, must never match
            noise = leader_rng.normal(0.0, 0.02, (settings.height, settings.width, 1)).astype(np.float32)
            return np.clip(0.35 + np.repeat(noise, 3, axis=2), 0.0, 1.0)
        if source not in transferred:
            frame = transfer_frame(film[source], to_reference, settings.width, settings.height, box)
            transferred[source] = grade_reference(frame, settings)
        return transferred[source]

    frames = []
    for top, bottom in fields:
        woven = picture(top).copy()
        if bottom != top or top is None:
            woven[1::2] = picture(bottom)[1::2]
        if settings.chroma_420:
            woven = subsample_chroma_420(woven, interlaced=interlaced)
        frames.append(compress_jpeg(woven, settings.jpeg_quality))
    fps = CADENCES[settings.cadence][1] or settings.film_fps
    truth = TelecineTruth(fields, to_reference, np.linalg.inv(to_reference), fps, box, settings)
    return frames, truth
