"""Chromaluma: film-restoration models trained on a film's own references, applied frame by frame.

The plug-in calls exactly one function, :func:`chromaluma.api.process`; everything else is for the
command line (`chromaluma ...`) and for tests. See docs/CONTRACT.md for what crosses each boundary.
"""

from chromaluma._version import __version__

__all__ = ["__version__"]
