"""Single frames on disk: read any still format OpenImageIO knows into float32, write back atomically.

Pixels in memory are always float32 HWC with values as stored: integer formats are normalised to 0–1
(8-bit /255, 10-bit DPX and 16-bit /max), float formats (EXR, float TIFF) keep their values, including
scene-linear values above 1.0 and negative log values. Nothing here clamps a float frame.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from chromaluma.errors import FrameReadError, FrameWriteError
from chromaluma.integer_samples import to_integer_samples
from chromaluma.io.atomic import partial_path

log = logging.getLogger(__name__)

_OIIO_TYPES = {"uint8": "uint8", "uint16": "uint16", "half": "half", "float": "float", "uint10": "uint16"}
_NUMPY_DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "half": np.float16, "float": np.float32}


@dataclass(frozen=True)
class FrameFormat:
    """How a frame is stored: file extension, sample type (uint8/uint16/half/float), bits, channel count."""

    extension: str
    sample_type: str
    bits: int
    channels: int

    @property
    def is_float(self) -> bool:
        return self.sample_type in ("half", "float")

    def with_extension(self, extension: str) -> FrameFormat:
        """The same samples in another file format (e.g. `--format exr`); keeps bit depth where it can."""
        extension = extension if extension.startswith(".") else "." + extension
        sample_type, bits = self.sample_type, self.bits
        if extension.lower() in (".jpg", ".jpeg"):
            sample_type, bits = "uint8", 8
        elif extension.lower() == ".png" and self.is_float:
            sample_type, bits = "uint16", 16
        elif extension.lower() == ".exr" and not self.is_float:
            sample_type, bits = "half", 16
        return replace(self, extension=extension.lower(), sample_type=sample_type, bits=bits)


def read_frame(path: str | Path) -> tuple[np.ndarray, FrameFormat]:
    """Read a still frame as float32 HWC (1, 3 or 4 channels) plus the format it was stored in."""
    import OpenImageIO as oiio

    frame_path = Path(path)
    if not frame_path.is_file():
        raise FrameReadError(f"{frame_path}: frame not found. Check the folder and the frame range.")
    image_input = oiio.ImageInput.open(str(frame_path))
    if image_input is None:
        raise FrameReadError(f"{frame_path}: cannot open as an image ({oiio.geterror().strip() or 'unknown format'}). "
                             "Re-export the frame as DPX, EXR, TIFF, PNG or JPEG.")
    try:
        spec = image_input.spec()
        pixels = image_input.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
        error = image_input.geterror()
    finally:
        image_input.close()
    if pixels is None or error or pixels.size != spec.width * spec.height * spec.nchannels:
        raise FrameReadError(f"{frame_path}: frame is truncated or corrupt ({error.strip() or 'short read'}). "
                             "Re-scan or re-export this frame.")
    pixels = np.asarray(pixels, dtype=np.float32).reshape(spec.height, spec.width, spec.nchannels)
    bits = int(spec.get_int_attribute("oiio:BitsPerSample", 0)) or spec.format.size() * 8
    sample_type = _sample_type_name(str(spec.format), bits)
    return pixels, FrameFormat(frame_path.suffix.lower(), sample_type, bits, spec.nchannels)


def write_frame(path: str | Path, pixels: np.ndarray, frame_format: FrameFormat) -> None:
    """Write float32 HWC pixels in `frame_format`, atomically: a hidden temp file renamed over `path`.

    Integer formats are rounded and clipped to their range (they cannot hold more); float formats keep values.
    """
    import OpenImageIO as oiio

    out_path = Path(path)
    if pixels.ndim != 3:
        raise FrameWriteError(f"{out_path}: expected HWC pixels, got shape {pixels.shape}.")
    height, width, channels = pixels.shape
    samples = _to_samples(pixels, frame_format)
    tmp_path = partial_path(out_path)
    spec = oiio.ImageSpec(width, height, channels, _OIIO_TYPES[frame_format.sample_type])
    if frame_format.bits == 10:
        spec.attribute("oiio:BitsPerSample", 10)
    image_output = oiio.ImageOutput.create(str(tmp_path))
    if image_output is None:
        raise FrameWriteError(f"{out_path}: no writer for {out_path.suffix!r} ({oiio.geterror().strip()}).")
    try:
        ok = image_output.open(str(tmp_path), spec) and image_output.write_image(samples)
        error = image_output.geterror()
        ok = image_output.close() and ok
    except (RuntimeError, OSError, ValueError):  # OIIO raises on some I/O failures: clean up, report below
        ok, error = False, oiio.geterror()
    if not ok:
        tmp_path.unlink(missing_ok=True)
        raise FrameWriteError(f"{out_path}: write failed ({error.strip() or 'I/O error'}). "
                              "Check free disk space and permissions; nothing was written.")
    os.replace(tmp_path, out_path)


def to_rgba(pixels: np.ndarray) -> np.ndarray:
    """Expand 1-, 3- or 4-channel float pixels to RGBA (opaque alpha); greyscale is replicated to RGB."""
    channels = pixels.shape[2]
    if channels == 4:
        return pixels
    height, width = pixels.shape[:2]
    rgba = np.ones((height, width, 4), dtype=np.float32)
    if channels == 1:
        rgba[..., :3] = pixels
    elif channels == 2:  # grey + alpha
        rgba[..., :3] = pixels[..., :1]
        rgba[..., 3] = pixels[..., 1]
    else:
        rgba[..., :3] = pixels[..., :3]
    return rgba


def _sample_type_name(oiio_format: str, bits: int) -> str:
    if oiio_format in ("half", "float"):
        return oiio_format
    if oiio_format == "double":
        return "float"
    return "uint8" if bits <= 8 else "uint16"


def _to_samples(pixels: np.ndarray, frame_format: FrameFormat) -> np.ndarray:
    dtype = _NUMPY_DTYPES[frame_format.sample_type]
    if frame_format.is_float:
        return np.ascontiguousarray(pixels, dtype=dtype)
    samples = np.empty(pixels.shape, dtype=dtype)
    colour_channels = 3 if pixels.shape[2] in (3, 4) else 0
    to_integer_samples(np.array(pixels, dtype=np.float32), samples, colour_channels=colour_channels,
                       levels=1023 if frame_format.bits == 10 else None)
    return samples
