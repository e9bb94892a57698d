"""Device buffers for ONNX Runtime's I/O binding: host memory, or CUDA memory on a GPU session.

A :class:`Buffer` is memory ONNX Runtime reads or writes in place — the address of C-contiguous float32 values
with a shape, on a device ("cpu" or "cuda") — so an OpenFX host's CUDA image or a frame uploaded once can be
bound without a copy through numpy. The binding code is one path for both devices; CUDA memory is refused with
one line unless the session really runs on the GPU (`ModelSession.provider`, which is what ONNX Runtime
reports, not what was asked for).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from chromaluma.errors import DeviceError

CUDA_PROVIDERS = frozenset({"CUDAExecutionProvider", "TensorrtExecutionProvider"})
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Buffer:
    """C-contiguous float32 memory at `address` on `device` (`device_id`), holding `shape` values."""

    device: str
    device_id: int
    shape: tuple[int, ...]
    address: int

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise DeviceError(f"buffer device {self.device!r}: expected one of {', '.join(DEVICES)}.")
        if self.address == 0 or not self.shape or any(size <= 0 for size in self.shape):
            raise DeviceError(f"buffer {self.shape} at {self.address:#x}: needs a non-null address and a non-empty "
                              "shape (the host gave no image memory).")


def host_buffer(array: np.ndarray, name: str) -> Buffer:
    """A host array as a :class:`Buffer` (the array must outlive the run that uses it)."""
    if array.dtype != np.float32 or not array.flags.c_contiguous:
        raise ValueError(f"{name}: IOBinding needs C-contiguous float32 memory, got {array.dtype} {array.strides}")
    return Buffer("cpu", 0, tuple(array.shape), array.ctypes.data)


def uploaded(array: np.ndarray, device: str, device_id: int = 0) -> tuple[Buffer, Any]:
    """A copy of host `array` in `device` memory: (its buffer, the OrtValue that owns it — keep it alive)."""
    import onnxruntime as ort

    value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array, dtype=np.float32), device, device_id)
    return Buffer(device, device_id, tuple(value.shape()), value.data_ptr()), value


def allocated(shape: tuple[int, ...], device: str, device_id: int = 0) -> tuple[Buffer, Any]:
    """Uninitialised float32 `device` memory of `shape`: (its buffer, the owning OrtValue)."""
    import onnxruntime as ort

    value = ort.OrtValue.ortvalue_from_shape_and_type(list(shape), np.float32, device, device_id)
    return Buffer(device, device_id, tuple(shape), value.data_ptr()), value


def check_reachable(buffers: list[Buffer], provider: str, model_path: Any) -> None:
    """Refuse CUDA memory for a session that does not run on the GPU (ORT would read a device pointer as host
    memory, or fail deep inside the run)."""
    on_gpu = provider in CUDA_PROVIDERS
    for buffer in buffers:
        if buffer.device == "cuda" and not on_gpu:
            raise DeviceError(f"{model_path}: CUDA image memory given, but the model runs on {provider}. "
                              "Use host memory (the host's CPU rendering) or install onnxruntime-gpu with a "
                              "working CUDA/cuDNN so the session runs on CUDAExecutionProvider.")


def check_image_shapes(image: Buffer, restored: Buffer, confidence: Buffer | None) -> None:
    """The bound outputs must hold as many values as the model writes for this image (ORT would write past a
    smaller one)."""
    if len(image.shape) != 4 or image.shape[3] != 4:
        raise ValueError(f"image buffer {image.shape}: expected [1, H, W, 4]")
    expected = {"restored": (*image.shape[:3], 4), "confidence": (*image.shape[:3], 1)}
    for name, buffer in (("restored", restored), ("confidence", confidence)):
        if buffer is not None and np.prod(buffer.shape) != np.prod(expected[name]):
            raise ValueError(f"{name} buffer {buffer.shape}: expected {expected[name]} for image {image.shape}")


def bind(bind_to: Any, name: str, buffer: Buffer) -> None:
    """Bind `buffer` to an input or output by address: ONNX Runtime reads or writes it in place."""
    bind_to(name, buffer.device, buffer.device_id, np.float32, list(buffer.shape), buffer.address)


def run_staged(model: Any, tensor: np.ndarray, restored: np.ndarray, confidence: np.ndarray | None, *,
               device: str, device_id: int = 0, mirrored: bool = False) -> None:
    """`model.run_into` through `device` memory: the frame is uploaded once, the outputs are bound in `device`
    memory and copied back into the host arrays after the run. On "cuda" this keeps ORT from staging each bound
    host array itself; on "cpu" it is the same code path, so it is tested without a GPU."""
    image, image_value = uploaded(tensor, device, device_id)
    out, out_value = allocated(restored.shape, device, device_id)
    conf, conf_value = (allocated(confidence.shape, device, device_id) if confidence is not None else (None, None))
    model.run_bound(image, out, conf, mirrored=mirrored)
    np.copyto(restored, out_value.numpy())
    if confidence is not None:
        np.copyto(confidence, conf_value.numpy())
    del image_value  # the upload lives until the run has finished reading it
