"""`process()` parameters checked and typed (docs/CONTRACT.md §1.4): :func:`read_settings` refuses anything off
the contract with a :class:`ParameterError` naming the key and the values it accepts, before a model is loaded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chromaluma.backend.precision import check_precision
from chromaluma.contract import DEVICES, OUTPUT_MODES
from chromaluma.errors import ParameterError

MAX_THREADS = 1024
# A repair model repairs a pixel where its damage matte exceeds 1 − sensitivity (docs/CONTRACT.md §1.8).
DEFAULT_SENSITIVITY = 0.5


@dataclass(frozen=True)
class RenderSettings:
    """`params` checked and typed (§1.4)."""

    model: Path
    mix: float = 1.0
    device: str = "auto"
    tile_size: int = 0
    output_mode: str = "restored"
    premultiplied: bool = True
    window: tuple[int, int] = (0, 0)
    frame_origin: tuple[int, int] = (0, 0)
    threads: int = 0
    sensitivity: float = DEFAULT_SENSITIVITY
    precision: str = "fp32"  # "fp16": a half-precision model checked against fp32 on load (backend.precision)
    tensorrt_cache: str | None = None  # a folder: TensorRT ahead of CUDA, its engines cached there by model hash

    @property
    def matte_threshold(self) -> float:
        """A repair model repairs a pixel where its matte is above this (strictly): 1 − sensitivity."""
        return 1.0 - self.sensitivity


def read_settings(params: Any) -> RenderSettings:
    """Validate `params`; raises ParameterError naming the key and the values it accepts."""
    if not isinstance(params, dict):
        raise ParameterError(f"params: expected a dict, got {type(params).__name__}.")
    if "report" in params:  # a caller written for the old contract would wait for a dict that is never filled
        raise ParameterError("params['report']: process() no longer fills a report dict; use the RenderReport it "
                             "returns (docs/CONTRACT.md §1.5).")
    model = params.get("model")
    if not isinstance(model, (str, Path)) or not str(model):
        raise ParameterError("params['model']: the path of a .onnx model is required (modelFile / --model).")
    if "\0" in str(model):  # the OS cannot open such a path; os.stat would raise ValueError, not a file error
        raise ParameterError(f"params['model'] {str(model)!r}: a path cannot contain a NUL character; give the "
                             "path of a .onnx model (modelFile / --model).")
    mix = params.get("mix", 1.0)
    if isinstance(mix, (bool, np.bool_)) or not isinstance(mix, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(mix) <= 1.0:
        raise ParameterError(f"mix {mix!r}: expected a number from 0 (original) to 1 (fully restored).")
    premultiplied = params.get("premultiplied", True)
    if not isinstance(premultiplied, (bool, np.bool_)):  # bool("false") is True: never guess from truthiness
        raise ParameterError(f"premultiplied {premultiplied!r}: expected True (colour premultiplied by alpha, "
                             "as the host states) or False (straight colour).")
    device = params.get("device", "auto")
    if device not in DEVICES:
        raise ParameterError(f"device {device!r}: expected one of {', '.join(DEVICES)}.")
    mode = params.get("output_mode", "restored")
    if mode not in OUTPUT_MODES:
        raise ParameterError(f"output_mode {mode!r}: expected one of {', '.join(OUTPUT_MODES)}.")
    return RenderSettings(
        model=Path(model), mix=float(mix), device=device, output_mode=mode,
        tile_size=_non_negative_int(params, "tile_size"), threads=_thread_count(params),
        premultiplied=bool(premultiplied),
        window=_int_pair(params, "window", non_negative=True),
        frame_origin=_int_pair(params, "frame_origin", non_negative=False),
        sensitivity=read_sensitivity(params.get("sensitivity", DEFAULT_SENSITIVITY)),
        precision=read_precision(params.get("precision", "fp32")),
        tensorrt_cache=read_tensorrt_cache(params.get("tensorrt_cache")),
    )


def read_precision(value: Any) -> str:
    """`precision`: "fp32" or "fp16", exactly (a str; anything else is refused, never guessed from)."""
    if not isinstance(value, str):
        raise ParameterError(f"precision {value!r}: expected one of fp32, fp16 (--precision).")
    return check_precision(value)


def read_tensorrt_cache(value: Any) -> str | None:
    """`tensorrt_cache`: None or "" (no TensorRT), or the folder its engines are kept in."""
    if value is None or (isinstance(value, (str, Path)) and not str(value)):
        return None
    if not isinstance(value, (str, Path)) or "\0" in str(value):
        raise ParameterError(f"tensorrt_cache {value!r}: expected the path of a folder for TensorRT engines, or "
                             "None for no TensorRT (--tensorrt-cache DIR).")
    return str(value)


def read_sensitivity(value: Any, name: str = "sensitivity") -> float:
    """`sensitivity` as a float in [0, 1]: validated for every model (the plug-in always sends it), used only by
    repair models. bool, strings and NaN are refused, never guessed from."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or math.isnan(float(value)) or not 0.0 <= float(value) <= 1.0:
        raise ParameterError(f"{name} {value!r}: expected a number from 0 (repair nothing) to 1 (repair every pixel "
                             "the damage matte marks at all); 0.5 is the default.")
    return float(value)




def _non_negative_int(params: dict[str, Any], key: str) -> int:
    value = params.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ParameterError(f"{key} {value!r}: expected an integer >= 0 (0 = automatic).")
    return int(value)


def _thread_count(params: dict[str, Any]) -> int:
    """`threads`, bounded: ONNX Runtime takes a C int, and a count beyond any machine's cores is a typo."""
    threads = _non_negative_int(params, "threads")
    if threads > MAX_THREADS:
        raise ParameterError(f"threads {threads}: expected an integer from 0 (ONNX Runtime chooses) to {MAX_THREADS}.")
    return threads


def _int_pair(params: dict[str, Any], key: str, *, non_negative: bool) -> tuple[int, int]:
    value = params.get(key, (0, 0))
    try:  # a pair of whole numbers; a string would iterate as characters ("12" is not (1, 2))
        if isinstance(value, (str, bytes)) or any(isinstance(v, (str, bytes)) for v in value):
            raise TypeError(key)
        x, y = (int(v) for v in value)
        valid = all(float(v) == int(v) for v in value) and (not non_negative or (x >= 0 and y >= 0))
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        valid = False
    if not valid:
        bound = " >= 0" if non_negative else ""
        raise ParameterError(f"{key} {value!r}: expected two integers{bound} (column, row).")
    return x, y
