"""The one source of Chromaluma's version: pyproject, CMake and conan all read this line."""

__version__ = "0.1.0"
