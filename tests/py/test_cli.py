"""The `chromaluma` command itself: help, version, subcommands, error exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import chromaluma
from chromaluma import cli


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"chromaluma {chromaluma.__version__}"


def test_help_lists_every_subcommand():
    result = subprocess.run([sys.executable, "-m", "chromaluma.cli", "--help"], capture_output=True, text=True,
                            check=True)
    for name in ("train", "export", "apply", "align", "info", "bench"):
        assert name in result.stdout


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "chromaluma"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert chromaluma.__version__ in result.stdout


def test_no_command_prints_usage_and_fails(capsys: pytest.CaptureFixture[str]):
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().err
