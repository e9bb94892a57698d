"""The one Python entry the OpenFX plug-in calls: `process(src, dst, params)` (docs/CONTRACT.md §1).

A thin face of :mod:`chromaluma.backend`, kept at this name because the plug-in and scripts call
`chromaluma.api.process`; it knows nothing of OFX. `process_frame` also writes the model's confidence. Both return
a :class:`RenderReport` (what the call did; for a keyframe model rendered from a folder, the keyframes it used).
"""

from __future__ import annotations

from chromaluma.backend.restore import RenderReport, process, process_frame

__all__ = ["RenderReport", "process", "process_frame"]
