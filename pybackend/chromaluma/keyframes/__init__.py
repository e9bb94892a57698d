"""Painted keyframes: the folder a restorer paints into, registration onto the scan, and the pair a frame reads.

A keyframe is a scan frame painted by hand (in Photoshop, from photographs, paintings, costume records), named by
its frame number in the scan. :func:`register_keyframes` brings each one onto the scan's geometry with the
alignment code; :class:`KeyframeSet` picks the keyframes a frame reads (docs/CONTRACT.md §1.7): the nearest at or
before it and the nearest at or after it, in its shot. Training, `chromaluma apply` and `process()` (through
:func:`render_set`, for the plug-in's Keyframes folder) all choose through this one rule.
"""

from chromaluma.keyframes.folder import painted_files, read_registered, render_set, write_registered
from chromaluma.keyframes.registration import register_keyframes, scan_cuts
from chromaluma.keyframes.selection import Keyframe, KeyframeError, KeyframeSet, shot_cuts_of_card

__all__ = ["Keyframe", "KeyframeError", "KeyframeSet", "painted_files", "read_registered", "register_keyframes",
           "render_set", "scan_cuts", "shot_cuts_of_card", "write_registered"]
