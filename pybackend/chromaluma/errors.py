"""Chromaluma's own exception types.

Every message names the file or parameter at fault and says what to do about it. The command line turns
these into a one-line error and exit status 2; the plug-in shows them as a persistent message on the effect.
Modules may define narrower types, but always as subclasses of :class:`ChromalumaError`.
"""

from __future__ import annotations


class ChromalumaError(Exception):
    """Base of every error Chromaluma raises on purpose (bad input, bad model, bad environment)."""


class ModelNotFoundError(ChromalumaError):
    """The model file named by the user does not exist or cannot be read."""


class ModelFormatError(ChromalumaError):
    """The file is not a Chromaluma ONNX model, or breaks docs/CONTRACT.md (I/O names, shapes, metadata)."""


class PairMismatchError(ChromalumaError):
    """Scan and reference frames cannot be paired (counts, sizes or channels differ)."""


class FrameReadError(ChromalumaError):
    """An image or video frame could not be read (missing, truncated, unsupported format)."""


class FrameWriteError(ChromalumaError):
    """An output frame could not be written (disk full, permissions, unsupported format)."""


class SequenceError(ChromalumaError):
    """An image-sequence folder is empty, has gaps the user did not ask for, or mixes formats."""


class ParameterError(ChromalumaError):
    """A parameter (command-line flag or plug-in parameter) has a value Chromaluma cannot use."""


class PixelLayoutError(ChromalumaError):
    """Pixels handed to :func:`chromaluma.api.process` break the pixel contract (shape, dtype, channels)."""


class DeviceError(ChromalumaError):
    """The requested compute device cannot be used (e.g. GPU asked for, none present and fallback refused)."""
