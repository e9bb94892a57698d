"""Conan 2 recipe: builds the same plug-in bundle as `make build`, with no remote.

pybind11 and Python come from the active Python environment (the Makefile's .venv), not from a conan remote,
so `conan build .` works offline (no requirements; tests/py/test_plugin_conan.py runs it with every remote removed).
Run it with that environment's conan (`.venv/bin/conan build .`): the recipe hands CMake the Python running conan.
The version is read from pybackend/chromaluma/_version.py, like CMake does. `exports_sources` lists everything the
top-level CMakeLists.txt builds (the plug-in, the ofx-render test host, the C++ tests).
"""

import re
import subprocess
import sys
from pathlib import Path

from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout


def _version() -> str:
    text = (Path(__file__).parent / "pybackend" / "chromaluma" / "_version.py").read_text()
    return re.search(r'^__version__ = "([0-9.]+)"', text, re.M).group(1)


class ChromalumaConan(ConanFile):
    name = "chromaluma"
    version = _version()
    license = "Apache-2.0"
    description = "OpenFX plug-in applying Chromaluma restoration models through an embedded Python backend"
    settings = "os", "compiler", "build_type", "arch"
    exports_sources = ("CMakeLists.txt", "ofx_plugin/*", "tests/host/*", "tests/cpp/*",
                       "pybackend/chromaluma/_version.py")

    def layout(self):
        cmake_layout(self)

    def generate(self):
        toolchain = CMakeToolchain(self)
        toolchain.cache_variables["Python_EXECUTABLE"] = sys.executable
        pybind11_dir = subprocess.run([sys.executable, "-m", "pybind11", "--cmakedir"], capture_output=True,
                                      text=True, check=True).stdout.strip()
        toolchain.cache_variables["pybind11_DIR"] = pybind11_dir
        toolchain.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()
