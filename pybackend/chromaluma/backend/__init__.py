"""Inference: everything between host pixels and ONNX Runtime, and the shot rendering of `chromaluma apply`.

- :mod:`~chromaluma.backend.restore`: `process()` / `process_frame()`, one frame through a model (CONTRACT §1).
- :mod:`~chromaluma.backend.session`: loading and checking models, ONNX Runtime sessions, providers, caches.
- :mod:`~chromaluma.backend.pixels`: host pixels to model tensors and back (sample types, alpha, mix, mask).
- :mod:`~chromaluma.backend.tiling`: tiles with context and feathered seams; :mod:`~chromaluma.backend.mirror`:
  the model with mirrored kernels for bottom-up host rows.
- :mod:`~chromaluma.backend.apply_shot`, :mod:`~chromaluma.backend.render_log`,
  :mod:`~chromaluma.backend.render_resume`: `chromaluma apply`, its render log and `--resume`;
  :mod:`~chromaluma.backend.frame_window`: the sliding window of decoded frames a temporal-window model reads.
- :mod:`~chromaluma.backend.keyframe_pair`: a keyframe model's two keyframes for one call (`params["keyframes"]`,
  arrays or a folder of registered keyframes, CONTRACT §1.7).

:mod:`chromaluma.api` is the plug-in's face of this package.
"""
