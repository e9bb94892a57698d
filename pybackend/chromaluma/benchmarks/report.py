"""BENCHMARKS.md as text: header with the exact command, machine and versions, then each area's sections."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chromaluma.commands.bench import AreaResult


def render_markdown(results: Sequence[AreaResult], command: str, quick: bool, machine: dict[str, str],
                    report_dir: Path) -> str:
    from chromaluma.commands.bench import NO_GPU, timestamp

    lines = ["# Chromaluma benchmarks", "",
             f"Generated {timestamp()} by `{command}`" + (" — **quick smoke run: not the real numbers**" if quick
                                                          else "") + ".", "",
             "Reproduce: `make bench` (all areas) or `chromaluma bench --only quality` (one area).", "",
             "## Machine and software", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    if machine.get("gpu") == NO_GPU:
        lines += ["", f"GPU rows: {NO_GPU}. Run `make bench` on a CUDA machine (onnxruntime-gpu) to fill them."]
    lines += ["", "## Summary", "", "| area | status | time | note |", "|---|---|---|---|"]
    for result in results:
        note = result.error.splitlines()[-1] if result.error else f"{len(result.sections)} sections"
        lines.append(f"| {result.area} | {result.status} | {result.seconds:.0f} s | {note.replace('|', '/')} |")
    for result in results:
        lines += ["", f"## {result.area.capitalize()}", ""]
        if result.status != "ok":
            lines += [f"**{result.status}**: {result.error}" if result.error else f"**{result.status}**"]
            continue
        for section in result.sections:
            lines += [f"### {section.title}", "", section.table, ""]
            lines += [f"- {note}" for note in section.notes]
            for plot in section.plots:
                lines += ["", f"![{Path(plot).stem}]({os.path.relpath(plot, report_dir)})"]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
