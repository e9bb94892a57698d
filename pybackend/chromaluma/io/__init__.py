"""Reading and writing footage: still frames (OpenImageIO), sequence folders and video (PyAV)."""

from chromaluma.io.frames import FrameFormat, read_frame, to_rgba, write_frame
from chromaluma.io.sequence import Shot, list_sequence, open_shot, parse_frame_range

__all__ = ["FrameFormat", "Shot", "list_sequence", "open_shot", "parse_frame_range", "read_frame", "to_rgba",
           "write_frame"]
