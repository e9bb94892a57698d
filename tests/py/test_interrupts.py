"""SIGTERM and Ctrl-C during `chromaluma train` and `chromaluma align`: a clean stop like Ctrl-C, nothing half-made.

Each command runs as a real child process, slowed down at a known point so the signal lands mid-run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from chromaluma.io import FrameFormat, write_frame
from chromaluma.train.checkpoint import checkpoint_paths, load_checkpoint
from test_align import camera_film, faded_scan

PNG16 = FrameFormat(".png", "uint16", 16, 3)

SLOW_TRAIN = """
import sys, time
from chromaluma.train import loop
step = loop._Session._train_step
def slow(session):
    time.sleep(0.15)
    return step(session)
loop._Session._train_step = slow
from chromaluma.cli import main
sys.exit(main(sys.argv[1:]))
"""

SLOW_ALIGN = """
import sys, time
from chromaluma.align import pairs_folder
write = pairs_folder.write_frame
def slow(*args):
    time.sleep(0.3)
    write(*args)
pairs_folder.write_frame = slow
from chromaluma.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run_until(script: str, args: list[str], ready: Callable[[], bool], signum: int) -> subprocess.CompletedProcess:
    child = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and child.poll() is None:
        if ready():
            child.send_signal(signum)
            break
        time.sleep(0.05)
    stdout, stderr = child.communicate(timeout=120)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("ERROR ")]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_train_stops_cleanly_keeping_its_checkpoints(tmp_path: Path, signum: int):
    rng = np.random.default_rng(0)
    for folder in ("scan", "reference"):
        (tmp_path / folder).mkdir()
    for index in range(4):
        picture = rng.random((32, 32, 3), np.float32)
        write_frame(tmp_path / "scan" / f"reel.{1001 + index}.png", picture * 0.5 + 0.2, PNG16)
        write_frame(tmp_path / "reference" / f"dvd.{1001 + index}.png", picture, PNG16)
    run = tmp_path / "run"
    args = ["train", "--input", str(tmp_path / "scan"), "--target", str(tmp_path / "reference"), "--run-dir",
            str(run), "--steps", "400", "--crop", "16", "--batch", "1", "--checkpoint-every", "2",
            "--preview-every", "1000", "--device", "cpu", "--no-progress"]
    stopped = _run_until(SLOW_TRAIN, args, lambda: len(checkpoint_paths(run)) >= 2, signum)
    assert stopped.returncode == 128 + signum
    lines = _error_lines(stopped.stderr)
    # The training loop says what it kept; the command line adds which signal stopped it.
    assert any("interrupted" in line and "--resume" in line for line in lines)
    assert signal.Signals(signum).name in lines[-1]
    checkpoints = checkpoint_paths(run)
    assert len(checkpoints) >= 2
    for path in checkpoints:
        assert load_checkpoint(path)["step"] > 0  # every checkpoint left is whole
    assert [p for p in run.rglob("*") if ".partial" in p.name or p.name.startswith(".")] == []


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_align_stops_cleanly_leaving_no_pairs_folder(tmp_path: Path, signum: int):
    film = camera_film([("astronaut", 5, (2.0, 0.5), (0.1, 0.0), 0.0)])
    rng = np.random.default_rng(1)
    for folder, frames in (("scan", [faded_scan(f, rng) for f in film]), ("dvd", film)):
        (tmp_path / folder).mkdir()
        for index, frame in enumerate(frames):
            write_frame(tmp_path / folder / f"{folder}.{1001 + index}.png", frame, PNG16)
    out = tmp_path / "pairs"

    def writing_pairs() -> bool:
        return any(p.name.startswith(".pairs") and any((p / "scan").glob("*")) for p in tmp_path.iterdir())

    stopped = _run_until(SLOW_ALIGN, ["align", "--scan", str(tmp_path / "scan"), "--reference",
                                      str(tmp_path / "dvd"), "--out", str(out)], writing_pairs, signum)
    assert stopped.returncode == 128 + signum, stopped.stderr[-2000:]
    lines = _error_lines(stopped.stderr)
    assert len(lines) == 1 and "interrupted" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvd", "scan"]  # no pairs folder, whole or half
