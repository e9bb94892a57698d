"""BENCHMARKS.md as text: header with the exact command, machine and versions, then each area's sections.

Each area's part (`## Training`, `## Quality`, ...) opens with the date and command that produced it, so a
report whose areas come from different runs (`chromaluma bench --only quality` on an existing report replaces
only that area) still says where every number came from. The machine table describes the newest run.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from chromaluma.benchmarks import BenchSection

log = logging.getLogger(__name__)

TITLE = "# Chromaluma benchmarks"
PRODUCED = "_Produced {stamp} by `{command}`{quick}._"
_PRODUCED_LINE = re.compile(r"^_Produced .* by `.*`.*\._$")
_GENERATED_LINE = re.compile(r"^Generated (?P<stamp>.+?) by `(?P<command>[^`]*)`")
# The areas, in report order: each a module chromaluma.benchmarks.<area> with run(workdir, quick).
AREAS = ("training", "inference", "plugin", "alignment", "quality", "temporal", "keyframes", "repair", "confidence",
         "soak")
NO_GPU = "not measured: no CUDA GPU on this machine"


@dataclass
class AreaResult:
    """What one area gave: its sections, or why it gave none (missing module, or an error and its traceback)."""

    area: str
    sections: list[BenchSection] = field(default_factory=list)
    status: str = "ok"  # ok | missing | failed
    error: str = ""
    seconds: float = 0.0


def timestamp() -> str:
    """Now, as reports stamp their runs (UTC, to the minute)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class EarlierArea:
    """One area's part of an earlier report: its lines (from `## Area` on) and its summary-table row."""

    lines: list[str]
    summary_row: str


def earlier_areas(text: str, areas: Sequence[str]) -> dict[str, EarlierArea]:
    """The area parts of an earlier BENCHMARKS.md, keyed by area; parts made before areas carried their own date
    and command get a line naming the report they were kept from."""
    if not text.startswith(TITLE):
        return {}
    lines = text.splitlines()
    generated = next((m for line in lines if (m := _GENERATED_LINE.match(line))), None)
    kept_from = (PRODUCED.format(stamp=generated["stamp"], command=generated["command"],
                                 quick=" (kept from an earlier report)") if generated else
                 "_Kept from an earlier report of unknown date and command._")
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")] + [len(lines)]
    found = {}
    for start, end in zip(starts, starts[1:], strict=False):
        area = lines[start][3:].strip().lower()
        if area not in areas:
            continue
        block = lines[start:end]
        while block and not block[-1].strip():
            block.pop()
        if not any(_PRODUCED_LINE.match(line) for line in block[1:4]):
            block[1:1] = ["", kept_from]
        row = next((line for line in lines if line.startswith(f"| {area} |")), f"| {area} | kept | — | |")
        found[area] = EarlierArea(block, row)
    return found


def render_markdown(results: Sequence[AreaResult], command: str, quick: bool, machine: dict[str, str],
                    report_dir: Path, earlier: str = "") -> str:
    """The report of `results`; areas not in `results` are kept from the `earlier` report's text, if it has them."""
    stamp = timestamp()
    ran = {result.area for result in results}
    kept = {area: part for area, part in earlier_areas(earlier, AREAS).items() if area not in ran}
    lines = [TITLE, "",
             f"Generated {stamp} by `{command}`" + (" — **quick smoke run: not the real numbers**" if quick
                                                    else "") + ".", ""]
    if kept:
        names = ", ".join(f"`{area}`" for area in sorted(kept, key=AREAS.index))
        lines += [f"Kept from earlier runs (not run this time): {names}. Each area's part below names the date and "
                  "command that produced it; the machine table describes this run's machine.", ""]
    lines += ["Reproduce: `make bench` (all areas) or `chromaluma bench --only quality` (one area; the other areas of "
              "an existing report are kept).", "", "## Machine and software", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    if machine.get("gpu") == NO_GPU:
        lines += ["", f"GPU rows: {NO_GPU}. Run `make bench` on a CUDA machine (onnxruntime-gpu) to fill them."]
    lines += ["", "## Summary", "", "| area | status | time | note |", "|---|---|---|---|"]
    by_area = {result.area: result for result in results}
    order = [area for area in AREAS if area in by_area or area in kept] + [a for a in by_area if a not in AREAS]
    for area in order:
        if area in kept:
            lines.append(kept[area].summary_row)
            continue
        result = by_area[area]
        note = result.error.splitlines()[-1] if result.error else f"{len(result.sections)} sections"
        lines.append(f"| {area} | {result.status} | {result.seconds:.0f} s | {note.replace('|', '/')} |")
    produced = PRODUCED.format(stamp=stamp, command=command, quick=" (quick smoke run)" if quick else "")
    for area in order:
        lines.append("")
        lines += kept[area].lines if area in kept else _area_lines(by_area[area], produced, report_dir)
    return "\n".join(lines).rstrip() + "\n"


def _area_lines(result: AreaResult, produced: str, report_dir: Path) -> list[str]:
    lines = [f"## {result.area.capitalize()}", "", produced, ""]
    if result.status != "ok":
        return lines + [f"**{result.status}**: {result.error}" if result.error else f"**{result.status}**"]
    for section in result.sections:
        lines += [f"### {section.title}", "", section.table, ""]
        lines += [f"- {note}" for note in section.notes]
        for plot in section.plots:
            lines += ["", f"![{Path(plot).stem}]({os.path.relpath(plot, report_dir)})"]
        lines.append("")
    while lines and not lines[-1]:
        lines.pop()
    return lines
