"""docs/FAULTS.md stays true: every row names at least one test, every named test exists, and the stated counts are
the table's own.

A row whose test was renamed or deleted would otherwise go on promising a guarantee nothing checks.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "FAULTS.md"
_REFERENCE = re.compile(r"(?P<file>tests/[\w/.-]+\.(?:py|cpp))(?:::(?P<name>\w+))?"
                        r"|::(?P<short>\w+)|case `(?P<case>\w+)`")
_COUNTS = re.compile(r"\*\*Counts:\*\* (\d+) faults and guarantees, in (\d+) areas, proven by (\d+) distinct tests")


def catalogue_rows(text: str) -> list[list[str]]:
    """The cells of every table row (header and separator rows left out)."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|") or line.startswith("|---") or line.startswith("| input or event"):
            continue
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def named_tests(cell: str) -> list[tuple[str, str]]:
    """(file, test name) pairs a test cell names; `::name` and "case `name`" belong to the file named before them."""
    found, current = [], None
    for match in _REFERENCE.finditer(cell):
        if match["file"]:
            current = match["file"]
            if match["name"]:
                found.append((current, match["name"]))
        elif current is not None:
            found.append((current, match["short"] or f"case:{match['case']}"))
    return found


def names_a_test(path: Path, name: str) -> bool:
    text = path.read_text(encoding="utf-8")
    if name.startswith("case:"):
        return f'"{name[5:]}"' in text
    if path.suffix == ".py":
        return re.search(rf"^\s*def {re.escape(name)}\(", text, re.MULTILINE) is not None
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def test_every_row_names_tests_that_exist() -> None:
    rows = catalogue_rows(CATALOGUE.read_text(encoding="utf-8"))
    assert len(rows) >= 60, "the catalogue lost its tables"
    for cells in rows:
        assert len(cells) == 4, f"a row needs 4 cells (event, message, guarantee, test): {cells}"
        tests = named_tests(cells[3])
        assert tests, f"row {cells[0]!r} names no test"
        for file, name in tests:
            path = ROOT / file
            assert path.is_file(), f"row {cells[0]!r}: {file} does not exist"
            assert names_a_test(path, name), f"row {cells[0]!r}: {file} has no test {name}"


def test_the_stated_counts_are_the_tables_own() -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    counts = _COUNTS.search(text)
    assert counts, "the catalogue must state its counts"
    rows = catalogue_rows(text)
    areas = len(re.findall(r"^## ", text, re.MULTILINE))
    distinct = {reference for cells in rows for reference in named_tests(cells[3])}
    assert (int(counts[1]), int(counts[2]), int(counts[3])) == (len(rows), areas, len(distinct))


def test_a_missing_test_is_noticed() -> None:
    cell = "tests/py/test_fault_catalogue.py::test_every_row_names_tests_that_exist, ::no_such_test_here"
    (file, first), (_, second) = named_tests(cell)
    assert names_a_test(ROOT / file, first)
    assert not names_a_test(ROOT / file, second)
