"""Clean shots made from public-domain photographs: slow pans, slow zooms and locked-off (static) shots.

The benchmarks and the demo need ground truth, which real faded film never has. These shots stand in for a
camera negative: a virtual camera moves slowly over one of scikit-image's bundled photographs (shipped inside
the scikit-image wheel, so nothing is downloaded). The virtual camera is an affine warp with cubic
interpolation; a pan moves about a tenth of the frame width over the shot, a zoom pushes in about 10 %.
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
