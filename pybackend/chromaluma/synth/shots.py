"""Shots made from public-domain photographs: slow pans, slow zooms, locked-off (static) and handheld shots.

The benchmarks and the demo need ground truth, which real faded film never has. These shots stand in for a
camera negative: a virtual camera moves slowly over one of scikit-image's bundled photographs (shipped inside
the scikit-image wheel, so nothing is downloaded). The virtual camera is an affine warp with cubic
interpolation; a pan moves about a tenth of the frame width over the shot, a zoom pushes in about 10 %.
`handheld_shot` is the opposite case: one continuous shot under a shaking handheld camera, with motion blur,
exposure flicker and grain, for checking that what changes between frames of one shot is never taken for a cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from chromaluma.errors import ParameterError

# scikit-image photographs whose licence lets anyone reuse them (see skimage/data/README.txt).
PUBLIC_DOMAIN_PHOTOS = {
    "astronaut": "Eileen Collins, NASA (public domain)",
    "coffee": "Rachel Michetti (CC0)",
    "chelsea": "Stefan van der Walt (CC0)",
    "rocket": "SpaceX (CC0)",
    "hubble_deep_field": "NASA/ESA Hubble (public domain)",
}
CAMERA_MOVES = ("pan", "zoom", "static")


@dataclass(frozen=True)
class CameraMove:
    """A virtual camera move over a photograph: `kind` in pan/zoom/static, `travel` as a fraction of the frame."""

    kind: str = "pan"
    travel: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in CAMERA_MOVES:
            raise ParameterError(f"camera move {self.kind!r}: choose one of {', '.join(CAMERA_MOVES)}.")


def load_photo(name: str) -> np.ndarray:
    """A bundled public-domain photograph as float32 HWC RGB in 0–1 (sRGB-encoded, as stored)."""
    if name not in PUBLIC_DOMAIN_PHOTOS:
        raise ParameterError(f"photo {name!r}: choose one of {', '.join(sorted(PUBLIC_DOMAIN_PHOTOS))} "
                             "(scikit-image's bundled public-domain photographs).")
    import skimage.data

    pixels = np.asarray(getattr(skimage.data, name)())
    return (pixels[..., :3].astype(np.float32) / 255.0).copy()


def photo_shot(photo: str | np.ndarray, frames: int, width: int = 1280, height: int = 720,
               move: CameraMove | None = None, seed: int = 0) -> list[np.ndarray]:
    """`frames` clean frames (float32 HWC RGB, 0–1) of a slow camera move over `photo`."""
    if frames < 1 or width < 8 or height < 8:
        raise ParameterError(f"shot of {frames} frames at {width}x{height}: need ≥ 1 frame of at least 8x8 pixels.")
    picture = load_photo(photo) if isinstance(photo, str) else np.asarray(photo, dtype=np.float32)
    move = move or CameraMove()
    rng = np.random.default_rng([seed, 0x540])
    photo_height, photo_width = picture.shape[:2]
    # scale that covers the frame with room to move; the camera centre starts off-centre by a seeded amount
    base_scale = max(width / photo_width, height / photo_height) * (1.0 + 1.5 * move.travel)
    direction = rng.choice([-1.0, 1.0])
    start = np.array([photo_width / 2, photo_height / 2]) + rng.uniform(-0.02, 0.02, 2) * [photo_width, photo_height]
    shot = []
    for index in range(frames):
        progress = index / max(frames - 1, 1) - 0.5
        scale, centre = base_scale, start.copy()
        if move.kind == "pan":
            centre[0] += direction * progress * move.travel * width / base_scale
        elif move.kind == "zoom":
            scale = base_scale * (1.0 + move.travel * (progress + 0.5))
        matrix = np.array([[scale, 0.0, width / 2 - scale * centre[0]],
                           [0.0, scale, height / 2 - scale * centre[1]]], dtype=np.float64)
        frame = cv2.warpAffine(picture, matrix, (width, height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT)
        shot.append(np.clip(frame, 0.0, 1.0).astype(np.float32))
    return shot


@dataclass(frozen=True)
class Handheld:
    """A handheld camera at 24 fps: how hard it shakes, and what the film and exposure add to each frame.

    `shake` is the typical frame-to-frame drift in pixels of a 1280-wide frame (scaled with the width);
    `jolt` the largest single-frame jump; `roll` and `breath` the rotation (degrees) and zoom (fraction)
    jitter; `shutter` the fraction of the frame's motion smeared into it (180° shutter = 0.5); `flicker`
    the exposure change frame to frame (fraction); `grain` the grain's standard deviation.
    """

    shake: float = 6.0
    jolt: float = 20.0
    roll: float = 0.6
    breath: float = 0.012
    shutter: float = 0.5
    flicker: float = 0.05
    grain: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 <= self.shake <= self.jolt:
            raise ParameterError(f"handheld shake {self.shake} px: give 0 ≤ shake ≤ jolt ({self.jolt} px).")


def _smear(frame: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Linear motion blur along `motion` (pixels moved while the shutter was open)."""
    length = float(np.hypot(*motion))
    if length < 1.0:
        return frame
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    centre = size // 2
    end = motion / length * (length / 2)
    cv2.line(kernel, (round(centre - end[0]), round(centre - end[1])), (round(centre + end[0]), round(centre + end[1])),
             1.0, 1, cv2.LINE_AA)
    return cv2.filter2D(frame, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def handheld_shot(photo: str | np.ndarray, frames: int, width: int = 1280, height: int = 720,
                  camera: Handheld | None = None, seed: int = 0) -> list[np.ndarray]:
    """`frames` frames (float32 HWC RGB, 0–1) of one continuous handheld shot of `photo`: no cut anywhere.

    The camera centre drifts as a random walk of momentum with occasional jolts up to `camera.jolt` pixels in
    one frame, and rolls and breathes slightly; each frame is smeared along its own motion, its exposure
    flickers and it carries fresh grain — the frame-to-frame change a cut detector must not take for a cut.
    """
    if frames < 1 or width < 8 or height < 8:
        raise ParameterError(f"shot of {frames} frames at {width}x{height}: need ≥ 1 frame of at least 8x8 pixels.")
    picture = load_photo(photo) if isinstance(photo, str) else np.asarray(photo, dtype=np.float32)
    camera = camera or Handheld()
    rng = np.random.default_rng([seed, 0x4A4D])
    pixel = width / 1280.0  # shake is given for a 1280-wide frame
    photo_height, photo_width = picture.shape[:2]
    scale = max(width / photo_width, height / photo_height) * 1.25  # room for the camera to wander
    position, velocity = np.zeros(2), rng.normal(0.0, camera.shake, 2)
    shot = []
    for _ in range(frames):
        velocity = 0.6 * velocity + rng.normal(0.0, camera.shake, 2)
        if rng.random() < 0.15:  # a jolt: a step, a bump, a hand adjusting the grip
            velocity += rng.normal(0.0, camera.jolt / 2, 2)
        step = velocity * min(1.0, camera.jolt / max(float(np.hypot(*velocity)), 1e-6))
        limit = 0.08 * np.array([width, height]) / pixel  # stay inside the photograph's margin
        if np.any(np.abs(position + step) > limit):
            step = np.where(np.abs(position + step) > limit, -0.5 * step, step)
        position = position + step
        angle = np.deg2rad(rng.normal(0.0, camera.roll / 2))
        zoom = scale * (1.0 + rng.normal(0.0, camera.breath / 2))
        rotation = zoom * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centre = np.array([photo_width / 2, photo_height / 2]) + position * pixel / scale
        matrix = np.hstack([rotation, (np.array([width / 2, height / 2]) - rotation @ centre)[:, None]])
        frame = cv2.warpAffine(picture, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        frame = _smear(frame, -step * pixel * camera.shutter)
        exposure = 1.0 + rng.normal(0.0, camera.flicker)
        grain = cv2.GaussianBlur(rng.normal(0.0, camera.grain, (height, width)).astype(np.float32), (0, 0), 0.7)
        shot.append(np.clip(frame * exposure + grain[..., None], 0.0, 1.0).astype(np.float32))
    return shot
