"""Single frames on disk: read any still format OpenImageIO knows into float32, write back atomically.

Pixels in memory are always float32 HWC with values as stored: integer formats are normalised to 0–1
(8-bit /255, 10-bit DPX and 16-bit /max), float formats (EXR, float TIFF) keep their values, including
scene-linear values above 1.0 and negative log values. Nothing here clamps a float frame.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.errors import FrameReadError, FrameWriteError
from chromaluma.integer_samples import to_integer_samples
from chromaluma.io.atomic import describe_os_error, replace_atomically

log = logging.getLogger(__name__)

_OIIO_TYPES = {"uint8": "uint8", "uint16": "uint16", "half": "half", "float": "float", "uint10": "uint16"}
_MAX_REASON = 200
_STDERR_LOCK = threading.Lock()
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
    """Read a still frame as float32 HWC (1, 3 or 4 channels) plus the format it was stored in.

    Decoder complaints (libpng and friends print them on stderr) are captured and put into the one-line
    :class:`FrameReadError` instead.
    """
    frame_path = Path(path)
    if not frame_path.is_file():
        raise FrameReadError(f"{frame_path}: frame not found. Check the folder and the frame range.")
    if frame_path.stat().st_size == 0:
        raise FrameReadError(f"{frame_path}: file is empty (0 bytes); the scan or copy of this frame did not "
                             "finish. Re-scan or re-copy this frame.")
    decoded = _decode(frame_path)
    if decoded.spec is None:
        raise FrameReadError(f"{frame_path}: cannot open as an image ({decoded.reason or 'unknown format'}). "
                             "Re-export the frame as DPX, EXR, TIFF, PNG or JPEG.")
    if decoded.pixels is None:
        raise FrameReadError(f"{frame_path}: frame is truncated or corrupt ({decoded.reason or 'short read'}). "
                             "Re-scan or re-export this frame.")
    spec = decoded.spec
    bits = int(spec.get_int_attribute("oiio:BitsPerSample", 0)) or spec.format.size() * 8
    sample_type = _sample_type_name(str(spec.format), bits)
    return decoded.pixels, FrameFormat(frame_path.suffix.lower(), sample_type, bits, spec.nchannels)


def write_frame(path: str | Path, pixels: np.ndarray, frame_format: FrameFormat) -> np.ndarray:
    """Write float32 HWC pixels in `frame_format`, atomically: a hidden temp file, verified, renamed over `path`;
    returns the pixels as written, read back from that file (float32, what :func:`read_frame` gives).

    Integer formats are brought into their range as :mod:`chromaluma.integer_samples` says (they cannot hold
    more); float formats keep values. No timestamp is stored, so the same pixels always give the same bytes.
    Some OpenImageIO writers (PNG) report success when the disk fills mid-write, so the temp file is read back
    (dimensions and every pixel decodable) and flushed to disk before the rename; a frame that fails any of this
    is removed and never appears under `path`. A full disk is reported as "disk full".
    """
    out_path = Path(path)
    if pixels.ndim != 3:
        raise FrameWriteError(f"{out_path}: expected HWC pixels, got shape {pixels.shape}.")
    samples = stored_samples(pixels, frame_format)
    written: list[np.ndarray] = []

    def encode_and_verify(tmp_path: Path) -> None:
        _encode(tmp_path, out_path, samples, frame_format)
        written.append(_verify_written(tmp_path, out_path, samples))

    try:  # replace_atomically makes the verified temp file durable, renames it, and removes it on any failure
        replace_atomically(out_path, encode_and_verify)
    except OSError as exc:
        raise FrameWriteError(f"{out_path}: {describe_os_error(exc)} while writing the frame; it was not written. "
                              "Free disk space or check the folder's permissions.") from exc
    return written[-1]


@dataclass
class _Decoded:
    spec: Any | None
    pixels: np.ndarray | None
    reason: str


def _decode(frame_path: Path) -> _Decoded:
    """Open and read every pixel of `frame_path` as float32, with the decoder's stderr captured into `reason`."""
    import OpenImageIO as oiio

    with _captured_stderr() as noise:
        image_input = oiio.ImageInput.open(str(frame_path))
        if image_input is None:
            return _Decoded(None, None, _one_line(_error_text(oiio.geterror), noise))
        try:
            spec = image_input.spec()
            pixels = image_input.read_image(0, 0, 0, spec.nchannels, oiio.FLOAT)
            error = _error_text(image_input.geterror)
        finally:
            image_input.close()
    if pixels is None or error or pixels.size != spec.width * spec.height * spec.nchannels:
        return _Decoded(spec, None, _one_line(error, noise))
    shaped = np.asarray(pixels, dtype=np.float32).reshape(spec.height, spec.width, spec.nchannels)
    return _Decoded(spec, shaped, "")


def _error_text(geterror: Any) -> str:
    """OpenImageIO's error message; its binding raises UnicodeDecodeError when the message quotes damaged bytes."""
    try:
        return geterror()
    except UnicodeDecodeError:
        return "corrupt header (the decoder's message is not text)"


def _encode(tmp_path: Path, out_path: Path, samples: np.ndarray, frame_format: FrameFormat) -> None:
    import OpenImageIO as oiio

    height, width, channels = samples.shape
    spec = oiio.ImageSpec(width, height, channels, _OIIO_TYPES[frame_format.sample_type])
    if frame_format.bits == 10:
        spec.attribute("oiio:BitsPerSample", 10)
    # No timestamp in the file (the TIFF writer stamps the time otherwise; the render log keeps the times): the
    # same pixels always give the same bytes, so farm, resumed and uninterrupted renders match byte for byte.
    spec.attribute("DateTime", "")
    if out_path.suffix.lower() == ".exr":  # lossless: a difference layer must hold its values exactly
        spec.attribute("compression", "zip")
    with _captured_stderr() as noise:
        image_output = oiio.ImageOutput.create(str(tmp_path))
        if image_output is None:
            raise FrameWriteError(f"{out_path}: no writer for {out_path.suffix!r} ({oiio.geterror().strip()}).")
        try:
            ok = image_output.open(str(tmp_path), spec) and image_output.write_image(samples)
            error = image_output.geterror()
            ok = image_output.close() and ok
            error = error or image_output.geterror()
        except (RuntimeError, OSError, ValueError):  # OIIO raises on some I/O failures: clean up, report below
            ok, error = False, oiio.geterror()
    # The PNG writer returns True with "Write error ..." in geterror() on a full disk; other writers leave
    # harmless notes there (TIFF's Exif directory), so only a write error counts; the read-back catches the rest.
    if not ok or "write error" in error.lower():
        raise FrameWriteError(f"{out_path}: {_write_failure(out_path, samples, _one_line(error, noise))}; "
                              "the frame was not written. Free disk space or check the folder's permissions.")


def _verify_written(tmp_path: Path, out_path: Path, samples: np.ndarray) -> np.ndarray:
    """Read the temp file back: the last line of defence against a writer that lied (the caller, through
    replace_atomically, then flushes it to disk, so a delayed write failure still surfaces before the rename)."""
    if tmp_path.stat().st_size == 0:
        reason = _write_failure(out_path, samples, "the writer produced 0 bytes")
    else:
        decoded = _decode(tmp_path)
        height, width, channels = samples.shape
        if decoded.pixels is not None and decoded.pixels.shape == (height, width, channels):
            return decoded.pixels
        why = decoded.reason or "wrong size"
        reason = _write_failure(out_path, samples, f"the written file does not read back ({why})")
    raise FrameWriteError(f"{out_path}: {reason}; the frame was not written. Free disk space or check the "
                          "folder's permissions.")


def _write_failure(out_path: Path, samples: np.ndarray, reason: str) -> str:
    """Name a full disk as such (writers only say "write error"): less room left than the raw frame needs."""
    try:
        free = shutil.disk_usage(out_path.parent).free
    except OSError:
        return f"write failed ({reason or 'I/O error'})"
    if free < samples.nbytes:
        return f"disk full ({free // 1024} KiB left in {out_path.parent})"  # the writer's own words add nothing
    return f"write failed ({reason or 'I/O error'})"


def _one_line(error: str, noise: list[str]) -> str:
    """OIIO's error text plus what the decoder printed, as one short line without repeats."""
    seen: list[str] = []
    for line in [*error.splitlines(), *noise]:
        text = line.strip().removeprefix("libpng error:").strip().removeprefix("PNG read error:").strip()
        if text and text != "PNG library error" and text not in seen:
            seen.append(text)
    joined = "; ".join(seen[:2]) + (f" (+{len(seen) - 2} more)" if len(seen) > 2 else "")
    return joined if len(joined) <= _MAX_REASON else joined[:_MAX_REASON - 1] + "…"


@contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Collect what C libraries print on file descriptor 2 while the block runs (libpng writes errors there).

    Descriptor 2 is one per process: the lock keeps two threads from swapping it under each other, which would
    leave stderr pointing at a closed temp file.
    """
    lines: list[str] = []
    sys.stderr.flush()
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode("utf-8", errors="replace").splitlines())


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


def stored_samples(pixels: np.ndarray, frame_format: FrameFormat) -> np.ndarray:
    """The samples :func:`write_frame` stores for float32 `pixels` (codes for integer formats, half or float)."""
    dtype = _NUMPY_DTYPES[frame_format.sample_type]
    if frame_format.is_float:
        return np.ascontiguousarray(pixels, dtype=dtype)
    # The plug-in's integer policy (chromaluma.integer_samples): colour out of range moves towards its own luma, so
    # a frame written here has the pixels the plug-in gives at the same depth. 10-bit codes are quantised here so
    # OIIO's 16→10 conversion is exact.
    samples = np.empty(pixels.shape, dtype=dtype)
    colour_channels = 3 if pixels.shape[2] in (3, 4) else 0
    to_integer_samples(np.array(pixels, dtype=np.float32), samples, colour_channels=colour_channels,
                       levels=1023 if frame_format.bits == 10 else None)
    return samples
