"""`conan build .` makes the same plug-in bundle as `make build`, offline, from exactly the files the recipe exports.

The recipe is exported into a throw-away conan home with every remote removed, and `conan build .` runs in a copy
of what was exported (conanfile.py + exports_sources), so a source the top-level CMakeLists.txt needs but the
recipe forgets fails here, and nothing is written into the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from chromaluma.benchmarks.plugin import PLUGIN_ID, PluginBuild, ofx_render
from model_fixtures import pointwise_expected, pointwise_model
from test_plugin import plugin_build, random_frame, read_output, write_sequence

ROOT = Path(__file__).resolve().parents[2]
CONAN = Path(sys.executable).parent / "conan"  # the venv's conan: the recipe hands CMake the Python running it


def conan(*args: str, home: Path, cwd: Path = ROOT, timeout: float = 120) -> str:
    env = {**os.environ, "CONAN_HOME": str(home)}
    done = subprocess.run([str(CONAN), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"conan {' '.join(args)}: exit {done.returncode}\n{done.stdout[-3000:]}\n" \
                                 f"{done.stderr[-6000:]}"
    return done.stdout + done.stderr


def exported_recipe(home: Path, into: Path) -> Path:
    """conanfile.py and its exports_sources, as `conan export` copied them, in a folder of their own."""
    conan("export", ".", home=home)
    version = re.search(r'^__version__ = "([0-9.]+)"', (ROOT / "pybackend" / "chromaluma" / "_version.py").read_text(),
                        re.M)
    assert version is not None
    for folder in ([], ["--folder", "export_source"]):  # the recipe's folder, then its sources
        path = conan("cache", "path", f"chromaluma/{version.group(1)}", *folder, home=home).strip().splitlines()[-1]
        shutil.copytree(path, into, dirs_exist_ok=True)
    return into


@pytest.mark.slow
def test_conan_build_offline_makes_the_bundle(tmp_path: Path, rng: np.random.Generator) -> None:
    if not CONAN.is_file():
        pytest.skip(f"no conan in this environment ({CONAN}); `make venv` installs it")
    build = plugin_build()  # the make-built host renders with the conan-built bundle
    home = tmp_path / "conan-home"
    conan("profile", "detect", home=home)
    conan("remote", "remove", "*", home=home)  # offline: nothing may be fetched
    assert "conancenter" not in conan("remote", "list", home=home)
    source = exported_recipe(home, tmp_path / "source")
    assert (source / "tests" / "host" / "CMakeLists.txt").is_file(), "exports_sources lacks the ofx-render host"

    out = tmp_path / "out"
    log = conan("build", ".", "--output-folder", str(out), "-c", "tools.build:jobs=2", home=home, cwd=source,
                timeout=1500)
    assert " warning: " not in log, "the build is not -Wall -Wextra clean:\n" + "\n".join(
        line for line in log.splitlines() if " warning: " in line)

    plugin_dir = next(out.rglob("Chromaluma.ofx.bundle")).parent
    made = PluginBuild(host=build.host, plugin_dir=plugin_dir)
    files = {p.relative_to(made.bundle) for p in made.bundle.rglob("*") if p.is_file()}
    assert files == {p.relative_to(build.bundle) for p in build.bundle.rglob("*") if p.is_file()}, files
    listed = subprocess.run([str(build.host), "--plugin-path", str(plugin_dir), "--list"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert listed.returncode == 0 and f"{PLUGIN_ID}\t" in listed.stdout, listed

    frame = random_frame(rng, opaque=True)
    pattern = write_sequence(tmp_path / "shot", [frame])
    model = pointwise_model(tmp_path / "pointwise.onnx")
    result = tmp_path / "out.####.tif"
    done = ofx_render(made, pattern, result, {"modelFile": model}, env={"CHROMALUMA_PYTHON": "",
                                                                        "CHROMALUMA_LIBPYTHON": ""})
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(read_output(result, 1, "float")[..., :3], pointwise_expected(frame[..., :3]),
                               atol=1e-5, rtol=0)
